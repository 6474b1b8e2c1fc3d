// crypto_actor.c — the weft-crypto actor. Owns the sockets (inbox, control, PUSH to nat and device),
// the node's static key for the session table (session.c), the 1 s timer tick, the member list (from
// discovery, or from Redis at start) and the session status hashes in Redis (weft:session:<hex id>).
//
// The inbox carries packets from router (plaintext IP) and datagrams from nat in the same kind of
// PacketBatch; the batch's direction, set by its sender (OUTBOUND from router, INBOUND from nat), tells
// them apart. A batch without one is dropped.
//
// In a mesh with certificates (mesh.id set) it loads the node's certificate (mesh.certificate) for the
// handshakes, checks the admin-signed revocations that come in PeerLists and keeps the revoked ids in
// Redis (weft:revoked), so a restart refuses them too.
#include "crypto_actor.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "actor_loop.h"
#include "crypto_tun.h"
#include "direct_path.h"
#include "cert.h"
#include "datagram.h"
#include "identity.h"
#include "log.h"
#include "route_table.h"
#include "session.h"
#include "store.h"
#include "store_link.h"
#include "wire.h"

#define TICK_MS 1000
#define STATUS_REFRESH_MS 60000     // rewrite every session hash at least this often (they expire in 300 s)
#define STATUS_TTL_S 300

typedef struct {
    service_t *svc;
    zsock_t *inbox, *control, *to_nat, *to_device;
    session_set_t *sessions;
    packet_batch_t *nat_batch, *device_batch;
    direct_paths_t *direct;         // peers whose datagrams go out and come in without nat (NULL: dataplane.direct off)
    packet_batch_t *rest_batch;     // what of a batch for nat has no direct path
    session_time_t now;             // of the wake-up being handled (direct receive, TUN read)
    // the TUN borrowed from device (NULL: dataplane.tun off or a TAP device): packets read from it go
    // straight to their peer's session; what crypto cannot route itself goes to router as device would send it
    crypto_tun_t *tun;
    route_table_t *routes;          // overlay address -> member, from the PeerList
    packet_batch_t *tun_batch;      // packets read from TUN (no peers)
    packet_batch_t *router_batch;   // packets for router: broadcast, multicast, no direct route, not IPv4
    zsock_t *to_router;
    actor_loop_t *loop;
    session_io_t io;
    store_t *store;
    store_link_t redis;             // when to try Redis again while store is NULL
    bool members_known;             // a PeerList arrived or was loaded: Redis is not asked again
    bool certificates;              // mesh.id is set: revocations are checked against mesh_id/admin_key
    uint8_t mesh_id[MESH_ID_LEN], admin_key[32], local_id[32];
    zlistx_t *unsaved_revoked;      // hex ids (malloc'd) revoked but not yet in Redis
    zlistx_t *saved_revoked;        // hex ids (malloc'd) in Redis: written again if Redis restarts
    int64_t next_full_report_ms;
    uint64_t *packets_in, *datagrams_in, *batches_in, *drop_bad_batch, *drop_untagged;
    uint64_t *drop_nat_queue_full, *drop_device_queue_full, *packets_out, *datagrams_out;
    uint64_t *revocations, *drop_bad_revocation, *drop_bad_message, *drop_unexpected_message;
    uint64_t *tun_packets_in, *tun_to_router, *drop_router_queue_full;
    const uint64_t *handshakes_completed;   // session.c's: a change writes the sessions at once
} crypto_t;

static bool store_ready(crypto_t *self);
static void report_status(crypto_t *self, int64_t now_ms);

static session_time_t time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (session_time_t){.mono_ms = clock_now_ms(), .unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec};
}

// ---- output: one batch to nat and one to device per inbox message ----

