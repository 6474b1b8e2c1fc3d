// hub_http.c — see hub_http.h. Routes:
//   GET  /health, /metrics                                 (no token; /health not rate-limited either)
//   every /api/v1/mesh route needs the token, reads too (they show rosters, keys and events):
//   GET|POST           /api/v1/mesh/networks
//   GET|DELETE         /api/v1/mesh/networks/{id}
//   GET|POST           /api/v1/mesh/networks/{id}/peers
//   GET|DELETE         /api/v1/mesh/networks/{id}/peers/{key}
//   GET                /api/v1/mesh/networks/{id}/events   (text/event-stream)
//   GET|POST           /api/v1/mesh/routes/{mesh}         (the subnets each member may advertise; {mesh}: a
//                                                          managed mesh's id, or an open mesh's name)
#include "hub_http.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_rate.h"
#include "http_server.h"
#include "hub_api_body.h"
#include "identity.h"
#include "hub_proto.h"
#include "log.h"
#include "members.h"
#include "mesh_store.h"
#include "prom_text.h"
#include "store.h"
#include "wire.h"

#define HUB_HTTP_MAX_STREAMS 16        // open event streams at once
#define STREAM_KEEPALIVE_MS 10000      // a comment line this often keeps proxies and idle timers happy
#define STREAM_POLL_MS 500             // how often a waiting stream checks whether the hub is stopping

struct hub_http {
    hub_http_options_t options;
    char token[65];
    http_rate_t *rate;
    http_server_t *server;
    atomic_bool stopping;
    atomic_int streams;
    atomic_uint_fast64_t requests, responses_2xx, responses_4xx, responses_5xx, rate_limited, unauthorized,
        forbidden, events_sent;
};

// --- token ---

int hub_http_load_token(const char *path, char token[65], char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        uint8_t secret[32];
        randombytes_buf(secret, sizeof secret);
        sodium_bin2hex(token, 65, secret, sizeof secret);
        sodium_memzero(secret, sizeof secret);
        int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0 || write(out, token, 64) != 64 || write(out, "\n", 1) != 1) {
            snprintf(err, err_len, "cannot write the API token to %s: %s", path, strerror(errno));
            if (out >= 0)
                close(out);
            return -1;
        }
        close(out);
        log_info("created the HTTP API token in %s (`weft hub token` prints it)", path);
        return 0;
    }
    if (fd < 0) {
        snprintf(err, err_len, "cannot read the API token %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
        snprintf(err, err_len, "%s is readable by others; chmod 600 it", path);
        close(fd);
        return -1;
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    buf[len] = '\0';
    if (len < 32 || len > 64) {
        snprintf(err, err_len, "%s must hold one token of 32..64 characters", path);
        return -1;
    }
    snprintf(token, 65, "%s", buf);
    sodium_memzero(buf, sizeof buf);
    return 0;
}

// --- helpers ---

static store_t *connect_store(hub_http_t *self, http_response_t *res)
{
    char err[256];
    store_t *store = store_connect(self->options.redis_url, err, sizeof err);
    if (!store) {
        log_warn("hub api: %s", err);
        http_error(res, 503, "redis_unavailable", "the hub's Redis does not answer");
    }
    return store;
}

static void store_failed(http_response_t *res)
{
    http_error(res, 503, "redis_unavailable", "the hub's Redis failed the request");
}

static void method_not_allowed(http_response_t *res, const char *allow)
{
    char detail[64];
    snprintf(detail, sizeof detail, "this endpoint answers %s", allow);
    http_error(res, 405, "method_not_allowed", detail);
    res->allow = allow;
}

// 0 when the request carries the token; otherwise the response (401/403) is filled.
static int check_token(hub_http_t *self, const http_request_t *req, http_response_t *res)
{
    const char *auth = req->authorization;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        atomic_fetch_add(&self->unauthorized, 1);
        http_error(res, 401, "unauthorized", "calls need 'Authorization: Bearer <token>' (`weft hub token`)");
        res->www_authenticate = "Bearer realm=\"weft-hub\"";
        return -1;
    }
    const char *given = auth + 7;
    while (*given == ' ')
        given++;
    size_t n = strlen(self->token);
    if (strlen(given) != n || sodium_memcmp(given, self->token, n) != 0) {
        atomic_fetch_add(&self->forbidden, 1);
        http_error(res, 403, "forbidden", "the bearer token is not this hub's API token");
        return -1;
    }
    return 0;
}

