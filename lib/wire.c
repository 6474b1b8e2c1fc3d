// wire.c — see wire.h.
#include "wire.h"

#include <errno.h>
#include <string.h>

#include "log.h"

int wire_send(zsock_t *sock, const Weft__Envelope *env, const void *payload, size_t payload_len, bool dontwait)
{
    uint8_t stack_buf[1024];
    size_t size = weft__envelope__get_packed_size(env);
    uint8_t *buf = size <= sizeof stack_buf ? stack_buf : malloc(size);
    if (!buf)
        return -1;
    weft__envelope__pack(env, buf);
    void *handle = zsock_resolve(sock);
    int flags = dontwait ? ZMQ_DONTWAIT : 0;
    int rc = zmq_send(handle, buf, size, flags | (payload ? ZMQ_SNDMORE : 0));
    if (rc >= 0 && payload)
        rc = zmq_send(handle, payload, payload_len, flags);
    explicit_bzero(buf, size);   // an envelope may carry keys (Keypair): no copy of ours outlives the send
    if (buf != stack_buf)
        free(buf);
    return rc < 0 ? -1 : 0;
}

Weft__Envelope *wire_recv(zsock_t *sock, zframe_t **payload)
{
    *payload = NULL;
    zmsg_t *msg = zmsg_recv(sock);
    if (!msg)
        return NULL;
    size_t frames = zmsg_size(msg);
    if (frames < 1 || frames > 2) {
        log_warn("dropped a message of %zu frames (want 1 or 2)", frames);
        zmsg_destroy(&msg);
        return NULL;
    }
    zframe_t *head = zmsg_pop(msg);
    Weft__Envelope *env = weft__envelope__unpack(NULL, zframe_size(head), zframe_data(head));
    explicit_bzero(zframe_data(head), zframe_size(head));   // it may have carried keys (Keypair)
    zframe_destroy(&head);
    if (!env) {
        log_warn("dropped a message whose envelope does not decode (%zu frames)", frames);
        zmsg_destroy(&msg);
        return NULL;
    }
    if (env->body_case == WEFT__ENVELOPE__BODY__NOT_SET) {
        log_warn("dropped an envelope with no body");
        weft__envelope__free_unpacked(env, NULL);
        zmsg_destroy(&msg);
        return NULL;
    }
    bool wants_payload = env->body_case == WEFT__ENVELOPE__BODY_PACKETS;
    if (wants_payload != (frames == 2)) {
        log_warn("dropped a message: %s", wants_payload ? "packet batch without payload frame"
                                                         : "unexpected payload frame");
        weft__envelope__free_unpacked(env, NULL);
        zmsg_destroy(&msg);
        return NULL;
    }
    if (frames == 2)
        *payload = zmsg_pop(msg);
    zmsg_destroy(&msg);
    return env;
}

packet_batch_t *packet_batch_new(Weft__PacketBatch__Direction direction)
{
    packet_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->direction = direction;
    b->cap = WIRE_MAX_BATCH_BYTES;
    b->data = malloc(b->cap);
    if (!b->data) {
        free(b);
        return NULL;
    }
    return b;
}

void packet_batch_destroy(packet_batch_t **self)
{
    if (self && *self) {
        free((*self)->data);
        free(*self);
        *self = NULL;
    }
}

void packet_batch_reset(packet_batch_t *b)
{
    b->len = 0;
    b->count = 0;
    b->peer_count = 0;
    b->with_peers = false;
}

static int find_peer(const packet_batch_t *b, const uint8_t *peer)
{
    // batches carry few peers, usually one: a linear scan from the last added is fastest
    for (size_t i = b->peer_count; i-- > 0;)
        if (memcmp(b->peers[i], peer, WIRE_ID_LEN) == 0)
            return (int)i;
    return -1;
}

bool packet_batch_fits(const packet_batch_t *b, size_t len, const uint8_t *peer)
{
    if (b->count >= WIRE_MAX_BATCH_PACKETS || b->len + len > b->cap)
        return false;
    if (peer && find_peer(b, peer) < 0 && b->peer_count >= WIRE_MAX_BATCH_PEERS)
        return false;
    return true;
}

uint8_t *packet_batch_reserve(packet_batch_t *b, size_t max_len)
{
    if (b->count >= WIRE_MAX_BATCH_PACKETS || b->len + max_len > b->cap)
        return NULL;
    return b->data + b->len;
}

