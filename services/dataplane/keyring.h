// keyring.h — the data plane's half of the sessions: per member peer a current, a previous and an
// unconfirmed "next" keypair (WireGuard's rotation), the table of our session indexes, the queue of packets
// waiting for a session, and per packet the seal, the open, the replay window, the source check and the
// WireGuard rekey triggers. It makes no handshakes: the handshake side (session.c) installs each keypair a
// handshake produced (keyring_install), and the keyring asks it for a handshake (keyring_io_t.want) when a
// peer has no usable session, a rekey is due, or traffic names an index it does not know.
//
// No sockets and no clock of its own (every call gets now_ms, monotonic): tests drive it in one process.
// Everything it is told and tells is a plain value, so the two halves can be two actors (docs/architecture.md).
#ifndef WEFT_DATAPLANE_KEYRING_H
#define WEFT_DATAPLANE_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key_msg.h"
#include "node.pb-c.h"
#include "service.h"
#include "transport.h"
#include "wire.h"

// WireGuard's timers (whitepaper section 6), in milliseconds.
#define KEYRING_REKEY_AFTER_MS 120000          // the initiator starts a new handshake on send
#define KEYRING_REJECT_AFTER_MS 180000         // a keypair this old is used neither to send nor to receive
#define KEYRING_REKEY_ON_RECEIVE_MS 165000     // REJECT - KEEPALIVE(10 s) - REKEY_TIMEOUT
#define KEYRING_UNKNOWN_INDEX_RETRY_MS 1000    // ask for a handshake at most this often for unknown-index traffic
// Rekey after this many messages sent: 2^60 as WireGuard, less a margin so that the new handshake has
// time to finish before lib/transport refuses counters >= 2^60.
#define KEYRING_REKEY_AFTER_MESSAGES (TRANSPORT_REJECT_AFTER_MESSAGES - ((uint64_t)1 << 16))
#define KEYRING_QUEUE_PACKETS 128              // packets queued per peer while a handshake runs

typedef struct keyring keyring_t;


// Where calls write their output and whom they tell. flush (with flush_ctx) is called with a full batch:
// it must send and empty it. want and established (with ctx) may be NULL.
typedef struct {
    packet_batch_t *to_wire;     // sealed datagrams, each tagged with its peer
    packet_batch_t *to_tun;      // opened IP packets
    void (*flush)(void *flush_ctx, packet_batch_t *batch);
    void *flush_ctx;
    void (*want)(void *ctx, const uint8_t peer[WIRE_ID_LEN], key_event_kind_t why);   // a WANT_* kind
    // a keypair became the peer's current one: installed as initiator, or confirmed as responder
    void (*established)(void *ctx, const uint8_t peer[WIRE_ID_LEN], transport_cipher_t cipher);
    // a mesh frame (lib/mesh_frame.h: an announcement, a forwarded datagram) opened from peer; frame is
    // valid only during the call (it sits in to_tun's free space) and may be changed. NULL: dropped.
    void (*mesh)(void *ctx, const uint8_t peer[WIRE_ID_LEN], uint8_t *frame, size_t len);
    void *ctx;
} keyring_io_t;

#define KEYRING_MAX_SUBNETS 8

// What may be said about a peer's keys in public.
typedef struct {
    bool established;            // a current keypair younger than REJECT_AFTER
    bool next_waiting;           // a responder keypair waits for its confirmation
    transport_cipher_t cipher;   // of the current keypair
    int64_t current_created_ms;
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
} keyring_peer_stats_t;

// Counters are registered on svc (service_counter). max_packet: the largest plaintext packet that can
// wait in a queue. NULL when out of memory.
keyring_t *keyring_new(size_t max_packet, service_t *svc);
// Wipes every key and queued packet and frees the keyring.
void keyring_destroy(keyring_t **self);

// Adds a member peer (its overlay address in network byte order: the source its packets must have) or
// updates its address. Returns 0, or -1 when out of memory.
int keyring_add_peer(keyring_t *self, const uint8_t peer[WIRE_ID_LEN], uint32_t overlay_addr);
// Removes a peer: its keys and queue are wiped.
void keyring_remove_peer(keyring_t *self, const uint8_t peer[WIRE_ID_LEN]);
bool keyring_has_peer(const keyring_t *self, const uint8_t peer[WIRE_ID_LEN]);
// The subnets behind peer (its accepted routing.advertise, docs/routing.md): packets it sends may come
// from them besides its overlay address. Network byte order; at most KEYRING_MAX_SUBNETS (the rest are
// ignored). count 0 clears them. Unknown peer: nothing.
void keyring_set_subnets(keyring_t *self, const uint8_t peer[WIRE_ID_LEN], const uint32_t *addrs,
                         const uint32_t *masks, size_t count);

// Installs the keypair of a finished handshake at now_ms. As initiator it becomes the current one (the
// current one becomes the previous) and the queue is sent, or a keepalive when nothing waits (it confirms
// the session to the responder); as responder it waits in next. Returns 0, or -1 (logged, counted) for an
// unknown peer, an index in use or a cipher this CPU cannot run.
int keyring_install(keyring_t *self, const keyring_keypair_t *kp, int64_t now_ms, keyring_io_t *io);

// Whether our index is taken by a keypair (the handshake side picks indexes that are not).
bool keyring_index_in_use(const keyring_t *self, uint32_t index);

// One plaintext packet for peer: sealed into io->to_wire, or queued while a handshake is asked for.
void keyring_outbound(keyring_t *self, const uint8_t *packet, size_t len, const uint8_t peer[WIRE_ID_LEN],
                      int64_t now_ms, keyring_io_t *io);

// One transport datagram (type 4, already decoded: receiver index, counter, ciphertext || tag) from peer.
void keyring_inbound(keyring_t *self, uint32_t receiver_index, uint64_t counter, const uint8_t *body,
                     size_t body_len, const uint8_t peer[WIRE_ID_LEN], int64_t now_ms, keyring_io_t *io);

// Wipes peer's keypairs (revoked, or its certificate expired); its queue stays unless drop_queue.
void keyring_drop_keys(keyring_t *self, const uint8_t peer[WIRE_ID_LEN], bool drop_queue, uint64_t *counter);
// Drops the packets waiting for peer (its handshake gave up), adding their number to *counter.
size_t keyring_drop_queue(keyring_t *self, const uint8_t peer[WIRE_ID_LEN], uint64_t *counter);

// Expires keypairs older than REJECT_AFTER. Call about once a second.
void keyring_tick(keyring_t *self, int64_t now_ms);

// The public state of peer's keys; false for an unknown peer.
bool keyring_peer_stats(const keyring_t *self, const uint8_t peer[WIRE_ID_LEN], int64_t now_ms,
                        keyring_peer_stats_t *out);

#endif
