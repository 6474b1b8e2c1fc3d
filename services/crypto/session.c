// session.c — see session.h. The handshake side: per peer the initiation in flight, the peer's cookie
// and rate limits, the newest timestamp accepted from it, its certificate's expiry and its public status.
// The transport side — keypairs, the queue of packets waiting for a session, seal and open — is the data
// plane's keyring (services/dataplane/keyring.h): each handshake hands its keypair over (session_keys_t),
// and the data plane's key events ask for handshakes and say which keypairs are current.
// Three tables: peers by node id, peers by the 32-bit index of the initiation in flight, and the indexes
// of keypairs handed over (not reused while the data plane may hold them).
//
// In front of the Diffie-Hellman of an initiation (cheapest first): the member tag, revocation, mac1,
// the recent-initiation memory (exact replays), under load mac2 (else a cookie reply), then the per-peer
// and node-wide rate limits (docs/protocol.md "Handshake flood protection").
#include "session.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "crypto_wire.h"
#include "identity.h"
#include "id_table.h"
#include "log.h"
#include "noise.h"
#include "ratelimit.h"

typedef struct {
    noise_handshake_t hs;
    bool active;                // a series of initiations is running
    uint32_t local_index;       // index of the initiation in flight (0 if writing it failed)
    int64_t first_sent_ms;      // start of this series of attempts (given up after REKEY_ATTEMPT)
    int64_t last_sent_ms;
    bool with_cookie;           // the initiation in flight carries a mac2
    bool offered_aes;           // the initiation in flight offers AES-256-GCM
} pending_t;


typedef struct {
    uint8_t id[WIRE_ID_LEN];
    uint8_t static_public[32];  // X25519 form of id
    uint32_t overlay_addr;      // network byte order
    pending_t pending;
    uint8_t last_timestamp[CRYPTO_TAI64N_LEN];  // newest initiation accepted from this peer
    uint64_t cert_expires;      // unix s: the expiry of the peer's last accepted certificate (0: never)
    uint64_t refused;           // handshakes refused (their reasons are logged at 1, 2, 4, 8...)
    cookie_maker_t maker;       // the peer's mac1/cookie keys and the cookie it gave us
    uint8_t recent[SESSION_RECENT_INITIATIONS][COOKIE_MAC_LEN];   // mac1s of initiations we did a DH for
    size_t recent_next;
    rate_limit_t limit;         // initiations from this peer that reach the DH
    rate_limit_t cookie_limit;  // cookie replies sent on this peer's path
    bool listed;                // seen in the member list being applied
    bool dirty;                 // status changed since the last report
    int64_t current_created_ms; // when the data plane's current keypair was made (0: none known)
    int64_t handed_over_ms;     // a keypair was handed over and is not confirmed current yet (0: none)
    session_peer_status_t status;
} peer_t;

typedef struct {
    uint64_t *handshakes_initiated, *handshakes_completed, *handshakes_responded, *handshakes_failed;
    uint64_t *sessions;
    uint64_t *drop_malformed, *drop_auth, *drop_unknown_index, *drop_handshake_unknown_peer;
    uint64_t *drop_handshake_replay;
    uint64_t *drop_batch_full, *drop_transport, *keys_handed_over, *drop_key_handover, *keys_refused;
    uint64_t *handshakes_refused, *sessions_cert_expired;
    uint64_t *drop_handshake_mac1, *drop_handshake_mac2, *drop_handshake_repeat, *drop_handshake_rate_limit;
    uint64_t *cookie_replies_out, *cookie_replies_in, *drop_cookie_reply, *cookie_replies_limited, *under_load;
} counters_t;

struct session_set {
    session_config_t cfg;           // static_private wiped: the key lives in local only
    noise_keypair_t local;
    zhashx_t *peers;                // node id (32 bytes, the peer's own copy) -> peer_t*
    zhashx_t *indexes;              // index of an initiation in flight (as a pointer-sized key) -> peer_t*
    session_keys_t keys;            // where handshakes hand their keypairs (the data plane)
    zhashx_t *handed;               // index of a keypair handed over -> when it may be reused (mono ms)
    zlistx_t *removed;              // ids (malloc'd) removed since the last report
    zhashx_t *revoked;              // revoked member ids: id (malloc'd, also the item) -> id
    uint8_t last_sent_timestamp[CRYPTO_TAI64N_LEN];
    size_t established;             // peers whose status.state is ESTABLISHED
    cookie_checker_t checker;       // our mac1 key, cookie reply key and cookie secret
    rate_limit_t limit_all;         // initiations from all peers that reach the DH
    int64_t load_window_ms;         // start of the current second of mac1-valid initiations
    uint32_t load_count;            // mac1-valid initiations in it
    int64_t load_until_ms;          // under load (mac2 required) until then
    counters_t c;
};

const char *session_state_name(session_state_t state)
{
    switch (state) {
    case SESSION_STATE_HANDSHAKING: return "handshaking";
    case SESSION_STATE_ESTABLISHED: return "established";
    default: return "none";
    }
}


static peer_t *find_peer(session_set_t *self, const uint8_t *id)
{
    return id ? zhashx_lookup(self->peers, id) : NULL;
}

// A fresh random, non-zero local index used neither by an initiation in flight nor by a keypair,
// registered for peer's initiation.
static uint32_t index_claim(session_set_t *self, peer_t *peer)
{
    for (;;) {
        uint32_t index = randombytes_random();
        if (!zhashx_lookup(self->handed, index_key(index)) && zhashx_insert(self->indexes, index_key(index), peer) == 0)
            return index;
    }
}

