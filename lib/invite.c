// invite.c — see invite.h.
#include "invite.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base32.h"

static const char invite_context[] = "weft-invite-v1";

static bool printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static int check_fields(const invite_t *inv, char *err, size_t err_len)
{
    size_t name_len = strnlen(inv->mesh_name, sizeof inv->mesh_name);
    if (name_len == 0 || name_len > INVITE_MAX_NAME || !printable(inv->mesh_name, name_len)) {
        snprintf(err, err_len, "invite: mesh name must be 1..%d printable characters", INVITE_MAX_NAME);
        return -1;
    }
    if (inv->hub_count < 1 || inv->hub_count > INVITE_MAX_HUBS) {
        snprintf(err, err_len, "invite: %u hub endpoints, want 1..%d", inv->hub_count, INVITE_MAX_HUBS);
        return -1;
    }
    for (int i = 0; i < inv->hub_count; i++) {
        size_t len = strnlen(inv->hubs[i], sizeof inv->hubs[i]);
        if (len == 0 || len > INVITE_MAX_ENDPOINT || !printable(inv->hubs[i], len)) {
            snprintf(err, err_len, "invite: hub endpoint %d must be 1..%d printable characters", i + 1,
                     INVITE_MAX_ENDPOINT);
            return -1;
        }
    }
    if (inv->max_uses == 0) {
        snprintf(err, err_len, "invite: max uses must be at least 1");
        return -1;
    }
    return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

// Everything before the signature. out must hold INVITE_MAX_BYTES. Returns the length.
static size_t encode_signed(const invite_t *inv, uint8_t *out)
{
    uint8_t *p = out;
    *p++ = inv->version;
    memcpy(p, inv->mesh_id, MESH_ID_LEN), p += MESH_ID_LEN;
    size_t name_len = strnlen(inv->mesh_name, sizeof inv->mesh_name);
    *p++ = (uint8_t)name_len;
    memcpy(p, inv->mesh_name, name_len), p += name_len;
    *p++ = inv->hub_count;
    for (int i = 0; i < inv->hub_count; i++) {
        size_t len = strnlen(inv->hubs[i], sizeof inv->hubs[i]);
        *p++ = (uint8_t)len;
        memcpy(p, inv->hubs[i], len), p += len;
    }
    memcpy(p, inv->hub_key, 32), p += 32;
    put_u64(p, inv->expires), p += 8;
    *p++ = (uint8_t)(inv->max_uses >> 8);
    *p++ = (uint8_t)inv->max_uses;
    memcpy(p, inv->nonce, INVITE_NONCE_LEN), p += INVITE_NONCE_LEN;
    memcpy(p, inv->admin_key, 32), p += 32;
    return (size_t)(p - out);
}

static void signed_message(const uint8_t *body, size_t len, uint8_t *msg, size_t *msg_len)
{
    size_t clen = sizeof invite_context - 1;
    memcpy(msg, invite_context, clen);
    memcpy(msg + clen, body, len);
    *msg_len = clen + len;
}

void invite_new_nonce(invite_t *inv)
{
    if (sodium_init() < 0)
        return;
    randombytes_buf(inv->nonce, sizeof inv->nonce);
}

int invite_sign(invite_t *inv, const identity_t *admin, char *err, size_t err_len)
{
    if (sodium_init() < 0) {
        snprintf(err, err_len, "libsodium failed to initialise");
        return -1;
    }
    if (check_fields(inv, err, err_len) != 0)
        return -1;
    inv->version = INVITE_VERSION;
    memcpy(inv->admin_key, admin->public_key, 32);
    uint8_t body[INVITE_MAX_BYTES];
    uint8_t msg[sizeof invite_context + INVITE_MAX_BYTES];
    size_t msg_len;
    signed_message(body, encode_signed(inv, body), msg, &msg_len);
    crypto_sign_detached(inv->signature, NULL, msg, msg_len, admin->secret_key);
    return 0;
}

int invite_pack(const invite_t *inv, uint8_t *out, size_t out_len, char *err, size_t err_len)
{
    if (check_fields(inv, err, err_len) != 0)
        return -1;
    uint8_t buf[INVITE_MAX_BYTES];
    size_t n = encode_signed(inv, buf);
    memcpy(buf + n, inv->signature, 64), n += 64;
    crypto_generichash(buf + n, 4, buf, n, NULL, 0);   // BLAKE2b, truncated to 4 bytes
    n += 4;
    if (n > out_len) {
        snprintf(err, err_len, "invite: %zu bytes do not fit in %zu", n, out_len);
        return -1;
    }
    memcpy(out, buf, n);
    return (int)n;
}

// A reader over the binary form that fails once it would run past the end.
typedef struct {
    const uint8_t *p;
    size_t left;
    bool short_read;
} reader_t;

static const uint8_t *take(reader_t *r, size_t n)
{
    if (r->short_read || n > r->left) {
        r->short_read = true;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static int take_u8(reader_t *r)
{
    const uint8_t *b = take(r, 1);
    return b ? *b : -1;
}

static int truncated(char *err, size_t err_len)
{
    snprintf(err, err_len, "invite code is cut short: copy all of it");
    return -1;
}

int invite_unpack(const uint8_t *data, size_t len, invite_t *inv, char *err, size_t err_len)
{
    memset(inv, 0, sizeof *inv);
    if (sodium_init() < 0) {
        snprintf(err, err_len, "libsodium failed to initialise");
        return -1;
    }
    reader_t r = {data, data ? len : 0, false};
    int version = take_u8(&r);
    if (version < 0)
        return truncated(err, err_len);
    if (version != INVITE_VERSION) {
        snprintf(err, err_len, "invite version %d is not supported by this weft (want %d)", version,
                 INVITE_VERSION);
        return -1;
    }
    inv->version = (uint8_t)version;
    const uint8_t *b = take(&r, MESH_ID_LEN);
    if (!b)
        return truncated(err, err_len);
    memcpy(inv->mesh_id, b, MESH_ID_LEN);

    int name_len = take_u8(&r);
    if (name_len < 0)
        return truncated(err, err_len);
    if (name_len == 0 || name_len > INVITE_MAX_NAME) {
        snprintf(err, err_len, "invite code is damaged: mesh name length %d is not 1..%d", name_len,
                 INVITE_MAX_NAME);
        return -1;
    }
    if (!(b = take(&r, (size_t)name_len)))
        return truncated(err, err_len);
    memcpy(inv->mesh_name, b, (size_t)name_len);
    if (!printable(inv->mesh_name, (size_t)name_len)) {
        snprintf(err, err_len, "invite code is damaged: mesh name is not printable");
        return -1;
    }

    int hubs = take_u8(&r);
    if (hubs < 0)
        return truncated(err, err_len);
    if (hubs < 1 || hubs > INVITE_MAX_HUBS) {
        snprintf(err, err_len, "invite code is damaged: %d hub endpoints, want 1..%d", hubs, INVITE_MAX_HUBS);
        return -1;
    }
    inv->hub_count = (uint8_t)hubs;
    for (int i = 0; i < hubs; i++) {
        int hlen = take_u8(&r);
        if (hlen < 0)
            return truncated(err, err_len);
        if (hlen == 0) {
            snprintf(err, err_len, "invite code is damaged: hub endpoint %d is empty", i + 1);
            return -1;
        }
        if (!(b = take(&r, (size_t)hlen)))
            return truncated(err, err_len);
        memcpy(inv->hubs[i], b, (size_t)hlen);
        if (!printable(inv->hubs[i], (size_t)hlen)) {
            snprintf(err, err_len, "invite code is damaged: hub endpoint %d is not printable", i + 1);
            return -1;
        }
    }
    if (!(b = take(&r, 32)))
        return truncated(err, err_len);
    memcpy(inv->hub_key, b, 32);
    if (!(b = take(&r, 8)))
        return truncated(err, err_len);
    inv->expires = get_u64(b);
    if (!(b = take(&r, 2)))
        return truncated(err, err_len);
    inv->max_uses = (uint16_t)(b[0] << 8 | b[1]);
    if (!(b = take(&r, INVITE_NONCE_LEN)))
        return truncated(err, err_len);
    memcpy(inv->nonce, b, INVITE_NONCE_LEN);
    if (!(b = take(&r, 32)))
        return truncated(err, err_len);
    memcpy(inv->admin_key, b, 32);
    size_t signed_len = (size_t)(r.p - data);
    if (!(b = take(&r, 64)))
        return truncated(err, err_len);
    memcpy(inv->signature, b, 64);
    const uint8_t *checksum = take(&r, 4);
    if (!checksum)
        return truncated(err, err_len);
    if (r.left != 0) {
        snprintf(err, err_len, "invite code has %zu bytes too many: copy exactly the code", r.left);
        return -1;
    }

    uint8_t want[4];
    crypto_generichash(want, sizeof want, data, signed_len + 64, NULL, 0);
    if (memcmp(want, checksum, 4) != 0) {
        snprintf(err, err_len, "invite code has a typo (checksum mismatch): copy it again");
        return -1;
    }
    if (inv->max_uses == 0) {
        snprintf(err, err_len, "invite code allows no uses");
        return -1;
    }
    uint8_t msg[sizeof invite_context + INVITE_MAX_BYTES];
    size_t msg_len;
    signed_message(data, signed_len, msg, &msg_len);
    if (crypto_sign_verify_detached(inv->signature, msg, msg_len, inv->admin_key) != 0) {
        snprintf(err, err_len, "invite code's signature does not verify: it was not made by the mesh admin "
                               "it names");
        return -1;
    }
    return 0;
}

int invite_encode(const invite_t *inv, char *out, size_t out_len, char *err, size_t err_len)
{
    uint8_t bytes[INVITE_MAX_BYTES];
    int n = invite_pack(inv, bytes, sizeof bytes, err, err_len);
    if (n < 0)
        return -1;
    size_t plen = sizeof INVITE_PREFIX - 1;
    if (out_len < plen + BASE32_ENCODED_LEN((size_t)n) + 1) {
        snprintf(err, err_len, "invite: code does not fit in %zu characters", out_len);
        return -1;
    }
    memcpy(out, INVITE_PREFIX, plen);
    if (base32_encode(bytes, (size_t)n, out + plen, out_len - plen) < 0) {
        snprintf(err, err_len, "invite: base32 encoding failed");
        return -1;
    }
    return 0;
}

int invite_decode(const char *code, invite_t *inv, char *err, size_t err_len)
{
    memset(inv, 0, sizeof *inv);
    if (!code) {
        snprintf(err, err_len, "no invite code");
        return -1;
    }
    while (*code == ' ' || *code == '\t' || *code == '\r' || *code == '\n')
        code++;
    size_t len = strlen(code);
    while (len > 0 && strchr(" \t\r\n", code[len - 1]))
        len--;
    size_t plen = sizeof INVITE_PREFIX - 1;
    if (len < plen || strncasecmp(code, INVITE_PREFIX, plen) != 0) {
        if (len >= 4 && strncasecmp(code, "weft", 4) == 0 && len > 5 && code[5] == '-')
            snprintf(err, err_len, "invite code version '%.*s' is not supported by this weft (want '%s')", 5,
                     code, INVITE_PREFIX);
        else
            snprintf(err, err_len, "not a weft invite code (it starts with '%s')", INVITE_PREFIX);
        return -1;
    }
    if (len - plen > INVITE_MAX_CODE) {
        snprintf(err, err_len, "invite code is too long (%zu characters): copy exactly the code", len);
        return -1;
    }
    uint8_t bytes[INVITE_MAX_BYTES + 8];
    size_t bad = 0;
    int n = base32_decode(code + plen, len - plen, bytes, sizeof bytes, &bad);
    if (n < 0) {
        char c = code[plen + bad];
        if (bad < len - plen && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '2' || c > '7') &&
            c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            if (c >= 0x20 && c < 0x7f)
                snprintf(err, err_len, "invite code has a typo: '%c' (character %zu) cannot be in a code: copy "
                                       "it again", c, plen + bad + 1);
            else
                snprintf(err, err_len, "invite code has a typo: character %zu cannot be in a code: copy it again",
                         plen + bad + 1);
        } else {
            snprintf(err, err_len, "invite code is cut short or has extra characters: copy it again");
        }
        return -1;
    }
    return invite_unpack(bytes, (size_t)n, inv, err, err_len);
}

void invite_format_duration(uint64_t s, char *out, size_t out_len)
{
    if (s < 120)
        snprintf(out, out_len, "%" PRIu64 " s", s);
    else if (s < 2 * 3600)
        snprintf(out, out_len, "%" PRIu64 " min", s / 60);
    else if (s < 2 * 86400)
        snprintf(out, out_len, "%" PRIu64 " h", s / 3600);
    else
        snprintf(out, out_len, "%" PRIu64 " d", s / 86400);
}

int invite_check_expiry(const invite_t *inv, uint64_t now, char *err, size_t err_len)
{
    if (now < inv->expires)
        return 0;
    char ago[32];
    invite_format_duration(now - inv->expires, ago, sizeof ago);
    snprintf(err, err_len, "invite expired %s ago: ask for a new one with `weft mesh invite`", ago);
    return -1;
}
