// wire.h — messages on ZeroMQ sockets and the packet batches they carry.
//
// A message is one Envelope frame (proto/node.proto), followed by one raw payload frame when the body
// is a PacketBatch. packet_batch_t builds an outgoing batch in one buffer; packet_view_t checks and walks
// an incoming one in place, without copying packets.
#ifndef WEFT_WIRE_H
#define WEFT_WIRE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "node.pb-c.h"
#include "packet.pb-c.h"

#define WIRE_ID_LEN 32              // node ids are Ed25519 public keys
#define WIRE_MAX_BATCH_PACKETS 256
#define WIRE_MAX_BATCH_BYTES (256 * 1024)
#define WIRE_MAX_BATCH_PEERS 64

// Sends env (and payload, when not NULL) as one message. With dontwait, a full queue drops the message
// and returns -1 with errno EAGAIN instead of blocking. Returns 0 on success.
int wire_send(zsock_t *sock, const Weft__Envelope *env, const void *payload, size_t payload_len, bool dontwait);

// Receives one message. Returns the unpacked envelope (free with weft__envelope__free_unpacked(env, NULL))
// and, in *payload, the payload frame or NULL. Returns NULL (and logs why) for a malformed message: wrong
// frame count, undecodable protobuf, an empty body, or a PacketBatch without a payload frame.
Weft__Envelope *wire_recv(zsock_t *sock, zframe_t **payload);

// ---- outgoing batches ----
typedef struct {
    uint8_t *data;                          // packets back to back
    size_t len, cap;
    uint32_t lengths[WIRE_MAX_BATCH_PACKETS];
    uint32_t peer_index[WIRE_MAX_BATCH_PACKETS];
    size_t count;
    uint8_t peers[WIRE_MAX_BATCH_PEERS][WIRE_ID_LEN];
    size_t peer_count;
    bool with_peers;                        // does any packet carry a peer
    Weft__PacketBatch__Direction direction; // set once by the owner (OUTBOUND/INBOUND); kept across resets
} packet_batch_t;

// A new empty batch whose packets go `direction` (see PacketBatch.direction in proto/packet.proto).
packet_batch_t *packet_batch_new(Weft__PacketBatch__Direction direction);
void packet_batch_destroy(packet_batch_t **self);
void packet_batch_reset(packet_batch_t *b);
// Would a packet of len bytes for `peer` still fit? (false: send the batch first)
bool packet_batch_fits(const packet_batch_t *b, size_t len, const uint8_t *peer);
// Space for the next packet, at least max_len bytes, or NULL if it does not fit; then commit what was written.
uint8_t *packet_batch_reserve(packet_batch_t *b, size_t max_len);
void packet_batch_commit(packet_batch_t *b, size_t len, const uint8_t *peer);
// Space for max_len bytes for peer, sending the batch first with flush(flush_ctx, b) when it is full
// (flush may be NULL); NULL when it still does not fit. Then commit what was written.
uint8_t *packet_batch_room(packet_batch_t *b, size_t max_len, const uint8_t *peer,
                           void (*flush)(void *flush_ctx, packet_batch_t *b), void *flush_ctx);
// Copies a packet into the batch; returns -1 if it does not fit.
int packet_batch_add(packet_batch_t *b, const void *data, size_t len, const uint8_t *peer);
// Sends the batch (non-blocking) if it holds any packet, then empties it. Returns packets sent, or -1
// (queue full: the packets are dropped, the batch emptied).
int packet_batch_send(packet_batch_t *b, zsock_t *sock);
// The same, adding what went to *sent (may be NULL) and what the full queue dropped to *dropped.
void packet_batch_send_counted(packet_batch_t *b, zsock_t *sock, uint64_t *sent, uint64_t *dropped);

// ---- incoming batches ----
typedef struct {
    const Weft__PacketBatch *hdr;
    const uint8_t *payload;
    size_t payload_len;
    size_t next;        // iteration: next packet index
    size_t offset;      // iteration: its offset in payload
} packet_view_t;

// Checks that lengths add up to the payload, that peer indexes are in range and peers are 32 bytes.
// Returns 0, or -1 with why filled in.
int packet_view_init(packet_view_t *v, const Weft__PacketBatch *hdr, zframe_t *payload, char *why, size_t why_len);
// Next packet: its bytes, length and peer (NULL when the batch has none). False at the end.
bool packet_view_next(packet_view_t *v, const uint8_t **pkt, size_t *len, const uint8_t **peer);

#endif