// A fresh random, non-zero local index for a keypair, used neither by an initiation in flight nor by a
// keypair handed over within SESSION_INDEX_HELD_MS.
static uint32_t index_for_keypair(session_set_t *self)
{
    for (;;) {
        uint32_t index = randombytes_random();
        if (index && !zhashx_lookup(self->handed, index_key(index)) && !zhashx_lookup(self->indexes, index_key(index)))
            return index;
    }
}

// Frees the handed-over indexes whose keypairs the data plane has dropped by now.
static void handed_expire(session_set_t *self, int64_t now_ms)
{
    zlistx_t *done = zlistx_new();
    if (!done)
        return;
    for (void *until = zhashx_first(self->handed); until; until = zhashx_next(self->handed))
        if ((int64_t)(intptr_t)until <= now_ms)
            zlistx_add_end(done, (void *)zhashx_cursor(self->handed));
    for (void *key = zlistx_first(done); key; key = zlistx_next(done))
        zhashx_delete(self->handed, key);
    zlistx_destroy(&done);
}

// The peer owning our index, or NULL. Index 0 is never handed out (and zhashx refuses a NULL key).
static peer_t *peer_by_index(session_set_t *self, uint32_t index)
{
    return index ? zhashx_lookup(self->indexes, index_key(index)) : NULL;
}

static void index_release(session_set_t *self, uint32_t index)
{
    if (index)
        zhashx_delete(self->indexes, index_key(index));
}


// ---- pending handshakes ----

static void pending_clear(session_set_t *self, pending_t *p)
{
    index_release(self, p->local_index);
    sodium_memzero(p, sizeof *p);
}


// Tells the data plane to wipe peer's keypairs (keys) and/or the packets waiting for it (queue).
static void drop_keys(session_set_t *self, peer_t *peer, bool keys, bool queue)
{
    if (keys) {
        peer->current_created_ms = 0;
        peer->handed_over_ms = 0;
    }
    self->keys.drop(self->keys.ctx, peer->id, keys, queue);
}

// Wipes peer's handshake in flight and, in the data plane, its keypairs and queue.
static void peer_wipe(session_set_t *self, peer_t *peer)
{
    pending_clear(self, &peer->pending);
    drop_keys(self, peer, true, true);
}

// ---- status ----

// Established while the data plane's current keypair is younger than REJECT_AFTER; handshaking while an
// initiation is in flight or a keypair handed over waits for its confirmation (at most REKEY_TIMEOUT).
static session_state_t peer_state(const session_set_t *self, const peer_t *peer, int64_t now_ms)
{
    (void)self;
    if (peer->current_created_ms && now_ms - peer->current_created_ms < SESSION_REJECT_AFTER_MS)
        return SESSION_STATE_ESTABLISHED;
    if (peer->pending.active || (peer->handed_over_ms && now_ms - peer->handed_over_ms < SESSION_REKEY_TIMEOUT_MS))
        return SESSION_STATE_HANDSHAKING;
    return SESSION_STATE_NONE;
}

static void set_peer_state(session_set_t *self, peer_t *peer, session_state_t state)
{
    if (state == peer->status.state)
        return;
    if (peer->status.state == SESSION_STATE_ESTABLISHED)
        self->established--;
    if (state == SESSION_STATE_ESTABLISHED)
        self->established++;
    peer->status.state = state;
    peer->dirty = true;
    *self->c.sessions = self->established;
}

static void peer_update_state(session_set_t *self, peer_t *peer, int64_t now_ms)
{
    set_peer_state(self, peer, peer_state(self, peer, now_ms));
}

// ---- output ----

// Room for max_len bytes for peer in batch, flushing it first if needed; NULL (counted) if impossible.
static uint8_t *reserve(session_set_t *self, session_io_t *io, packet_batch_t *batch, size_t max_len,
                        const uint8_t *peer)
{
    uint8_t *out = packet_batch_room(batch, max_len, peer, io->flush, io->ctx);
    if (!out)
        (*self->c.drop_batch_full)++;
    return out;
}

// ---- handshakes ----

// A timestamp newer than any this node sent before, even if the wall clock stepped back.
static void next_timestamp(session_set_t *self, const session_time_t *now, uint8_t out[CRYPTO_TAI64N_LEN])
{
    crypto_tai64n(now->unix_ns, out);
    if (memcmp(out, self->last_sent_timestamp, CRYPTO_TAI64N_LEN) <= 0) {
        memcpy(out, self->last_sent_timestamp, CRYPTO_TAI64N_LEN);
        for (int i = CRYPTO_TAI64N_LEN - 1; i >= 0 && ++out[i] == 0; i--)
            ;
    }
    memcpy(self->last_sent_timestamp, out, CRYPTO_TAI64N_LEN);
}