static void network_json(json_t *j, const char *key, const mesh_info_t *m)
{
    char admin[ID_HEX_LEN];
    id_to_hex(m->admin_key, admin);
    json_object_begin(j, key);
    json_string(j, "id", m->id_hex);
    json_string(j, "name", m->name);
    json_string(j, "cidr", m->cidr);
    json_string(j, "admin_key", admin);
    json_bool(j, "psk", m->psk_present);
    json_uint(j, "ttl_s", m->ttl_s);
    json_uint(j, "created_ms", m->created_ms);
    json_uint(j, "expires", m->expires);
}

// online: the member has a live registration (heartbeats) in this mesh (members.h's key).
static bool member_online(store_t *store, const mesh_info_t *mesh, const char *key_hex)
{
    redisReply *r = store_command(store, "EXISTS hub:member:%s:%s", mesh->id_hex, key_hex);
    bool online = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    return online;
}

static void member_json(json_t *j, store_t *store, const mesh_info_t *mesh, const mesh_member_t *m)
{
    char key[ID_HEX_LEN], fp[FINGERPRINT_LEN];
    id_to_hex(m->key, key);
    id_fingerprint(m->key, fp);
    json_object_begin(j, NULL);
    json_string(j, "key", key);
    json_string(j, "fingerprint", fp);
    json_string(j, "name", m->name);
    json_string(j, "address", m->address);
    json_uint(j, "joined_ms", m->joined_ms);
    json_bool(j, "online", member_online(store, mesh, key));
    json_object_end(j);
}

static int list_members_json(json_t *j, store_t *store, mesh_store_t *ms, const mesh_info_t *mesh)
{
    mesh_member_t *members = calloc(MESH_STORE_MAX_MEMBERS, sizeof *members);
    if (!members)
        return -1;
    int n = mesh_store_list_members(ms, mesh->id, members, MESH_STORE_MAX_MEMBERS);
    if (n >= 0) {
        json_array_begin(j, NULL);
        for (int i = 0; i < n; i++)
            member_json(j, store, mesh, &members[i]);
        json_array_end(j);
    }
    free(members);
    return n < 0 ? -1 : 0;
}

// --- networks ---

static void networks_list(store_t *store, mesh_store_t *ms, http_response_t *res)
{
    mesh_info_t *nets = calloc(MESH_STORE_MAX_NETS, sizeof *nets);
    if (!nets)
        return http_error(res, 500, "internal", "out of memory");
    int n = mesh_store_list(ms, nets, MESH_STORE_MAX_NETS);
    http_json_t doc;
    if (n < 0) {
        store_failed(res);
    } else if (http_json_begin(&doc) == 0) {
        json_array_begin(&doc.j, NULL);
        for (int i = 0; i < n; i++) {
            network_json(&doc.j, NULL, &nets[i]);
            json_object_end(&doc.j);
        }
        json_array_end(&doc.j);
        http_json_finish(&doc, res, 200);
    } else {
        http_error(res, 500, "internal", "out of memory");
    }
    free(nets);
    (void)store;
}

static void network_create(mesh_store_t *ms, const http_request_t *req, http_response_t *res)
{
    hub_api_network_t body;
    char why[200];
    if (hub_api_parse_network(req->body, req->body_len, &body, why, sizeof why) != 0)
        return http_error(res, 400, "bad_request", why);
    mesh_info_t mesh;
    int rc = mesh_store_create(ms, body.name, body.cidr, body.admin_key, body.psk, body.ttl_s, &mesh);
    if (rc == MESH_STORE_BAD)
        return http_error(res, 400, "bad_request", "the name or cidr was refused");
    if (rc != 0)
        return store_failed(res);
    log_info("hub api: created mesh %s (%s, %s) for %s", mesh.id_hex, mesh.name, mesh.cidr, req->client);
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    network_json(&doc.j, NULL, &mesh);
    json_object_end(&doc.j);
    http_json_finish(&doc, res, 201);
}

