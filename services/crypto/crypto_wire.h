// crypto_wire.h — the datagrams weft-crypto exchanges with its peers (through nat): the WireGuard-like
// framing around the Noise handshake messages and transport packets. Encoding and strict decoding only;
// no keys, no state. The formats are documented in docs/protocol.md.
#ifndef WEFT_CRYPTO_WIRE_H
#define WEFT_CRYPTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "cookie.h"
#include "datagram.h"
#include "noise.h"

enum {
    CRYPTO_MSG_INITIATION = 1,
    CRYPTO_MSG_RESPONSE = 2,
    CRYPTO_MSG_COOKIE_REPLY = 3,
    CRYPTO_MSG_TRANSPORT = 4,
};

#define CRYPTO_TAI64N_LEN 12
#define CRYPTO_INITIATION_HEADER_LEN 8      // type, 3 zero, sender_index
#define CRYPTO_RESPONSE_HEADER_LEN 12       // type, 3 zero, sender_index, receiver_index
#define CRYPTO_TRANSPORT_HEADER_LEN 16      // type, 3 zero, receiver_index, counter
#define CRYPTO_COOKIE_HEADER_LEN 8          // type, 3 zero, receiver_index
// Handshake messages end with mac1 and mac2 (cookie.h), 16 bytes each, after the Noise message.
#define CRYPTO_MACS_LEN COOKIE_MACS_LEN
#define CRYPTO_INITIATION_LEN (CRYPTO_INITIATION_HEADER_LEN + NOISE_MSG1_OVERHEAD + CRYPTO_TAI64N_LEN + CRYPTO_MACS_LEN)
#define CRYPTO_RESPONSE_LEN (CRYPTO_RESPONSE_HEADER_LEN + NOISE_MSG2_OVERHEAD + CRYPTO_MACS_LEN)
#define CRYPTO_COOKIE_REPLY_LEN (CRYPTO_COOKIE_HEADER_LEN + COOKIE_REPLY_BODY_LEN)
#define CRYPTO_TRANSPORT_OVERHEAD (CRYPTO_TRANSPORT_HEADER_LEN + TRANSPORT_TAG_LEN)
// In a mesh with certificates (mesh.id set) both handshake messages carry the sender's encoded
// membership certificate (lib/cert.h) in their Noise payload: after the timestamp in the initiation,
// as the whole payload of the response.
#define CRYPTO_CERT_LEN CERT_LEN
#define CRYPTO_INITIATION_CERT_LEN (CRYPTO_INITIATION_LEN + CRYPTO_CERT_LEN)
#define CRYPTO_RESPONSE_CERT_LEN (CRYPTO_RESPONSE_LEN + CRYPTO_CERT_LEN)
// nat filters by lib/datagram.h's sizes before anything reaches crypto: they must be these.
_Static_assert(CRYPTO_INITIATION_LEN == DATAGRAM_INITIATION_LEN && CRYPTO_RESPONSE_LEN == DATAGRAM_RESPONSE_LEN &&
                   CRYPTO_INITIATION_CERT_LEN == DATAGRAM_INITIATION_CERT_LEN &&
                   CRYPTO_RESPONSE_CERT_LEN == DATAGRAM_RESPONSE_CERT_LEN &&
                   CRYPTO_COOKIE_REPLY_LEN == DATAGRAM_COOKIE_REPLY_LEN &&
                   CRYPTO_TRANSPORT_OVERHEAD == DATAGRAM_TRANSPORT_MIN_LEN && CRYPTO_MACS_LEN == DATAGRAM_MACS_LEN,
               "lib/datagram.h and crypto_wire.h disagree on a datagram's size");

// A decoded datagram. body points into the decoded buffer: the Noise message without the MACs (types 1,
// 2), nonce || encrypted cookie (type 3) or ciphertext || tag (type 4).
typedef struct {
    uint8_t type;
    uint32_t sender_index;      // types 1, 2
    uint32_t receiver_index;    // types 2, 3, 4
    uint64_t counter;           // type 4
    const uint8_t *body;
    size_t body_len;
} crypto_datagram_t;

// Checks and splits a datagram: known type, zero reserved bytes, exact length for handshake messages
// (with or without a certificate) and cookie replies, room for a tag in a transport message. Returns 0, or -1 (out untouched) for anything else.
int crypto_datagram_decode(const uint8_t *buf, size_t len, crypto_datagram_t *out);

// Header writers; each returns the header length written at out.
size_t crypto_write_initiation_header(uint8_t *out, uint32_t sender_index);
size_t crypto_write_response_header(uint8_t *out, uint32_t sender_index, uint32_t receiver_index);
size_t crypto_write_cookie_header(uint8_t *out, uint32_t receiver_index);
size_t crypto_write_transport_header(uint8_t *out, uint32_t receiver_index, uint64_t counter);

// TAI64N label of a wall-clock time in nanoseconds since the Unix epoch: 8 bytes big-endian seconds
// + 2^62, 4 bytes big-endian nanoseconds. Later times compare greater with memcmp.
void crypto_tai64n(int64_t unix_ns, uint8_t out[CRYPTO_TAI64N_LEN]);

#endif