// Sends a new initiation (new ephemeral, new index) to peer. first: a new series of attempts.
static void send_initiation(session_set_t *self, peer_t *peer, bool first, const session_time_t *now,
                            session_io_t *io)
{
    pending_t *p = &peer->pending;
    int64_t first_sent = first ? now->mono_ms : p->first_sent_ms;
    pending_clear(self, p);
    p->active = true;
    p->first_sent_ms = first_sent;
    p->last_sent_ms = now->mono_ms;   // even on failure: retried on the next REKEY_TIMEOUT
    size_t msg_len = self->cfg.certificates ? CRYPTO_INITIATION_CERT_LEN : CRYPTO_INITIATION_LEN;
    size_t noise_want = msg_len - CRYPTO_INITIATION_HEADER_LEN - CRYPTO_MACS_LEN;
    uint8_t *out = reserve(self, io, io->to_wire, msg_len, peer->id);
    if (!out)
        return;
    if (noise_handshake_init(&p->hs, true, (const uint8_t *)SESSION_PROLOGUE, strlen(SESSION_PROLOGUE),
                             &self->local, peer->static_public, self->cfg.psk) != 0) {
        log_warn("cannot start a handshake with a peer (bad static key?)");
        return;
    }
    uint8_t payload[CRYPTO_TAI64N_LEN + CRYPTO_CERT_LEN];   // timestamp || our certificate
    next_timestamp(self, now, payload);
    p->offered_aes = transport_offers_aes(self->cfg.cipher, self->cfg.aes_ni);
    if (p->offered_aes)
        payload[SESSION_OFFER_AES_BYTE] |= SESSION_OFFER_AES_BIT;
    size_t payload_len = CRYPTO_TAI64N_LEN;
    if (self->cfg.certificates) {
        memcpy(payload + CRYPTO_TAI64N_LEN, self->cfg.certificate, CRYPTO_CERT_LEN);
        payload_len += CRYPTO_CERT_LEN;
    }
    size_t noise_len = 0;
    if (noise_handshake_write(&p->hs, payload, payload_len, out + CRYPTO_INITIATION_HEADER_LEN, noise_want,
                              &noise_len) != 0 ||
        noise_len != noise_want) {
        log_warn("cannot write a handshake initiation");
        noise_handshake_wipe(&p->hs);
        return;
    }
    p->local_index = index_claim(self, peer);
    crypto_write_initiation_header(out, p->local_index);
    cookie_add_macs(&peer->maker, out, msg_len, now->mono_ms);
    p->with_cookie = cookie_fresh(&peer->maker, now->mono_ms);
    packet_batch_commit(io->to_wire, msg_len, peer->id);
    (*self->c.handshakes_initiated)++;
    peer_update_state(self, peer, now->mono_ms);
}

static bool is_revoked(const session_set_t *self, const uint8_t *id)
{
    return zhashx_lookup(self->revoked, id) != NULL;
}

// Starts a handshake with peer unless one is in flight or the peer is revoked.
static void start_handshake(session_set_t *self, peer_t *peer, const session_time_t *now, session_io_t *io)
{
    if (!peer->pending.active && !is_revoked(self, peer->id))
        send_initiation(self, peer, true, now, io);
}


// Logs a session that is new, or whose cipher changed; rekeys with the same cipher are not logged.
static void log_established(const session_set_t *self, const peer_t *peer, transport_cipher_t cipher)
{
    if (peer->status.state == SESSION_STATE_ESTABLISHED && peer->status.cipher == cipher)
        return;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(peer->id, fp);
    bool fell_back = self->cfg.cipher == TRANSPORT_PREFER_AES && self->cfg.aes_ni &&
                     cipher == TRANSPORT_CHACHA20_POLY1305;
    if (fell_back)
        log_warn("session with %s established, cipher %s: crypto.cipher is aes-256-gcm, but the peer has no "
                 "AES-NI, is set to chacha20-poly1305 or is an older weft", fp, transport_cipher_name(cipher));
    else
        log_info("session with %s established, cipher %s", fp, transport_cipher_name(cipher));
}

static void session_established(session_set_t *self, peer_t *peer, transport_cipher_t cipher,
                                const session_time_t *now)
{
    log_established(self, peer, cipher);
    peer->status.cipher = cipher;
    (*self->c.handshakes_completed)++;
    peer->status.handshakes++;
    peer->status.established_unix_ms = now->unix_ns / 1000000;
    peer->status.last_handshake_unix_ms = peer->status.established_unix_ms;
    peer->dirty = true;
    peer_update_state(self, peer, now->mono_ms);
}

// Logs why a handshake with peer is refused, at its 1st, 2nd, 4th... refusal. The caller counts it.
static void log_refusal(peer_t *peer, const char *why)
{
    unsigned long long count = ++peer->refused;
    if (log_worth_repeating(count)) {
        char fp[FINGERPRINT_LEN];
        id_fingerprint(peer->id, fp);
        log_warn("refused a handshake with %s: %s (%llu refused)", fp, why, count);
    }
}

// Checks the certificate peer sent in a handshake (len 0: none). Returns 0, or -1 with why filled.
static int check_peer_certificate(session_set_t *self, peer_t *peer, const uint8_t *data, size_t len,
                                  const session_time_t *now, char *why, size_t why_len)
{
    if (!self->cfg.certificates) {
        if (len == 0)
            return 0;
        snprintf(why, why_len, "it presents a membership certificate, but this node is in a mesh without "
                               "certificates (no mesh.id)");
        return -1;
    }
    if (len == 0) {
        snprintf(why, why_len, "it presents no membership certificate (a node without mesh.id?)");
        return -1;
    }
    cert_t cert;
    char err[160];
    uint64_t now_s = now->unix_ns > 0 ? (uint64_t)(now->unix_ns / 1000000000) : 0;
    if (cert_decode(data, len, &cert, err, sizeof err) != 0 ||
        cert_check(&cert, self->cfg.mesh_id, self->cfg.admin_key, now_s, err, sizeof err) != 0) {
        snprintf(why, why_len, "%s", err);
        return -1;
    }
    if (sodium_memcmp(cert.member_key, peer->id, WIRE_ID_LEN) != 0) {
        snprintf(why, why_len, "its certificate was issued to another node");
        return -1;
    }
    if (htonl(cert.address) != peer->overlay_addr) {
        char listed[INET_ADDRSTRLEN], certified[INET_ADDRSTRLEN];
        uint32_t cert_addr = htonl(cert.address);
        inet_ntop(AF_INET, &peer->overlay_addr, listed, sizeof listed);
        inet_ntop(AF_INET, &cert_addr, certified, sizeof certified);
        snprintf(why, why_len, "its certificate is for %s, but it is listed at %s", certified, listed);
        return -1;
    }
    if (is_revoked(self, peer->id)) {
        snprintf(why, why_len, "it was revoked by the mesh admin");
        return -1;
    }
    peer->cert_expires = cert.expires;
    return 0;
}

