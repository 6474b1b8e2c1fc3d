// http_server.c — see http_server.h.
#include "http_server.h"
#include "store.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler_fn *handler;
    void *ctx;
    size_t max_body;
};

// One request's state across the access handler's calls: the body as it arrives.
typedef struct {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
} request_state_t;

int http_parse_listen(const char *listen, void *storage, size_t *addr_len, char *err, size_t err_len)
{
    char host[128];
    const char *port_text;
    if (!listen || !*listen || strlen(listen) >= sizeof host) {
        snprintf(err, err_len, "empty or too long listen address");
        return -1;
    }
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            snprintf(err, err_len, "'%s': want [IPv6]:port", listen);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
        port_text = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon) {
            snprintf(err, err_len, "'%s': want host:port, e.g. 127.0.0.1:7401", listen);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        port_text = colon + 1;
    }
    char *end;
    long port = strtol(port_text, &end, 10);
    if (!*port_text || *end || port < 1 || port > 65535) {
        snprintf(err, err_len, "'%s': the port must be 1..65535", listen);
        return -1;
    }
    memset(storage, 0, sizeof(struct sockaddr_storage));
    struct sockaddr_in *v4 = storage;
    struct sockaddr_in6 *v6 = storage;
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 || inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        if (strcmp(host, "*") == 0)
            v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = htons((uint16_t)port);
        *addr_len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *addr_len = sizeof *v6;
        return 0;
    }
    snprintf(err, err_len, "'%s': the host must be an IPv4 or [IPv6] address (or *)", listen);
    return -1;
}

static void client_text(struct MHD_Connection *connection, char *out, size_t out_len)
{
    snprintf(out, out_len, "?");
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)out_len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)out_len);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_response_t *res = cls;
    return res->stream(res->stream_ctx, buf, max);
}

static void stream_free(void *cls)
{
    http_response_t *res = cls;
    if (res->stream_done)
        res->stream_done(res->stream_ctx);
    free(res);
}

static enum MHD_Result queue(struct MHD_Connection *connection, http_response_t *res)
{
    struct MHD_Response *response;
    if (res->stream) {
        http_response_t *kept = malloc(sizeof *kept);
        if (!kept) {
            if (res->stream_done)
                res->stream_done(res->stream_ctx);
            return MHD_NO;
        }
        *kept = *res;
        response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_reader, kept, stream_free);
        if (!response) {
            stream_free(kept);
            return MHD_NO;
        }
        MHD_add_response_header(response, "Cache-Control", "no-cache");
    } else {
        if (!res->body)
            http_error(res, 500, "internal", "no response was built");
        response = MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
        if (!response) {
            free(res->body);
            return MHD_NO;
        }
    }
    MHD_add_response_header(response, "Content-Type", res->content_type ? res->content_type : "application/json");
    if (res->allow)
        MHD_add_response_header(response, "Allow", res->allow);
    if (res->www_authenticate)
        MHD_add_response_header(response, "WWW-Authenticate", res->www_authenticate);
    if (res->retry_after[0])
        MHD_add_response_header(response, "Retry-After", res->retry_after);
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)res->status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server_t *self = cls;
    request_state_t *state = *con_cls;
    if (!state) {  // first call: headers only
        state = calloc(1, sizeof *state);
        if (!state)
            return MHD_NO;
        *con_cls = state;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {  // a piece of the body
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (state->too_large || state->len + n > self->max_body) {
            state->too_large = true;  // keep reading (and dropping) so the client gets an answer
            free(state->body);
            state->body = NULL;
            state->len = 0;
            return MHD_YES;
        }
        if (state->len + n + 1 > state->cap) {
            size_t cap = (state->len + n + 1) * 2;
            char *grown = realloc(state->body, cap);
            if (!grown)
                return MHD_NO;
            state->body = grown;
            state->cap = cap;
        }
        memcpy(state->body + state->len, upload_data, n);
        state->len += n;
        state->body[state->len] = '\0';
        return MHD_YES;
    }
    char client[INET6_ADDRSTRLEN + 1];
    client_text(connection, client, sizeof client);
    http_request_t req = {
        .method = method,
        .path = url,
        .client = client,
        .content_type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Type"),
        .authorization = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization"),
        .body = state->body,
        .body_len = state->len,
        .body_too_large = state->too_large,
    };
    http_response_t res = {.status = 500};
    self->handler(self->ctx, &req, &res);
    return queue(connection, &res);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    request_state_t *state = *con_cls;
    if (state) {
        free(state->body);
        free(state);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_warn("http: %s", line);
}

http_server_t *http_server_new(const char *listen, http_handler_fn *handler, void *ctx, size_t max_body, char *err,
                               size_t err_len)
{
    struct sockaddr_storage addr;
    size_t addr_len = 0;
    if (http_parse_listen(listen, &addr, &addr_len, err, err_len) != 0)
        return NULL;
    http_server_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->handler = handler;
    self->ctx = ctx;
    self->max_body = max_body;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                     : ((struct sockaddr_in *)&addr)->sin_port);
    self->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, self,
                                    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, self,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
                                    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(HTTP_MAX_CONNECTIONS / 2),
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                    MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
                                    MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, err_len, "cannot listen on %s (address in use or not local?)", listen);
        free(self);
        return NULL;
    }
    return self;
}

