// datagram.h — what weft puts on the wire between peers: the first byte of every datagram on a peer's
// path and the exact sizes of crypto's datagrams (docs/protocol.md). crypto's handshake, cookie and
// transport messages have types 1-4 followed by three zero bytes; nat's path probes are 0x50/0x51
// (services/nat/path_probe.h). nat hands crypto only what datagram_for_crypto() accepts and drops (and
// counts) everything else, so nothing from the wire can pass for anything but a weft datagram, and a
// flood of wrong-sized "handshakes" never costs crypto a message. crypto's decoder
// (services/crypto/crypto_wire.c) applies the same check before it reads any field.
#ifndef WEFT_DATAGRAM_H
#define WEFT_DATAGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "noise.h"
#include "ratelimit.h"

enum {
    DATAGRAM_INITIATION = 1,
    DATAGRAM_RESPONSE = 2,
    DATAGRAM_COOKIE_REPLY = 3,
    DATAGRAM_TRANSPORT = 4,
};

#define DATAGRAM_HEADER_LEN 4   // type + 3 reserved zero bytes
#define DATAGRAM_MACS_LEN 32    // mac1 || mac2 at the end of both handshake messages
// header + sender index, Noise message 1, TAI64N timestamp, macs: 148 bytes
#define DATAGRAM_INITIATION_LEN (8 + NOISE_MSG1_OVERHEAD + 12 + DATAGRAM_MACS_LEN)
// header + sender and receiver index, Noise message 2, macs: 92 bytes
#define DATAGRAM_RESPONSE_LEN (12 + NOISE_MSG2_OVERHEAD + DATAGRAM_MACS_LEN)
// In a mesh with certificates both handshake messages carry the sender's certificate (314 and 258 bytes).
#define DATAGRAM_INITIATION_CERT_LEN (DATAGRAM_INITIATION_LEN + CERT_LEN)
#define DATAGRAM_RESPONSE_CERT_LEN (DATAGRAM_RESPONSE_LEN + CERT_LEN)
// header + receiver index, nonce (24), encrypted cookie (16) and its tag (16): 64 bytes
#define DATAGRAM_COOKIE_REPLY_LEN (8 + 24 + 16 + 16)
// header + receiver index + counter, then ciphertext and a 16-byte tag: at least 32 bytes
#define DATAGRAM_TRANSPORT_MIN_LEN (16 + 16)

// True when buf is shaped like one of crypto's datagrams: a known type, zero reserved bytes and a length
// that type can have. crypto checks the rest (indexes, macs, tags).
static inline bool datagram_for_crypto(const uint8_t *buf, size_t len)
{
    if (len < DATAGRAM_HEADER_LEN || (buf[1] | buf[2] | buf[3]) != 0)
        return false;
    switch (buf[0]) {
    case DATAGRAM_INITIATION: return len == DATAGRAM_INITIATION_LEN || len == DATAGRAM_INITIATION_CERT_LEN;
    case DATAGRAM_RESPONSE: return len == DATAGRAM_RESPONSE_LEN || len == DATAGRAM_RESPONSE_CERT_LEN;
    case DATAGRAM_COOKIE_REPLY: return len == DATAGRAM_COOKIE_REPLY_LEN;
    case DATAGRAM_TRANSPORT: return len >= DATAGRAM_TRANSPORT_MIN_LEN;
    default: return false;
    }
}

// At most this many handshake datagrams (initiations, responses, cookie replies) a second (burst
// DATAGRAM_PATH_HANDSHAKES_BURST) from one peer's path reach crypto's session table: it does at most 50
// Diffie-Hellmans a second per member and sends at most 10 cookie replies a second on a member's path, so
// more is a flood, dropped where it is read (crypto's direct path, nat's agent) before it costs the loop
// that is also the data plane. Transport datagrams are never limited here.
#define DATAGRAM_PATH_HANDSHAKES_PER_S 50
#define DATAGRAM_PATH_HANDSHAKES_BURST 20

// True when datagram (one datagram_for_crypto accepted) may go on to crypto's session table: a transport
// datagram, or a handshake datagram within the path's rate (limit, the path's bucket).
static inline bool datagram_path_allows(rate_limit_t *limit, const uint8_t *datagram, int64_t now_ms)
{
    return datagram[0] == DATAGRAM_TRANSPORT ||
           rate_limit_allow(limit, DATAGRAM_PATH_HANDSHAKES_PER_S, DATAGRAM_PATH_HANDSHAKES_BURST, now_ms);
}

#endif
