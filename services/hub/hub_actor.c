// hub_actor.c — the hub: a CURVE ROUTER socket, the request handler (Register, Leave, Signal) on top of
// the Redis membership table (members.h), PeerList pushes to a mesh's members when it changes, and the
// once-a-second sweep of expired members. Owns no state of its own beyond counters: all of it is in
// Redis, so a restarted hub carries on.
#include "hub_actor.h"

#include <sodium.h>
#include <string.h>

#include "actor_loop.h"
#include "hub_proto.h"
#include "hub_mesh.h"
#include "hub_quota.h"
#include "hub_stun.h"
#include "hub_zap.h"
#include "identity.h"
#include "log.h"
#include "members.h"
#include "wire.h"

// The hub's counters (hub:stats in Redis, `weft status`), registered at start.
typedef struct {
    uint64_t *requests, *registrations, *registers_refused, *leaves, *signals_forwarded, *peer_lists_sent;
    uint64_t *turn_credentials_sent, *not_member, *unknown_peer, *bad_requests, *errors_sent, *redis_errors;
    uint64_t *expired, *members;
    uint64_t *connections, *sessions_refused, *connections_shut;   // the ZAP handler's, copied each sweep
} hub_counters_t;

struct hub {
    members_t *members;
    hub_mesh_t *mesh;               // managed meshes: create, invites, join, kick (hub_mesh.c)
    store_t *store;                 // not owned
    service_t *stats;
    hub_send_fn *send;
    void *send_ctx;
    member_t *scratch;              // MEMBERS_MAX_PER_MESH members of the mesh being worked on
    Weft__Peer *peers;              // PeerList entries built from scratch
    Weft__Peer **peer_ptrs;
    mesh_name_t *meshes;            // the sweep's list of meshes
    uint64_t total_members;         // all meshes, as of the last sweep
    turn_creds_config_t turn;       // TURN credentials for members (turn_creds.h)
    int stun_port;                  // the hub's STUN server (hub_stun.h), told in every PeerList; 0 = none
    bool open_meshes;               // admit Register into plain-name meshes
    hub_quota_t *bind_keys;         // new address bindings in open meshes, per key per hour
    hub_quota_t *bind_addrs;        // the same per peer address
    int register_per_key, register_per_address;
    hub_counters_t count;
};

#define QUOTA_WINDOW_MS (3600 * 1000)
#define QUOTA_SLOTS 4096

static void push_mesh(void *ctx, const char *mesh);

static void hub_register_counters(hub_t *self)
{
    hub_counters_t *c = &self->count;
    c->requests = service_counter(self->stats, "requests");
    c->registrations = service_counter(self->stats, "registrations");
    c->registers_refused = service_counter(self->stats, "registers_refused");
    c->leaves = service_counter(self->stats, "leaves");
    c->signals_forwarded = service_counter(self->stats, "signals_forwarded");
    c->peer_lists_sent = service_counter(self->stats, "peer_lists_sent");
    c->turn_credentials_sent = service_counter(self->stats, "turn_credentials_sent");
    c->not_member = service_counter(self->stats, "not_member");
    c->unknown_peer = service_counter(self->stats, "unknown_peer");
    c->bad_requests = service_counter(self->stats, "bad_requests");
    c->errors_sent = service_counter(self->stats, "errors_sent");
    c->redis_errors = service_counter(self->stats, "redis_errors");
    c->expired = service_counter(self->stats, "expired");
    c->members = service_counter(self->stats, "members");
    c->connections = service_counter(self->stats, "connections");
    c->sessions_refused = service_counter(self->stats, "sessions_refused");
    c->connections_shut = service_counter(self->stats, "connections_shut");
}