void packet_batch_commit(packet_batch_t *b, size_t len, const uint8_t *peer)
{
    uint32_t index = 0;
    if (peer) {
        int found = find_peer(b, peer);
        if (found < 0) {
            found = (int)b->peer_count++;
            memcpy(b->peers[found], peer, WIRE_ID_LEN);
        }
        index = (uint32_t)found;
        b->with_peers = true;
    }
    b->lengths[b->count] = (uint32_t)len;
    b->peer_index[b->count] = index;
    b->count++;
    b->len += len;
}

uint8_t *packet_batch_room(packet_batch_t *b, size_t max_len, const uint8_t *peer,
                           void (*flush)(void *flush_ctx, packet_batch_t *b), void *flush_ctx)
{
    if (!packet_batch_fits(b, max_len, peer) && flush)
        flush(flush_ctx, b);
    return packet_batch_fits(b, max_len, peer) ? packet_batch_reserve(b, max_len) : NULL;
}

int packet_batch_add(packet_batch_t *b, const void *data, size_t len, const uint8_t *peer)
{
    if (!packet_batch_fits(b, len, peer))
        return -1;
    memcpy(b->data + b->len, data, len);
    packet_batch_commit(b, len, peer);
    return 0;
}

int packet_batch_send(packet_batch_t *b, zsock_t *sock)
{
    if (b->count == 0)
        return 0;
    ProtobufCBinaryData peers[WIRE_MAX_BATCH_PEERS];
    for (size_t i = 0; i < b->peer_count; i++) {
        peers[i].data = b->peers[i];
        peers[i].len = WIRE_ID_LEN;
    }
    Weft__PacketBatch hdr = WEFT__PACKET_BATCH__INIT;
    hdr.n_lengths = b->count;
    hdr.lengths = b->lengths;
    hdr.direction = b->direction;
    if (b->with_peers) {
        hdr.n_peers = b->peer_count;
        hdr.peers = peers;
        hdr.n_peer_index = b->count;
        hdr.peer_index = b->peer_index;
    }
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_PACKETS;
    env.packets = &hdr;
    int sent = (int)b->count;
    int rc = wire_send(sock, &env, b->data, b->len, true);
    packet_batch_reset(b);
    return rc == 0 ? sent : -1;
}

void packet_batch_send_counted(packet_batch_t *b, zsock_t *sock, uint64_t *sent, uint64_t *dropped)
{
    size_t count = b->count;
    int n = packet_batch_send(b, sock);
    if (n < 0)
        *dropped += count;
    else if (sent)
        *sent += (uint64_t)n;
}

int packet_view_init(packet_view_t *v, const Weft__PacketBatch *hdr, zframe_t *payload, char *why, size_t why_len)
{
    memset(v, 0, sizeof *v);
    if (!hdr || !payload) {
        snprintf(why, why_len, "no batch header or payload");
        return -1;
    }
    size_t total = 0;
    for (size_t i = 0; i < hdr->n_lengths && total <= zframe_size(payload); i++)
        total += hdr->lengths[i];  // stops once past the payload: the sum cannot wrap, even in 32 bits
    if (total != zframe_size(payload)) {
        snprintf(why, why_len, "packet lengths add up to %zu bytes, payload has %zu", total, zframe_size(payload));
        return -1;
    }
    if (hdr->n_peer_index && hdr->n_peer_index != hdr->n_lengths) {
        snprintf(why, why_len, "%zu peer indexes for %zu packets", hdr->n_peer_index, hdr->n_lengths);
        return -1;
    }
    for (size_t i = 0; i < hdr->n_peers; i++)
        if (hdr->peers[i].len != WIRE_ID_LEN) {
            snprintf(why, why_len, "peer %zu has %zu bytes (want %d)", i, hdr->peers[i].len, WIRE_ID_LEN);
            return -1;
        }
    for (size_t i = 0; i < hdr->n_peer_index; i++)
        if (hdr->peer_index[i] >= hdr->n_peers) {
            snprintf(why, why_len, "peer index %u out of range (%zu peers)", hdr->peer_index[i], hdr->n_peers);
            return -1;
        }
    v->hdr = hdr;
    v->payload = zframe_data(payload);
    v->payload_len = zframe_size(payload);
    return 0;
}

bool packet_view_next(packet_view_t *v, const uint8_t **pkt, size_t *len, const uint8_t **peer)
{
    if (!v->hdr || v->next >= v->hdr->n_lengths)
        return false;
    *pkt = v->payload + v->offset;
    *len = v->hdr->lengths[v->next];
    *peer = v->hdr->n_peer_index ? v->hdr->peers[v->hdr->peer_index[v->next]].data : NULL;
    v->offset += *len;
    v->next++;
    return true;
}
