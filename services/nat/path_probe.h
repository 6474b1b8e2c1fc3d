// path_probe.h — nat's own probe datagrams on a peer's ICE path: a ping that the other nat answers with
// a pong at once. They measure the path's round-trip time, keep NAT bindings open at nat.keepalive, and
// tell a dead path within seconds (libnice's keepalive timer is a fixed 25 s and its consent freshness,
// RFC 7675, gives up only after 30 s). They never reach crypto: crypto's datagram types are 1, 2 and 4
// (docs/protocol.md), these are 0x50 and 0x51.
//
//   offset 0  type: 0x50 ping, 0x51 pong
//          1  3 zero bytes
//          4  token (8 bytes): a random value of the pinging agent; a pong must carry it back
//         12  the pinging side's monotonic clock in µs (8 bytes, little-endian), echoed in the pong
//            (only the pinging side reads it: sub-millisecond round trips on a LAN)
// Exactly 20 bytes; anything else with these types is not a probe (and is dropped as crypto drops it).
#ifndef WEFT_NAT_PATH_PROBE_H
#define WEFT_NAT_PATH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PATH_PROBE_LEN 20
#define PATH_PROBE_PING 0x50
#define PATH_PROBE_PONG 0x51

typedef struct {
    uint8_t type;
    uint64_t token;
    int64_t sent_us;
} path_probe_t;

void path_probe_encode(const path_probe_t *probe, uint8_t out[PATH_PROBE_LEN]);
// True when buf is a well-formed probe (filled into *probe).
bool path_probe_decode(const uint8_t *buf, size_t len, path_probe_t *probe);
// True when buf's first byte says "probe" (so it is not for crypto), well-formed or not.
bool path_probe_is_probe_type(const uint8_t *buf, size_t len);

#endif