hub_t *hub_new(const hub_options_t *options, hub_send_fn *send, void *send_ctx)
{
    hub_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->members = members_new(options->store, options->member_timeout);
    self->store = options->store;
    self->stats = options->stats;
    hub_register_counters(self);
    self->turn = options->turn;
    self->open_meshes = options->open_meshes;
    self->register_per_key = options->register_per_key > 0 ? options->register_per_key : 16;
    self->register_per_address = options->register_per_address > 0 ? options->register_per_address : 64;
    self->bind_keys = hub_quota_new(QUOTA_SLOTS, QUOTA_WINDOW_MS);
    self->bind_addrs = hub_quota_new(QUOTA_SLOTS, QUOTA_WINDOW_MS);
    self->send = send;
    self->send_ctx = send_ctx;
    self->scratch = calloc(MEMBERS_MAX_PER_MESH, sizeof *self->scratch);
    self->peers = calloc(MEMBERS_MAX_PER_MESH, sizeof *self->peers);
    self->peer_ptrs = calloc(MEMBERS_MAX_PER_MESH, sizeof *self->peer_ptrs);
    self->meshes = calloc(MEMBERS_MAX_MESHES, sizeof *self->meshes);
    self->mesh = hub_mesh_new(options->store, self->members, options->stats, send, send_ctx, push_mesh, self);
    if (self->mesh)
        hub_mesh_set_create_quota(self->mesh, options->create_per_key, options->create_per_address);
    if (!self->mesh || !self->members || !self->scratch || !self->peers || !self->peer_ptrs || !self->meshes ||
        !self->bind_keys || !self->bind_addrs)
        hub_destroy(&self);
    return self;
}

void hub_destroy(hub_t **self)
{
    if (self && *self) {
        hub_mesh_destroy(&(*self)->mesh);
        members_destroy(&(*self)->members);
        hub_quota_destroy(&(*self)->bind_keys);
        hub_quota_destroy(&(*self)->bind_addrs);
        free((*self)->scratch);
        free((*self)->peers);
        free((*self)->peer_ptrs);
        free((*self)->meshes);
        free(*self);
        *self = NULL;
    }
}

void hub_set_stun_port(hub_t *self, int port)
{
    self->stun_port = port;
}

static void send_packed(hub_t *self, const uint8_t *rid, size_t rid_len, uint8_t *buf, size_t len)
{
    if (!buf) {
        log_error("out of memory packing a reply");
        return;
    }
    self->send(self->send_ctx, rid, rid_len, buf, len);
    free(buf);
}

static void send_error(hub_t *self, const uint8_t *rid, size_t rid_len, Weft__HubError__Code code,
                       const char *message)
{
    size_t len = 0;
    uint8_t *buf = hub_error_pack(code, message, &len);
    send_packed(self, rid, rid_len, buf, len);
    (*self->count.errors_sent)++;
}

static void bad_request(hub_t *self, const uint8_t *rid, size_t rid_len, const char *why)
{
    uint64_t *bad = self->count.bad_requests;
    if (log_worth_repeating(++*bad))   // a flood of bad requests logs a few lines, not one each
        log_warn("bad request: %s (%llu so far)", why, (unsigned long long)*bad);
    if (rid_len > 0)
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, why);
}

// Sends members[except]'s view of the mesh (everyone else) to it.
static void send_peer_list(hub_t *self, const char *mesh, size_t n, size_t to)
{
    hub_mesh_load_routes(self->mesh, mesh);  // each member's allowed subnet routes (Peer.allowed_routes)
    size_t count_peers = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == to)
            continue;
        Weft__Peer *p = &self->peers[count_peers];
        weft__peer__init(p);
        p->id.data = self->scratch[i].id;
        p->id.len = 32;
        p->name = self->scratch[i].name;
        p->overlay_addr = self->scratch[i].overlay_addr;
        p->last_seen_ms = self->scratch[i].last_seen_ms;
        p->n_allowed_routes = hub_mesh_routes_of(self->mesh, p->id.data, &p->allowed_routes);
        self->peer_ptrs[count_peers++] = p;
    }
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.mesh = (char *)mesh;
    list.n_peers = count_peers;
    list.peers = self->peer_ptrs;
    list.hub_stun_port = (uint32_t)self->stun_port;
    hub_mesh_fill_revoked(self->mesh, mesh, &list);
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_PEERS;
    reply.peers = &list;
    size_t len = 0;
    uint8_t *buf = hub_reply_pack(&reply, &len);
    const member_t *m = &self->scratch[to];
    send_packed(self, m->routing_id, m->routing_id_len, buf, len);
    (*self->count.peer_lists_sent)++;
}

