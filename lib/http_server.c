// http_server.c — see http_server.h.
#include "http_server.h"

#include "sockaddr_text.h"
#include "store.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "log.h"

// One open connection, from libmicrohttpd's "started" notification to its "closed" one (which comes before
// the socket is closed, so under the lock fd is still this connection's).
typedef struct conn {
    struct conn *prev, *next;
    int fd;
    uint8_t share[16];              // the client's address (IPv4 as ::ffff:a.b.c.d) or IPv6 /64: share_of()
    bool loopback;
    int64_t deadline_ms;            // the request must be complete by then; 0 while it is answered
    bool cut;
} conn_t;

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler_fn *handler;
    void *ctx;
    size_t max_body;
    pthread_mutex_t lock;           // guards conns, the counts and stopping
    pthread_cond_t wake;
    conn_t *conns;
    unsigned open_remote, open_loopback;
    bool stopping;
    bool reaper_running;
    pthread_t reaper;
    atomic_ullong refused, cut_slow, log_lines;
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
    socklen_t len = 0;
    if (sockaddr_parse(listen, true, storage, &len, err, err_len) != 0)
        return -1;
    *addr_len = len;
    return 0;
}

static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};  // ::ffff:0:0/96

// The client's address as 16 bytes (IPv4 mapped into IPv6), so both families compare alike.
static void addr_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa && sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static bool key_is_loopback(const uint8_t key[16])
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    return memcmp(key, v6_loopback, 16) == 0 || (memcmp(key, v4_mapped, 12) == 0 && key[12] == 127);
}

// The share a client's connections count against: its IPv4 address, or its IPv6 /64 (one host is usually
// given a whole /64, so counting single IPv6 addresses would give it millions of shares).
static void share_of(uint8_t key[16])
{
    if (memcmp(key, v4_mapped, 12) != 0 && !key_is_loopback(key))
        memset(key + 8, 0, 8);
}

// A share as text: "10.0.0.1", "2001:db8::/64", "::1".
static void share_text(const uint8_t key[16], char *out, size_t out_len)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (memcmp(key, v4_mapped, 12) == 0)
        inet_ntop(AF_INET, key + 12, text, sizeof text);
    else
        inet_ntop(AF_INET6, key, text, sizeof text);
    bool prefix = memcmp(key, v4_mapped, 12) != 0 && !key_is_loopback(key);
    snprintf(out, out_len, "%s%s", text, prefix ? "/64" : "");
}

bool http_listen_is_loopback(const char *listen)
{
    struct sockaddr_storage addr;
    size_t addr_len;
    char err[160];
    if (http_parse_listen(listen, &addr, &addr_len, err, sizeof err) != 0)
        return false;
    uint8_t key[16];
    addr_key((struct sockaddr *)&addr, key);
    return key_is_loopback(key);
}

// A connection's socket context: its conn_t, or NULL if it could not be tracked.
static conn_t *conn_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void set_deadline(http_server_t *self, struct MHD_Connection *connection, int64_t deadline_ms)
{
    conn_t *c = conn_of(connection);
    if (!c)
        return;
    pthread_mutex_lock(&self->lock);
    c->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&self->lock);
}

// Accept policy: the caps of http_server.h, counted over the connections open now. libmicrohttpd calls it
// and then the "started" notification on its listening thread, one connection after the other.
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t sa_len)
{
    (void)sa_len;
    http_server_t *self = cls;
    uint8_t key[16];
    addr_key(sa, key);
    bool loopback = key_is_loopback(key);
    share_of(key);
    const char *why = NULL;
    pthread_mutex_lock(&self->lock);
    if (loopback) {
        if (self->open_loopback >= HTTP_LOOPBACK_CONNECTIONS)
            why = "the loopback connections are all taken";
    } else if (self->open_remote >= HTTP_MAX_CONNECTIONS) {
        why = "the server is at its connection limit";
    } else {
        unsigned same = 0;
        for (const conn_t *c = self->conns; c; c = c->next)
            same += memcmp(c->share, key, 16) == 0;
        if (same >= HTTP_MAX_PER_ADDRESS)
            why = "that address holds its share of connections";
    }
    pthread_mutex_unlock(&self->lock);
    if (!why)
        return MHD_YES;
    unsigned long long n = atomic_fetch_add(&self->refused, 1) + 1;
    if (log_worth_repeating(n)) {
        char text[INET6_ADDRSTRLEN + 4];
        share_text(key, text, sizeof text);
        log_warn("http: refused a connection from %s: %s (%llu refused so far)", text, why, n);
    }
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    http_server_t *self = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *addr = MHD_get_connection_info(connection,
                                                                       MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        conn_t *c = fd ? calloc(1, sizeof *c) : NULL;
        *socket_context = c;
        if (!c)
            return;  // untracked: no deadline for it, and not counted
        c->fd = fd->connect_fd;
        addr_key(addr ? addr->client_addr : NULL, c->share);
        c->loopback = key_is_loopback(c->share);
        share_of(c->share);
        c->deadline_ms = clock_now_ms() + HTTP_REQUEST_DEADLINE_S * 1000;
        pthread_mutex_lock(&self->lock);
        c->next = self->conns;
        if (self->conns)
            self->conns->prev = c;
        self->conns = c;
        c->loopback ? self->open_loopback++ : self->open_remote++;
        pthread_mutex_unlock(&self->lock);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_t *c = *socket_context;
        if (!c)
            return;
        pthread_mutex_lock(&self->lock);
        if (c->prev)
            c->prev->next = c->next;
        else
            self->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->loopback ? self->open_loopback-- : self->open_remote--;
        pthread_mutex_unlock(&self->lock);
        free(c);
        *socket_context = NULL;
    }
}

