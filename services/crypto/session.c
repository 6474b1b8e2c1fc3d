// session.c — see session.h. Owns every session key of the node: per peer a current, a previous and an
// unconfirmed "next" keypair (WireGuard's rotation), the initiation in flight, and the queue of
// packets waiting for it. Two tables: peers by node id, and peers by our 32-bit session index.
//
// In front of the Diffie-Hellman of an initiation (cheapest first): the member tag, revocation, mac1,
// the recent-initiation memory (exact replays), under load mac2 (else a cookie reply), then the per-peer
// and node-wide rate limits (docs/protocol.md "Handshake flood protection").
#include "session.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <sodium.h>
#include <string.h>

#include "cookie.h"
#include "crypto_wire.h"
#include "identity.h"
#include "log.h"
#include "noise.h"
#include "ratelimit.h"

typedef struct {
    uint32_t local_index;       // our index (receiver_index of what the peer sends); 0 = empty slot
    uint32_t remote_index;      // the peer's index, written into what we send
    bool initiator;             // we sent the initiation
    bool received;              // something was decrypted with it
    int64_t created_ms;
    transport_sender_t send;
    transport_receiver_t recv;
} keypair_t;

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
    uint8_t *data;              // SESSION_QUEUE_PACKETS slots of max_packet bytes, allocated on first use
    uint32_t lengths[SESSION_QUEUE_PACKETS];
    size_t head, count;
} packet_queue_t;

typedef struct {
    uint8_t id[WIRE_ID_LEN];
    uint8_t static_public[32];  // X25519 form of id
    uint32_t overlay_addr;      // network byte order
    keypair_t current, previous, next;
    pending_t pending;
    packet_queue_t queue;
    uint8_t last_timestamp[CRYPTO_TAI64N_LEN];  // newest initiation accepted from this peer
    int64_t last_unknown_index_ms;              // rate limit for unknown-index handshakes
    uint64_t cert_expires;      // unix s: the expiry of the peer's last accepted certificate (0: never)
    uint64_t refused;           // handshakes refused (their reasons are logged at 1, 2, 4, 8...)
    cookie_maker_t maker;       // the peer's mac1/cookie keys and the cookie it gave us
    uint8_t recent[SESSION_RECENT_INITIATIONS][COOKIE_MAC_LEN];   // mac1s of initiations we did a DH for
    size_t recent_next;
    rate_limit_t limit;         // initiations from this peer that reach the DH
    rate_limit_t cookie_limit;  // cookie replies sent on this peer's path
    bool listed;                // seen in the member list being applied
    bool dirty;                 // status changed since the last report
    session_peer_status_t status;
} peer_t;

typedef struct {
    uint64_t *packets_encrypted, *packets_decrypted;
    uint64_t *handshakes_initiated, *handshakes_completed, *handshakes_responded, *handshakes_failed;
    uint64_t *keepalives_in, *keepalives_out, *sessions;
    uint64_t *drop_malformed, *drop_auth, *drop_replay, *drop_unknown_index, *drop_handshake_unknown_peer;
    uint64_t *drop_handshake_replay, *drop_bad_source, *drop_queue_overflow, *drop_handshake_timeout;
    uint64_t *drop_no_peer, *drop_expired, *drop_too_big, *drop_batch_full;
    uint64_t *handshakes_refused, *drop_revoked, *sessions_cert_expired;
    uint64_t *drop_handshake_mac1, *drop_handshake_mac2, *drop_handshake_repeat, *drop_handshake_rate_limit;
    uint64_t *cookie_replies_out, *cookie_replies_in, *drop_cookie_reply, *cookie_replies_limited, *under_load;
} counters_t;

