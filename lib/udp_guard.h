// udp_guard.h — a kernel filter on the UDP socket of a peer's path (libnice's socket of the selected pair)
// that drops, before any process wakes up, every datagram nobody on that socket could take: what is
// neither STUN (the magic cookie at byte 4: checks, keepalives, TURN's messages), TURN ChannelData or
// nat's path probes (first byte 0x40-0x7F), nor one of weft's datagrams with a length its type can have
// (lib/datagram.h). A flood of junk at the port then costs the kernel only; what passes is what nat and
// crypto check further (nat: types and sizes again, a rate per path for handshakes).
//
// Owns nothing: it attaches a classic BPF program (SO_ATTACH_FILTER) to the caller's socket.
#ifndef WEFT_UDP_GUARD_H
#define WEFT_UDP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Attaches the filter to fd (a UDP socket). Returns 0, or -1 with err filled.
int udp_guard_attach(int fd, char *err, size_t err_len);

// The same rule in C, for tests: true when the filter lets datagram (len bytes) through.
bool udp_guard_passes(const uint8_t *datagram, size_t len);

#endif
