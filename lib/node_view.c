// node_view.c — see node_view.h.
#include "node_view.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service_report.h"
#include "wire.h"

// --- services, asked all at once ---

static zsock_t *send_status_request(const char *endpoint, int timeout_ms)
{
    zsock_t *req = zsock_new(ZMQ_REQ);
    if (!req)
        return NULL;
    zsock_set_linger(req, 0);
    zsock_set_sndtimeo(req, timeout_ms);
    if (zsock_connect(req, "%s", endpoint) != 0) {
        zsock_destroy(&req);
        return NULL;
    }
    Weft__StatusRequest sr = WEFT__STATUS_REQUEST__INIT;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_STATUS_REQUEST;
    env.status_request = &sr;
    if (wire_send(req, &env, NULL, 0, false) != 0)
        zsock_destroy(&req);
    return req;
}

static void take_status(node_service_t *svc, zsock_t *req)
{
    zframe_t *payload = NULL;
    Weft__Envelope *reply = wire_recv(req, &payload);
    zframe_destroy(&payload);
    if (reply && reply->body_case == WEFT__ENVELOPE__BODY_STATUS && reply->status) {
        const Weft__ServiceStatus *st = reply->status;
        svc->up = true;
        svc->pid = st->pid;
        svc->uptime_ms = st->uptime_ms;
        snprintf(svc->detail, sizeof svc->detail, "%s", st->detail ? st->detail : "");
        for (size_t c = 0; c < st->n_counters && svc->counter_count < SERVICE_MAX_COUNTERS; c++) {
            if (!st->counters[c]->name)
                continue;
            node_counter_t *counter = &svc->counters[svc->counter_count++];
            snprintf(counter->name, sizeof counter->name, "%s", st->counters[c]->name);
            counter->value = st->counters[c]->value;
        }
    }
    if (reply)
        weft__envelope__free_unpacked(reply, NULL);
}

static void ask_services(const weft_config_t *cfg, int timeout_ms, node_status_t *out)
{
    zsock_t *reqs[SVC_COUNT] = {NULL};
    zpoller_t *poller = zpoller_new(NULL);
    int waiting = 0;
    for (int s = 0; s < SVC_COUNT; s++) {
        out->services[s].name = service_name((service_id_t)s);
        reqs[s] = send_status_request(cfg->control[s], timeout_ms);
        if (reqs[s] && poller && zpoller_add(poller, reqs[s]) == 0)
            waiting++;
    }
    int64_t deadline = zclock_mono() + timeout_ms;
    while (poller && waiting > 0) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            break;
        zsock_t *ready = zpoller_wait(poller, (int)left);
        if (!ready)
            break;  // timeout or interrupted
        for (int s = 0; s < SVC_COUNT; s++) {
            if (reqs[s] == ready) {
                take_status(&out->services[s], ready);
                zpoller_remove(poller, ready);
                waiting--;
            }
        }
    }
    zpoller_destroy(&poller);
    for (int s = 0; s < SVC_COUNT; s++) {
        zsock_destroy(&reqs[s]);
        if (!out->services[s].up)
            out->missing++;
    }
}

static int running_supervisor(const weft_config_t *cfg)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/weft.pid", cfg->run_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    return (pid > 0 && kill(pid, 0) == 0) ? pid : 0;
}

void node_status_collect(const weft_config_t *cfg, store_t *store, int timeout_ms, node_status_t *out)
{
    memset(out, 0, sizeof *out);
    identity_t id;
    char err[512];
    if (identity_load(cfg->identity_file, &id, err, sizeof err) == 0) {
        id_to_hex(id.public_key, out->id);
        id_fingerprint(id.public_key, out->fingerprint);
        identity_wipe(&id);
    }
    out->supervisor_pid = running_supervisor(cfg);
    snprintf(out->hub_state, sizeof out->hub_state, "unknown");
    if (store) {
        redisReply *r = store_command(store, "HMGET weft:hub state refused");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING)
            snprintf(out->hub_state, sizeof out->hub_state, "%s", r->element[0]->str);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
            snprintf(out->hub_refused, sizeof out->hub_refused, "%s", r->element[1]->str);
        if (r)
            freeReplyObject(r);
    }
    ask_services(cfg, timeout_ms, out);
    for (int s = 0; s < SVC_COUNT; s++) {
        service_report_t report;
        service_report_read(cfg->run_dir, cfg->log_dir, service_name((service_id_t)s), &report);
        out->services[s].restarts = report.restarts;
        snprintf(out->services[s].last_error, sizeof out->services[s].last_error, "%s", report.last_error);
    }
}

