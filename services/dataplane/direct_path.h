// direct_path.h — the data plane's direct paths: for each peer whose direct UDP pair nat handed over (DirectPath,
// proto/node.proto), a socket bound beside the pair's (lib/udp_steer.h: the kernel steers weft's datagrams
// to it, everything else stays with libnice) on which the data plane sends that peer's datagrams (sendmmsg, UDP
// GSO; lib/udp_batch.h) and receives them (recvmmsg), with no hop through nat. Datagrams for peers without one go through nat as before.
//
// Owns the sockets, their batches and one epoll fd holding them all, so the actor loop watches one fd.
// A path is forgotten when nat withdraws it, when nat says nothing of it for DIRECT_PATH_TTL_MS (nat
// died), or when a socket error says it is unusable. No keys here: datagrams come in and go out sealed.
#ifndef WEFT_CRYPTO_DIRECT_PATH_H
#define WEFT_CRYPTO_DIRECT_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "node.pb-c.h"
#include "service.h"

#define DIRECT_PATH_TTL_MS 6000     // nat says every handed-over path again every 2 s
#define DIRECT_PATH_BATCH 64        // datagrams per sendmmsg / recvmmsg

typedef struct direct_paths direct_paths_t;

// Counters are registered on svc. max_datagram: the largest datagram a peer sends (MTU + overhead).
// gso/gro: the offloads to use where the kernel has them (dataplane.gso, dataplane.gro). NULL (logged)
// when out of memory or without epoll.
direct_paths_t *direct_paths_new(service_t *svc, size_t max_datagram, bool gso, bool gro);
// Closes every socket.
void direct_paths_destroy(direct_paths_t **self);
// The fd to watch: readable when a path has datagrams waiting.
int direct_paths_fd(const direct_paths_t *self);
size_t direct_paths_count(const direct_paths_t *self);

// Applies a DirectPath from nat (bad ones are logged and counted, never fatal).
void direct_paths_apply(direct_paths_t *self, const Weft__DirectPath *msg, int64_t now_ms);
// Forgets paths nat has not said again within DIRECT_PATH_TTL_MS. Call about once a second.
void direct_paths_tick(direct_paths_t *self, int64_t now_ms);

// True when peer's datagrams go out on a direct path.
bool direct_paths_has(const direct_paths_t *self, const uint8_t peer[32]);
// Sends n datagrams to peer on its path. Returns how many left (the rest are counted as dropped).
size_t direct_paths_send(direct_paths_t *self, const uint8_t peer[32], const struct iovec *datagrams, size_t n);

// What the data plane sent and received on each peer's direct paths, over all of them since it started (a closed
// path's totals are kept, so they only grow). Calls fn for each peer whose totals changed since the last
// call (every peer when all).
typedef struct {
    uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
} direct_totals_t;
typedef void direct_totals_fn(void *ctx, const uint8_t peer[32], const direct_totals_t *totals);
void direct_paths_report(direct_paths_t *self, bool all, direct_totals_fn *fn, void *ctx);

// Reads what is waiting on every ready path, and calls fn for each weft datagram that came from the path's
// peer end, handshakes at most DATAGRAM_PATH_HANDSHAKES_PER_S a second (lib/datagram.h) (others are dropped and counted).
typedef void direct_datagram_fn(void *ctx, const uint8_t peer[32], const uint8_t *datagram, size_t len);
void direct_paths_receive(direct_paths_t *self, direct_datagram_fn *fn, void *ctx);

#endif