// Sends the datagrams of batch (for nat) whose peer has a direct path on that path, each peer's in one
// call; what is left goes to rest. Returns false (batch untouched) when no peer of the batch has one.
static bool send_direct(crypto_t *self, packet_batch_t *batch, packet_batch_t *rest)
{
    bool direct[WIRE_MAX_BATCH_PEERS], any = false;
    for (size_t p = 0; p < batch->peer_count; p++)
        any |= direct[p] = direct_paths_has(self->direct, batch->peers[p]);
    if (!any)
        return false;
    struct iovec iov[WIRE_MAX_BATCH_PACKETS];
    for (size_t p = 0; p < batch->peer_count; p++) {
        if (!direct[p])
            continue;
        size_t n = 0, offset = 0;
        for (size_t k = 0; k < batch->count; offset += batch->lengths[k], k++)
            if (batch->peer_index[k] == p)
                iov[n++] = (struct iovec){batch->data + offset, batch->lengths[k]};
        direct_paths_send(self->direct, batch->peers[p], iov, n);
    }
    size_t offset = 0;
    for (size_t k = 0; k < batch->count; offset += batch->lengths[k], k++)
        if (!direct[batch->peer_index[k]])
            packet_batch_add(rest, batch->data + offset, batch->lengths[k], batch->peers[batch->peer_index[k]]);
    packet_batch_reset(batch);
    return true;
}

// Sends one output batch (to nat or to device) and counts what went or was dropped. Datagrams for peers
// with a direct path leave on it instead of through nat.
static void send_output(crypto_t *self, packet_batch_t *batch)
{
    if (batch == self->nat_batch && self->direct && direct_paths_count(self->direct) &&
        send_direct(self, batch, self->rest_batch))
        batch = self->rest_batch;
    tun_io_t *tun = self->tun ? crypto_tun_io(self->tun) : NULL;
    if (batch == self->device_batch && tun) {   // crypto holds the TUN: it writes the packets itself
        size_t offset = 0;
        for (size_t k = 0; k < batch->count; offset += batch->lengths[k], k++)
            tun_io_write(tun, batch->data + offset, batch->lengths[k]);
        tun_io_write_end(tun);   // before the batch's bytes are reused
        *self->packets_out += batch->count;
        packet_batch_reset(batch);
        return;
    }
    bool to_nat = batch == self->nat_batch;
    size_t count = batch->count;
    int sent = packet_batch_send(batch, to_nat ? self->to_nat : self->to_device);
    if (sent < 0)
        *(to_nat ? self->drop_nat_queue_full : self->drop_device_queue_full) += count;
    else
        *(to_nat ? self->datagrams_out : self->packets_out) += (uint64_t)sent;
}

// session_io_t.flush: the session table filled a batch.
static void on_batch_full(void *ctx, packet_batch_t *batch)
{
    send_output(ctx, batch);
}

static void send_batches(crypto_t *self)
{
    send_output(self, self->nat_batch);
    send_output(self, self->device_batch);
}

static void update_detail(crypto_t *self)
{
    // the data plane in a few words: how many direct paths crypto carries itself, and whether it holds
    // the TUN (without it, packets go through device's and router's inboxes: docs/architecture.md)
    char dataplane[64] = "";
    if (self->direct || self->tun)
        snprintf(dataplane, sizeof dataplane, "; data plane: %zu direct path%s, %s",
                 self->direct ? direct_paths_count(self->direct) : 0,
                 self->direct && direct_paths_count(self->direct) == 1 ? "" : "s",
                 !self->tun ? "TUN not borrowed (off)" : crypto_tun_io(self->tun) ? "TUN borrowed" : "TUN not borrowed yet");
    snprintf(self->svc->detail, sizeof self->svc->detail, "%zu sessions established, %zu members%s%s",
             session_set_established(self->sessions), session_set_member_count(self->sessions),
             self->certificates ? ", certificates checked" : "", dataplane);
}

// ---- inbox ----

