// crypto_actor.c — the weft-crypto actor: the control plane of the sessions. Owns the sockets (inbox,
// control, PUSH to the data plane), the node's static key for the session table (session.c),
// the 1 s timer tick, the member list (from discovery, or from Redis at start) and the session status
// fields it writes in Redis (weft:session:<hex id>: state, handshakes, cipher; the data plane writes the
// traffic figures of the same hash).
//
// It makes the handshakes and hands each finished one's transport keys to weft-dataplane (a Keypair
// message over the node's ipc:// or inproc:// endpoint, never Redis or a log); the data plane seals and
// opens every packet and tells crypto what its keys need (KeyEvent). The inbox carries handshake datagrams
// (types 1-3) from nat and from the data plane's direct paths, in INBOUND PacketBatches; anything else
// in a batch is dropped and counted.
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
#include "cert.h"
#include "datagram.h"
#include "identity.h"
#include "log.h"
#include "key_msg.h"
#include "session.h"
#include "store.h"
#include "store_link.h"
#include "wire.h"

#define TICK_MS 1000
#define STATUS_REFRESH_MS 60000     // rewrite every session hash at least this often (they expire in 300 s)
#define STATUS_TTL_S 300

typedef struct {
    service_t *svc;
    zsock_t *inbox, *control, *to_dataplane;
    session_set_t *sessions;
    packet_batch_t *wire_batch;     // handshake datagrams (SEALED) for the data plane, which sends them on
                                    // the peer's direct path, through a mesh hop or through nat
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
    uint64_t *datagrams_in, *batches_in, *drop_bad_batch, *drop_untagged;
    uint64_t *drop_wire_queue_full, *datagrams_out, *key_events_in, *drop_bad_key_event;
    uint64_t *revocations, *drop_bad_revocation, *drop_bad_message, *drop_unexpected_message;
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

// ---- output: handshake datagrams and keys to the data plane ----

static void send_wire_batch(crypto_t *self)
{
    packet_batch_send_counted(self->wire_batch, self->to_dataplane, self->datagrams_out, self->drop_wire_queue_full);
}

// session_io_t.flush: the session table filled the batch.
static void on_batch_full(void *ctx, packet_batch_t *batch)
{
    (void)batch;
    send_wire_batch(ctx);
}

// session_keys_t.install: one Keypair to the data plane (the caller wipes kp).
static int send_keypair(void *ctx, const keyring_keypair_t *kp)
{
    crypto_t *self = ctx;
    return key_msg_send_keypair(self->to_dataplane, kp);
}

// session_keys_t.drop: a KeysDrop to the data plane.
static void send_keys_drop(void *ctx, const uint8_t peer[WIRE_ID_LEN], bool keys, bool queue)
{
    crypto_t *self = ctx;
    if (key_msg_send_drop(self->to_dataplane, peer, keys, queue) != 0)
        log_warn("cannot tell the data plane to drop a peer's keys (its inbox is full or gone); they expire "
                 "within %d s", SESSION_REJECT_AFTER_MS / 1000);
}

static void update_detail(crypto_t *self)
{
    snprintf(self->svc->detail, sizeof self->svc->detail, "%zu sessions established, %zu members%s",
             session_set_established(self->sessions), session_set_member_count(self->sessions),
             self->certificates ? ", certificates checked" : "");
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
    // only datagrams from the wire (nat's, or the data plane's direct paths) come here: the sender says so
    if (hdr->direction != WEFT__PACKET_BATCH__DIRECTION__INBOUND) {
        (*self->drop_bad_batch)++;
        if (log_worth_repeating(*self->drop_bad_batch))
            log_warn("dropped a packet batch that is not inbound (direction %d)", (int)hdr->direction);
        return;
    }
    session_time_t now = time_now();
    uint64_t handshakes = *self->handshakes_completed;
    const uint8_t *pkt, *peer;
    size_t len;
    while (packet_view_next(&view, &pkt, &len, &peer)) {
        if (!peer || len == 0) {
            (*self->drop_untagged)++;
        } else {
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

static void apply_members(crypto_t *self, const Weft__PeerList *list, const char *source)
{
    apply_revocations(self, list);
    size_t before = session_set_member_count(self->sessions);
    size_t members = session_set_update_members(self->sessions, list);
    if (members != before || !self->members_known)
        log_info("%zu members (peer list from %s)", members, source);
    self->members_known = true;
    update_detail(self);
}

// What the data plane says of a peer's keys (key_msg.h).
static void handle_key_event(crypto_t *self, const Weft__KeyEvent *msg)
{
    key_event_t ev;
    char why[160];
    (*self->key_events_in)++;
    if (key_msg_read_event(msg, &ev, why, sizeof why) != 0) {
        if (log_worth_repeating(++*self->drop_bad_key_event))
            log_warn("%s", why);
        return;
    }
    session_time_t now = time_now();
    uint64_t handshakes = *self->handshakes_completed;
    session_set_key_event(self->sessions, &ev, &now, &self->io);
    if (*self->handshakes_completed != handshakes)
        report_status(self, now.mono_ms);
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
    else if (env->body_case == WEFT__ENVELOPE__BODY_KEY_EVENT)
        handle_key_event(self, env->key_event);
    else
        (*self->drop_unexpected_message)++;
    send_wire_batch(self);
    update_detail(self);
    zframe_destroy(&payload);
    weft__envelope__free_unpacked(env, NULL);
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
                        "HSET weft:session:%s state %s established_ms %lld handshakes %llu last_handshake_ms %lld "
                        "cipher %s",
                        hex, session_state_name(st->state), (long long)st->established_unix_ms,
                        (unsigned long long)st->handshakes, (long long)st->last_handshake_unix_ms,
                        transport_cipher_name(st->cipher));
        if (rc == 0)
            rc = store_exec(self->store, "EXPIRE weft:session:%s %d", hex, STATUS_TTL_S);
    }
    if (rc != 0)
        store_link_lost(&self->redis, &self->store, "session status");
}

static void report_status(crypto_t *self, int64_t now_ms)
{
    if (!store_ready(self))
        return;
    bool all = now_ms >= self->next_full_report_ms;
    if (all)
        self->next_full_report_ms = now_ms + STATUS_REFRESH_MS;
    session_set_report(self->sessions, all, write_status, self);
}

// Once a second: handshake timers, session status to Redis, revocations not yet saved.
static int tick(void *arg)
{
    crypto_t *self = arg;
    session_time_t now = time_now();
    session_set_tick(self->sessions, &now, &self->io);
    send_wire_batch(self);
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
    session_keys_t keys = {.install = send_keypair, .drop = send_keys_drop, .ctx = self};
    session_set_t *set = session_set_new(&cfg, svc, &keys);
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
    packet_batch_destroy(&self->wire_batch);
    zsock_destroy(&self->inbox);
    zsock_destroy(&self->control);
    zsock_destroy(&self->to_dataplane);
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
    self->datagrams_in = service_counter(svc, "datagrams_in");
    self->datagrams_out = service_counter(svc, "datagrams_out");
    self->drop_bad_batch = service_counter(svc, "drop_bad_batch");
    self->drop_untagged = service_counter(svc, "drop_untagged");
    self->drop_wire_queue_full = service_counter(svc, "drop_wire_queue_full");
    self->key_events_in = service_counter(svc, "key_events_in");
    self->drop_bad_key_event = service_counter(svc, "drop_bad_key_event");
    self->revocations = service_counter(svc, "revocations");
    self->drop_bad_revocation = service_counter(svc, "drop_bad_revocation");
    self->drop_bad_message = service_counter(svc, "drop_bad_message");
    self->drop_unexpected_message = service_counter(svc, "drop_unexpected_message");
    self->handshakes_completed = service_counter(svc, "handshakes_completed");
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
    // the keys go to the data plane over its inbox: never over a network
    const char *keys_to = svc->config.inbox[SVC_DATAPLANE];
    if (strncmp(keys_to, "ipc://", 6) != 0 && strncmp(keys_to, "inproc://", 9) != 0) {
        snprintf(why, why_len, "endpoints.dataplane is %s: crypto hands the transport keys to the data plane "
                 "there, so it must be an ipc:// or inproc:// endpoint (keys never cross a network)", keys_to);
        crypto_destroy(&self);
        return NULL;
    }
    self->inbox = service_bind_inbox(svc);
    self->control = service_bind_control(svc);
    self->to_dataplane = service_connect_inbox(svc, SVC_DATAPLANE);
    self->wire_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__SEALED);
    if (!self->inbox || !self->control || !self->to_dataplane || !self->wire_batch) {
        snprintf(why, why_len, "cannot set up the crypto sockets (see above)");
        crypto_destroy(&self);
        return NULL;
    }
    self->io = (session_io_t){.to_wire = self->wire_batch, .flush = on_batch_full, .ctx = self};
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