// Reads an initiation from peer into hs (a responder handshake). Returns NULL when it is acceptable,
// else the counter to bump: undecryptable, from another key than the peer's, replayed, or refused
// (certificate; logged).
static uint64_t *read_initiation(session_set_t *self, peer_t *peer, const crypto_datagram_t *d,
                                 noise_handshake_t *hs, const session_time_t *now,
                                 uint8_t timestamp[CRYPTO_TAI64N_LEN], bool *offers_aes)
{
    uint8_t payload[CRYPTO_TAI64N_LEN + CRYPTO_CERT_LEN];
    size_t payload_len = 0;
    if (noise_handshake_init(hs, false, (const uint8_t *)SESSION_PROLOGUE, strlen(SESSION_PROLOGUE),
                             &self->local, NULL, self->cfg.psk) != 0 ||
        noise_handshake_read(hs, d->body, d->body_len, payload, sizeof payload, &payload_len) != 0 ||
        payload_len < CRYPTO_TAI64N_LEN)
        return self->c.drop_auth;
    const uint8_t *remote = noise_handshake_remote_static(hs);
    if (!remote || sodium_memcmp(remote, peer->static_public, 32) != 0)
        return self->c.drop_handshake_unknown_peer;
    *offers_aes = (payload[SESSION_OFFER_AES_BYTE] & SESSION_OFFER_AES_BIT) != 0;
    payload[SESSION_OFFER_AES_BYTE] &= (uint8_t)~SESSION_OFFER_AES_BIT;   // the timestamp without the offer
    memcpy(timestamp, payload, CRYPTO_TAI64N_LEN);
    if (memcmp(timestamp, peer->last_timestamp, CRYPTO_TAI64N_LEN) <= 0)
        return self->c.drop_handshake_replay;
    char why[256];
    if (check_peer_certificate(self, peer, payload + CRYPTO_TAI64N_LEN, payload_len - CRYPTO_TAI64N_LEN, now,
                               why, sizeof why) != 0) {
        log_refusal(peer, why);
        return self->c.handshakes_refused;
    }
    return NULL;
}


// Hands a split handshake's keys to the data plane. Returns 0, or -1 (logged, counted) when they could
// not be sent.
static int install_keypair(session_set_t *self, peer_t *peer, transport_sender_t *send, transport_receiver_t *recv,
                           uint32_t local_index, uint32_t remote_index, bool initiator, transport_cipher_t cipher,
                           const session_time_t *now)
{
    keyring_keypair_t kp = {
        .local_index = local_index, .remote_index = remote_index, .initiator = initiator, .cipher = cipher};
    memcpy(kp.peer, peer->id, WIRE_ID_LEN);
    memcpy(kp.send_key, send->key, TRANSPORT_KEY_LEN);
    memcpy(kp.recv_key, recv->key, TRANSPORT_KEY_LEN);
    sodium_memzero(send, sizeof *send);
    sodium_memzero(recv, sizeof *recv);
    // before the hand-over: a data plane in the same process may confirm the keypair during the call
    int64_t handed_before = peer->handed_over_ms;
    peer->handed_over_ms = now->mono_ms;
    int rc = self->keys.install(self->keys.ctx, &kp);
    sodium_memzero(&kp, sizeof kp);
    if (rc != 0) {
        peer->handed_over_ms = handed_before;
        (*self->c.drop_key_handover)++;
        if (log_worth_repeating(*self->c.drop_key_handover))
            log_warn("could not hand a session's keys to the data plane (%llu so far): handshake again later",
                     (unsigned long long)*self->c.drop_key_handover);
        return -1;
    }
    (*self->c.keys_handed_over)++;
    zhashx_update(self->handed, index_key(local_index), (void *)(intptr_t)(now->mono_ms + SESSION_INDEX_HELD_MS));
    return 0;
}

// Answers an accepted initiation with the transport cipher chosen for it (bound into the transcript
// when it is AES-256-GCM): the response goes to nat, the new session waits in peer->next until the
// initiator's first packet confirms it.
static void send_response(session_set_t *self, peer_t *peer, noise_handshake_t *hs, uint32_t sender_index,
                          transport_cipher_t cipher, const session_time_t *now, session_io_t *io)
{
    bool with_cert = self->cfg.certificates;
    size_t msg_len = with_cert ? CRYPTO_RESPONSE_CERT_LEN : CRYPTO_RESPONSE_LEN;
    size_t noise_want = msg_len - CRYPTO_RESPONSE_HEADER_LEN - CRYPTO_MACS_LEN;
    uint8_t *out = reserve(self, io, io->to_wire, msg_len, peer->id);
    size_t noise_len = 0;
    if (cipher == TRANSPORT_AES256_GCM &&
        noise_handshake_mix_hash(hs, (const uint8_t *)SESSION_AES_LABEL, strlen(SESSION_AES_LABEL)) != 0)
        out = NULL;
    if (!out || noise_handshake_write(hs, with_cert ? self->cfg.certificate : NULL, with_cert ? CRYPTO_CERT_LEN : 0,
                                      out + CRYPTO_RESPONSE_HEADER_LEN, noise_want, &noise_len) != 0 ||
        noise_len != noise_want) {
        log_warn("cannot write a handshake response");
        return;
    }
    transport_sender_t send;
    transport_receiver_t recv;
    if (noise_handshake_split(hs, &send, &recv) != 0) {
        log_warn("handshake split failed");
        return;
    }
    uint32_t local_index = index_for_keypair(self);
    if (install_keypair(self, peer, &send, &recv, local_index, sender_index, false, cipher, now) != 0)
        return;
    crypto_write_response_header(out, local_index, sender_index);
    cookie_add_macs(&peer->maker, out, msg_len, now->mono_ms);
    packet_batch_commit(io->to_wire, msg_len, peer->id);
    (*self->c.handshakes_responded)++;
    peer->status.last_handshake_unix_ms = now->unix_ns / 1000000;
    peer->dirty = true;
    peer_update_state(self, peer, now->mono_ms);
}

