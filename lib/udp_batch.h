// udp_batch.h — batched send and receive of datagrams on one UDP socket the caller owns: many datagrams
// per system call (sendmmsg, recvmmsg) and, where the kernel offers them, UDP offloads: GSO (UDP_SEGMENT,
// runs of equal-sized datagrams to one destination leave as one "super-datagram" the kernel cuts up) and
// GRO (UDP_GRO, the kernel hands over several datagrams of one flow in one buffer, cut up here by the
// segment size it reports, without a copy). Support is probed at run time; the caller can force either off
// (config), and GSO turns itself off for the rest of the batch object's life when sendmmsg answers EIO (the
// device cannot checksum for it), the datagrams being sent again without it.
//
// A udp_batch_t owns its buffers (message headers, iovecs, control buffers, receive buffers and the list
// of received datagrams), all allocated when it is made or attached: nothing is allocated per call. It
// never owns the socket: the caller opens it, attaches it, and closes it (after detaching or destroying).
// Not thread-safe: one batch per direction per thread.
//
// The data plane's building block (issue 11); not yet used by a service.
#ifndef WEFT_UDP_BATCH_H
#define WEFT_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define UDP_BATCH_MAX_LEN 65507        // the largest UDP payload over IPv4, and of one GSO send
#define UDP_BATCH_GSO_MAX_SEGMENTS 64  // the most datagrams one GSO send may carry (UDP_MAX_SEGMENTS)
#define UDP_BATCH_GRO_BUF 65535        // a receive buffer under GRO: room for whatever the kernel coalesces

typedef struct {
    bool gso;   // UDP_SEGMENT on send
    bool gro;   // UDP_GRO on receive
} udp_offloads_t;

// One received datagram: points into the batch's buffers, valid until its next receive call.
typedef struct {
    uint8_t *data;
    size_t len;
    const struct sockaddr_storage *from;
    socklen_t from_len;
} udp_datagram_t;

typedef struct {
    uint64_t sendmmsg_calls;     // system calls made by udp_batch_send
    uint64_t sent_messages;      // messages they carried (a GSO send counts once)
    uint64_t gso_messages;       // of those, messages with more than one segment
    uint64_t recv_messages;      // buffers filled by recvmmsg
    uint64_t gro_messages;       // of those, buffers that held more than one datagram
    uint64_t recv_truncated;     // datagrams dropped for being larger than max_len
} udp_batch_stats_t;

typedef struct udp_batch udp_batch_t;

// What the kernel supports on fd (a UDP socket): GSO when getsockopt(UDP_SEGMENT) answers, GRO when
// setsockopt(UDP_GRO) accepts 1 (it is set back to 0 after). Returns 0, or -1 with the reason in err
// (not a UDP socket, bad fd); out is then all false.
int udp_batch_probe(int fd, udp_offloads_t *out, char *err, size_t err_len);

// A batch for up to max_datagrams datagrams per call of at most max_len bytes each (1..UDP_BATCH_MAX_LEN).
// NULL (with the reason in err) on bad sizes or no memory.
udp_batch_t *udp_batch_new(size_t max_datagrams, size_t max_len, char *err, size_t err_len);
// Frees the batch (never the socket) and sets *self to NULL; NULL and *self == NULL are fine.
void udp_batch_destroy(udp_batch_t **self);

// Sends and receives on fd from now on, with the offloads in want that the kernel supports (probed here):
// UDP_GRO is set on fd to match; with GRO the receive buffers become UDP_BATCH_GRO_BUF bytes each (sized
// here, once). *got (optional) says what is in effect. Returns 0, or -1 with the reason in err.
int udp_batch_attach(udp_batch_t *self, int fd, udp_offloads_t want, udp_offloads_t *got, char *err, size_t err_len);
// The offloads in effect now (GSO is off after an EIO).
udp_offloads_t udp_batch_offloads(const udp_batch_t *self);
const udp_batch_stats_t *udp_batch_stats(const udp_batch_t *self);

// Sends n datagrams (any n; max_datagrams at a time) to dst (NULL on a connected socket). With GSO, each run
// of equal-sized datagrams (the last of a run may be shorter) is one message of up to
// UDP_BATCH_GSO_MAX_SEGMENTS segments and UDP_BATCH_MAX_LEN bytes; all messages go in one sendmmsg, again
// from where it stopped when it sent fewer. *sent says how many datagrams left, in order. Returns 0 when all
// were sent or the socket would block (*sent < n: the caller retries the rest later), -1 with the reason in
// err on any other error, a datagram of 0 or more than max_len bytes (nothing is sent then) or no fd.
int udp_batch_send(udp_batch_t *self, const struct sockaddr *dst, socklen_t dst_len, const struct iovec *dgrams,
                   size_t n, size_t *sent, char *err, size_t err_len);

// One recvmmsg without waiting: *out points at the datagrams received (*n of them, 0 when none was waiting),
// in arrival order, coalesced GRO buffers split into their datagrams. A datagram larger than max_len is
// dropped and counted. Returns 0, or -1 with the reason in err.
int udp_batch_recv(udp_batch_t *self, const udp_datagram_t **out, size_t *n, char *err, size_t err_len);

#endif