static void network_get(store_t *store, mesh_store_t *ms, const mesh_info_t *mesh, http_response_t *res)
{
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    network_json(&doc.j, NULL, mesh);
    // the members array: written by list_members_json as a value, so give it its key by hand
    json_array_begin(&doc.j, "members");
    mesh_member_t *members = calloc(MESH_STORE_MAX_MEMBERS, sizeof *members);
    int n = members ? mesh_store_list_members(ms, mesh->id, members, MESH_STORE_MAX_MEMBERS) : -1;
    for (int i = 0; i < n; i++)
        member_json(&doc.j, store, mesh, &members[i]);
    free(members);
    json_array_end(&doc.j);
    json_object_end(&doc.j);
    if (n < 0) {
        http_json_finish(&doc, res, 200);
        free(res->body);
        return store_failed(res);
    }
    http_json_finish(&doc, res, 200);
}

// --- peers ---

static void peers_list(store_t *store, mesh_store_t *ms, const mesh_info_t *mesh, http_response_t *res)
{
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    int rc = list_members_json(&doc.j, store, ms, mesh);
    http_json_finish(&doc, res, 200);
    if (rc != 0) {
        free(res->body);
        store_failed(res);
    }
}

static void peer_add(store_t *store, mesh_store_t *ms, const mesh_info_t *mesh, const http_request_t *req,
                     http_response_t *res)
{
    hub_api_peer_t body;
    char why[200];
    if (hub_api_parse_peer(req->body, req->body_len, &body, why, sizeof why) != 0)
        return http_error(res, 400, "bad_request", why);
    mesh_member_t before;
    bool existed = mesh_store_get_member(ms, mesh->id, body.key, &before) == 0;
    mesh_member_t m;
    int rc = mesh_store_add_member(ms, mesh->id, body.key, body.name, body.address, &m);
    switch (rc) {
    case 0: break;
    case MESH_STORE_FULL: return http_error(res, 409, "network_full", "no free address is left in the network");
    case MESH_STORE_TAKEN: return http_error(res, 409, "address_in_use", "another member holds that address");
    case MESH_STORE_BAD: return http_error(res, 400, "bad_request", "the address is outside the network's cidr");
    case MESH_STORE_NOT_FOUND: return http_error(res, 404, "not_found", "no such network");
    default: return store_failed(res);
    }
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    member_json(&doc.j, store, mesh, &m);
    http_json_finish(&doc, res, existed ? 200 : 201);
}

static void peer_get(store_t *store, mesh_store_t *ms, const mesh_info_t *mesh, const uint8_t key[32],
                     http_response_t *res)
{
    mesh_member_t m;
    int rc = mesh_store_get_member(ms, mesh->id, key, &m);
    if (rc == MESH_STORE_NOT_FOUND)
        return http_error(res, 404, "not_found", "no such member in this network");
    if (rc != 0)
        return store_failed(res);
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    member_json(&doc.j, store, mesh, &m);
    http_json_finish(&doc, res, 200);
}

static void deleted(http_response_t *res, const char *what, const char *id)
{
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    json_object_begin(&doc.j, NULL);
    json_string(&doc.j, "deleted", what);
    json_string(&doc.j, "id", id);
    json_object_end(&doc.j);
    http_json_finish(&doc, res, 200);
}

// --- events (Server-Sent Events from Redis pub/sub) ---

typedef struct {
    hub_http_t *http;
    redisContext *ctx;          // in subscribe mode: this stream's own connection
    char mesh[33];
    bool greeted;
    int64_t last_sent_ms;
} stream_t;

static void stream_done(void *arg)
{
    stream_t *s = arg;
    if (s->ctx)
        redisFree(s->ctx);
    atomic_fetch_sub(&s->http->streams, 1);
    free(s);
}