static void handle_packets(crypto_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
{
    packet_view_t view;
    char why[160];
    (*self->batches_in)++;
    if (packet_view_init(&view, hdr, payload, why, sizeof why) != 0) {
        (*self->drop_bad_batch)++;
        log_warn("dropped a packet batch: %s", why);
        return;
    }
    // the sender says which way its batch goes; the packets' bytes never decide it (a datagram from the
    // wire can look like an IP packet, and must never be sealed and sent on as one)
    bool outbound = hdr->direction == WEFT__PACKET_BATCH__DIRECTION__OUTBOUND;
    if (!outbound && hdr->direction != WEFT__PACKET_BATCH__DIRECTION__INBOUND) {
        (*self->drop_bad_batch)++;
        if (log_worth_repeating(*self->drop_bad_batch))
            log_warn("dropped a packet batch without a direction (%d)", (int)hdr->direction);
        return;
    }
    session_time_t now = time_now();
    uint64_t handshakes = *self->handshakes_completed;
    const uint8_t *pkt, *peer;
    size_t len;
    while (packet_view_next(&view, &pkt, &len, &peer)) {
        if (!peer || len == 0) {
            (*self->drop_untagged)++;
        } else if (outbound) {      // plaintext IP packets from router
            (*self->packets_in)++;
            session_set_outbound(self->sessions, pkt, len, peer, &now, &self->io);
        } else {                    // datagrams from the wire, through nat
            (*self->datagrams_in)++;
            session_set_inbound(self->sessions, pkt, len, peer, &now, &self->io);
        }
    }
    // a new session shows in `weft peers` and the API now, not at the next tick (only changed peers are written)
    if (*self->handshakes_completed != handshakes)
        report_status(self, now.mono_ms);
}

// Revokes one member id (from a checked revocation or Redis). Logs and queues it for Redis when new.
static void revoke_member(crypto_t *self, const uint8_t id[32], bool save)
{
    if (!session_set_revoke(self->sessions, id))
        return;
    (*self->revocations)++;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(id, fp);
    if (memcmp(id, self->local_id, 32) == 0)
        log_error("this node was removed from the mesh by its admin: no peer will accept its handshakes");
    else
        log_info("member %s is revoked: its sessions are closed and its handshakes refused", fp);
    char *hex = malloc(ID_HEX_LEN);
    if (hex) {
        id_to_hex(id, hex);
        zlistx_add_end(save ? self->unsaved_revoked : self->saved_revoked, hex);
    }
}

// Writes the revocations not yet in Redis (weft:revoked, a set of hex ids). Keeps them on failure.
static void save_revoked(crypto_t *self)
{
    if (zlistx_size(self->unsaved_revoked) == 0 || !store_ready(self))
        return;
    for (char *hex = zlistx_first(self->unsaved_revoked); hex; hex = zlistx_first(self->unsaved_revoked)) {
        if (store_exec(self->store, "SADD weft:revoked %s", hex) != 0) {
            store_link_lost(&self->redis, &self->store, "weft:revoked");
            return;
        }
        zlistx_add_end(self->saved_revoked, zlistx_detach_cur(self->unsaved_revoked));
    }
}

// PeerList.revoked: encoded revocations, each checked against this mesh and its admin.
static void apply_revocations(crypto_t *self, const Weft__PeerList *list)
{
    if (list->n_revoked && !self->certificates) {
        if (log_worth_repeating(++*self->drop_bad_revocation))
            log_warn("ignoring %zu revocations: this node is in a mesh without certificates (no mesh.id)",
                     list->n_revoked);
        return;
    }
    for (size_t i = 0; i < list->n_revoked; i++) {
        // every PeerList repeats the mesh's revocations: the signature is checked once per member
        const ProtobufCBinaryData *r = &list->revoked[i];
        if (r->len == REVOCATION_LEN && session_set_is_revoked(self->sessions, r->data + REVOCATION_MEMBER_OFFSET))
            continue;
        revocation_t rev;
        char err[160];
        if (revocation_decode(list->revoked[i].data, list->revoked[i].len, &rev, err, sizeof err) != 0 ||
            revocation_check(&rev, self->mesh_id, self->admin_key, err, sizeof err) != 0) {
            if (log_worth_repeating(++*self->drop_bad_revocation))
                log_warn("ignoring a revocation: %s", err);
            continue;
        }
        revoke_member(self, rev.member_key, true);
    }
    save_revoked(self);
}

// The direct routes of the members (overlay address -> id), for packets crypto reads from TUN itself.
static void update_routes(crypto_t *self, const Weft__PeerList *list)
{
    route_table_t *routes = route_table_new();
    if (!routes) {
        log_warn("out of memory for the route table: packets read from TUN go through router");
        route_table_destroy(&self->routes);
        return;
    }
    for (size_t i = 0; i < list->n_peers; i++) {
        const Weft__Peer *p = list->peers[i];
        route_t r = {.hops = 1, .metric = 1};
        if (!p || p->id.len != ROUTE_ID_LEN || !p->overlay_addr || ipv4_from_text(p->overlay_addr, &r.addr) != 0 ||
            memcmp(p->id.data, self->local_id, ROUTE_ID_LEN) == 0)
            continue;
        memcpy(r.peer, p->id.data, ROUTE_ID_LEN);
        memcpy(r.next_hop, p->id.data, ROUTE_ID_LEN);
        route_table_put(routes, &r);
    }
    route_table_destroy(&self->routes);
    self->routes = routes;
}

static void apply_members(crypto_t *self, const Weft__PeerList *list, const char *source)
{
    apply_revocations(self, list);
    update_routes(self, list);
    size_t before = session_set_member_count(self->sessions);
    size_t members = session_set_update_members(self->sessions, list);
    if (members != before || !self->members_known)
        log_info("%zu members (peer list from %s)", members, source);
    self->members_known = true;
    update_detail(self);
}

static int handle_inbox(void *arg)
{
    crypto_t *self = arg;
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(self->inbox, &payload);
    if (!env) {
        (*self->drop_bad_message)++;
        return 0;
    }
    if (env->body_case == WEFT__ENVELOPE__BODY_PACKETS)
        handle_packets(self, env->packets, payload);
    else if (env->body_case == WEFT__ENVELOPE__BODY_PEERS)
        apply_members(self, env->peers, "discovery");
    else if (env->body_case == WEFT__ENVELOPE__BODY_DIRECT_PATH && self->direct)
        direct_paths_apply(self->direct, env->direct_path, clock_now_ms());
    else if (env->body_case == WEFT__ENVELOPE__BODY_DIRECT_PATH)
        ;   // dataplane.direct is off: everything goes through nat
    else
        (*self->drop_unexpected_message)++;
    send_batches(self);
    update_detail(self);
    zframe_destroy(&payload);
    weft__envelope__free_unpacked(env, NULL);
    return 0;
}

// One transport datagram from a direct path (direct_path.c checked its source).
static void on_direct_datagram(void *ctx, const uint8_t peer[32], const uint8_t *datagram, size_t len)
{
    crypto_t *self = ctx;
    (*self->datagrams_in)++;
    session_set_inbound(self->sessions, datagram, len, peer, &self->now, &self->io);
}

// Datagrams waiting on direct paths: opened, and the packets sent on to device in one batch.
static int handle_direct(void *arg)
{
    crypto_t *self = arg;
    self->now = time_now();
    direct_paths_receive(self->direct, on_direct_datagram, self);
    send_batches(self);
    return 0;
}

// ---- the borrowed TUN ----

static void flush_router_batch(crypto_t *self)
{
    size_t count = self->router_batch->count;
    if (count && packet_batch_send(self->router_batch, self->to_router) < 0)
        *self->drop_router_queue_full += count;
}

// Each packet read from TUN goes to its member's session (sealed into nat_batch, which leaves on the
// direct path or through nat); what has no direct route goes to router, which decides as for device.
static void route_tun_batch(crypto_t *self)
{
    packet_batch_t *b = self->tun_batch;
    size_t offset = 0;
    for (size_t k = 0; k < b->count; offset += b->lengths[k], k++) {
        const uint8_t *pkt = b->data + offset;
        size_t len = b->lengths[k], total = 0;
        uint32_t dst = 0;
        const route_t *route = NULL;
        (*self->tun_packets_in)++;
        if (self->routes && ipv4_parse(pkt, len, &dst, &total) == IPV4_OK && !ipv4_is_multicast_or_broadcast(dst))
            route = route_table_lookup(self->routes, dst);
        if (route) {
            session_set_outbound(self->sessions, pkt, total, route->peer, &self->now, &self->io);
            continue;
        }
        (*self->tun_to_router)++;
        if (!packet_batch_fits(self->router_batch, len, NULL))
            flush_router_batch(self);
        packet_batch_add(self->router_batch, pkt, len, NULL);
    }
    packet_batch_reset(b);
}

// tun_io_flush_fn: the packets read so far filled the batch.
static void on_tun_batch_full(void *ctx, packet_batch_t *batch)
{
    (void)batch;
    route_tun_batch(ctx);
}

#define TUN_READ_BURST 64

static int on_tun_read(void *arg)
{
    crypto_t *self = arg;
    tun_io_t *tun = crypto_tun_io(self->tun);
    if (!tun)
        return 0;
    self->now = time_now();
    for (int i = 0; i < TUN_READ_BURST; i++)
        if (tun_io_read(tun, self->tun_batch, on_tun_batch_full, self) <= 0)
            break;
    route_tun_batch(self);
    flush_router_batch(self);
    send_batches(self);
    return 0;
}

// device answered our request for the TUN, or its end of the connection closed.
static int on_tun_answer(void *arg)
{
    crypto_t *self = arg;
    int conn, old_tun;
    int tun = crypto_tun_on_answer(self->tun, &conn, &old_tun);
    if (tun >= 0)
        return actor_loop_on_fd(self->loop, tun, on_tun_read);
    actor_loop_forget_fd(self->loop, conn);
    if (old_tun >= 0)
        actor_loop_forget_fd(self->loop, old_tun);
    return 0;
}

// ---- Redis: member list at start, session status ----

// Revoked ids persisted by an earlier run (weft:revoked).
static void load_revoked(crypto_t *self)
{
    if (!self->certificates)
        return;
    redisReply *r = store_command(self->store, "SMEMBERS weft:revoked");
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            uint8_t id[32];
            if (r->element[i]->type == REDIS_REPLY_STRING && id_from_hex(r->element[i]->str, id) == 0)
                revoke_member(self, id, false);
        }
    }
    if (r)
        freeReplyObject(r);
}

