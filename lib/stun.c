// stun.c — the STUN codec. See stun.h.
#include "stun.h"
#include "bytes.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FINGERPRINT_XOR 0x5354554eu


uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

void stun_new_txid(uint8_t txid[STUN_TXID_LEN])
{
    // sodium_init is idempotent and thread-safe: it makes the first randombytes call safe from any thread.
    // It cannot fail on Linux (getrandom), and randombytes_buf works even if it did.
    int ready = sodium_init();
    (void)ready;
    randombytes_buf(txid, STUN_TXID_LEN);
}

// --- building ---

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool overflow;
} builder_t;

static void builder_start(builder_t *b, uint8_t *out, size_t cap, uint16_t type, const uint8_t txid[STUN_TXID_LEN])
{
    b->buf = out;
    b->cap = cap;
    b->len = 0;
    b->overflow = cap < STUN_HEADER_LEN;
    if (b->overflow)
        return;
    be_put16(out, type);
    be_put16(out + 2, 0);
    be_put32(out + 4, STUN_MAGIC_COOKIE);
    memcpy(out + 8, txid, STUN_TXID_LEN);
    b->len = STUN_HEADER_LEN;
}

// Appends an attribute (padded to 4 bytes) and updates the header's length.
static uint8_t *builder_attr(builder_t *b, uint16_t type, const void *value, size_t value_len)
{
    size_t padded = (value_len + 3) & ~(size_t)3;
    if (b->overflow || value_len > 0xffff || b->len + 4 + padded > b->cap || b->len + 4 + padded > 0xffff + 20) {
        b->overflow = true;
        return NULL;
    }
    uint8_t *p = b->buf + b->len;
    be_put16(p, type);
    be_put16(p + 2, (uint16_t)value_len);
    if (value_len)
        memcpy(p + 4, value, value_len);
    memset(p + 4 + value_len, 0, padded - value_len);
    b->len += 4 + padded;
    be_put16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
    return p + 4;
}

static void builder_fingerprint(builder_t *b)
{
    uint8_t zero[4] = {0};
    // the length field must already count the FINGERPRINT attribute when the CRC is computed
    uint8_t *value = builder_attr(b, STUN_ATTR_FINGERPRINT, zero, 4);
    if (value)
        be_put32(value, stun_crc32(b->buf, b->len - 8) ^ FINGERPRINT_XOR);
}

// An address attribute value; xor with the cookie and txid for XOR-MAPPED-ADDRESS.
static size_t address_value(const stun_addr_t *a, bool xored, const uint8_t txid[STUN_TXID_LEN], uint8_t out[20])
{
    uint8_t mask[16];
    be_put32(mask, STUN_MAGIC_COOKIE);
    memcpy(mask + 4, txid, STUN_TXID_LEN);
    size_t addr_len = a->family == AF_INET6 ? 16 : 4;
    out[0] = 0;
    out[1] = a->family == AF_INET6 ? 0x02 : 0x01;
    be_put16(out + 2, xored ? (uint16_t)(a->port ^ (STUN_MAGIC_COOKIE >> 16)) : a->port);
    for (size_t i = 0; i < addr_len; i++)
        out[4 + i] = xored ? (uint8_t)(a->addr[i] ^ mask[i]) : a->addr[i];
    return 4 + addr_len;
}

static size_t builder_finish(builder_t *b) { return b->overflow ? 0 : b->len; }

size_t stun_build_binding_request(const stun_request_t *req, uint8_t *out, size_t cap)
{
    builder_t b;
    builder_start(&b, out, cap, STUN_BINDING_REQUEST, req->txid);
    if (req->change_flags) {
        uint8_t flags[4] = {0, 0, 0, (uint8_t)(req->change_flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT))};
        builder_attr(&b, STUN_ATTR_CHANGE_REQUEST, flags, sizeof flags);
    }
    if (req->software)
        builder_attr(&b, STUN_ATTR_SOFTWARE, req->software, strnlen(req->software, 763));
    if (req->fingerprint)
        builder_fingerprint(&b);
    return builder_finish(&b);
}

size_t stun_build_binding_response(const uint8_t txid[STUN_TXID_LEN], const stun_addr_t *mapped,
                                   const stun_addr_t *other, const char *software, uint8_t *out, size_t cap)
{
    builder_t b;
    builder_start(&b, out, cap, STUN_BINDING_SUCCESS, txid);
    uint8_t value[20];
    size_t n = address_value(mapped, true, txid, value);
    builder_attr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, value, n);
    n = address_value(mapped, false, txid, value);
    builder_attr(&b, STUN_ATTR_MAPPED_ADDRESS, value, n);
    if (other && other->family) {
        n = address_value(other, false, txid, value);
        builder_attr(&b, STUN_ATTR_OTHER_ADDRESS, value, n);
    }
    if (software)
        builder_attr(&b, STUN_ATTR_SOFTWARE, software, strnlen(software, 763));
    builder_fingerprint(&b);
    return builder_finish(&b);
}