// One published line as an SSE event: "event: <kind>\ndata: <json>\n\n". 0 if it does not fit or is not ours.
static size_t format_event(const redisReply *r, char *buf, size_t max)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return 0;
    const char *data = r->element[2]->str;
    size_t data_len = r->element[2]->len;
    if (memchr(data, '\n', data_len) || memchr(data, '\r', data_len))
        return 0;  // mesh_store publishes one line; anything else is not an event of ours
    char kind[32] = "message";
    cJSON *json = cJSON_ParseWithLength(data, data_len);
    const cJSON *event = json ? cJSON_GetObjectItemCaseSensitive(json, "event") : NULL;
    if (cJSON_IsString(event) && event->valuestring && strlen(event->valuestring) < sizeof kind &&
        strspn(event->valuestring, "abcdefghijklmnopqrstuvwxyz_") == strlen(event->valuestring))
        snprintf(kind, sizeof kind, "%s", event->valuestring);
    cJSON_Delete(json);
    int n = snprintf(buf, max, "event: %s\ndata: %.*s\n\n", kind, (int)data_len, data);
    return (n > 0 && (size_t)n < max) ? (size_t)n : 0;
}

static ssize_t stream_read(void *arg, char *buf, size_t max)
{
    stream_t *s = arg;
    if (!s->greeted) {
        s->greeted = true;
        s->last_sent_ms = zclock_mono();
        int n = snprintf(buf, max, "retry: 3000\n: events of network %s\n\n", s->mesh);
        return n > 0 && (size_t)n < max ? n : -2;
    }
    for (;;) {
        if (atomic_load(&s->http->stopping))
            return -1;  // end of stream: the hub is stopping
        void *reply = NULL;
        if (redisReaderGetReply(s->ctx->reader, &reply) != REDIS_OK)
            return -2;
        if (reply) {
            size_t n = format_event(reply, buf, max);
            freeReplyObject(reply);
            if (n > 0) {
                atomic_fetch_add(&s->http->events_sent, 1);
                s->last_sent_ms = zclock_mono();
                return (ssize_t)n;
            }
            continue;
        }
        if (zclock_mono() - s->last_sent_ms >= STREAM_KEEPALIVE_MS) {
            s->last_sent_ms = zclock_mono();
            int n = snprintf(buf, max, ": keepalive\n\n");
            return n;
        }
        struct pollfd pfd = {.fd = s->ctx->fd, .events = POLLIN};
        int ready = poll(&pfd, 1, STREAM_POLL_MS);
        if (ready < 0 && errno != EINTR)
            return -2;
        if (ready > 0 && redisBufferRead(s->ctx) != REDIS_OK) {
            log_warn("hub api: event stream of %s: Redis connection lost", s->mesh);
            return -2;
        }
    }
}

