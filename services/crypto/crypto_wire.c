// crypto_wire.c — see crypto_wire.h. Integers in headers are little-endian (as in WireGuard), the
// TAI64N timestamp is big-endian (so that it compares with memcmp).
#include "crypto_wire.h"

#include <string.h>

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64le(const uint8_t *p)
{
    return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}

static void put_header(uint8_t *out, uint8_t type)
{
    out[0] = type;
    out[1] = out[2] = out[3] = 0;
}

int crypto_datagram_decode(const uint8_t *buf, size_t len, crypto_datagram_t *out)
{
    if (!buf || !datagram_for_crypto(buf, len))   // type, reserved bytes and exact sizes
        return -1;
    crypto_datagram_t d = {.type = buf[0]};
    switch (d.type) {
    case CRYPTO_MSG_INITIATION:
        d.sender_index = get_u32le(buf + 4);
        d.body = buf + CRYPTO_INITIATION_HEADER_LEN;
        d.body_len = len - CRYPTO_INITIATION_HEADER_LEN - CRYPTO_MACS_LEN;
        break;
    case CRYPTO_MSG_RESPONSE:
        d.sender_index = get_u32le(buf + 4);
        d.receiver_index = get_u32le(buf + 8);
        d.body = buf + CRYPTO_RESPONSE_HEADER_LEN;
        d.body_len = len - CRYPTO_RESPONSE_HEADER_LEN - CRYPTO_MACS_LEN;
        break;
    case CRYPTO_MSG_COOKIE_REPLY:
        d.receiver_index = get_u32le(buf + 4);
        d.body = buf + CRYPTO_COOKIE_HEADER_LEN;
        d.body_len = len - CRYPTO_COOKIE_HEADER_LEN;
        break;
    default:   // CRYPTO_MSG_TRANSPORT
        d.receiver_index = get_u32le(buf + 4);
        d.counter = get_u64le(buf + 8);
        d.body = buf + CRYPTO_TRANSPORT_HEADER_LEN;
        d.body_len = len - CRYPTO_TRANSPORT_HEADER_LEN;
        break;
    }
    *out = d;
    return 0;
}

size_t crypto_write_initiation_header(uint8_t *out, uint32_t sender_index)
{
    put_header(out, CRYPTO_MSG_INITIATION);
    put_u32le(out + 4, sender_index);
    return CRYPTO_INITIATION_HEADER_LEN;
}

size_t crypto_write_response_header(uint8_t *out, uint32_t sender_index, uint32_t receiver_index)
{
    put_header(out, CRYPTO_MSG_RESPONSE);
    put_u32le(out + 4, sender_index);
    put_u32le(out + 8, receiver_index);
    return CRYPTO_RESPONSE_HEADER_LEN;
}

size_t crypto_write_cookie_header(uint8_t *out, uint32_t receiver_index)
{
    put_header(out, CRYPTO_MSG_COOKIE_REPLY);
    put_u32le(out + 4, receiver_index);
    return CRYPTO_COOKIE_HEADER_LEN;
}

size_t crypto_write_transport_header(uint8_t *out, uint32_t receiver_index, uint64_t counter)
{
    put_header(out, CRYPTO_MSG_TRANSPORT);
    put_u32le(out + 4, receiver_index);
    put_u64le(out + 8, counter);
    return CRYPTO_TRANSPORT_HEADER_LEN;
}

void crypto_tai64n(int64_t unix_ns, uint8_t out[CRYPTO_TAI64N_LEN])
{
    if (unix_ns < 0)
        unix_ns = 0;
    uint64_t seconds = ((uint64_t)1 << 62) + (uint64_t)(unix_ns / 1000000000);
    uint32_t nanos = (uint32_t)(unix_ns % 1000000000);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(seconds >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(nanos >> (24 - 8 * i));
}