static bool store_ready(crypto_t *self)
{
    if (self->store && store_restarted(self->store)) {   // Redis came back, maybe without our keys
        for (char *hex = zlistx_first(self->saved_revoked); hex; hex = zlistx_first(self->saved_revoked))
            zlistx_add_end(self->unsaved_revoked, zlistx_detach_cur(self->saved_revoked));
        self->next_full_report_ms = 0;
        log_info("redis restarted: rewriting weft:revoked and the session status");
    }
    store_link_state_t link = store_link_connect(&self->redis, &self->store);
    if (link != STORE_LINK_NEW)
        return link == STORE_LINK_UP;
    self->next_full_report_ms = 0;   // rewrite everything after a gap
    load_revoked(self);
    if (!self->members_known) {
        Weft__PeerList *list = store_load_peers(self->store);
        if (list) {
            apply_members(self, list, "redis");
            weft__peer_list__free_unpacked(list, NULL);
        }
    }
    return true;
}

static void write_status(void *ctx, const session_peer_status_t *st, bool removed)
{
    crypto_t *self = ctx;
    if (!self->store)
        return;   // lost during this report; the next connection rewrites everything
    char hex[ID_HEX_LEN];
    id_to_hex(st->id, hex);
    int rc;
    if (removed) {
        rc = store_exec(self->store, "DEL weft:session:%s", hex);
    } else {
        rc = store_exec(self->store,
                        "HSET weft:session:%s state %s established_ms %lld handshakes %llu rx_packets %llu "
                        "tx_packets %llu rx_bytes %llu tx_bytes %llu last_handshake_ms %lld cipher %s",
                        hex, session_state_name(st->state), (long long)st->established_unix_ms,
                        (unsigned long long)st->handshakes, (unsigned long long)st->rx_packets,
                        (unsigned long long)st->tx_packets, (unsigned long long)st->rx_bytes,
                        (unsigned long long)st->tx_bytes, (long long)st->last_handshake_unix_ms,
                        transport_cipher_name(st->cipher));
        if (rc == 0)
            rc = store_exec(self->store, "EXPIRE weft:session:%s %d", hex, STATUS_TTL_S);
    }
    if (rc != 0)
        store_link_lost(&self->redis, &self->store, "session status");
}