// Counts one mac1-valid initiation; true while the node is under load: SESSION_LOAD_INITIATIONS or more
// in one second, and for a second after.
static bool under_load(session_set_t *self, int64_t now_ms)
{
    if (now_ms - self->load_window_ms >= 1000 || now_ms < self->load_window_ms) {
        self->load_window_ms = now_ms;
        self->load_count = 0;
    }
    if (++self->load_count >= SESSION_LOAD_INITIATIONS)
        self->load_until_ms = now_ms + 1000;
    bool loaded = now_ms < self->load_until_ms;
    *self->c.under_load = loaded;
    return loaded;
}

// Answers an initiation that lacks a valid mac2 with a cookie reply (to nat, for the member the
// initiation came in for: nat sends it on that member's path, not to the datagram's source). At most
// SESSION_COOKIE_REPLIES_PER_S per member: the member can read any of them, so a flood reflected on its
// path stays small.
static void send_cookie_reply(session_set_t *self, peer_t *peer, uint32_t sender_index, const session_time_t *now,
                              session_io_t *io)
{
    if (!rate_limit_allow(&peer->cookie_limit, SESSION_COOKIE_REPLIES_PER_S, SESSION_COOKIE_REPLIES_BURST,
                          now->mono_ms)) {
        (*self->c.cookie_replies_limited)++;
        return;
    }
    uint8_t *out = reserve(self, io, io->to_wire, CRYPTO_COOKIE_REPLY_LEN, peer->id);
    if (!out)
        return;
    crypto_write_cookie_header(out, sender_index);
    if (cookie_reply_body(&self->checker, peer->maker.cookie_key, out, peer->id, now->mono_ms,
                          out + CRYPTO_COOKIE_HEADER_LEN) != 0) {
        log_warn("cannot write a cookie reply");
        return;
    }
    packet_batch_commit(io->to_wire, CRYPTO_COOKIE_REPLY_LEN, peer->id);
    (*self->c.cookie_replies_out)++;
}

// True if peer sent this very initiation (same mac1) before and we did its DH.
static bool initiation_seen(const peer_t *peer, const uint8_t mac1[COOKIE_MAC_LEN])
{
    for (size_t i = 0; i < SESSION_RECENT_INITIATIONS; i++)
        if (memcmp(peer->recent[i], mac1, COOKIE_MAC_LEN) == 0)
            return true;
    return false;
}

static void initiation_remember(peer_t *peer, const uint8_t mac1[COOKIE_MAC_LEN])
{
    memcpy(peer->recent[peer->recent_next], mac1, COOKIE_MAC_LEN);
    peer->recent_next = (peer->recent_next + 1) % SESSION_RECENT_INITIATIONS;
}

// The cheap checks before an initiation's DH. Returns true when the DH may be done.
static bool initiation_admitted(session_set_t *self, peer_t *peer, const uint8_t *msg, size_t len,
                                uint32_t sender_index, const session_time_t *now, session_io_t *io)
{
    if (!cookie_check_mac1(&self->checker, msg, len)) {
        (*self->c.drop_handshake_mac1)++;
        return false;
    }
    bool loaded = under_load(self, now->mono_ms);
    const uint8_t *mac1 = msg + len - CRYPTO_MACS_LEN;
    if (initiation_seen(peer, mac1)) {   // a replay: not even a cookie reply
        (*self->c.drop_handshake_repeat)++;
        return false;
    }
    if (loaded && !cookie_check_mac2(&self->checker, msg, len, peer->id, now->mono_ms)) {
        (*self->c.drop_handshake_mac2)++;
        send_cookie_reply(self, peer, sender_index, now, io);
        return false;
    }
    if (!rate_limit_allow(&peer->limit, SESSION_PEER_INITIATIONS_PER_S, SESSION_PEER_INITIATIONS_BURST,
                          now->mono_ms) ||
        !rate_limit_allow(&self->limit_all, SESSION_ALL_INITIATIONS_PER_S, SESSION_ALL_INITIATIONS_BURST,
                          now->mono_ms)) {
        (*self->c.drop_handshake_rate_limit)++;
        return false;
    }
    initiation_remember(peer, mac1);
    return true;
}

static void handle_initiation(session_set_t *self, const crypto_datagram_t *d, const uint8_t *msg, size_t len,
                              const uint8_t *peer_id, const session_time_t *now, session_io_t *io)
{
    peer_t *peer = find_peer(self, peer_id);
    if (!peer) {
        (*self->c.drop_handshake_unknown_peer)++;
        return;
    }
    if (is_revoked(self, peer->id)) {   // before any Diffie-Hellman: nat's tag names the sender
        log_refusal(peer, "it was revoked by the mesh admin");
        (*self->c.handshakes_refused)++;
        return;
    }
    if (!initiation_admitted(self, peer, msg, len, d->sender_index, now, io))
        return;
    noise_handshake_t hs;
    uint8_t timestamp[CRYPTO_TAI64N_LEN];
    bool offers_aes = false;
    uint64_t *drop = read_initiation(self, peer, d, &hs, now, timestamp, &offers_aes);
    if (drop) {
        (*drop)++;
    } else {
        memcpy(peer->last_timestamp, timestamp, CRYPTO_TAI64N_LEN);
        transport_cipher_t cipher = transport_cipher_choose(self->cfg.cipher, self->cfg.aes_ni, offers_aes);
        send_response(self, peer, &hs, d->sender_index, cipher, now, io);
    }
    noise_handshake_wipe(&hs);
}