static void push_to_all_but(hub_t *self, const char *mesh, size_t n, size_t skip)
{
    for (size_t i = 0; i < n; i++)
        if (i != skip)
            send_peer_list(self, mesh, n, i);
}

static int find_member(const member_t *list, size_t n, const uint8_t id[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(list[i].id, id, 32) == 0)
            return (int)i;
    return -1;
}

static void log_member(const char *what, const char *mesh, const member_t *m)
{
    char fingerprint[FINGERPRINT_LEN];
    id_fingerprint(m->id, fingerprint);
    log_info("%s mesh %s: %s (%s) at %s", what, mesh, m->name[0] ? m->name : "(no name)", fingerprint,
             m->overlay_addr);
}

static void log_throttled_refusal(const Weft__Register *reg, const char *why)
{
    char fingerprint[FINGERPRINT_LEN];
    id_fingerprint(reg->id.data, fingerprint);
    log_info("register of %s in mesh %s refused: %s", fingerprint, reg->mesh, why);
}

// Every live member of mesh gets its PeerList now (after a kick or a leave).
static void push_mesh(void *ctx, const char *mesh)
{
    hub_t *self = ctx;
    size_t expired = 0;
    int n = members_load(self->members, mesh, self->scratch, MEMBERS_MAX_PER_MESH, &expired);
    if (n < 0) {
        (*self->count.redis_errors)++;
        return;
    }
    push_to_all_but(self, mesh, (size_t)n, SIZE_MAX);
}

// Time-limited TURN credentials for a member that asked (none when the hub has no hub.turn_secret).
static void send_turn_credentials(hub_t *self, const uint8_t *rid, size_t rid_len, const uint8_t id[32])
{
    size_t len = 0;
    uint8_t *buf = turn_creds_reply_pack(&self->turn, id, zclock_time() / 1000, &len);
    if (!buf)
        return;
    send_packed(self, rid, rid_len, buf, len);
    (*self->count.turn_credentials_sent)++;
}

// Open (plain-name) meshes: only on a hub started with --open; an overlay address stays with the key that
// first held it (also while that member is offline); new bindings are under per-key and per-address quotas.
static bool admit_open(hub_t *self, const char *peer, const Weft__Register *reg, Weft__HubError__Code *code,
                       char *why, size_t why_len)
{
    uint8_t managed[16];
    if (hub_mesh_is_managed(reg->mesh, managed))
        return true;  // hub_mesh_admit's business
    if (!self->open_meshes) {
        *code = WEFT__HUB_ERROR__CODE__CLOSED_MESH;
        snprintf(why, why_len, "this hub admits no open meshes (mesh \"%s\" has no admin): create a managed mesh with "
                 "`weft mesh create`, or run the hub with --open (hub.open_meshes: true)", reg->mesh);
        return false;
    }
    uint8_t owner[32];
    int rc = members_binding(self->members, reg->mesh, reg->overlay_addr, reg->id.data, owner);
    if (rc == 0) {
        int64_t now = zclock_mono();
        char key_hex[65];
        sodium_bin2hex(key_hex, sizeof key_hex, reg->id.data, 32);
        bool key_ok = hub_quota_allows(self->bind_keys, key_hex, self->register_per_key, now);
        if (!key_ok || !hub_quota_allows(self->bind_addrs, peer, self->register_per_address, now)) {
            *code = WEFT__HUB_ERROR__CODE__QUOTA;
            snprintf(why, why_len, "at most %d new members per hour per %s (hub.register_per_%s)",
                     key_ok ? self->register_per_address : self->register_per_key, key_ok ? "address" : "key",
                     key_ok ? "address" : "key");
            return false;
        }
        rc = members_bind(self->members, reg->mesh, reg->overlay_addr, reg->id.data);
        if (rc == 1) {
            hub_quota_count(self->bind_keys, key_hex, now);
            hub_quota_count(self->bind_addrs, peer, now);
        } else if (rc == MEMBERS_BOUND_ELSEWHERE) {
            members_binding(self->members, reg->mesh, reg->overlay_addr, reg->id.data, owner);
        }
    }
    if (rc == 1)
        return true;
    if (rc == MEMBERS_BOUND_ELSEWHERE) {
        char fp[FINGERPRINT_LEN];
        id_fingerprint(owner, fp);
        *code = WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE;
        snprintf(why, why_len, "%s in mesh %s belongs to %s (it keeps it while offline)", reg->overlay_addr, reg->mesh,
                 fp);
        return false;
    }
    (*self->count.redis_errors)++;
    *code = WEFT__HUB_ERROR__CODE__BAD_REQUEST;
    snprintf(why, why_len, "the hub's storage failed; try again");
    return false;
}