// A peer's bytes and datagrams on its direct paths, beside its session status (weft:session:<hex id>): what
// nat does not see, added to nat's path figures by `weft peers`, the API and /metrics (lib/node_view.c).
static void write_direct_totals(void *ctx, const uint8_t peer[32], const direct_totals_t *t)
{
    crypto_t *self = ctx;
    if (!self->store)
        return;
    char hex[ID_HEX_LEN];
    id_to_hex(peer, hex);
    if (store_exec(self->store,
                   "HSET weft:session:%s direct_rx_bytes %llu direct_tx_bytes %llu direct_rx_packets %llu "
                   "direct_tx_packets %llu",
                   hex, (unsigned long long)t->rx_bytes, (unsigned long long)t->tx_bytes,
                   (unsigned long long)t->rx_packets, (unsigned long long)t->tx_packets) != 0 ||
        store_exec(self->store, "EXPIRE weft:session:%s %d", hex, STATUS_TTL_S) != 0)
        store_link_lost(&self->redis, &self->store, "direct path totals");
}

static void report_status(crypto_t *self, int64_t now_ms)
{
    if (!store_ready(self))
        return;
    bool all = now_ms >= self->next_full_report_ms;
    if (all)
        self->next_full_report_ms = now_ms + STATUS_REFRESH_MS;
    session_set_report(self->sessions, all, write_status, self);
    if (self->direct && self->store)
        direct_paths_report(self->direct, all, write_direct_totals, self);
}