// Reads the response to our initiation into p->hs and tells the responder's cipher: when we offered
// AES-256-GCM the response opens either with SESSION_AES_LABEL mixed into the transcript (it chose AES)
// or without (ChaCha: it cannot, will not, or is of the old format). Returns 0, or -1 with p->hs untouched.
static int read_response(pending_t *p, const crypto_datagram_t *d, uint8_t *payload, size_t cap,
                         size_t *payload_len, transport_cipher_t *cipher)
{
    if (p->offered_aes) {
        noise_handshake_t trial = p->hs;
        int rc = noise_handshake_mix_hash(&trial, (const uint8_t *)SESSION_AES_LABEL, strlen(SESSION_AES_LABEL));
        if (rc == 0)
            rc = noise_handshake_read(&trial, d->body, d->body_len, payload, cap, payload_len);
        if (rc == 0)
            p->hs = trial;
        noise_handshake_wipe(&trial);
        if (rc == 0) {
            *cipher = TRANSPORT_AES256_GCM;
            return 0;
        }
    }
    *cipher = TRANSPORT_CHACHA20_POLY1305;
    return noise_handshake_read(&p->hs, d->body, d->body_len, payload, cap, payload_len);
}

static void handle_response(session_set_t *self, const crypto_datagram_t *d, const uint8_t *msg, size_t len,
                            const uint8_t *peer_id, const session_time_t *now)
{
    peer_t *peer = peer_by_index(self, d->receiver_index);
    if (!peer || peer->pending.local_index != d->receiver_index || memcmp(peer->id, peer_id, WIRE_ID_LEN) != 0) {
        (*self->c.drop_unknown_index)++;
        return;
    }
    if (!cookie_check_mac1(&self->checker, msg, len)) {
        (*self->c.drop_handshake_mac1)++;
        return;
    }
    pending_t *p = &peer->pending;
    uint8_t payload[CRYPTO_CERT_LEN];
    size_t payload_len = 0;
    transport_cipher_t cipher;
    if (read_response(p, d, payload, sizeof payload, &payload_len, &cipher) != 0) {
        (*self->c.drop_auth)++;   // the handshake is untouched: the genuine response may still come
        return;
    }
    char why[256];
    if (check_peer_certificate(self, peer, payload, payload_len, now, why, sizeof why) != 0) {
        // the peer is not (or no longer) a member: no session; the handshake is retried on the
        // usual schedule, which lets a renewed certificate or a fixed configuration through
        log_refusal(peer, why);
        (*self->c.handshakes_refused)++;
        noise_handshake_wipe(&p->hs);
        return;
    }
    transport_sender_t send;
    transport_receiver_t recv;
    if (noise_handshake_split(&p->hs, &send, &recv) != 0) {
        log_warn("handshake split failed");
        pending_clear(self, p);
        return;
    }
    uint32_t local_index = p->local_index;   // the index now names the session, in the data plane
    pending_clear(self, p);
    // handed over as initiator, the keypair is current at once: the data plane sends what waited and says
    // so (a key event: session_established)
    install_keypair(self, peer, &send, &recv, local_index, d->sender_index, true, cipher, now);
    peer_update_state(self, peer, now->mono_ms);
}

// A busy peer's cookie (it may answer an initiation someone forged on our path: any reply the pair's
// key opens is good). Kept; an initiation in flight that went without a mac2 is sent again at once
// with one (new ephemeral, index and timestamp) — once, since the new one carries the cookie.
static void handle_cookie_reply(session_set_t *self, const crypto_datagram_t *d, const uint8_t *datagram,
                                const uint8_t *peer_id, const session_time_t *now, session_io_t *io)
{
    peer_t *peer = find_peer(self, peer_id);
    if (!peer || cookie_read_reply(&peer->maker, datagram, d->body, d->body_len, now->mono_ms) != 0) {
        (*self->c.drop_cookie_reply)++;
        return;
    }
    (*self->c.cookie_replies_in)++;
    if (peer->pending.active && !peer->pending.with_cookie && !is_revoked(self, peer->id))
        send_initiation(self, peer, false, now, io);
}


// ---- public interface ----

void session_set_inbound(session_set_t *self, const uint8_t *datagram, size_t len, const uint8_t *peer_id,
                         const session_time_t *now, session_io_t *io)
{
    crypto_datagram_t d;
    if (!peer_id || crypto_datagram_decode(datagram, len, &d) != 0) {
        (*self->c.drop_malformed)++;
        return;
    }
    switch (d.type) {
    case CRYPTO_MSG_INITIATION: handle_initiation(self, &d, datagram, len, peer_id, now, io); break;
    case CRYPTO_MSG_RESPONSE: handle_response(self, &d, datagram, len, peer_id, now); break;
    case CRYPTO_MSG_COOKIE_REPLY: handle_cookie_reply(self, &d, datagram, peer_id, now, io); break;
    default: (*self->c.drop_transport)++; break;   // the data plane's (nat sends them there)
    }
}

// The data plane's current keypair, said again (made age_ms ago): news only to a crypto that did not
// know it (restarted since it was handed over): then counted and logged as established.
static void key_said_again(session_set_t *self, peer_t *peer, transport_cipher_t cipher, uint64_t age_ms,
                           const session_time_t *now)
{
    int64_t created = now->mono_ms - (int64_t)(age_ms > SESSION_REJECT_AFTER_MS ? SESSION_REJECT_AFTER_MS : age_ms);
    if (peer->current_created_ms && llabs(created - peer->current_created_ms) < 2000)
        return;   // the one we know (within the message's delay)
    if (peer->current_created_ms && created < peer->current_created_ms)
        return;   // an older one than we know: a refresh sent before our newest keypair took over
    peer->current_created_ms = created;
    session_established(self, peer, cipher, now);
}

