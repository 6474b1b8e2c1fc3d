// keyring.c — see keyring.h. Two tables: peers by node id, and peers by our 32-bit session index (the
// index of each of a peer's keypairs). Keys are wiped when a keypair is replaced, expires or its peer goes.
#include "keyring.h"

#include <czmq.h>
#include <sodium.h>
#include <string.h>

#include "crypto_wire.h"
#include "identity.h"
#include "id_table.h"
#include "log.h"
#include "mesh_frame.h"

typedef struct {
    uint32_t local_index;       // our index (receiver_index of what the peer sends); 0 = empty slot
    uint32_t remote_index;      // the peer's index, written into what we send
    bool initiator;             // we sent the initiation
    int64_t created_ms;
    transport_sender_t send;
    transport_receiver_t recv;
} keypair_t;

typedef struct {
    uint8_t *data;              // KEYRING_QUEUE_PACKETS slots of max_packet bytes, allocated on first use
    uint32_t lengths[KEYRING_QUEUE_PACKETS];
    size_t head, count;
} packet_queue_t;

typedef struct {
    uint8_t id[WIRE_ID_LEN];
    uint32_t overlay_addr;      // network byte order
    uint32_t subnet_addr[KEYRING_MAX_SUBNETS], subnet_mask[KEYRING_MAX_SUBNETS];   // network byte order
    size_t subnet_count;
    keypair_t current, previous, next;
    packet_queue_t queue;
    int64_t last_unknown_index_ms;
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
} peer_t;

typedef struct {
    uint64_t *packets_encrypted, *packets_decrypted, *keepalives_in, *keepalives_out;
    uint64_t *drop_auth, *drop_replay, *drop_unknown_index, *drop_bad_source, *drop_queue_overflow;
    uint64_t *drop_no_peer, *drop_expired, *drop_too_big, *drop_batch_full, *drop_malformed;
    uint64_t *keypairs_refused, *mesh_frames_in, *drop_mesh_frame;
} counters_t;

struct keyring {
    size_t max_packet;
    zhashx_t *peers;            // node id (32 bytes, the peer's own copy) -> peer_t*
    zhashx_t *indexes;          // local index (as a pointer-sized key) -> peer_t*
    counters_t c;
};


static peer_t *find_peer(const keyring_t *self, const uint8_t *id)
{
    return id ? zhashx_lookup(self->peers, id) : NULL;
}

// The peer owning our index, or NULL. Index 0 is never used (and zhashx refuses a NULL key).
static peer_t *peer_by_index(const keyring_t *self, uint32_t index)
{
    return index ? zhashx_lookup(self->indexes, index_key(index)) : NULL;
}

// ---- keypairs and queues ----

static void keypair_clear(keyring_t *self, keypair_t *kp)
{
    if (kp->local_index)
        zhashx_delete(self->indexes, index_key(kp->local_index));
    sodium_memzero(kp, sizeof *kp);
}

// Moves src into dst (whose keys are wiped first); src is left empty. Indexes stay with the peer.
static void keypair_move(keyring_t *self, keypair_t *dst, keypair_t *src)
{
    keypair_clear(self, dst);
    memcpy(dst, src, sizeof *dst);
    sodium_memzero(src, sizeof *src);
}

static bool keypair_alive(const keypair_t *kp, int64_t now_ms)
{
    return kp->local_index && now_ms - kp->created_ms < KEYRING_REJECT_AFTER_MS;
}

// The keypair of peer named by our index, or NULL.
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

static void queue_wipe(keyring_t *self, peer_t *peer)
{
    packet_queue_t *q = &peer->queue;
    if (q->data)
        sodium_memzero(q->data, KEYRING_QUEUE_PACKETS * self->max_packet);
    free(q->data);
    memset(q, 0, sizeof *q);
}