struct session_set {
    session_config_t cfg;           // static_private wiped: the key lives in local only
    noise_keypair_t local;
    zhashx_t *peers;                // node id (32 bytes, the peer's own copy) -> peer_t*
    zhashx_t *indexes;              // local index (as a pointer-sized key) -> peer_t*
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

// ---- hash tables keyed by 32-byte ids and by 32-bit indexes ----

static size_t id_hash(const void *key)
{
    size_t h;
    memcpy(&h, key, sizeof h);   // ids are public keys: their bytes are already well mixed
    return h;
}

static int id_compare(const void *a, const void *b)
{
    return memcmp(a, b, WIRE_ID_LEN);
}

static size_t index_hash(const void *key)
{
    return (size_t)(uintptr_t)key;   // indexes are random
}

static int index_compare(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y ? -1 : x > y;
}

static void *index_key(uint32_t index)
{
    return (void *)(uintptr_t)index;
}

static zhashx_t *table_new(zhashx_hash_fn *hash, zhashx_comparator_fn *compare)
{
    zhashx_t *table = zhashx_new();
    if (!table)
        return NULL;
    zhashx_set_key_hasher(table, hash);
    zhashx_set_key_comparator(table, compare);
    zhashx_set_key_duplicator(table, NULL);   // keys live in the peers (ids) or are the key (indexes)
    zhashx_set_key_destructor(table, NULL);
    return table;
}

static peer_t *find_peer(session_set_t *self, const uint8_t *id)
{
    return id ? zhashx_lookup(self->peers, id) : NULL;
}

// A fresh random, non-zero local index not in use, registered for peer.
static uint32_t index_claim(session_set_t *self, peer_t *peer)
{
    for (;;) {
        uint32_t index = randombytes_random();
        if (index != 0 && zhashx_insert(self->indexes, index_key(index), peer) == 0)
            return index;
    }
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

// ---- keypairs, pending handshakes, queues ----

static void keypair_clear(session_set_t *self, keypair_t *kp)
{
    index_release(self, kp->local_index);
    sodium_memzero(kp, sizeof *kp);
}

// Moves src into dst (whose keys are wiped first); src is left empty. Indexes stay with the peer.
static void keypair_move(session_set_t *self, keypair_t *dst, keypair_t *src)
{
    keypair_clear(self, dst);
    memcpy(dst, src, sizeof *dst);
    sodium_memzero(src, sizeof *src);
}

static bool keypair_alive(const keypair_t *kp, int64_t now_ms)
{
    return kp->local_index && now_ms - kp->created_ms < SESSION_REJECT_AFTER_MS;
}

static void pending_clear(session_set_t *self, pending_t *p)
{
    index_release(self, p->local_index);
    sodium_memzero(p, sizeof *p);
}

static void queue_drop_all(session_set_t *self, peer_t *peer, uint64_t *counter)
{
    (void)self;
    *counter += peer->queue.count;
    peer->queue.head = peer->queue.count = 0;
}

static void queue_free(packet_queue_t *q)
{
    free(q->data);
    memset(q, 0, sizeof *q);
}

// Queues a copy of packet; drops the oldest when full.
static void queue_push(session_set_t *self, peer_t *peer, const uint8_t *packet, size_t len)
{
    packet_queue_t *q = &peer->queue;
    if (len > self->cfg.max_packet) {
        (*self->c.drop_too_big)++;
        return;
    }
    if (!q->data) {
        q->data = malloc(SESSION_QUEUE_PACKETS * self->cfg.max_packet);
        if (!q->data) {
            log_error("out of memory for a packet queue");
            (*self->c.drop_queue_overflow)++;
            return;
        }
    }
    if (q->count == SESSION_QUEUE_PACKETS) {
        q->head = (q->head + 1) % SESSION_QUEUE_PACKETS;
        q->count--;
        (*self->c.drop_queue_overflow)++;
    }
    size_t slot = (q->head + q->count) % SESSION_QUEUE_PACKETS;
    memcpy(q->data + slot * self->cfg.max_packet, packet, len);
    q->lengths[slot] = (uint32_t)len;
    q->count++;
}

static void peer_wipe(session_set_t *self, peer_t *peer)
{
    keypair_clear(self, &peer->current);
    keypair_clear(self, &peer->previous);
    keypair_clear(self, &peer->next);
    pending_clear(self, &peer->pending);
    if (peer->queue.data)
        sodium_memzero(peer->queue.data, SESSION_QUEUE_PACKETS * self->cfg.max_packet);
    queue_free(&peer->queue);
}

// ---- status ----

static session_state_t peer_state(const peer_t *peer, int64_t now_ms)
{
    if (keypair_alive(&peer->current, now_ms))
        return SESSION_STATE_ESTABLISHED;
    if (peer->pending.active || peer->next.local_index)
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
    set_peer_state(self, peer, peer_state(peer, now_ms));
}

// ---- output ----

// Room for max_len bytes for peer in batch, flushing it first if needed; NULL (counted) if impossible.
static uint8_t *reserve(session_set_t *self, session_io_t *io, packet_batch_t *batch, size_t max_len,
                        const uint8_t *peer)
{
    if (!packet_batch_fits(batch, max_len, peer) && io->flush)
        io->flush(io->ctx, batch);
    uint8_t *out = packet_batch_fits(batch, max_len, peer) ? packet_batch_reserve(batch, max_len) : NULL;
    if (!out)
        (*self->c.drop_batch_full)++;
    return out;
}

// Encrypts packet with kp into a transport datagram for peer. len 0 makes a keepalive.
static int encrypt_to(session_set_t *self, peer_t *peer, keypair_t *kp, const uint8_t *packet, size_t len,
                      session_io_t *io)
{
    static const uint8_t empty[1];
    uint8_t *out = reserve(self, io, io->to_nat, CRYPTO_TRANSPORT_OVERHEAD + len, peer->id);
    if (!out)
        return -1;
    uint64_t counter;
    if (transport_encrypt(&kp->send, len ? packet : empty, len, out + CRYPTO_TRANSPORT_HEADER_LEN, &counter) != 0)
        return -1;
    crypto_write_transport_header(out, kp->remote_index, counter);
    packet_batch_commit(io->to_nat, CRYPTO_TRANSPORT_OVERHEAD + len, peer->id);
    if (len) {
        (*self->c.packets_encrypted)++;
        peer->status.tx_packets++;
        peer->status.tx_bytes += len;
        peer->dirty = true;
    } else {
        (*self->c.keepalives_out)++;
    }
    return 0;
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
    uint8_t *out = reserve(self, io, io->to_nat, msg_len, peer->id);
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
    packet_batch_commit(io->to_nat, msg_len, peer->id);
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

// The usable sending keypair of peer, or NULL.
static keypair_t *sending_keypair(peer_t *peer, int64_t now_ms)
{
    keypair_t *kp = &peer->current;
    if (!keypair_alive(kp, now_ms) || kp->send.counter >= TRANSPORT_REJECT_AFTER_MESSAGES)
        return NULL;
    return kp;
}

// Sends what waited for a session; a fresh initiator session with nothing to send gets a keepalive,
// which confirms it to the responder.
static void flush_queue(session_set_t *self, peer_t *peer, const session_time_t *now, session_io_t *io)
{
    keypair_t *kp = sending_keypair(peer, now->mono_ms);
    if (!kp)
        return;
    packet_queue_t *q = &peer->queue;
    if (q->count == 0 && kp->initiator && kp->send.counter == 0)
        encrypt_to(self, peer, kp, NULL, 0, io);
    while (q->count) {
        size_t slot = q->head;
        encrypt_to(self, peer, kp, q->data + slot * self->cfg.max_packet, q->lengths[slot], io);
        q->head = (q->head + 1) % SESSION_QUEUE_PACKETS;
        q->count--;
    }
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

static void session_established(session_set_t *self, peer_t *peer, const session_time_t *now)
{
    transport_cipher_t cipher = peer->current.send.cipher;
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

// Keys a split keypair with cipher. Returns 0, or -1 (logged).
static int keypair_set_cipher(keypair_t *kp, transport_cipher_t cipher)
{
    if (transport_sender_set_cipher(&kp->send, cipher) != 0 || transport_receiver_set_cipher(&kp->recv, cipher) != 0) {
        log_warn("cannot key the transport with %s", transport_cipher_name(cipher));
        return -1;
    }
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
    uint8_t *out = reserve(self, io, io->to_nat, msg_len, peer->id);
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
    keypair_t *kp = &peer->next;
    keypair_clear(self, kp);
    if (noise_handshake_split(hs, &kp->send, &kp->recv) != 0) {
        log_warn("handshake split failed");
        return;
    }
    if (keypair_set_cipher(kp, cipher) != 0) {
        keypair_clear(self, kp);
        return;
    }
    kp->local_index = index_claim(self, peer);
    kp->remote_index = sender_index;
    kp->initiator = false;
    kp->created_ms = now->mono_ms;
    crypto_write_response_header(out, kp->local_index, kp->remote_index);
    cookie_add_macs(&peer->maker, out, msg_len, now->mono_ms);
    packet_batch_commit(io->to_nat, msg_len, peer->id);
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
    uint8_t *out = reserve(self, io, io->to_nat, CRYPTO_COOKIE_REPLY_LEN, peer->id);
    if (!out)
        return;
    crypto_write_cookie_header(out, sender_index);
    if (cookie_reply_body(&self->checker, peer->maker.cookie_key, out, peer->id, now->mono_ms,
                          out + CRYPTO_COOKIE_HEADER_LEN) != 0) {
        log_warn("cannot write a cookie reply");
        return;
    }
    packet_batch_commit(io->to_nat, CRYPTO_COOKIE_REPLY_LEN, peer->id);
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
                            const uint8_t *peer_id, const session_time_t *now, session_io_t *io)
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
    keypair_t kp = {0};
    if (noise_handshake_split(&p->hs, &kp.send, &kp.recv) != 0 || keypair_set_cipher(&kp, cipher) != 0) {
        log_warn("handshake split failed");
        sodium_memzero(&kp, sizeof kp);
        pending_clear(self, p);
        return;
    }
    kp.local_index = p->local_index;   // the index now names the session
    kp.remote_index = d->sender_index;
    kp.initiator = true;
    kp.created_ms = now->mono_ms;
    sodium_memzero(p, sizeof *p);
    keypair_move(self, &peer->previous, &peer->current);
    keypair_move(self, &peer->current, &kp);
    session_established(self, peer, now);
    flush_queue(self, peer, now, io);
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

// The keypair of peer named by our index, or NULL (also for the index of an initiation in flight).
static keypair_t *keypair_by_index(peer_t *peer, uint32_t index)
{
    if (peer->current.local_index == index)
        return &peer->current;
    if (peer->previous.local_index == index)
        return &peer->previous;
    if (peer->next.local_index == index)
        return &peer->next;
    return NULL;
}

// Traffic for a session we do not have: the peer kept one we lost (restart). Handshake, rate limited.
static void unknown_index(session_set_t *self, const uint8_t *peer_id, const session_time_t *now,
                          session_io_t *io)
{
    (*self->c.drop_unknown_index)++;
    peer_t *peer = find_peer(self, peer_id);
    if (!peer || now->mono_ms - peer->last_unknown_index_ms < SESSION_UNKNOWN_INDEX_RETRY_MS)
        return;
    peer->last_unknown_index_ms = now->mono_ms;
    start_handshake(self, peer, now, io);
}

static bool source_is_peer(const peer_t *peer, const uint8_t *packet, size_t len)
{
    return len >= 20 && (packet[0] >> 4) == 4 && memcmp(packet + 12, &peer->overlay_addr, 4) == 0;
}

// The responder's session is confirmed by the first packet the initiator sends with it.
static keypair_t *confirm_next(session_set_t *self, peer_t *peer, const session_time_t *now)
{
    keypair_move(self, &peer->previous, &peer->current);
    keypair_move(self, &peer->current, &peer->next);
    session_established(self, peer, now);
    return &peer->current;
}

static void handle_transport(session_set_t *self, const crypto_datagram_t *d, const uint8_t *peer_id,
                             const session_time_t *now, session_io_t *io)
{
    peer_t *peer = peer_by_index(self, d->receiver_index);
    keypair_t *kp = peer ? keypair_by_index(peer, d->receiver_index) : NULL;
    if (!kp || memcmp(peer->id, peer_id, WIRE_ID_LEN) != 0) {
        unknown_index(self, peer_id, now, io);
        return;
    }
    if (!keypair_alive(kp, now->mono_ms)) {
        (*self->c.drop_expired)++;
        return;
    }
    size_t plain_max = d->body_len - TRANSPORT_TAG_LEN;
    uint8_t *out = reserve(self, io, io->to_device, plain_max, NULL);
    if (!out)
        return;
    size_t plain_len = 0;
    int rc = transport_decrypt(&kp->recv, d->counter, d->body, d->body_len, out, &plain_len);
    if (rc != 0) {
        (*(rc == -2 ? self->c.drop_replay : self->c.drop_auth))++;
        return;
    }
    bool confirmed = kp == &peer->next;
    if (confirmed)
        kp = confirm_next(self, peer, now);
    kp->received = true;
    if (kp == &peer->current && kp->initiator && now->mono_ms - kp->created_ms >= SESSION_REKEY_ON_RECEIVE_MS)
        start_handshake(self, peer, now, io);
    if (plain_len == 0) {
        (*self->c.keepalives_in)++;
    } else if (!source_is_peer(peer, out, plain_len)) {
        (*self->c.drop_bad_source)++;
    } else {
        packet_batch_commit(io->to_device, plain_len, NULL);
        (*self->c.packets_decrypted)++;
        peer->status.rx_packets++;
        peer->status.rx_bytes += plain_len;
        peer->dirty = true;
    }
    if (confirmed)
        flush_queue(self, peer, now, io);
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
    case CRYPTO_MSG_RESPONSE: handle_response(self, &d, datagram, len, peer_id, now, io); break;
    case CRYPTO_MSG_COOKIE_REPLY: handle_cookie_reply(self, &d, datagram, peer_id, now, io); break;
    default: handle_transport(self, &d, peer_id, now, io); break;
    }
}

void session_set_outbound(session_set_t *self, const uint8_t *packet, size_t len,
                          const uint8_t peer_id[WIRE_ID_LEN], const session_time_t *now, session_io_t *io)
{
    peer_t *peer = find_peer(self, peer_id);
    if (!peer) {
        (*self->c.drop_no_peer)++;
        return;
    }
    if (is_revoked(self, peer->id)) {
        (*self->c.drop_revoked)++;
        return;
    }
    if (len == 0) {
        (*self->c.drop_malformed)++;
        return;
    }
    keypair_t *kp = sending_keypair(peer, now->mono_ms);
    if (!kp) {
        queue_push(self, peer, packet, len);
        start_handshake(self, peer, now, io);
        return;
    }
    encrypt_to(self, peer, kp, packet, len, io);
    if (kp->initiator && (now->mono_ms - kp->created_ms >= SESSION_REKEY_AFTER_MS ||
                          kp->send.counter >= SESSION_REKEY_AFTER_MESSAGES))
        start_handshake(self, peer, now, io);
}

static void expire_keypair(session_set_t *self, keypair_t *kp, int64_t now_ms)
{
    if (kp->local_index && !keypair_alive(kp, now_ms))
        keypair_clear(self, kp);
}

// Wipes peer's sessions (not its handshake in flight or its queue).
static void drop_sessions(session_set_t *self, peer_t *peer)
{
    keypair_clear(self, &peer->current);
    keypair_clear(self, &peer->previous);
    keypair_clear(self, &peer->next);
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
        drop_sessions(self, peer);
        (*self->c.sessions_cert_expired)++;
    }
    if (p->active && now->mono_ms - p->first_sent_ms >= SESSION_REKEY_ATTEMPT_MS) {
        char hex[ID_HEX_LEN];
        id_to_hex(peer->id, hex);
        log_info("handshake with %.16s… timed out; dropping %zu queued packets", hex, peer->queue.count);
        pending_clear(self, p);
        queue_drop_all(self, peer, self->c.drop_handshake_timeout);
        (*self->c.handshakes_failed)++;
    } else if (p->active && now->mono_ms - p->last_sent_ms >= SESSION_REKEY_TIMEOUT_MS) {
        send_initiation(self, peer, false, now, io);
    }
    expire_keypair(self, &peer->current, now->mono_ms);
    expire_keypair(self, &peer->previous, now->mono_ms);
    expire_keypair(self, &peer->next, now->mono_ms);
    peer_update_state(self, peer, now->mono_ms);
}

void session_set_tick(session_set_t *self, const session_time_t *now, session_io_t *io)
{
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
        uint64_t dropped = peer->queue.count;
        peer_wipe(self, peer);
        *self->c.drop_revoked += dropped;
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
    peer_wipe(self, peer);
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
    c->packets_encrypted = service_counter(svc, "packets_encrypted");
    c->packets_decrypted = service_counter(svc, "packets_decrypted");
    c->handshakes_initiated = service_counter(svc, "handshakes_initiated");
    c->handshakes_completed = service_counter(svc, "handshakes_completed");
    c->handshakes_responded = service_counter(svc, "handshakes_responded");
    c->handshakes_failed = service_counter(svc, "handshakes_failed");
    c->keepalives_in = service_counter(svc, "keepalives_in");
    c->keepalives_out = service_counter(svc, "keepalives_out");
    c->sessions = service_counter(svc, "sessions");
    c->drop_malformed = service_counter(svc, "drop_malformed");
    c->drop_auth = service_counter(svc, "drop_auth");
    c->drop_replay = service_counter(svc, "drop_replay");
    c->drop_unknown_index = service_counter(svc, "drop_unknown_index");
    c->drop_handshake_unknown_peer = service_counter(svc, "drop_handshake_unknown_peer");
    c->drop_handshake_replay = service_counter(svc, "drop_handshake_replay");
    c->drop_bad_source = service_counter(svc, "drop_bad_source");
    c->drop_queue_overflow = service_counter(svc, "drop_queue_overflow");
    c->drop_handshake_timeout = service_counter(svc, "drop_handshake_timeout");
    c->drop_no_peer = service_counter(svc, "drop_no_peer");
    c->drop_expired = service_counter(svc, "drop_expired");
    c->drop_too_big = service_counter(svc, "drop_too_big");
    c->drop_batch_full = service_counter(svc, "drop_batch_full");
    c->handshakes_refused = service_counter(svc, "handshakes_refused");
    c->drop_revoked = service_counter(svc, "drop_revoked");
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

session_set_t *session_set_new(const session_config_t *cfg, service_t *svc)
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
    self->peers = table_new(id_hash, id_compare);
    self->indexes = table_new(index_hash, index_compare);
    self->removed = zlistx_new();
    self->revoked = table_new(id_hash, id_compare);
    if (self->revoked)
        zhashx_set_destructor(self->revoked, removed_free);
    if (rc != 0 || !self->peers || !self->indexes || !self->removed || !self->revoked) {
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
            peer_wipe(self, peer);
            sodium_memzero(peer, sizeof *peer);
            free(peer);
        }
        zhashx_destroy(&self->peers);
    }
    zhashx_destroy(&self->indexes);
    zlistx_destroy(&self->removed);
    zhashx_destroy(&self->revoked);
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}