// The deadline's enforcer: once a second, shuts down the socket of every connection whose request is still
// not complete at its deadline. The connection's thread then sees the end of the stream and closes it.
static void *reaper(void *arg)
{
    http_server_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
        int64_t now = clock_now_ms();
        for (conn_t *c = self->conns; c && !self->stopping; c = c->next) {
            if (c->cut || c->deadline_ms == 0 || now < c->deadline_ms)
                continue;
            c->cut = true;
            shutdown(c->fd, SHUT_RDWR);
            unsigned long long n = atomic_fetch_add(&self->cut_slow, 1) + 1;
            if (log_worth_repeating(n)) {
                char text[INET6_ADDRSTRLEN + 4];
                share_text(c->share, text, sizeof text);
                log_warn("http: cut off %s: its request was not complete after %d s (%llu cut so far)", text,
                         HTTP_REQUEST_DEADLINE_S, n);
            }
        }
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

void http_server_stats(http_server_t *self, http_server_stats_t *stats)
{
    stats->refused = atomic_load(&self->refused);
    stats->cut_slow = atomic_load(&self->cut_slow);
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
    set_deadline(self, connection, 0);  // the request is complete: no deadline while it is answered
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
    (void)toe;
    // a kept-alive connection's next request gets the same time as a new connection's first
    set_deadline(cls, connection, clock_now_ms() + HTTP_REQUEST_DEADLINE_S * 1000);
    request_state_t *state = *con_cls;
    if (state) {
        free(state->body);
        free(state);
        *con_cls = NULL;
    }
}

// libmicrohttpd's messages, throttled: a flood of refused or broken connections logs a few lines.
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    http_server_t *self = cls;
    unsigned long long count = atomic_fetch_add(&self->log_lines, 1) + 1;
    if (!log_worth_repeating(count))
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_warn("http: %s (message %llu of the HTTP server)", line, count);
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
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    int rc = pthread_create(&self->reaper, NULL, reaper, self);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the HTTP server's deadline thread: %s", strerror(rc));
        http_server_destroy(&self);
        return NULL;
    }
    self->reaper_running = true;
    // poll(), not select(): thread-per-connection cannot use epoll, and select() refuses every descriptor
    // from FD_SETSIZE (1024) on, which a busy hub reaches
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                     : ((struct sockaddr_in *)&addr)->sin_port);
    self->daemon = MHD_start_daemon(flags, port, on_accept, self, on_request, self,
                                    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, self,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                    MHD_OPTION_CONNECTION_LIMIT,
                                    (unsigned)(HTTP_MAX_CONNECTIONS + HTTP_LOOPBACK_CONNECTIONS),
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
                                    MHD_OPTION_NOTIFY_CONNECTION, on_connection, self,
                                    MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
                                    MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, err_len, "cannot listen on %s (address in use or not local?)", listen);
        http_server_destroy(&self);
        return NULL;
    }
    if (!http_listen_is_loopback(listen))
        log_warn("the HTTP API listens on %s, not only on loopback: anyone who reaches that address can call it "
                 "(it has no TLS; put a reverse proxy in front, or listen on 127.0.0.1)", listen);
    return self;
}

void http_server_destroy(http_server_t **self)
{
    if (!self || !*self)
        return;
    http_server_t *s = *self;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);  // closes every connection (each leaves the list)
    if (s->reaper_running) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->reaper, NULL);
    }
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
    *self = NULL;
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