// Queues a copy of packet; drops the oldest when full.
static void queue_push(keyring_t *self, peer_t *peer, const uint8_t *packet, size_t len)
{
    packet_queue_t *q = &peer->queue;
    if (len > self->max_packet) {
        (*self->c.drop_too_big)++;
        return;
    }
    if (!q->data) {
        q->data = malloc(KEYRING_QUEUE_PACKETS * self->max_packet);
        if (!q->data) {
            log_error("out of memory for a packet queue");
            (*self->c.drop_queue_overflow)++;
            return;
        }
    }
    if (q->count == KEYRING_QUEUE_PACKETS) {
        q->head = (q->head + 1) % KEYRING_QUEUE_PACKETS;
        q->count--;
        (*self->c.drop_queue_overflow)++;
    }
    size_t slot = (q->head + q->count) % KEYRING_QUEUE_PACKETS;
    memcpy(q->data + slot * self->max_packet, packet, len);
    q->lengths[slot] = (uint32_t)len;
    q->count++;
}

static void peer_wipe(keyring_t *self, peer_t *peer)
{
    keypair_clear(self, &peer->current);
    keypair_clear(self, &peer->previous);
    keypair_clear(self, &peer->next);
    queue_wipe(self, peer);
}

// ---- output ----

static void want(keyring_io_t *io, const peer_t *peer, key_event_kind_t why)
{
    if (io->want)
        io->want(io->ctx, peer->id, why);
}

// Room for max_len bytes for peer in batch, flushing it first if needed; NULL (counted) if impossible.
static uint8_t *reserve(keyring_t *self, keyring_io_t *io, packet_batch_t *batch, size_t max_len,
                        const uint8_t *peer)
{
    uint8_t *out = packet_batch_room(batch, max_len, peer, io->flush, io->flush_ctx);
    if (!out)
        (*self->c.drop_batch_full)++;
    return out;
}

// Seals packet with kp into a transport datagram for peer. len 0 makes a keepalive.
static int seal_to(keyring_t *self, peer_t *peer, keypair_t *kp, const uint8_t *packet, size_t len,
                   keyring_io_t *io)
{
    static const uint8_t empty[1];
    uint8_t *out = reserve(self, io, io->to_wire, CRYPTO_TRANSPORT_OVERHEAD + len, peer->id);
    if (!out)
        return -1;
    uint64_t counter;
    if (transport_encrypt(&kp->send, len ? packet : empty, len, out + CRYPTO_TRANSPORT_HEADER_LEN, &counter) != 0)
        return -1;
    crypto_write_transport_header(out, kp->remote_index, counter);
    packet_batch_commit(io->to_wire, CRYPTO_TRANSPORT_OVERHEAD + len, peer->id);
    if (len) {
        (*self->c.packets_encrypted)++;
        peer->tx_packets++;
        peer->tx_bytes += len;
    } else {
        (*self->c.keepalives_out)++;
    }
    return 0;
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
static void flush_queue(keyring_t *self, peer_t *peer, int64_t now_ms, keyring_io_t *io)
{
    keypair_t *kp = sending_keypair(peer, now_ms);
    if (!kp)
        return;
    packet_queue_t *q = &peer->queue;
    if (q->count == 0 && kp->initiator && kp->send.counter == 0)
        seal_to(self, peer, kp, NULL, 0, io);
    while (q->count) {
        size_t slot = q->head;
        seal_to(self, peer, kp, q->data + slot * self->max_packet, q->lengths[slot], io);
        q->head = (q->head + 1) % KEYRING_QUEUE_PACKETS;
        q->count--;
    }
}

static void established(keyring_io_t *io, const peer_t *peer)
{
    if (io->established)
        io->established(io->ctx, peer->id, peer->current.send.cipher);
}

// ---- public interface ----

keyring_t *keyring_new(size_t max_packet, service_t *svc)
{
    keyring_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max_packet = max_packet;
    self->peers = id_table_new();
    self->indexes = index_table_new();
    if (!self->peers || !self->indexes) {
        keyring_destroy(&self);
        return NULL;
    }
    counters_t *c = &self->c;
    c->packets_encrypted = service_counter(svc, "packets_encrypted");
    c->packets_decrypted = service_counter(svc, "packets_decrypted");
    c->keepalives_in = service_counter(svc, "keepalives_in");
    c->keepalives_out = service_counter(svc, "keepalives_out");
    c->drop_auth = service_counter(svc, "drop_auth");
    c->drop_replay = service_counter(svc, "drop_replay");
    c->drop_unknown_index = service_counter(svc, "drop_unknown_index");
    c->drop_bad_source = service_counter(svc, "drop_bad_source");
    c->drop_queue_overflow = service_counter(svc, "drop_queue_overflow");
    c->drop_no_peer = service_counter(svc, "drop_no_peer");
    c->drop_expired = service_counter(svc, "drop_expired");
    c->drop_too_big = service_counter(svc, "drop_too_big");
    c->drop_batch_full = service_counter(svc, "drop_batch_full");
    c->drop_malformed = service_counter(svc, "drop_malformed");
    c->keypairs_refused = service_counter(svc, "keypairs_refused");
    c->mesh_frames_in = service_counter(svc, "mesh_frames_in");
    c->drop_mesh_frame = service_counter(svc, "drop_mesh_frame");
    return self;
}

void keyring_destroy(keyring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    keyring_t *self = *self_p;
    if (self->peers) {
        for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers)) {
            peer_wipe(self, peer);
            sodium_memzero(peer, sizeof *peer);
            free(peer);
        }
        zhashx_destroy(&self->peers);
    }
    zhashx_destroy(&self->indexes);
    free(self);
    *self_p = NULL;
}