static void handle_register(hub_t *self, const uint8_t *rid, size_t rid_len, const char *user_id, const char *peer,
                            const Weft__Register *reg)
{
    if (!hub_is_connection_key(reg->id.data, user_id)) {
        bad_request(self, rid, rid_len, "register: id is not the CURVE key of this connection");
        return;
    }
    Weft__HubError__Code refusal;
    char refused[200];
    if (!admit_open(self, peer, reg, &refusal, refused, sizeof refused) ||
        !hub_mesh_admit(self->mesh, reg->mesh, reg->id.data, reg->overlay_addr, &refusal, refused, sizeof refused)) {
        (*self->count.registers_refused)++;
        log_throttled_refusal(reg, refused);
        send_error(self, rid, rid_len, refusal, refused);
        return;
    }
    size_t expired;
    int n = members_load(self->members, reg->mesh, self->scratch, MEMBERS_MAX_PER_MESH - 1, &expired);
    if (n < 0) {
        (*self->count.redis_errors)++;
        log_warn("register for mesh %s not handled: Redis failed", reg->mesh);
        return;
    }
    int me = find_member(self->scratch, (size_t)n, reg->id.data);
    for (int i = 0; i < n; i++) {
        if (i != me && strcmp(self->scratch[i].overlay_addr, reg->overlay_addr) == 0) {
            char why[160];
            snprintf(why, sizeof why, "%s is already used by member %s of mesh %s", reg->overlay_addr,
                     self->scratch[i].name, reg->mesh);
            log_warn("register refused: %s", why);
            send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE, why);
            return;
        }
    }
    bool is_new = me < 0;
    if (is_new)
        me = n++;
    member_t *m = &self->scratch[me];
    bool changed = is_new || expired > 0 || strcmp(m->overlay_addr, reg->overlay_addr) != 0 ||
                   strcmp(m->name, reg->name) != 0 || m->routing_id_len != rid_len ||
                   memcmp(m->routing_id, rid, rid_len) != 0;
    memcpy(m->id, reg->id.data, 32);
    snprintf(m->name, sizeof m->name, "%s", reg->name);
    snprintf(m->overlay_addr, sizeof m->overlay_addr, "%s", reg->overlay_addr);
    memcpy(m->routing_id, rid, rid_len);
    m->routing_id_len = rid_len;
    m->last_seen_ms = (uint64_t)zclock_time();
    if (members_put(self->members, reg->mesh, m) != 0) {
        (*self->count.redis_errors)++;
        return;
    }
    (*self->count.registrations)++;
    if (is_new)
        log_member("joined", reg->mesh, m);
    else if (changed)
        log_member("updated", reg->mesh, m);
    send_peer_list(self, reg->mesh, (size_t)n, (size_t)me);
    if (reg->want_turn_credentials)
        send_turn_credentials(self, rid, rid_len, reg->id.data);
    if (changed)
        push_to_all_but(self, reg->mesh, (size_t)n, (size_t)me);
}