// --- Redis tables ---

// A field of an HGETALL reply, or "" when absent.
static const char *field(const redisReply *hash, const char *name)
{
    if (!hash || hash->type != REDIS_REPLY_ARRAY)
        return "";
    for (size_t i = 0; i + 1 < hash->elements; i += 2)
        if (hash->element[i]->type == REDIS_REPLY_STRING && strcmp(hash->element[i]->str, name) == 0 &&
            hash->element[i + 1]->type == REDIS_REPLY_STRING)
            return hash->element[i + 1]->str;
    return "";
}

static uint64_t field_u64(const redisReply *hash, const char *name)
{
    return strtoull(field(hash, name), NULL, 10);
}

#define COPY_FIELD(dst, hash, name) snprintf(dst, sizeof dst, "%s", field(hash, name))

int node_peers_collect(store_t *store, node_peer_t **peers)
{
    *peers = NULL;
    if (!store)
        return -1;
    redisReply *alive = store_command(store, "EXISTS weft:peers");
    if (!alive || alive->type != REDIS_REPLY_INTEGER) {
        if (alive)
            freeReplyObject(alive);
        return -1;
    }
    freeReplyObject(alive);
    Weft__PeerList *list = store_load_peers(store);
    if (!list || list->n_peers == 0) {
        if (list)
            weft__peer_list__free_unpacked(list, NULL);
        return 0;
    }
    node_peer_t *out = calloc(list->n_peers, sizeof *out);
    if (!out) {
        weft__peer_list__free_unpacked(list, NULL);
        return -1;
    }
    int count = 0;
    for (size_t i = 0; i < list->n_peers; i++) {
        const Weft__Peer *p = list->peers[i];
        if (p->id.len != 32)
            continue;
        node_peer_t *peer = &out[count++];
        snprintf(peer->name, sizeof peer->name, "%s", p->name ? p->name : "");
        snprintf(peer->overlay_addr, sizeof peer->overlay_addr, "%s", p->overlay_addr ? p->overlay_addr : "");
        id_to_hex(p->id.data, peer->id);
        id_fingerprint(p->id.data, peer->fingerprint);
        redisReply *verified = store_command(store, "SISMEMBER weft:verified %s", peer->id);
        peer->verified = verified && verified->type == REDIS_REPLY_INTEGER && verified->integer == 1;
        if (verified)
            freeReplyObject(verified);
        redisReply *path = store_command(store, "HGETALL weft:path:%s", peer->id);
        redisReply *session = store_command(store, "HGETALL weft:session:%s", peer->id);
        snprintf(peer->path_state, sizeof peer->path_state, "%s",
                 field(path, "state")[0] ? field(path, "state") : "none");
        COPY_FIELD(peer->connection, path, "connection");
        COPY_FIELD(peer->local_type, path, "local_type");
        COPY_FIELD(peer->remote_type, path, "remote_type");
        COPY_FIELD(peer->local_addr, path, "local_addr");
        COPY_FIELD(peer->remote_addr, path, "remote_addr");
        COPY_FIELD(peer->transport, path, "transport");
        // what nat carried, plus what crypto sent and received itself on the direct path (docs/state.md)
        peer->path_rx_bytes = field_u64(path, "rx_bytes") + field_u64(session, "direct_rx_bytes");
        peer->path_tx_bytes = field_u64(path, "tx_bytes") + field_u64(session, "direct_tx_bytes");
        peer->path_rx_packets = field_u64(path, "rx_packets") + field_u64(session, "direct_rx_packets");
        peer->path_tx_packets = field_u64(path, "tx_packets") + field_u64(session, "direct_tx_packets");
        peer->path_restarts = field_u64(path, "restarts");
        peer->rtt_ms = field(path, "rtt_ms")[0] ? strtoll(field(path, "rtt_ms"), NULL, 10) : -1;
        peer->rtt_us = field(path, "rtt_us")[0] ? strtoll(field(path, "rtt_us"), NULL, 10)
                       : peer->rtt_ms >= 0 ? peer->rtt_ms * 1000 : -1;
        COPY_FIELD(peer->server, path, "server");
        COPY_FIELD(peer->last_error, path, "last_error");
        snprintf(peer->session_state, sizeof peer->session_state, "%s",
                 field(session, "state")[0] ? field(session, "state") : "none");
        if (strcmp(peer->session_state, "established") == 0)
            snprintf(peer->cipher, sizeof peer->cipher, "%s", field(session, "cipher"));
        peer->handshakes = field_u64(session, "handshakes");
        peer->session_rx_bytes = field_u64(session, "rx_bytes");
        peer->session_tx_bytes = field_u64(session, "tx_bytes");
        peer->established_ms = (int64_t)field_u64(session, "established_ms");
        peer->last_handshake_ms = (int64_t)field_u64(session, "last_handshake_ms");
        redisReply *route = store_command(store, "HMGET weft:route:%s next_hop hops latency_ms", peer->overlay_addr);
        if (route && route->type == REDIS_REPLY_ARRAY && route->elements == 3) {
            const redisReply *hop = route->element[0];
            if (hop->type == REDIS_REPLY_STRING && hop->str[0] && strcmp(hop->str, peer->id) != 0)
                snprintf(peer->next_hop, sizeof peer->next_hop, "%s", hop->str);
            if (route->element[1]->type == REDIS_REPLY_STRING)
                peer->route_hops = strtoull(route->element[1]->str, NULL, 10);
            if (route->element[2]->type == REDIS_REPLY_STRING)
                peer->route_latency_ms = strtoull(route->element[2]->str, NULL, 10);
        }
        if (route)
            freeReplyObject(route);
        if (path)
            freeReplyObject(path);
        if (session)
            freeReplyObject(session);
    }
    weft__peer_list__free_unpacked(list, NULL);
    for (int i = 0; i < count; i++)
        for (int k = 0; k < count && out[i].next_hop[0]; k++)
            if (strcmp(out[k].id, out[i].next_hop) == 0)
                snprintf(out[i].next_hop_name, sizeof out[i].next_hop_name, "%s", out[k].name);
    if (count == 0) {
        free(out);
        out = NULL;
    }
    *peers = out;
    return count;
}