int keyring_add_peer(keyring_t *self, const uint8_t id[WIRE_ID_LEN], uint32_t overlay_addr)
{
    peer_t *peer = find_peer(self, id);
    if (!peer) {
        peer = calloc(1, sizeof *peer);
        if (!peer)
            return -1;
        memcpy(peer->id, id, WIRE_ID_LEN);
        if (zhashx_insert(self->peers, peer->id, peer) != 0) {
            free(peer);
            return -1;
        }
    }
    peer->overlay_addr = overlay_addr;
    return 0;
}

void keyring_remove_peer(keyring_t *self, const uint8_t id[WIRE_ID_LEN])
{
    peer_t *peer = find_peer(self, id);
    if (!peer)
        return;
    peer_wipe(self, peer);
    zhashx_delete(self->peers, peer->id);
    sodium_memzero(peer, sizeof *peer);
    free(peer);
}

bool keyring_has_peer(const keyring_t *self, const uint8_t id[WIRE_ID_LEN])
{
    return find_peer(self, id) != NULL;
}

bool keyring_index_in_use(const keyring_t *self, uint32_t index)
{
    return index == 0 || peer_by_index(self, index) != NULL;
}

int keyring_install(keyring_t *self, const keyring_keypair_t *in, int64_t now_ms, keyring_io_t *io)
{
    peer_t *peer = find_peer(self, in->peer);
    if (!peer || keyring_index_in_use(self, in->local_index)) {
        log_warn("keyring: refused a keypair (%s)", peer ? "its index is in use" : "not a member");
        (*self->c.keypairs_refused)++;
        return -1;
    }
    keypair_t kp = {0};
    memcpy(kp.send.key, in->send_key, TRANSPORT_KEY_LEN);
    memcpy(kp.recv.key, in->recv_key, TRANSPORT_KEY_LEN);
    replay_init(&kp.recv.window);
    if (transport_sender_set_cipher(&kp.send, in->cipher) != 0 ||
        transport_receiver_set_cipher(&kp.recv, in->cipher) != 0) {
        log_warn("keyring: cannot key the transport with %s", transport_cipher_name(in->cipher));
        sodium_memzero(&kp, sizeof kp);
        (*self->c.keypairs_refused)++;
        return -1;
    }
    kp.local_index = in->local_index;
    kp.remote_index = in->remote_index;
    kp.initiator = in->initiator;
    kp.created_ms = now_ms;
    zhashx_insert(self->indexes, index_key(kp.local_index), peer);
    if (in->initiator) {
        keypair_move(self, &peer->previous, &peer->current);
        keypair_move(self, &peer->current, &kp);
        established(io, peer);
        flush_queue(self, peer, now_ms, io);
    } else {
        keypair_move(self, &peer->next, &kp);
    }
    return 0;
}