static redisContext *subscribe(const char *url, const char *mesh)
{
    char err[256];
    redisContext *ctx = store_open_context(url, err, sizeof err);
    if (!ctx) {
        log_warn("hub api: event stream of %s: %s", mesh, err);
        return NULL;
    }
    redisReply *r = redisCommand(ctx, "SUBSCRIBE hub:events:%s", mesh);
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

static void events(hub_http_t *self, const mesh_info_t *mesh, http_response_t *res)
{
    if (atomic_fetch_add(&self->streams, 1) >= HUB_HTTP_MAX_STREAMS) {
        atomic_fetch_sub(&self->streams, 1);
        http_error(res, 503, "too_many_streams", "too many event streams are open; try again later");
        snprintf(res->retry_after, sizeof res->retry_after, "10");
        return;
    }
    stream_t *s = calloc(1, sizeof *s);
    if (s) {
        s->http = self;
        snprintf(s->mesh, sizeof s->mesh, "%s", mesh->id_hex);
        s->ctx = subscribe(self->options.redis_url, mesh->id_hex);
    }
    if (!s || !s->ctx) {
        free(s);
        atomic_fetch_sub(&self->streams, 1);
        return store_failed(res);
    }
    res->status = 200;
    res->content_type = "text/event-stream";
    res->stream = stream_read;
    res->stream_done = stream_done;
    res->stream_ctx = s;
}

// --- health and metrics ---

static void health(hub_http_t *self, http_response_t *res)
{
    http_health(res, self->options.redis_url, "service", "hub");
}

// The stats in hub:stats that are levels (set each second to the current value); every other one is a
// counter, weft_hub_<stat>_total.
static const char *const hub_gauges[] = {
    "members",          // live members over all meshes, as of the last sweep (hub_actor.c)
    "connections",      // open connections, not shut at accept: sessions and handshakes (hub_zap.c)
};

static bool hub_gauge(const char *stat)
{
    for (size_t i = 0; i < sizeof hub_gauges / sizeof hub_gauges[0]; i++)
        if (strcmp(hub_gauges[i], stat) == 0)
            return true;
    return false;
}

// hub:stats as weft_hub_<stat>_total, or weft_hub_<stat> for a gauge; a name that is not a valid Prometheus
// name is left out by prom_family.
static void hub_stats(prom_text_t *w, const redisReply *stats)
{
    for (size_t i = 0; stats && stats->type == REDIS_REPLY_ARRAY && i + 1 < stats->elements; i += 2) {
        const redisReply *k = stats->element[i], *v = stats->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        bool gauge = hub_gauge(k->str);
        char name[PROM_NAME_MAX], help[160];
        snprintf(name, sizeof name, "weft_hub_%.80s%s", k->str, gauge ? "" : "_total");
        snprintf(help, sizeof help, "The hub's %s %.80s (hub:stats, docs/services/hub.md).",
                 gauge ? "gauge" : "counter", k->str);
        if (prom_family(w, name, gauge ? PROM_GAUGE : PROM_COUNTER, help) == 0)
            prom_sample(w, strtoull(v->str, NULL, 10), NULL);
    }
}

static void metrics(hub_http_t *self, http_response_t *res)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return http_error(res, 500, "internal", "out of memory");
    char err[256];
    store_t *store = store_connect(self->options.redis_url, err, sizeof err);
    redisReply *stats = store ? store_command(store, "HGETALL hub:stats") : NULL;
    redisReply *nets = store ? store_command(store, "SCARD hub:nets") : NULL;
    prom_text_t w;
    prom_text_init(&w, out);
    prom_build_info(&w);
    prom_family(&w, "weft_hub_redis_up", PROM_GAUGE, "Whether the hub's Redis answered (1) or not (0).");
    prom_sample(&w, stats && stats->type == REDIS_REPLY_ARRAY ? 1 : 0, NULL);
    prom_family(&w, "weft_hub_networks", PROM_GAUGE, "Managed networks (meshes) the hub holds.");
    prom_sample(&w, nets && nets->type == REDIS_REPLY_INTEGER && nets->integer > 0 ? (uint64_t)nets->integer : 0,
                NULL);
    hub_stats(&w, stats);
    prom_family(&w, "weft_hub_http_requests_total", PROM_COUNTER, "HTTP API requests, by class of answer.");
    prom_sample(&w, atomic_load(&self->responses_2xx), "code", "2xx", NULL);
    prom_sample(&w, atomic_load(&self->responses_4xx), "code", "4xx", NULL);
    prom_sample(&w, atomic_load(&self->responses_5xx), "code", "5xx", NULL);
    http_server_stats_t server = {0};
    if (self->server)
        http_server_stats(self->server, &server);
    prom_family(&w, "weft_hub_http_rejected_total", PROM_COUNTER, "HTTP API requests refused, by reason.");
    prom_sample(&w, atomic_load(&self->rate_limited), "reason", "rate_limited", NULL);
    prom_sample(&w, atomic_load(&self->unauthorized), "reason", "unauthorized", NULL);
    prom_sample(&w, atomic_load(&self->forbidden), "reason", "forbidden", NULL);
    prom_sample(&w, server.refused, "reason", "connection_limit", NULL);
    prom_sample(&w, server.cut_slow, "reason", "request_deadline", NULL);
    prom_family(&w, "weft_hub_event_streams", PROM_GAUGE, "Open Server-Sent Events streams.");
    int streams = atomic_load(&self->streams);
    prom_sample(&w, streams > 0 ? (uint64_t)streams : 0, NULL);
    prom_family(&w, "weft_hub_events_sent_total", PROM_COUNTER, "Events sent on the event streams.");
    prom_sample(&w, atomic_load(&self->events_sent), NULL);
    if (stats)
        freeReplyObject(stats);
    if (nets)
        freeReplyObject(nets);
    store_destroy(&store);
    int written = prom_text_end(&w);
    if (fclose(out) != 0 || !buf || written != 0) {
        free(buf);
        return http_error(res, 500, "internal", "out of memory");
    }
    http_text(res, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}

// --- routing ---

static bool is(const http_request_t *req, const char *method)
{
    return strcmp(req->method, method) == 0 || (strcmp(method, "GET") == 0 && strcmp(req->method, "HEAD") == 0);
}

// /api/v1/mesh/networks[/...]: segs are what follows "networks".
static void mesh_routes(hub_http_t *self, const http_request_t *req, const char **segs, int n, http_response_t *res)
{
    const char *allow = n == 0 ? "GET, POST" : n == 1 ? "GET, DELETE" : n == 2 && strcmp(segs[1], "peers") == 0 ? "GET, POST"
                      : n == 2 ? "GET" : "GET, DELETE";
    if (n > 3 || (n >= 2 && strcmp(segs[1], "peers") != 0 && strcmp(segs[1], "events") != 0) ||
        (n == 3 && strcmp(segs[1], "peers") != 0))
        return http_error(res, 404, "not_found", "no such endpoint; see docs/api.md");
    bool events_path = n == 2 && strcmp(segs[1], "events") == 0;
    bool allowed = is(req, "GET") || (is(req, "POST") && (n == 0 || (n == 2 && !events_path))) ||
                   (is(req, "DELETE") && (n == 1 || n == 3));
    if (!allowed)
        return method_not_allowed(res, allow);
    if (check_token(self, req, res) != 0)
        return;
    if (req->body_too_large)
        return http_error(res, 413, "body_too_large", "request bodies are limited to 16384 bytes");
    if (is(req, "POST") && !hub_api_is_json(req->content_type))
        return http_error(res, 415, "unsupported_media_type", "send the body as Content-Type: application/json");
    uint8_t mesh_id[16], key[32];
    if (n >= 1 && !hub_api_parse_mesh_id(segs[0], mesh_id))
        return http_error(res, 400, "bad_id", "a network id is 32 hex characters");
    if (n == 3 && !hub_api_parse_key(segs[2], key))
        return http_error(res, 400, "bad_id", "a peer is named by its key: 64 hex characters");

    store_t *store = connect_store(self, res);
    if (!store)
        return;
    mesh_store_t *ms = mesh_store_new(store);
    if (!ms) {
        store_destroy(&store);
        return http_error(res, 500, "internal", "out of memory");
    }
    mesh_info_t mesh;
    int rc = n >= 1 ? mesh_store_get(ms, mesh_id, &mesh) : 0;
    if (rc == MESH_STORE_NOT_FOUND) {
        http_error(res, 404, "not_found", "no such network");
    } else if (rc != 0) {
        store_failed(res);
    } else if (n == 0) {
        if (is(req, "POST"))
            network_create(ms, req, res);
        else
            networks_list(store, ms, res);
    } else if (n == 1) {
        if (is(req, "DELETE")) {
            if (mesh_store_delete(ms, mesh_id) == 0) {
                log_info("hub api: deleted mesh %s for %s", mesh.id_hex, req->client);
                deleted(res, "network", mesh.id_hex);
            } else {
                store_failed(res);
            }
        } else {
            network_get(store, ms, &mesh, res);
        }
    } else if (events_path) {
        events(self, &mesh, res);
    } else if (n == 2) {
        if (is(req, "POST"))
            peer_add(store, ms, &mesh, req, res);
        else
            peers_list(store, ms, &mesh, res);
    } else if (is(req, "DELETE")) {
        rc = mesh_store_remove_member(ms, mesh_id, key, "kick");
        if (rc == 0) {
            log_info("hub api: removed member %.16s from mesh %s for %s", segs[2], mesh.id_hex, req->client);
            deleted(res, "peer", segs[2]);
        } else if (rc == MESH_STORE_NOT_FOUND) {
            http_error(res, 404, "not_found", "no such member in this network");
        } else {
            store_failed(res);
        }
    } else {
        peer_get(store, ms, &mesh, key, res);
    }
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

// --- /api/v1/mesh/routes/{mesh}: the admin's allow list of subnet routes (docs/api.md) ---

static void routes_list_json(mesh_store_t *ms, const char *mesh_name, http_response_t *res)
{
    mesh_route_allow_t *all = calloc(MESH_STORE_MAX_ALLOWANCES, sizeof *all);
    int n = all ? mesh_store_routes_list(ms, mesh_name, all, MESH_STORE_MAX_ALLOWANCES) : -1;
    http_json_t doc;
    if (n < 0) {
        store_failed(res);
    } else if (http_json_begin(&doc) == 0) {
        json_object_begin(&doc.j, NULL);
        json_string(&doc.j, "mesh", mesh_name);
        json_array_begin(&doc.j, "routes");
        for (int i = 0; i < n; i++) {
            char hex[65];
            sodium_bin2hex(hex, sizeof hex, all[i].key, 32);
            json_object_begin(&doc.j, NULL);
            json_string(&doc.j, "member", hex);
            json_string(&doc.j, "prefix", all[i].prefix);
            json_object_end(&doc.j);
        }
        json_array_end(&doc.j);
        json_object_end(&doc.j);
        http_json_finish(&doc, res, 200);
    } else {
        http_error(res, 500, "internal", "out of memory");
    }
    free(all);
}

// Is key a member of the mesh: on a managed mesh's roster, or registered in an open mesh within
// MEMBERS_BIND_TTL_S? 1, 0, or -1 (Redis failed).
static int routes_member_known(store_t *store, mesh_store_t *ms, const mesh_info_t *mesh, const char *mesh_name,
                               const uint8_t key[32])
{
    if (mesh)
        return mesh_store_is_member(ms, mesh->id, key);
    members_t *members = members_new(store, 60);
    uint64_t seen_ms = 0;
    int rc = members ? members_last_seen(members, mesh_name, key, &seen_ms, NULL) : -1;
    members_destroy(&members);
    return rc;
}

static void route_change(store_t *store, mesh_store_t *ms, const mesh_info_t *mesh, const char *mesh_name,
                         const http_request_t *req, http_response_t *res)
{
    hub_api_route_t body;
    char why[200];
    if (hub_api_parse_route(req->body, req->body_len, &body, why, sizeof why) != 0)
        return http_error(res, 400, "bad_request", why);
    int known = body.allow ? routes_member_known(store, ms, mesh, mesh_name, body.member) : 1;
    if (known < 0)
        return store_failed(res);
    if (known == 0)
        return http_error(res, 404, "not_found", mesh ? "no such member in this network"
                                                      : "no member with that key registered in this mesh (in 30 days)");
    int rc = body.allow ? mesh_store_routes_allow(ms, mesh_name, body.member, body.prefix, mesh ? mesh->expires : 0)
                        : mesh_store_routes_deny(ms, mesh_name, body.member, body.prefix);
    if (rc == MESH_STORE_FULL)
        return http_error(res, 409, "too_many_routes", "that member may already advertise the most prefixes (64)");
    if (rc == MESH_STORE_NOT_FOUND)
        return http_error(res, 404, "not_found", "that member was not allowed that prefix");
    if (rc != 0)
        return store_failed(res);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, body.member, 32);
    log_info("hub api: mesh %s: %.16s %s advertise %s, for %s", mesh_name, hex, body.allow ? "may" : "may no longer",
             body.prefix, req->client);
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    json_object_begin(&doc.j, NULL);
    json_string(&doc.j, "mesh", mesh_name);
    json_string(&doc.j, "member", hex);
    json_string(&doc.j, "prefix", body.prefix);
    json_bool(&doc.j, "allowed", body.allow);
    json_object_end(&doc.j);
    http_json_finish(&doc, res, 200);
}

static void routes_endpoint(hub_http_t *self, const http_request_t *req, const char *mesh_name, http_response_t *res)
{
    if (!is(req, "GET") && !is(req, "POST"))
        return method_not_allowed(res, "GET, POST");
    if (check_token(self, req, res) != 0)
        return;
    if (req->body_too_large)
        return http_error(res, 413, "body_too_large", "request bodies are limited to 16384 bytes");
    if (is(req, "POST") && !hub_api_is_json(req->content_type))
        return http_error(res, 415, "unsupported_media_type", "send the body as Content-Type: application/json");
    uint8_t mesh_id[16];
    bool managed = hub_api_parse_mesh_id(mesh_name, mesh_id);
    if (!managed && !hub_valid_mesh(mesh_name))
        return http_error(res, 400, "bad_id", "a mesh is named by its id (32 hex characters) or, for an open mesh, "
                                              "its name");
    store_t *store = connect_store(self, res);
    if (!store)
        return;
    mesh_store_t *ms = mesh_store_new(store);
    mesh_info_t mesh;
    int rc = !ms ? -1 : managed ? mesh_store_get(ms, mesh_id, &mesh) : 0;
    if (rc == MESH_STORE_NOT_FOUND)
        http_error(res, 404, "not_found", "no such network");
    else if (rc != 0)
        store_failed(res);
    else if (is(req, "GET"))
        routes_list_json(ms, mesh_name, res);
    else
        route_change(store, ms, managed ? &mesh : NULL, mesh_name, req, res);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

static void count_response(hub_http_t *self, const http_response_t *res)
{
    if (res->status >= 500)
        atomic_fetch_add(&self->responses_5xx, 1);
    else if (res->status >= 400)
        atomic_fetch_add(&self->responses_4xx, 1);
    else
        atomic_fetch_add(&self->responses_2xx, 1);
}

static void handle(void *ctx, const http_request_t *req, http_response_t *res)
{
    hub_http_t *self = ctx;
    atomic_fetch_add(&self->requests, 1);
    int retry = 1;
    if (!http_path_is_clean(req->path)) {
        http_error(res, 400, "bad_path", "the path has an empty, '.' or '..' segment or a control character");
    } else if (strcmp(req->path, "/health") == 0 || strcmp(req->path, "/health/") == 0) {
        // outside the per-address budget, so a flood from one address does not hide the hub's health
        is(req, "GET") ? health(self, res) : method_not_allowed(res, "GET");
    } else if (is(req, "GET") && !http_rate_take(self->rate, req->client, zclock_mono(), &retry)) {
        atomic_fetch_add(&self->rate_limited, 1);
        http_error(res, 429, "rate_limited", "too many requests from this address; see Retry-After");
        snprintf(res->retry_after, sizeof res->retry_after, "%d", retry);
    } else {
        char buf[512];
        const char *segs[10];
        int n = http_path_split(req->path, buf, sizeof buf, segs, 10);
        if (n == 1 && strcmp(segs[0], "metrics") == 0)
            is(req, "GET") ? metrics(self, res) : method_not_allowed(res, "GET");
        else if (n >= 4 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v1") == 0 && strcmp(segs[2], "mesh") == 0 &&
                 strcmp(segs[3], "networks") == 0)
            mesh_routes(self, req, segs + 4, n - 4, res);
        else if (n == 5 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v1") == 0 && strcmp(segs[2], "mesh") == 0 &&
                 strcmp(segs[3], "routes") == 0)
            routes_endpoint(self, req, segs[4], res);
        else
            http_error(res, 404, "not_found", "no such endpoint; see docs/api.md");
    }
    count_response(self, res);
}

hub_http_t *hub_http_new(const hub_http_options_t *options, char *err, size_t err_len)
{
    hub_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->options = *options;
    if (hub_http_load_token(options->token_file, self->token, err, err_len) != 0) {
        free(self);
        return NULL;
    }
    self->rate = http_rate_new(options->rate, options->rate * 2.0);
    if (!self->rate) {
        snprintf(err, err_len, "bad hub.http_rate %d", options->rate);
        hub_http_destroy(&self);
        return NULL;
    }
    self->server = http_server_new(options->listen, handle, self, HUB_API_MAX_BODY, err, err_len);
    if (!self->server) {
        hub_http_destroy(&self);
        return NULL;
    }
    log_info("HTTP API listening on http://%s (admin token in %s)", options->listen, options->token_file);
    return self;
}

void hub_http_destroy(hub_http_t **self)
{
    if (self && *self) {
        atomic_store(&(*self)->stopping, true);
        http_server_destroy(&(*self)->server);
        http_rate_destroy(&(*self)->rate);
        sodium_memzero((*self)->token, sizeof (*self)->token);
        free(*self);
        *self = NULL;
    }
}
