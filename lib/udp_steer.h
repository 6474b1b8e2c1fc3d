// udp_steer.h — a steering socket next to another owner's UDP socket (libnice's socket of the selected
// ICE pair): both sockets in one SO_REUSEPORT group on the same local address and port, and a classic BPF
// program on the group (SO_ATTACH_REUSEPORT_CBPF) that gives weft's datagrams (types 1-4, three zero bytes,
// a length the type can have: exactly what lib/datagram.h's datagram_for_crypto takes) to the steering
// socket and every other datagram (STUN, TURN, nat's path probes 0x50/0x51, junk) to the other owner's.
// No fd changes hands: the other owner keeps its socket, reads what is not transport, and sends as before.
//
// This module owns only the steering socket it opens (the caller closes it) and the program it attaches.
// It never reads or closes the shared socket; udp_steer_share only sets SO_REUSEPORT on it.
//
// Index order (the program answers a group index, not a socket): the group's first socket is index 0;
// udp_steer_share must be called on the shared socket before udp_steer_open binds, so the shared socket
// founds the group (index 0) and the steering socket joins as index 1. When a socket leaves the group the
// kernel moves the LAST socket into its slot, and an index out of range falls back to the port hash:
//   - steering socket closed: index 1 is gone, everything goes to the shared socket (the fallback path);
//     a new udp_steer_open joins as index 1 again.
//   - shared socket closed while the steering socket stays: the steering socket moves to index 0 and gets
//     EVERY datagram (its reader must drop what udp_steer_takes refuses); and the owner cannot bind
//     that port again without SO_REUSEPORT until the steering socket is closed.
//   - more than two sockets on the port: the program's "1" means whichever socket holds slot 1; open at
//     most one steering socket per shared socket.
// Both sockets need the same uid (a reuseport rule of the kernel).
//
// With UDP_GRO on the steering socket the program sees only a coalesced buffer's first datagram: a shorter
// datagram of the same flow (the peer's STUN keepalive after transport datagrams) may arrive as the
// buffer's last segment (from the kernel's source; not measured: loopback does no GRO). The reader must
// check every segment with udp_steer_takes and drop what fails.
#ifndef WEFT_UDP_STEER_H
#define WEFT_UDP_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

// Lets other sockets join fd's port: sets SO_REUSEPORT on an already bound UDP socket (libnice's).
// Returns 0, or -1 with err filled ("cannot share port 10.99.0.2:4000: ...").
int udp_steer_share(int fd, char *err, size_t err_len);

// A non-blocking, close-on-exec UDP socket with SO_REUSEPORT bound to local (the address the shared
// socket is bound to), with the steering program attached: weft's datagrams (udp_steer_takes) to this socket,
// everything else to the group's first socket. Returns the fd, or -1 with err filled (EADDRINUSE when
// the socket on that port did not share it, with a message saying so). It also fails (errno ENOENT)
// when no socket is bound to local at all: alone in its group the steering socket would be index 0 and
// get every datagram, and it would keep the port from the owner's next bind.
// Whether some socket on this host holds addr: a plain bind of it (no SO_REUSEPORT; IPv6 only for an
// IPv6 address) fails with EADDRINUSE. 1 held, 0 free, -1 neither (errno set: socket() failed, or bind
// another way, e.g. an address not on this host).
int udp_port_held(const struct sockaddr *addr, socklen_t addr_len);

int udp_steer_open(const struct sockaddr *local, socklen_t local_len, char *err, size_t err_len);

// True when datagram (len bytes) is one the program steers to the data plane (the same rule in C, for
// tests and for callers that must agree with the program): datagram_for_crypto.
bool udp_steer_takes(const uint8_t *datagram, size_t len);

#endif