void keyring_outbound(keyring_t *self, const uint8_t *packet, size_t len, const uint8_t id[WIRE_ID_LEN],
                      int64_t now_ms, keyring_io_t *io)
{
    peer_t *peer = find_peer(self, id);
    if (!peer) {
        (*self->c.drop_no_peer)++;
        return;
    }
    if (len == 0) {
        (*self->c.drop_malformed)++;
        return;
    }
    keypair_t *kp = sending_keypair(peer, now_ms);
    if (!kp) {
        queue_push(self, peer, packet, len);
        want(io, peer, KEY_EVENT_WANT_SESSION);
        return;
    }
    seal_to(self, peer, kp, packet, len, io);
    if (kp->initiator && (now_ms - kp->created_ms >= KEYRING_REKEY_AFTER_MS ||
                          kp->send.counter >= KEYRING_REKEY_AFTER_MESSAGES))
        want(io, peer, KEY_EVENT_WANT_REKEY);
}

// The packet's IPv4 source is the peer's overlay address, or inside one of its subnets.
static bool source_is_peer(const peer_t *peer, const uint8_t *packet, size_t len)
{
    if (len < 20 || (packet[0] >> 4) != 4)
        return false;
    uint32_t src;
    memcpy(&src, packet + 12, 4);
    if (src == peer->overlay_addr)
        return true;
    for (size_t i = 0; i < peer->subnet_count; i++)
        if ((src & peer->subnet_mask[i]) == peer->subnet_addr[i])
            return true;
    return false;
}

void keyring_set_subnets(keyring_t *self, const uint8_t id[WIRE_ID_LEN], const uint32_t *addrs,
                         const uint32_t *masks, size_t count)
{
    peer_t *peer = find_peer(self, id);
    if (!peer)
        return;
    peer->subnet_count = count < KEYRING_MAX_SUBNETS ? count : KEYRING_MAX_SUBNETS;
    for (size_t i = 0; i < peer->subnet_count; i++) {
        peer->subnet_mask[i] = masks[i];
        peer->subnet_addr[i] = addrs[i] & masks[i];
    }
}

// Traffic for a session we do not have: the peer kept one we lost (restart). Ask, at most once a second.
static void unknown_index(keyring_t *self, const uint8_t *id, int64_t now_ms, keyring_io_t *io)
{
    (*self->c.drop_unknown_index)++;
    peer_t *peer = find_peer(self, id);
    if (!peer || (peer->last_unknown_index_ms && now_ms - peer->last_unknown_index_ms < KEYRING_UNKNOWN_INDEX_RETRY_MS))
        return;
    peer->last_unknown_index_ms = now_ms;
    want(io, peer, KEY_EVENT_WANT_UNKNOWN_INDEX);
}