// Members first, then subnets; within each, by address (numerically for IPv4, else as text), then length.
static int compare_routes(const void *a, const void *b)
{
    const node_route_t *x = a, *y = b;
    int by_origin = strcmp(x->origin, y->origin);   // "member" < "subnet"
    if (by_origin)
        return by_origin;
    char xa[64], ya[64];
    snprintf(xa, sizeof xa, "%s", x->destination);
    snprintf(ya, sizeof ya, "%s", y->destination);
    char *xs = strchr(xa, '/'), *ys = strchr(ya, '/');
    unsigned long xlen = xs ? strtoul(xs + 1, NULL, 10) : 0, ylen = ys ? strtoul(ys + 1, NULL, 10) : 0;
    if (xs)
        *xs = '\0';
    if (ys)
        *ys = '\0';
    struct in_addr x4, y4;
    if (inet_pton(AF_INET, xa, &x4) == 1 && inet_pton(AF_INET, ya, &y4) == 1 && x4.s_addr != y4.s_addr)
        return ntohl(x4.s_addr) < ntohl(y4.s_addr) ? -1 : 1;
    int by_text = strcmp(xa, ya);
    if (by_text)
        return by_text;
    return xlen < ylen ? -1 : xlen > ylen;
}

// The name of member `hex` in the peer table, or "".
static void peer_name_of(const Weft__PeerList *list, const char *hex, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; list && hex[0] && i < list->n_peers; i++) {
        char id[ID_HEX_LEN];
        if (list->peers[i]->id.len != 32)
            continue;
        id_to_hex(list->peers[i]->id.data, id);
        if (strcmp(id, hex) == 0) {
            snprintf(out, len, "%s", list->peers[i]->name ? list->peers[i]->name : "");
            return;
        }
    }
}