size_t stun_build_binding_answer(const stun_message_t *request, const stun_addr_t *mapped, uint8_t *out, size_t cap)
{
    builder_t b;
    builder_start(&b, out, cap, STUN_BINDING_SUCCESS, request->txid);
    if (b.overflow)
        return 0;
    uint8_t value[20];
    size_t n;
    if (request->magic_cookie) {
        n = address_value(mapped, true, request->txid, value);
        builder_attr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, value, n);
    } else {
        be_put32(out + 4, request->cookie_word);   // RFC 3489: bytes 4..7 are the transaction id's first word
    }
    n = address_value(mapped, false, request->txid, value);
    builder_attr(&b, STUN_ATTR_MAPPED_ADDRESS, value, n);
    if (request->magic_cookie && request->has_fingerprint)
        builder_fingerprint(&b);
    return builder_finish(&b);
}

// --- decoding ---

bool stun_looks_like(const uint8_t *buf, size_t len)
{
    if (len < STUN_HEADER_LEN || (buf[0] & 0xc0) != 0)
        return false;
    uint16_t body = be_get16(buf + 2);
    return (body & 3) == 0 && (size_t)body + STUN_HEADER_LEN == len;
}

static int fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int decode_address(const uint8_t *v, size_t len, bool xored, const stun_message_t *msg, stun_addr_t *a)
{
    if (len < 4)
        return -1;
    uint8_t family = v[1];
    size_t addr_len = family == 0x01 ? 4 : family == 0x02 ? 16 : 0;
    if (addr_len == 0 || len != 4 + addr_len)
        return -1;
    uint8_t mask[16];
    be_put32(mask, STUN_MAGIC_COOKIE);
    memcpy(mask + 4, msg->txid, STUN_TXID_LEN);
    memset(a, 0, sizeof *a);
    a->family = family == 0x01 ? AF_INET : AF_INET6;
    a->port = be_get16(v + 2);
    if (xored)
        a->port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
    for (size_t i = 0; i < addr_len; i++)
        a->addr[i] = xored ? (uint8_t)(v[4 + i] ^ mask[i]) : v[4 + i];
    return 0;
}

// Copies printable text (control bytes become '?'), always terminated.
static void copy_text(char *out, size_t cap, const uint8_t *v, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (v[i] < 0x20 || v[i] == 0x7f) ? '?' : (char)v[i];
    out[n] = '\0';
}