void session_set_key_event(session_set_t *self, const key_event_t *ev, const session_time_t *now, session_io_t *io)
{
    peer_t *peer = find_peer(self, ev->peer);
    if (!peer)
        return;   // removed meanwhile: the data plane drops it too, from the same peer list
    switch (ev->kind) {
    case KEY_EVENT_ESTABLISHED:   // a keypair just became current
        if (!is_revoked(self, peer->id)) {
            peer->current_created_ms = now->mono_ms;
            peer->handed_over_ms = 0;
            session_established(self, peer, ev->cipher, now);
        }
        break;
    case KEY_EVENT_CURRENT:
        if (!is_revoked(self, peer->id))
            key_said_again(self, peer, ev->cipher, ev->age_ms, now);
        break;
    case KEY_EVENT_REFUSED:
        (*self->c.keys_refused)++;
        peer->handed_over_ms = 0;
        start_handshake(self, peer, now, io);
        break;
    default:   // a WANT_*: packets wait, a rekey is due or the peer sends with a session we lost
        if (is_revoked(self, peer->id))
            drop_keys(self, peer, true, true);   // what waits for a revoked member is dropped (drop_revoked)
        else
            start_handshake(self, peer, now, io);
        break;
    }
    peer_update_state(self, peer, now->mono_ms);
}

static void peer_tick(session_set_t *self, peer_t *peer, const session_time_t *now, session_io_t *io)
{
    pending_t *p = &peer->pending;
    uint64_t now_s = now->unix_ns > 0 ? (uint64_t)(now->unix_ns / 1000000000) : 0;
    if (self->cfg.certificates && peer->cert_expires && now_s >= peer->cert_expires) {
        // a session lives no longer than the certificate it was made with
        char fp[FINGERPRINT_LEN];
        id_fingerprint(peer->id, fp);
        log_info("the certificate of %s expired: its sessions are closed", fp);
        peer->cert_expires = 0;
        drop_keys(self, peer, true, false);
        (*self->c.sessions_cert_expired)++;
    }
    if (p->active && now->mono_ms - p->first_sent_ms >= SESSION_REKEY_ATTEMPT_MS) {
        char hex[ID_HEX_LEN];
        id_to_hex(peer->id, hex);
        drop_keys(self, peer, false, true);   // the data plane counts them (drop_handshake_timeout)
        log_info("handshake with %.16s… timed out; the packets waiting for it are dropped", hex);
        pending_clear(self, p);
        (*self->c.handshakes_failed)++;
    } else if (p->active && now->mono_ms - p->last_sent_ms >= SESSION_REKEY_TIMEOUT_MS) {
        send_initiation(self, peer, false, now, io);
    }
    peer_update_state(self, peer, now->mono_ms);
}

void session_set_tick(session_set_t *self, const session_time_t *now, session_io_t *io)
{
    handed_expire(self, now->mono_ms);
    for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers))
        peer_tick(self, peer, now, io);
}

bool session_set_revoke(session_set_t *self, const uint8_t member_key[WIRE_ID_LEN])
{
    if (is_revoked(self, member_key))
        return false;
    uint8_t *id = malloc(WIRE_ID_LEN);
    if (!id) {
        log_error("out of memory for a revocation");
        return false;
    }
    memcpy(id, member_key, WIRE_ID_LEN);
    zhashx_insert(self->revoked, id, id);
    peer_t *peer = find_peer(self, member_key);
    if (peer) {
        peer_wipe(self, peer);
        set_peer_state(self, peer, SESSION_STATE_NONE);
    }
    return true;
}

bool session_set_is_revoked(const session_set_t *self, const uint8_t member_key[WIRE_ID_LEN])
{
    return is_revoked(self, member_key);
}

size_t session_set_revoked_count(const session_set_t *self)
{
    return zhashx_size(self->revoked);
}

size_t session_set_established(const session_set_t *self)
{
    return self->established;
}

size_t session_set_member_count(const session_set_t *self)
{
    return zhashx_size(self->peers);
}

// Adds or updates one listed member. Returns -1 (logged) for an entry that cannot be a member.
static int apply_member(session_set_t *self, const Weft__Peer *entry)
{
    if (!entry || entry->id.len != WIRE_ID_LEN) {
        log_warn("peer list: ignoring a member whose id is not %d bytes", WIRE_ID_LEN);
        return -1;
    }
    if (memcmp(entry->id.data, self->cfg.local_id, WIRE_ID_LEN) == 0)
        return 0;
    struct in_addr addr;
    if (!entry->overlay_addr || inet_pton(AF_INET, entry->overlay_addr, &addr) != 1) {
        log_warn("peer list: ignoring a member with a bad overlay address");
        return -1;
    }
    peer_t *peer = find_peer(self, entry->id.data);
    if (!peer) {
        uint8_t x_public[32];
        if (identity_peer_x25519(entry->id.data, x_public) != 0) {
            log_warn("peer list: ignoring a member whose id is not a valid Ed25519 key");
            return -1;
        }
        peer = calloc(1, sizeof *peer);
        if (!peer)
            return -1;
        if (cookie_maker_init(&peer->maker, x_public, self->local.priv) != 0) {
            log_warn("peer list: ignoring a member whose key gives no shared secret");
            free(peer);
            return -1;
        }
        memcpy(peer->id, entry->id.data, WIRE_ID_LEN);
        memcpy(peer->static_public, x_public, 32);
        memcpy(peer->status.id, peer->id, WIRE_ID_LEN);
        peer->dirty = true;
        zhashx_insert(self->peers, peer->id, peer);
    }
    peer->overlay_addr = addr.s_addr;
    peer->listed = true;
    return 0;
}