// One weft:route:<key> hash into *route (docs/state.md; fields an older router did not write read as 0/"").
static void read_route(const redisReply *hash, const char *key, const Weft__PeerList *peers, int64_t now_ms,
                       node_route_t *route)
{
    snprintf(route->key, sizeof route->key, "%s", key);
    snprintf(route->destination, sizeof route->destination, "%s%s", key,
             strchr(key, '/') ? "" : strchr(key, ':') ? "/128" : "/32");
    COPY_FIELD(route->peer, hash, "peer");
    COPY_FIELD(route->next_hop, hash, "next_hop");
    route->direct = !route->next_hop[0] || strcmp(route->next_hop, route->peer) == 0;
    peer_name_of(peers, route->peer, route->peer_name, sizeof route->peer_name);
    peer_name_of(peers, route->next_hop, route->next_hop_name, sizeof route->next_hop_name);
    route->hops = field_u64(hash, "hops");
    route->metric = field_u64(hash, "metric");
    route->latency_ms = field_u64(hash, "latency_ms");
    route->updated_ms = (int64_t)field_u64(hash, "updated_ms");
    route->refreshed_ms = (int64_t)field_u64(hash, "refreshed_ms");
    int64_t seen = route->refreshed_ms > 0 ? route->refreshed_ms : route->updated_ms;
    route->age_s = seen <= 0 ? -1 : now_ms > seen ? (now_ms - seen) / 1000 : 0;
    snprintf(route->origin, sizeof route->origin, "%s", strcmp(field(hash, "origin"), "subnet") == 0 ? "subnet" : "member");
    snprintf(route->state, sizeof route->state, "%s", field(hash, "state")[0] ? field(hash, "state") : "active");
    COPY_FIELD(route->why, hash, "why");
}

int node_routes_collect(store_t *store, node_route_t **routes)
{
    *routes = NULL;
    if (!store)
        return -1;
    redisReply *members = store_command(store, "SMEMBERS weft:routes");
    if (!members || members->type != REDIS_REPLY_ARRAY) {
        if (members)
            freeReplyObject(members);
        return -1;
    }
    node_route_t *out = members->elements ? calloc(members->elements, sizeof *out) : NULL;
    if (members->elements && !out) {
        freeReplyObject(members);
        return -1;
    }
    Weft__PeerList *peers = members->elements ? store_load_peers(store) : NULL;   // NULL: no names, not an error
    int64_t now = zclock_time();   // unix ms, as the router writes them
    int count = 0;
    for (size_t i = 0; i < members->elements; i++) {
        const redisReply *key = members->element[i];
        if (key->type != REDIS_REPLY_STRING || key->len == 0 || key->len >= sizeof out[0].key - 4)
            continue;
        redisReply *hash = store_command(store, "HGETALL weft:route:%s", key->str);
        if (hash && hash->type == REDIS_REPLY_ARRAY && hash->elements > 0)
            read_route(hash, key->str, peers, now, &out[count++]);
        if (hash)
            freeReplyObject(hash);
    }
    freeReplyObject(members);
    if (peers)
        weft__peer_list__free_unpacked(peers, NULL);
    if (count == 0) {
        free(out);
        out = NULL;
    }
    if (count > 1)
        qsort(out, (size_t)count, sizeof *out, compare_routes);
    *routes = out;
    return count;
}

// --- JSON ---

static void service_json(const node_service_t *svc, json_t *j)
{
    json_object_begin(j, "counters");
    for (size_t c = 0; c < svc->counter_count; c++)
        json_uint(j, svc->counters[c].name, svc->counters[c].value);
    json_object_end(j);
}

void node_status_json(const weft_config_t *cfg, const node_status_t *status, json_t *j)
{
    json_object_begin(j, NULL);
    json_string(j, "name", cfg->name);
    json_string(j, "id", status->id);
    json_string(j, "fingerprint", status->fingerprint);
    json_string(j, "mesh", cfg->mesh);
    json_string(j, "overlay_addr", cfg->overlay_addr);
    json_uint(j, "overlay_prefix", (uint64_t)cfg->overlay_prefix);
    json_string(j, "hub", cfg->hub_endpoint);
    json_string(j, "hub_state", status->hub_state);
    json_string(j, "hub_refused", status->hub_refused);
    json_bool(j, "running", status->supervisor_pid != 0);
    json_uint(j, "supervisor_pid", (uint64_t)status->supervisor_pid);
    json_array_begin(j, "services");
    for (int s = 0; s < SVC_COUNT; s++) {
        const node_service_t *svc = &status->services[s];
        json_object_begin(j, NULL);
        json_string(j, "service", svc->name);
        json_bool(j, "up", svc->up);
        json_uint(j, "restarts", svc->restarts);
        json_string(j, "last_error", svc->last_error);
        if (svc->up) {
            json_uint(j, "pid", svc->pid);
            json_uint(j, "uptime_ms", svc->uptime_ms);
            json_string(j, "detail", svc->detail);
            service_json(svc, j);
        }
        json_object_end(j);
    }
    json_array_end(j);
    json_object_end(j);
}