// The member registered on this connection, in its mesh: index into scratch, or -1 (error sent).
static int connection_member(hub_t *self, const uint8_t *rid, size_t rid_len, const uint8_t id[32],
                             const char *mesh_hint, mesh_name_t mesh, int *n_out)
{
    int found = 0;
    if (mesh_hint)
        snprintf(mesh, sizeof(mesh_name_t), "%s", mesh_hint), found = 1;
    else
        found = members_mesh_of(self->members, rid, rid_len, mesh);
    size_t expired = 0;
    int n = found > 0 ? members_load(self->members, mesh, self->scratch, MEMBERS_MAX_PER_MESH, &expired) : 0;
    if (found < 0 || n < 0) {
        (*self->count.redis_errors)++;
        return -1;
    }
    if (expired > 0)
        push_to_all_but(self, mesh, (size_t)n, SIZE_MAX);
    int me = find_member(self->scratch, (size_t)n, id);
    if (me < 0 || self->scratch[me].routing_id_len != rid_len ||
        memcmp(self->scratch[me].routing_id, rid, rid_len) != 0) {
        (*self->count.not_member)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__NOT_MEMBER,
                   "this connection is not a registered member (register first)");
        return -1;
    }
    *n_out = n;
    return me;
}

static void handle_leave(hub_t *self, const uint8_t *rid, size_t rid_len, const Weft__Leave *leave)
{
    mesh_name_t mesh;
    int n;
    int me = connection_member(self, rid, rid_len, leave->id.data, leave->mesh, mesh, &n);
    if (me < 0)
        return;
    if (members_remove(self->members, mesh, leave->id.data) != 0) {
        (*self->count.redis_errors)++;
        return;
    }
    log_member("left", mesh, &self->scratch[me]);
    (*self->count.leaves)++;
    // the leaver is at index me: every other member gets the list without it
    self->scratch[me] = self->scratch[n - 1];
    push_to_all_but(self, mesh, (size_t)n - 1, SIZE_MAX);
}

static void handle_signal(hub_t *self, const uint8_t *rid, size_t rid_len, const Weft__Signal *sig)
{
    mesh_name_t mesh;
    int n;
    if (connection_member(self, rid, rid_len, sig->from.data, NULL, mesh, &n) < 0)
        return;
    int to = find_member(self->scratch, (size_t)n, sig->to.data);
    if (to < 0) {
        (*self->count.unknown_peer)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__UNKNOWN_PEER,
                   "signal: the receiver is not a live member of this mesh");
        return;
    }
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_SIGNAL;
    reply.signal = (Weft__Signal *)sig;
    size_t len = 0;
    uint8_t *buf = hub_reply_pack(&reply, &len);
    const member_t *dest = &self->scratch[to];
    send_packed(self, dest->routing_id, dest->routing_id_len, buf, len);
    (*self->count.signals_forwarded)++;
}

void hub_handle_request(hub_t *self, const uint8_t *routing_id, size_t routing_len, const char *user_id,
                        const char *peer, const uint8_t *data, size_t len)
{
    (*self->count.requests)++;
    if (routing_len == 0 || routing_len > MEMBERS_ROUTING_MAX) {
        bad_request(self, NULL, 0, "request without a usable routing id");
        return;
    }
    char why[160];
    Weft__HubRequest *req = hub_request_parse(data, len, why, sizeof why);
    if (!req) {
        bad_request(self, routing_id, routing_len, why);
        return;
    }
    switch (req->body_case) {
    case WEFT__HUB_REQUEST__BODY_REGISTER:
        handle_register(self, routing_id, routing_len, user_id, peer ? peer : "", req->register_);
        break;
    case WEFT__HUB_REQUEST__BODY_LEAVE:
        handle_leave(self, routing_id, routing_len, req->leave);
        break;
    case WEFT__HUB_REQUEST__BODY_SIGNAL:
        handle_signal(self, routing_id, routing_len, req->signal);
        break;
    default:
        hub_mesh_handle(self->mesh, routing_id, routing_len, user_id, peer ? peer : "", req);  // membership (hub_mesh.c)
        break;
    }
    weft__hub_request__free_unpacked(req, NULL);
}