int stun_decode(const uint8_t *buf, size_t len, stun_message_t *msg, char *err, size_t err_len)
{
    memset(msg, 0, sizeof *msg);
    if (!buf || len < STUN_HEADER_LEN)
        return fail(err, err_len, "too short for a STUN header (%u bytes)", (unsigned)len);
    if (buf[0] & 0xc0)
        return fail(err, err_len, "not STUN (first byte 0x%02x)", buf[0]);
    uint16_t body = be_get16(buf + 2);
    if (body & 3)
        return fail(err, err_len, "message length %u not a multiple of 4", body);
    if ((size_t)body + STUN_HEADER_LEN != len)
        return fail(err, err_len, "message length %u but %u bytes after the header", body,
                    (unsigned)(len - STUN_HEADER_LEN));
    msg->type = be_get16(buf);
    msg->cookie_word = be_get32(buf + 4);
    msg->magic_cookie = msg->cookie_word == STUN_MAGIC_COOKIE;
    memcpy(msg->txid, buf + 8, STUN_TXID_LEN);

    size_t off = STUN_HEADER_LEN;
    bool after_integrity = false;
    while (off < len) {
        if (len - off < 4)
            return fail(err, err_len, "truncated attribute header at offset %u", (unsigned)off);
        uint16_t type = be_get16(buf + off);
        size_t vlen = be_get16(buf + off + 2);
        size_t padded = (vlen + 3) & ~(size_t)3;
        if (padded > len - off - 4)
            return fail(err, err_len, "attribute 0x%04x of length %u runs past the message", type, (unsigned)vlen);
        const uint8_t *v = buf + off + 4;
        if (msg->has_fingerprint)
            return fail(err, err_len, "attribute 0x%04x after FINGERPRINT", type);
        // after MESSAGE-INTEGRITY only FINGERPRINT may follow (RFC 5389 15.4): others are ignored
        if (after_integrity && type != STUN_ATTR_FINGERPRINT) {
            off += 4 + padded;
            continue;
        }
        switch (type) {
        case STUN_ATTR_MAPPED_ADDRESS:
        case STUN_ATTR_SOURCE_ADDRESS:
        case STUN_ATTR_CHANGED_ADDRESS:
        case STUN_ATTR_RESPONSE_ORIGIN:
        case STUN_ATTR_OTHER_ADDRESS: {
            stun_addr_t *dst = type == STUN_ATTR_MAPPED_ADDRESS    ? &msg->mapped
                               : type == STUN_ATTR_SOURCE_ADDRESS  ? &msg->source_address
                               : type == STUN_ATTR_CHANGED_ADDRESS ? &msg->changed_address
                               : type == STUN_ATTR_RESPONSE_ORIGIN ? &msg->response_origin
                                                                   : &msg->other_address;
            if (decode_address(v, vlen, false, msg, dst) != 0)
                return fail(err, err_len, "bad address attribute 0x%04x (length %u)", type, (unsigned)vlen);
            break;
        }
        case STUN_ATTR_XOR_MAPPED_ADDRESS:
            if (!msg->magic_cookie)
                break;   // meaningless without the cookie it is xored with
            if (decode_address(v, vlen, true, msg, &msg->xor_mapped) != 0)
                return fail(err, err_len, "bad XOR-MAPPED-ADDRESS (length %u)", (unsigned)vlen);
            break;
        case STUN_ATTR_CHANGE_REQUEST:
            if (vlen != 4)
                return fail(err, err_len, "bad CHANGE-REQUEST (length %u)", (unsigned)vlen);
            msg->has_change_request = true;
            msg->change_flags = v[3] & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
            break;
        case STUN_ATTR_ERROR_CODE:
            if (vlen < 4)
                return fail(err, err_len, "bad ERROR-CODE (length %u)", (unsigned)vlen);
            msg->has_error = true;
            msg->error_code = (v[2] & 0x07) * 100 + v[3];
            copy_text(msg->error_reason, sizeof msg->error_reason, v + 4, vlen - 4);
            break;
        case STUN_ATTR_SOFTWARE:
            copy_text(msg->software, sizeof msg->software, v, vlen);
            break;
        case STUN_ATTR_MESSAGE_INTEGRITY:
            if (vlen != 20)
                return fail(err, err_len, "bad MESSAGE-INTEGRITY (length %u)", (unsigned)vlen);
            msg->has_integrity = true;
            after_integrity = true;
            break;
        case STUN_ATTR_FINGERPRINT: {
            if (vlen != 4)
                return fail(err, err_len, "bad FINGERPRINT (length %u)", (unsigned)vlen);
            // the CRC covers everything before this attribute, with the length field as sent
            uint32_t want = stun_crc32(buf, off) ^ FINGERPRINT_XOR;
            if (be_get32(v) != want)
                return fail(err, err_len, "FINGERPRINT mismatch (0x%08x, expected 0x%08x)", be_get32(v), want);
            msg->has_fingerprint = true;
            break;
        }
        default:
            if (type < 0x8000)
                msg->unknown_required++;
            break;
        }
        off += 4 + padded;
    }
    if (msg->type == STUN_BINDING_ERROR && !msg->has_error)
        return fail(err, err_len, "error response without ERROR-CODE");
    return 0;
}

const stun_addr_t *stun_mapped_address(const stun_message_t *msg)
{
    if (msg->xor_mapped.family)
        return &msg->xor_mapped;
    if (msg->mapped.family)
        return &msg->mapped;
    return NULL;
}

const stun_addr_t *stun_alternate_address(const stun_message_t *msg)
{
    if (msg->other_address.family)
        return &msg->other_address;
    if (msg->changed_address.family)
        return &msg->changed_address;
    return NULL;
}

// --- addresses ---

void stun_addr_from_sockaddr(stun_addr_t *a, const struct sockaddr_in *sin)
{
    memset(a, 0, sizeof *a);
    a->family = AF_INET;
    memcpy(a->addr, &sin->sin_addr, 4);
    a->port = ntohs(sin->sin_port);
}

int stun_addr_to_sockaddr(const stun_addr_t *a, struct sockaddr_in *sin)
{
    if (a->family != AF_INET)
        return -1;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, a->addr, 4);
    sin->sin_port = htons(a->port);
    return 0;
}

bool stun_addr_equal(const stun_addr_t *a, const stun_addr_t *b)
{
    if (a->family != b->family || a->port != b->port)
        return false;
    return memcmp(a->addr, b->addr, a->family == AF_INET6 ? 16 : 4) == 0;
}

void stun_addr_to_text(const stun_addr_t *a, char out[STUN_ADDR_TEXT])
{
    char ip[INET6_ADDRSTRLEN] = "";
    out[0] = '\0';
    if (a->family == AF_INET) {
        inet_ntop(AF_INET, a->addr, ip, sizeof ip);
        snprintf(out, STUN_ADDR_TEXT, "%s:%u", ip, a->port);
    } else if (a->family == AF_INET6) {
        inet_ntop(AF_INET6, a->addr, ip, sizeof ip);
        snprintf(out, STUN_ADDR_TEXT, "[%s]:%u", ip, a->port);
    }
}