void http_server_destroy(http_server_t **self)
{
    if (self && *self) {
        if ((*self)->daemon)
            MHD_stop_daemon((*self)->daemon);
        free(*self);
        *self = NULL;
    }
}

int http_json_begin(http_json_t *doc)
{
    memset(doc, 0, sizeof *doc);
    doc->out = open_memstream(&doc->buf, &doc->len);
    if (!doc->out)
        return -1;
    json_init(&doc->j, doc->out);
    return 0;
}

void http_json_finish(http_json_t *doc, http_response_t *res, int status)
{
    json_finish(&doc->j);
    if (fclose(doc->out) != 0 || !doc->buf) {
        free(doc->buf);
        http_error(res, 500, "internal", "out of memory writing the response");
        return;
    }
    res->status = status;
    res->body = doc->buf;
    res->body_len = doc->len;
    res->content_type = "application/json";
}

void http_error(http_response_t *res, int status, const char *error, const char *detail)
{
    http_json_t doc;
    res->status = status;
    res->content_type = "application/json";
    if (http_json_begin(&doc) != 0) {
        static const char fallback[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}\n";
        res->body = strdup(fallback);
        res->body_len = res->body ? strlen(fallback) : 0;
        return;
    }
    json_object_begin(&doc.j, NULL);
    json_string(&doc.j, "error", error);
    json_string(&doc.j, "detail", detail ? detail : "");
    json_object_end(&doc.j);
    json_finish(&doc.j);
    if (fclose(doc.out) != 0 || !doc.buf) {
        free(doc.buf);
        res->body = NULL;
        res->body_len = 0;
        return;
    }
    res->body = doc.buf;
    res->body_len = doc.len;
}

void http_text(http_response_t *res, int status, const char *content_type, char *body, size_t len)
{
    res->status = status;
    res->content_type = content_type;
    res->body = body;
    res->body_len = len;
}

bool http_path_is_clean(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
            return false;
    const char *seg = path + 1;
    while (*seg) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 0 && slash)  // "//"
            return false;
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!slash)
            break;
        seg = slash + 1;
    }
    return true;
}

int http_path_split(const char *path, char *buf, size_t buf_len, const char **segments, int max)
{
    if (strlen(path) >= buf_len)
        return -1;
    snprintf(buf, buf_len, "%s", path);
    int n = 0;
    char *save = NULL;
    for (char *seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        segments[n++] = seg;
    }
    return n;
}

void http_health(http_response_t *res, const char *redis_url, const char *who_key, const char *who)
{
    char err[256];
    store_t *store = store_connect(redis_url, err, sizeof err);
    bool redis = false;
    if (store) {
        redisReply *r = store_command(store, "PING");
        redis = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        store_destroy(&store);
    } else {
        log_warn("health: %s", err);
    }
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    json_object_begin(&doc.j, NULL);
    json_string(&doc.j, "status", redis ? "ok" : "degraded");
    json_string(&doc.j, who_key, who);
    json_bool(&doc.j, "redis", redis);
    json_object_end(&doc.j);
    http_json_finish(&doc, res, redis ? 200 : 503);
}