// Counters go to the log only when asked (debug) and to Redis hash hub:stats for tools and tests.
static void write_stats(hub_t *self)
{
    *self->count.members = self->total_members;
    snprintf(self->stats->detail, sizeof self->stats->detail, "%llu members",
             (unsigned long long)self->total_members);
    for (size_t i = 0; i < self->stats->counter_count; i++) {
        const service_counter_t *c = &self->stats->counters[i];
        store_exec(self->store, "HSET hub:stats %s %llu", c->name, (unsigned long long)c->value);
    }
}

void hub_sweep(hub_t *self)
{
    int meshes = members_meshes(self->members, self->meshes, MEMBERS_MAX_MESHES);
    if (meshes < 0) {
        (*self->count.redis_errors)++;
        return;
    }
    uint64_t total = 0;
    for (int k = 0; k < meshes; k++) {
        const char *mesh = self->meshes[k];
        size_t expired;
        int n = members_load(self->members, mesh, self->scratch, MEMBERS_MAX_PER_MESH, &expired);
        if (n < 0) {
            (*self->count.redis_errors)++;
            continue;
        }
        size_t pruned = hub_mesh_prune(self->mesh, mesh, self->scratch, (size_t)n);  // managed meshes
        n -= (int)pruned;
        total += (uint64_t)n;
        if (expired > 0) {
            log_info("mesh %s: %zu member(s) timed out, %d left", mesh, expired, n);
            *self->count.expired += expired;
        }
        bool routes_changed = hub_mesh_routes_changed(self->mesh, mesh);  // e.g. by the HTTP API
        if (expired > 0 || pruned > 0 || routes_changed)
            push_to_all_but(self, mesh, (size_t)n, SIZE_MAX);
        if (n == 0)
            members_forget_mesh(self->members, mesh);
    }
    self->total_members = total;
    hub_mesh_tick(self->mesh);
    write_stats(self);
}

// ---- the actor: sockets around the handler ----

static void router_send(void *ctx, const uint8_t *rid, size_t rid_len, const uint8_t *data, size_t len)
{
    zsock_t *router = ctx;
    void *handle = zsock_resolve(router);
    // ROUTER_MANDATORY: an unknown or gone routing id fails here instead of vanishing silently
    if (zmq_send(handle, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(handle, data, len, ZMQ_DONTWAIT) < 0)
        log_debug("reply to a %zu-byte routing id not sent: %s", rid_len, zmq_strerror(zmq_errno()));
}

#define MONITOR_ENDPOINT "inproc://weft-hub-monitor"

// The ROUTER, not yet listening, with its socket monitor for the ZAP handler's connection caps.
static zsock_t *new_router(const hub_options_t *options)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    if (!router)
        return NULL;
    zsock_set_linger(router, 0);
    zsock_set_router_mandatory(router, 1);
    zsock_set_maxmsgsize(router, HUB_MAX_FRAME + 1024);  // a larger message drops its connection
    zsock_set_sndhwm(router, 1000);
    zsock_set_rcvhwm(router, 1000);
    zcert_apply(options->cert, router);
    zsock_set_curve_server(router, 1);
    zsock_set_zap_domain(router, "weft-hub");
    // a connection that has not finished its CURVE handshake (and ZAP) in time is dropped
    zsock_set_handshake_ivl(router, (options->handshake_timeout > 0 ? options->handshake_timeout : 5) * 1000);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED;
    if (zmq_socket_monitor(zsock_resolve(router), MONITOR_ENDPOINT, events) != 0) {
        log_error("cannot monitor the hub's socket: %s", zmq_strerror(zmq_errno()));
        zsock_destroy(&router);
    }
    return router;
}