// Once a second: handshake timers, session status to Redis, revocations not yet saved.
static int tick(void *arg)
{
    crypto_t *self = arg;
    session_time_t now = time_now();
    session_set_tick(self->sessions, &now, &self->io);
    if (self->direct)
        direct_paths_tick(self->direct, now.mono_ms);
    int asking = self->tun ? crypto_tun_ask(self->tun, now.mono_ms) : -1;
    if (asking >= 0 && actor_loop_on_fd(self->loop, asking, on_tun_answer) != 0)
        return -1;
    send_batches(self);
    report_status(self, now.mono_ms);
    save_revoked(self);
    update_detail(self);
    return 0;
}

// ---- set-up ----

// mesh.network_key: 64 hex chars, or empty for an all-zero psk.
static int parse_network_key(const char *text, uint8_t psk[32])
{
    memset(psk, 0, 32);
    if (!text[0])
        return 0;
    size_t bin_len = 0;
    const char *end = NULL;
    if (strlen(text) != 64 || sodium_hex2bin(psk, 32, text, 64, NULL, &bin_len, &end) != 0 || bin_len != 32 ||
        *end) {
        sodium_memzero(psk, 32);
        return -1;
    }
    return 0;
}

// mesh.id, mesh.admin_key and the node's own certificate, checked as a peer would check it. Returns 0,
// or -1 with why filled. Nothing to do (0) for a mesh without certificates (no mesh.id).
static int load_membership(crypto_t *self, const weft_config_t *config, session_config_t *cfg, char *why,
                           size_t why_len)
{
    if (!config->mesh_id[0]) {
        if (config->mesh_admin_key[0]) {
            snprintf(why, why_len, "mesh.admin_key is set in %s but mesh.id is not", config->config_file);
            return -1;
        }
        log_info("mesh without certificates (no mesh.id): handshakes only with peers that have none either");
        return 0;
    }
    if (mesh_id_from_hex(config->mesh_id, cfg->mesh_id) != 0) {
        snprintf(why, why_len, "mesh.id in %s must be 32 hex characters", config->config_file);
        return -1;
    }
    if (id_from_hex(config->mesh_admin_key, cfg->admin_key) != 0) {
        snprintf(why, why_len, "mesh.admin_key in %s must be 64 hex characters (the admin's node id)",
                 config->config_file);
        return -1;
    }
    cert_t cert;
    char err[512];
    if (cert_load(config->certificate_file, &cert, err, sizeof err) != 0) {
        snprintf(why, why_len, "mesh.id is set but this node's certificate is unusable: %s", err);
        return -1;
    }
    // expired, or not for this mesh and admin: it is still presented (a renewal may come), but peers
    // will refuse it, so say so loudly
    if (cert_check(&cert, cfg->mesh_id, cfg->admin_key, (uint64_t)time(NULL), err, sizeof err) != 0)
        log_error("this node's certificate %s: %s; peers will refuse its handshakes", config->certificate_file,
                  err);
    if (memcmp(cert.member_key, cfg->local_id, 32) != 0) {
        snprintf(why, why_len, "the certificate %s was issued to another node, not this node's identity",
                 config->certificate_file);
        return -1;
    }
    if (config->overlay_addr[0]) {
        struct in_addr addr;
        if (inet_pton(AF_INET, config->overlay_addr, &addr) != 1 || addr.s_addr != htonl(cert.address)) {
            char certified[INET_ADDRSTRLEN];
            uint32_t cert_addr = htonl(cert.address);
            inet_ntop(AF_INET, &cert_addr, certified, sizeof certified);
            snprintf(why, why_len, "mesh.address %s in %s is not the address in this node's certificate (%s)",
                     config->overlay_addr, config->config_file, certified);
            return -1;
        }
    }
    cfg->certificates = true;
    cert_encode(&cert, cfg->certificate);
    self->certificates = true;
    memcpy(self->mesh_id, cfg->mesh_id, MESH_ID_LEN);
    memcpy(self->admin_key, cfg->admin_key, 32);
    char until[32] = "never";
    if (cert.expires)
        snprintf(until, sizeof until, "%llu", (unsigned long long)cert.expires);
    log_info("mesh %s with certificates; this node's certificate expires at %s (unix s)", config->mesh_id,
             until);
    return 0;
}

