// datagram.h — what weft puts on the wire between peers: the first byte of every datagram on a peer's
// path (docs/protocol.md). crypto's handshake, cookie and transport messages have types 1-4 followed by
// three zero bytes; nat's path probes are 0x50/0x51 (services/nat/path_probe.h). nat hands crypto only
// what datagram_for_crypto() accepts and drops (and counts) everything else, so nothing from the wire can
// pass for anything but a weft datagram.
#ifndef WEFT_DATAGRAM_H
#define WEFT_DATAGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    DATAGRAM_INITIATION = 1,
    DATAGRAM_RESPONSE = 2,
    DATAGRAM_COOKIE_REPLY = 3,
    DATAGRAM_TRANSPORT = 4,
};

#define DATAGRAM_HEADER_LEN 4   // type + 3 reserved zero bytes

// True when buf starts like one of crypto's datagrams: a known type and zero reserved bytes. crypto
// checks the rest (exact lengths, indexes, tags).
static inline bool datagram_for_crypto(const uint8_t *buf, size_t len)
{
    return len >= DATAGRAM_HEADER_LEN && buf[0] >= DATAGRAM_INITIATION && buf[0] <= DATAGRAM_TRANSPORT &&
           (buf[1] | buf[2] | buf[3]) == 0;
}

#endif