void keyring_inbound(keyring_t *self, uint32_t receiver_index, uint64_t counter, const uint8_t *body,
                     size_t body_len, const uint8_t id[WIRE_ID_LEN], int64_t now_ms, keyring_io_t *io)
{
    peer_t *peer = peer_by_index(self, receiver_index);
    keypair_t *kp = peer ? keypair_by_index(peer, receiver_index) : NULL;
    if (!kp || !id || memcmp(peer->id, id, WIRE_ID_LEN) != 0) {
        unknown_index(self, id, now_ms, io);
        return;
    }
    if (!keypair_alive(kp, now_ms)) {
        (*self->c.drop_expired)++;
        return;
    }
    if (body_len < TRANSPORT_TAG_LEN) {
        (*self->c.drop_malformed)++;
        return;
    }
    size_t plain_max = body_len - TRANSPORT_TAG_LEN;
    uint8_t *out = reserve(self, io, io->to_tun, plain_max, NULL);
    if (!out)
        return;
    size_t plain_len = 0;
    int rc = transport_decrypt(&kp->recv, counter, body, body_len, out, &plain_len);
    if (rc != 0) {
        (*(rc == -2 ? self->c.drop_replay : self->c.drop_auth))++;
        return;
    }
    bool confirmed = kp == &peer->next;   // the initiator's first packet confirms the responder's session
    if (confirmed) {
        keypair_move(self, &peer->previous, &peer->current);
        keypair_move(self, &peer->current, &peer->next);
        kp = &peer->current;
        established(io, peer);
    }
    if (kp == &peer->current && kp->initiator && now_ms - kp->created_ms >= KEYRING_REKEY_ON_RECEIVE_MS)
        want(io, peer, KEY_EVENT_WANT_REKEY);
    if (plain_len == 0) {
        (*self->c.keepalives_in)++;
    } else if (mesh_frame_is_mesh(out, plain_len)) {
        (*(io->mesh ? self->c.mesh_frames_in : self->c.drop_mesh_frame))++;
        if (io->mesh)
            io->mesh(io->ctx, peer->id, out, plain_len);
    } else if (!source_is_peer(peer, out, plain_len)) {
        (*self->c.drop_bad_source)++;
    } else {
        packet_batch_commit(io->to_tun, plain_len, NULL);
        (*self->c.packets_decrypted)++;
        peer->rx_packets++;
        peer->rx_bytes += plain_len;
    }
    if (confirmed)
        flush_queue(self, peer, now_ms, io);
}

void keyring_drop_keys(keyring_t *self, const uint8_t id[WIRE_ID_LEN], bool drop_queue, uint64_t *counter)
{
    peer_t *peer = find_peer(self, id);
    if (!peer)
        return;
    keypair_clear(self, &peer->current);
    keypair_clear(self, &peer->previous);
    keypair_clear(self, &peer->next);
    if (drop_queue)
        keyring_drop_queue(self, id, counter);
}

size_t keyring_drop_queue(keyring_t *self, const uint8_t id[WIRE_ID_LEN], uint64_t *counter)
{
    peer_t *peer = find_peer(self, id);
    if (!peer)
        return 0;
    size_t dropped = peer->queue.count;
    if (counter)
        *counter += dropped;
    queue_wipe(self, peer);
    return dropped;
}

static void expire_keypair(keyring_t *self, keypair_t *kp, int64_t now_ms)
{
    if (kp->local_index && !keypair_alive(kp, now_ms))
        keypair_clear(self, kp);
}

void keyring_tick(keyring_t *self, int64_t now_ms)
{
    for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers)) {
        expire_keypair(self, &peer->current, now_ms);
        expire_keypair(self, &peer->previous, now_ms);
        expire_keypair(self, &peer->next, now_ms);
    }
}

bool keyring_peer_stats(const keyring_t *self, const uint8_t id[WIRE_ID_LEN], int64_t now_ms,
                        keyring_peer_stats_t *out)
{
    const peer_t *peer = find_peer(self, id);
    if (!peer)
        return false;
    memset(out, 0, sizeof *out);
    out->established = keypair_alive(&peer->current, now_ms);
    out->next_waiting = peer->next.local_index != 0;
    out->cipher = peer->current.send.cipher;
    out->current_created_ms = peer->current.created_ms;
    out->rx_packets = peer->rx_packets;
    out->tx_packets = peer->tx_packets;
    out->rx_bytes = peer->rx_bytes;
    out->tx_bytes = peer->tx_bytes;
    return true;
}