// Loads the identity, the network key and the membership into a new session table. Returns NULL with
// why filled.
static session_set_t *sessions_create(crypto_t *self, service_t *svc, char *why, size_t why_len)
{
    identity_t identity;
    char err[512];
    if (identity_load(svc->config.identity_file, &identity, err, sizeof err) != 0) {
        snprintf(why, why_len, "cannot load the node identity: %s", err);
        return NULL;
    }
    session_config_t cfg = {0};
    memcpy(cfg.local_id, identity.public_key, WIRE_ID_LEN);
    memcpy(self->local_id, identity.public_key, 32);
    uint8_t x_public[32];
    int rc = identity_x25519(&identity, x_public, cfg.static_private);
    identity_wipe(&identity);
    if (rc != 0) {
        snprintf(why, why_len, "cannot derive the X25519 key from %s", svc->config.identity_file);
        sodium_memzero(&cfg, sizeof cfg);
        return NULL;
    }
    if (parse_network_key(svc->config.network_key, cfg.psk) != 0) {
        snprintf(why, why_len, "mesh.network_key in %s must be 64 hex characters (32 bytes) or empty",
                 svc->config.config_file);
        sodium_memzero(&cfg, sizeof cfg);
        return NULL;
    }
    if (load_membership(self, &svc->config, &cfg, why, why_len) != 0) {
        sodium_memzero(&cfg, sizeof cfg);
        return NULL;
    }
    if (transport_preference_parse(svc->config.crypto_cipher, &cfg.cipher) != 0) {
        snprintf(why, why_len, "crypto.cipher in %s must be auto, chacha20-poly1305 or aes-256-gcm",
                 svc->config.config_file);
        sodium_memzero(&cfg, sizeof cfg);
        return NULL;
    }
    cfg.aes_ni = transport_aes_available();
    if (cfg.cipher == TRANSPORT_PREFER_AES && !cfg.aes_ni)
        log_warn("crypto.cipher is aes-256-gcm, but this CPU has no AES-NI: sessions use chacha20-poly1305");
    else
        log_info("transport cipher: %s (crypto.cipher %s, AES-NI %s)",
                 transport_offers_aes(cfg.cipher, cfg.aes_ni) ? "aes-256-gcm with peers that have AES-NI, "
                                                                "else chacha20-poly1305" : "chacha20-poly1305",
                 svc->config.crypto_cipher, cfg.aes_ni ? "yes" : "no");
    int mtu = svc->config.mtu;
    cfg.max_packet = (size_t)(mtu < 1500 ? 1500 : mtu > 65535 ? 65535 : mtu);
    session_set_t *set = session_set_new(&cfg, svc);
    sodium_memzero(&cfg, sizeof cfg);
    if (!set)
        snprintf(why, why_len, "cannot create the session table");
    return set;
}

static void crypto_destroy(crypto_t **self_p)
{
    crypto_t *self = *self_p;
    if (!self)
        return;
    session_set_destroy(&self->sessions);
    direct_paths_destroy(&self->direct);
    crypto_tun_destroy(&self->tun);
    route_table_destroy(&self->routes);
    packet_batch_destroy(&self->tun_batch);
    packet_batch_destroy(&self->router_batch);
    zsock_destroy(&self->to_router);
    packet_batch_destroy(&self->rest_batch);
    packet_batch_destroy(&self->nat_batch);
    packet_batch_destroy(&self->device_batch);
    zsock_destroy(&self->inbox);
    zsock_destroy(&self->control);
    zsock_destroy(&self->to_nat);
    zsock_destroy(&self->to_device);
    store_destroy(&self->store);
    zlistx_destroy(&self->unsaved_revoked);
    zlistx_destroy(&self->saved_revoked);
    free(self);
    *self_p = NULL;
}