static void remove_peer(session_set_t *self, peer_t *peer)
{
    uint8_t *id = malloc(WIRE_ID_LEN);
    if (id) {
        memcpy(id, peer->id, WIRE_ID_LEN);
        zlistx_add_end(self->removed, id);
    }
    set_peer_state(self, peer, SESSION_STATE_NONE);
    pending_clear(self, &peer->pending);   // the data plane forgets its keys from the same peer list
    zhashx_delete(self->peers, peer->id);
    sodium_memzero(peer, sizeof *peer);
    free(peer);
}

size_t session_set_update_members(session_set_t *self, const Weft__PeerList *list)
{
    for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers))
        peer->listed = false;
    for (size_t i = 0; list && i < list->n_peers; i++)
        apply_member(self, list->peers[i]);
    zlistx_t *gone = zlistx_new();
    for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers))
        if (!peer->listed)
            zlistx_add_end(gone, peer);
    for (peer_t *peer = zlistx_first(gone); peer; peer = zlistx_next(gone))
        remove_peer(self, peer);
    zlistx_destroy(&gone);
    return zhashx_size(self->peers);
}

void session_set_report(session_set_t *self, bool all, session_status_fn *fn, void *ctx)
{
    for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers)) {
        if (peer->dirty || all)
            fn(ctx, &peer->status, false);
        peer->dirty = false;
    }
    session_peer_status_t gone = {0};
    for (uint8_t *id = zlistx_first(self->removed); id; id = zlistx_next(self->removed)) {
        memcpy(gone.id, id, WIRE_ID_LEN);
        fn(ctx, &gone, true);
    }
    zlistx_purge(self->removed);
}

static void counters_register(counters_t *c, service_t *svc)
{
    c->handshakes_initiated = service_counter(svc, "handshakes_initiated");
    c->handshakes_completed = service_counter(svc, "handshakes_completed");
    c->handshakes_responded = service_counter(svc, "handshakes_responded");
    c->handshakes_failed = service_counter(svc, "handshakes_failed");
    c->sessions = service_counter(svc, "sessions");
    c->drop_malformed = service_counter(svc, "drop_malformed");
    c->drop_auth = service_counter(svc, "drop_auth");
    c->drop_unknown_index = service_counter(svc, "drop_unknown_index");
    c->drop_handshake_unknown_peer = service_counter(svc, "drop_handshake_unknown_peer");
    c->drop_handshake_replay = service_counter(svc, "drop_handshake_replay");
    c->drop_transport = service_counter(svc, "drop_transport");
    c->keys_handed_over = service_counter(svc, "keys_handed_over");
    c->drop_key_handover = service_counter(svc, "drop_key_handover");
    c->keys_refused = service_counter(svc, "keys_refused");
    c->drop_batch_full = service_counter(svc, "drop_batch_full");
    c->handshakes_refused = service_counter(svc, "handshakes_refused");
    c->sessions_cert_expired = service_counter(svc, "sessions_cert_expired");
    c->drop_handshake_mac1 = service_counter(svc, "drop_handshake_mac1");
    c->drop_handshake_mac2 = service_counter(svc, "drop_handshake_mac2");
    c->drop_handshake_repeat = service_counter(svc, "drop_handshake_repeat");
    c->drop_handshake_rate_limit = service_counter(svc, "drop_handshake_rate_limit");
    c->cookie_replies_out = service_counter(svc, "cookie_replies_out");
    c->cookie_replies_in = service_counter(svc, "cookie_replies_in");
    c->drop_cookie_reply = service_counter(svc, "drop_cookie_reply");
    c->cookie_replies_limited = service_counter(svc, "cookie_replies_limited");
    c->under_load = service_counter(svc, "under_load");
}

static void removed_free(void **item)
{
    free(*item);
    *item = NULL;
}

session_set_t *session_set_new(const session_config_t *cfg, service_t *svc, const session_keys_t *keys)
{
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        return NULL;
    }
    session_set_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.max_packet == 0)
        self->cfg.max_packet = 1500;
    int rc = noise_keypair_from_private(&self->local, cfg->static_private);
    sodium_memzero(self->cfg.static_private, sizeof self->cfg.static_private);
    cookie_checker_init(&self->checker, self->local.pub);
    self->peers = id_table_new();
    self->indexes = index_table_new();
    self->removed = zlistx_new();
    self->revoked = id_table_new();
    if (self->revoked)
        zhashx_set_destructor(self->revoked, removed_free);
    self->keys = *keys;
    self->handed = index_table_new();
    if (rc != 0 || !self->peers || !self->indexes || !self->removed || !self->revoked || !self->handed) {
        log_error("cannot set up the session table%s", rc != 0 ? ": the static key is unusable" : "");
        session_set_destroy(&self);
        return NULL;
    }
    zlistx_set_destructor(self->removed, removed_free);
    counters_register(&self->c, svc);
    return self;
}

void session_set_destroy(session_set_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    session_set_t *self = *self_p;
    if (self->peers) {
        for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers)) {
            sodium_memzero(&peer->pending, sizeof peer->pending);
            sodium_memzero(peer, sizeof *peer);
            free(peer);
        }
        zhashx_destroy(&self->peers);
    }
    zhashx_destroy(&self->indexes);
    zhashx_destroy(&self->handed);
    zlistx_destroy(&self->removed);
    zhashx_destroy(&self->revoked);
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}