void node_peers_json(const node_peer_t *peers, int count, json_t *j)
{
    json_array_begin(j, NULL);
    for (int i = 0; i < count; i++) {
        const node_peer_t *p = &peers[i];
        json_object_begin(j, NULL);
        json_string(j, "name", p->name);
        json_string(j, "id", p->id);
        json_string(j, "fingerprint", p->fingerprint);
        json_string(j, "overlay_addr", p->overlay_addr);
        json_bool(j, "verified", p->verified);
        json_string(j, "next_hop", p->next_hop);
        json_string(j, "next_hop_name", p->next_hop_name);
        json_uint(j, "route_hops", p->route_hops);
        json_uint(j, "route_latency_ms", p->route_latency_ms);
        json_object_begin(j, "path");
        json_string(j, "state", p->path_state);
        json_string(j, "connection", p->connection);
        json_string(j, "local_type", p->local_type);
        json_string(j, "remote_type", p->remote_type);
        json_string(j, "local_addr", p->local_addr);
        json_string(j, "remote_addr", p->remote_addr);
        json_string(j, "transport", p->transport);
        json_uint(j, "rx_bytes", p->path_rx_bytes);
        json_uint(j, "tx_bytes", p->path_tx_bytes);
        json_uint(j, "rx_packets", p->path_rx_packets);
        json_uint(j, "tx_packets", p->path_tx_packets);
        json_uint(j, "restarts", p->path_restarts);
        json_int(j, "rtt_ms", p->rtt_ms);
        json_int(j, "rtt_us", p->rtt_us);
        json_string(j, "server", p->server);
        json_string(j, "last_error", p->last_error);
        json_object_end(j);
        json_object_begin(j, "session");
        json_string(j, "state", p->session_state);
        json_string(j, "cipher", p->cipher);
        json_uint(j, "handshakes", p->handshakes);
        json_uint(j, "rx_bytes", p->session_rx_bytes);
        json_uint(j, "tx_bytes", p->session_tx_bytes);
        json_int(j, "established_ms", p->established_ms);
        json_int(j, "last_handshake_ms", p->last_handshake_ms);
        json_object_end(j);
        json_object_end(j);
    }
    json_array_end(j);
}

void node_route_via(const node_route_t *route, char *out, size_t len)
{
    if (route->direct)
        snprintf(out, len, "direct");
    else if (route->next_hop_name[0])
        snprintf(out, len, "%s", route->next_hop_name);
    else
        snprintf(out, len, "%.16s", route->next_hop);
}

void node_routes_json(const node_route_t *routes, int count, json_t *j)
{
    json_array_begin(j, NULL);
    for (int i = 0; i < count; i++) {
        const node_route_t *r = &routes[i];
        json_object_begin(j, NULL);
        json_string(j, "destination", r->destination);
        json_string(j, "peer", r->peer);
        json_string(j, "peer_name", r->peer_name);
        char via[ID_HEX_LEN];
        node_route_via(r, via, sizeof via);
        json_string(j, "via", via);
        json_string(j, "via_id", r->direct ? r->peer : r->next_hop);
        json_uint(j, "hops", r->hops);
        json_uint(j, "metric", r->metric);
        json_uint(j, "latency_ms", r->latency_ms);
        json_int(j, "age_s", r->age_s);
        json_string(j, "origin", r->origin);
        json_string(j, "state", r->state);
        json_string(j, "why", r->why);
        json_object_end(j);
    }
    json_array_end(j);
}

void node_stats_json(const node_status_t *status, json_t *j)
{
    json_object_begin(j, NULL);
    json_object_begin(j, "services");
    for (int s = 0; s < SVC_COUNT; s++) {
        const node_service_t *svc = &status->services[s];
        json_object_begin(j, svc->name);
        json_bool(j, "up", svc->up);
        json_uint(j, "uptime_ms", svc->uptime_ms);
        service_json(svc, j);
        json_object_end(j);
    }
    json_object_end(j);
    json_object_end(j);
}