static void register_counters(crypto_t *self)
{
    service_t *svc = self->svc;
    self->batches_in = service_counter(svc, "batches_in");
    self->packets_in = service_counter(svc, "packets_in");
    self->datagrams_in = service_counter(svc, "datagrams_in");
    self->packets_out = service_counter(svc, "packets_out");
    self->datagrams_out = service_counter(svc, "datagrams_out");
    self->drop_bad_batch = service_counter(svc, "drop_bad_batch");
    self->drop_untagged = service_counter(svc, "drop_untagged");
    self->drop_nat_queue_full = service_counter(svc, "drop_nat_queue_full");
    self->drop_device_queue_full = service_counter(svc, "drop_device_queue_full");
    self->revocations = service_counter(svc, "revocations");
    self->drop_bad_revocation = service_counter(svc, "drop_bad_revocation");
    self->drop_bad_message = service_counter(svc, "drop_bad_message");
    self->drop_unexpected_message = service_counter(svc, "drop_unexpected_message");
    self->handshakes_completed = service_counter(svc, "handshakes_completed");
    self->tun_packets_in = service_counter(svc, "tun_packets_in");
    self->tun_to_router = service_counter(svc, "tun_to_router");
    self->drop_router_queue_full = service_counter(svc, "drop_router_queue_full");
}

static void free_string(void **item)
{
    free(*item);
    *item = NULL;
}

// The actor's state, sockets and session table. Returns NULL with why filled.
static crypto_t *crypto_new(service_t *svc, char *why, size_t why_len)
{
    crypto_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    self->svc = svc;
    register_counters(self);
    self->unsaved_revoked = zlistx_new();
    self->saved_revoked = zlistx_new();
    if (!self->unsaved_revoked || !self->saved_revoked) {
        snprintf(why, why_len, "out of memory");
        crypto_destroy(&self);
        return NULL;
    }
    zlistx_set_destructor(self->unsaved_revoked, free_string);
    zlistx_set_destructor(self->saved_revoked, free_string);
    self->sessions = sessions_create(self, svc, why, why_len);
    if (!self->sessions) {
        crypto_destroy(&self);
        return NULL;
    }
    self->inbox = service_bind_inbox(svc);
    self->control = service_bind_control(svc);
    self->to_nat = service_connect_inbox(svc, SVC_NAT);
    self->to_device = service_connect_inbox(svc, SVC_DEVICE);
    self->nat_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->device_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    self->rest_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    if (svc->config.dataplane_direct) {
        int mtu = svc->config.mtu < 1500 ? 1500 : svc->config.mtu;
        self->direct = direct_paths_new(svc, (size_t)mtu + DATAGRAM_TRANSPORT_MIN_LEN, svc->config.dataplane_gso,
                                        svc->config.dataplane_gro);
    }
    if (svc->config.dataplane_tun && strcmp(svc->config.device_mode, "tun") == 0) {
        self->tun = crypto_tun_new(svc, svc->config.device_tun);
        self->tun_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
        self->router_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
        self->to_router = service_connect_inbox(svc, SVC_ROUTER);
    }
    if (!self->inbox || !self->control || !self->to_nat || !self->to_device || !self->nat_batch ||
        !self->device_batch || !self->rest_batch || (svc->config.dataplane_direct && !self->direct) ||
        (svc->config.dataplane_tun && strcmp(svc->config.device_mode, "tun") == 0 &&
         (!self->tun || !self->tun_batch || !self->router_batch || !self->to_router))) {
        snprintf(why, why_len, "cannot set up the crypto sockets (see above)");
        crypto_destroy(&self);
        return NULL;
    }
    self->io = (session_io_t){.to_nat = self->nat_batch, .to_device = self->device_batch, .flush = on_batch_full,
                              .ctx = self};
    char url[CONFIG_STR];
    config_redis_url(&svc->config, url, sizeof url);
    store_link_init(&self->redis, url);
    update_detail(self);
    return self;
}

void crypto_actor(zsock_t *pipe, void *args)
{
    char why[1024];
    crypto_t *self = crypto_new(args, why, sizeof why);
    actor_loop_t *loop = self ? actor_loop_new(pipe, self->svc, self->control, self) : NULL;
    if (self)
        self->loop = loop;
    if (!loop || actor_loop_on_socket(loop, self->inbox, handle_inbox) != 0 ||
        (self->direct && actor_loop_on_fd(loop, direct_paths_fd(self->direct), handle_direct) != 0) ||
        actor_loop_every(loop, TICK_MS, tick) != 0) {
        if (self)   // crypto_new said its own why
            snprintf(why, sizeof why, "cannot set up the actor loop");
        actor_loop_destroy(&loop);
        crypto_destroy(&self);
        service_actor_fail(pipe, why);
        return;
    }
    zsock_signal(pipe, 0);
    tick(self);   // connects to Redis and loads the member list if it is up
    actor_loop_run(loop);
    actor_loop_destroy(&loop);
    crypto_destroy(&self);
}