static int bind_router(zsock_t *router, const hub_options_t *options)
{
    if (zsock_bind(router, "%s", options->listen) < 0) {
        log_error("cannot listen on %s: %s", options->listen, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

// The ZAP handler's counters into the hub's stats (hub:stats in Redis).
static void zap_stats(zactor_t *zap, hub_t *hub)
{
    zstr_send(zap, "STATS");
    char *line = zstr_recv(zap);
    unsigned long long connections = 0, refused = 0, shut = 0;
    if (line && sscanf(line, "connections=%llu refused=%llu shut=%llu", &connections, &refused, &shut) == 3) {
        *hub->count.connections = connections;
        *hub->count.sessions_refused = refused;
        *hub->count.connections_shut = shut;
    }
    zstr_free(&line);
}

static void receive_request(hub_t *hub, zsock_t *router)
{
    zmsg_t *msg = zmsg_recv(router);
    if (!msg)
        return;
    zframe_t *rid = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    if (!rid || !body || zmsg_size(msg) != 0) {
        char why[80];
        size_t frames = (body ? 1 : 0) + zmsg_size(msg);  // after the routing id
        snprintf(why, sizeof why, "a request must be one frame (got %zu)", frames);
        (*hub->count.requests)++;
        bad_request(hub, rid ? zframe_data(rid) : NULL, rid ? zframe_size(rid) : 0, why);
    } else {
        const char *user_id = zframe_meta(body, "User-Id");
        const char *peer = zframe_meta(body, "Peer-Address");
        hub_handle_request(hub, zframe_data(rid), zframe_size(rid), user_id ? user_id : "", peer ? peer : "",
                           zframe_data(body), zframe_size(body));
    }
    zframe_destroy(&rid);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
}

// What the hub actor's loop hands its handlers.
typedef struct {
    hub_t *hub;
    zsock_t *router;
    zactor_t *zap;
    hub_stun_t *stun;               // NULL: no STUN server (hub.stun_port 0, or its port was taken)
    hub_options_t *options;
} hub_loop_t;

static int on_stun(void *arg)
{
    hub_loop_t *h = arg;
    hub_stun_on_readable(h->stun);
    return 0;
}

static int on_request(void *arg)
{
    hub_loop_t *h = arg;
    receive_request(h->hub, h->router);
    return 0;
}

// Once a second: the ZAP handler's counts, expired members and rooms.
static int on_sweep(void *arg)
{
    hub_loop_t *h = arg;
    zap_stats(h->zap, h->hub);
    hub_sweep(h->hub);
    return 0;
}

void hub_actor(zsock_t *pipe, void *args)
{
    hub_options_t *options = args;
    hub_zap_options_t zap_options = {.max_total = options->max_connections,
                                     .max_per_address = options->max_connections_per_address};
    snprintf(zap_options.monitor, sizeof zap_options.monitor, "%s", MONITOR_ENDPOINT);
    hub_loop_t h = {.options = options};
    h.router = new_router(options);
    h.zap = h.router ? zactor_new(hub_zap_actor, &zap_options) : NULL;
    h.hub = h.zap && bind_router(h.router, options) == 0 ? hub_new(options, router_send, h.router) : NULL;
    actor_loop_t *loop = h.hub ? actor_loop_new(pipe, options->stats, NULL, &h) : NULL;
    h.stun = loop ? hub_stun_new(options->listen, options->stun_port, options->stats) : NULL;
    if (h.stun)
        hub_set_stun_port(h.hub, hub_stun_port(h.stun));
    if (!loop || actor_loop_on_socket(loop, h.router, on_request) != 0 || actor_loop_every(loop, 1000, on_sweep) != 0 ||
        (h.stun && actor_loop_on_fd(loop, hub_stun_fd(h.stun), on_stun) != 0)) {
        actor_loop_destroy(&loop);
        hub_stun_destroy(&h.stun);
        hub_destroy(&h.hub);
        zsock_destroy(&h.router);
        zactor_destroy(&h.zap);
        service_actor_fail(pipe, "the hub could not start (see above)");
        return;
    }
    log_info("listening on %s (CURVE), member timeout %d s, %s; at most %d connections, %d per address", options->listen,
             options->member_timeout, options->open_meshes ? "open meshes admitted" : "managed meshes only",
             options->max_connections > 0 ? options->max_connections : 1000,
             options->max_connections_per_address > 0 ? options->max_connections_per_address : 32);
    zsock_signal(pipe, 0);
    on_sweep(&h);
    actor_loop_run(loop);
    actor_loop_destroy(&loop);
    hub_stun_destroy(&h.stun);
    hub_destroy(&h.hub);
    zsock_destroy(&h.router);
    zactor_destroy(&h.zap);
}
