// invite.c — see invite.h.
#include "invite.h"
#include "bytes.h"

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
    be_put64(p, inv->expires), p += 8;
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

// The last 4 bytes are the BLAKE2b checksum of the others.
static bool checksum_ok(const uint8_t *data, size_t len)
{
    if (!data || len < 4)
        return false;
    uint8_t want[4];
    crypto_generichash(want, sizeof want, data, len - 4, NULL, 0);
    return memcmp(want, data + len - 4, 4) == 0;
}

static const char typo_message[] = "invite code has a typo (checksum mismatch): copy it again";

// A structural problem: if the checksum does not match either, a typo or a cut is the likelier cause.
static int damaged(const uint8_t *data, size_t len, const char *what, char *err, size_t err_len)
{
    if (checksum_ok(data, len))
        snprintf(err, err_len, "invite code is damaged: %s", what);
    else
        snprintf(err, err_len, "invite code has a typo or is cut short (checksum mismatch): copy all of it again");
    return -1;
}

// Reads the fields (lengths and counts only; their contents are checked after the checksum).
// Returns NULL, or what is wrong.
static const char *read_fields(reader_t *r, invite_t *inv, size_t *signed_len, const uint8_t *data)
{
    const uint8_t *b;
    (void)take_u8(r);   // version, checked by the caller
    if (!(b = take(r, MESH_ID_LEN)))
        return "it is cut short";
    memcpy(inv->mesh_id, b, MESH_ID_LEN);
    int name_len = take_u8(r);
    if (name_len == 0 || name_len > INVITE_MAX_NAME)
        return "the mesh name's length is not 1..63";
    if (name_len < 0 || !(b = take(r, (size_t)name_len)))
        return "it is cut short";
    memcpy(inv->mesh_name, b, (size_t)name_len);
    int hubs = take_u8(r);
    if (hubs == 0 || hubs > INVITE_MAX_HUBS)
        return "the hub count is not 1..4";
    if (hubs < 0)
        return "it is cut short";
    inv->hub_count = (uint8_t)hubs;
    for (int i = 0; i < hubs; i++) {
        int hlen = take_u8(r);
        if (hlen == 0)
            return "a hub endpoint is empty";
        if (hlen < 0 || !(b = take(r, (size_t)hlen)))
            return "it is cut short";
        memcpy(inv->hubs[i], b, (size_t)hlen);
    }
    if (!(b = take(r, 32)))
        return "it is cut short";
    memcpy(inv->hub_key, b, 32);
    if (!(b = take(r, 8)))
        return "it is cut short";
    inv->expires = be_get64(b);
    if (!(b = take(r, 2)))
        return "it is cut short";
    inv->max_uses = (uint16_t)(b[0] << 8 | b[1]);
    if (!(b = take(r, INVITE_NONCE_LEN)))
        return "it is cut short";
    memcpy(inv->nonce, b, INVITE_NONCE_LEN);
    if (!(b = take(r, 32)))
        return "it is cut short";
    memcpy(inv->admin_key, b, 32);
    *signed_len = (size_t)(r->p - data);
    if (!(b = take(r, 64)))
        return "it is cut short";
    memcpy(inv->signature, b, 64);
    if (!take(r, 4))
        return "it is cut short";
    if (r->left != 0)
        return "it has bytes after the checksum";
    return NULL;
}

int invite_unpack(const uint8_t *data, size_t len, invite_t *inv, char *err, size_t err_len)
{
    memset(inv, 0, sizeof *inv);
    if (sodium_init() < 0) {
        snprintf(err, err_len, "libsodium failed to initialise");
        return -1;
    }
    if (!data || len == 0) {
        snprintf(err, err_len, "invite code is empty after its prefix: copy all of it");
        return -1;
    }
    // 1. version (a different version with a good checksum is a code from another weft)
    if (data[0] != INVITE_VERSION) {
        if (checksum_ok(data, len))
            snprintf(err, err_len, "invite version %u is not supported by this weft (want %d)", data[0],
                     INVITE_VERSION);
        else
            snprintf(err, err_len, "%s", typo_message);
        return -1;
    }
    inv->version = INVITE_VERSION;
    // 2. lengths and counts
    reader_t r = {data, len, false};
    size_t signed_len = 0;
    const char *problem = read_fields(&r, inv, &signed_len, data);
    if (problem) {
        damaged(data, len, problem, err, err_len);
        memset(inv, 0, sizeof *inv);
        return -1;
    }
    // 3. checksum
    if (!checksum_ok(data, len)) {
        snprintf(err, err_len, "%s", typo_message);
        memset(inv, 0, sizeof *inv);
        return -1;
    }
    // 4. field contents
    char why[128];
    if (check_fields(inv, why, sizeof why) != 0) {
        snprintf(err, err_len, "invite code is damaged: %s", why + strlen("invite: "));
        memset(inv, 0, sizeof *inv);
        return -1;
    }
    // 5. signature
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
            snprintf(err, err_len, "invite code has a typo or is cut short (it is not whole base32): copy all of "
                                   "it again");
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

static const char join_context[] = "weft-join-v1";

static size_t join_message(const uint8_t mesh_id[MESH_ID_LEN], const uint8_t key[32],
                           const uint8_t nonce[INVITE_NONCE_LEN], uint8_t *msg)
{
    size_t n = sizeof join_context - 1;
    memcpy(msg, join_context, n);
    memcpy(msg + n, mesh_id, MESH_ID_LEN);
    memcpy(msg + n + MESH_ID_LEN, key, 32);
    memcpy(msg + n + MESH_ID_LEN + 32, nonce, INVITE_NONCE_LEN);
    return n + MESH_ID_LEN + 32 + INVITE_NONCE_LEN;
}

void invite_join_sign(const identity_t *joiner, const uint8_t mesh_id[MESH_ID_LEN],
                      const uint8_t nonce[INVITE_NONCE_LEN], uint8_t sig[INVITE_JOIN_SIG_LEN])
{
    uint8_t msg[sizeof join_context + MESH_ID_LEN + 32 + INVITE_NONCE_LEN];
    size_t len = join_message(mesh_id, joiner->public_key, nonce, msg);
    crypto_sign_detached(sig, NULL, msg, len, joiner->secret_key);
}

int invite_join_verify(const uint8_t joiner_key[32], const uint8_t mesh_id[MESH_ID_LEN],
                       const uint8_t nonce[INVITE_NONCE_LEN], const uint8_t *sig, size_t sig_len)
{
    uint8_t msg[sizeof join_context + MESH_ID_LEN + 32 + INVITE_NONCE_LEN];
    if (!sig || sig_len != INVITE_JOIN_SIG_LEN)
        return -1;
    size_t len = join_message(mesh_id, joiner_key, nonce, msg);
    return crypto_sign_verify_detached(sig, msg, len, joiner_key) == 0 ? 0 : -1;
}

int invite_check_cert_request(const invite_policy_t *policy, const uint8_t *invite, size_t invite_len,
                              const uint8_t member_key[32], const uint8_t *joiner_sig, size_t sig_len,
                              uint32_t address, int prefix, uint64_t hub_expires, uint64_t *expires, char *err,
                              size_t err_len)
{
    invite_t inv;
    char why[200];
    if (!invite || invite_len == 0) {
        snprintf(err, err_len, "the request carries no invite");
        return -1;
    }
    if (invite_unpack(invite, invite_len, &inv, why, sizeof why) != 0) {
        snprintf(err, err_len, "the invite does not decode: %s", why);
        return -1;
    }
    if (sodium_memcmp(inv.admin_key, policy->admin_key, 32) != 0) {
        snprintf(err, err_len, "the invite is not signed by this admin");
        return -1;
    }
    if (memcmp(inv.mesh_id, policy->mesh_id, MESH_ID_LEN) != 0) {
        snprintf(err, err_len, "the invite is for another mesh");
        return -1;
    }
    if (inv.expires + 60 < policy->now) {
        snprintf(err, err_len, "the invite expired %llu s ago", (unsigned long long)(policy->now - inv.expires));
        return -1;
    }
    if (invite_join_verify(member_key, inv.mesh_id, inv.nonce, joiner_sig, sig_len) != 0) {
        snprintf(err, err_len, "the joiner's signature is missing or not by the member key");
        return -1;
    }
    uint32_t mask = policy->prefix > 0 ? 0xffffffffu << (32 - policy->prefix) : 0;
    if (prefix != policy->prefix || (address & mask) != (policy->network & mask) || address == policy->own_address ||
        (address & ~mask) == 0 || (address & ~mask) == ~mask) {
        snprintf(err, err_len, "the address is not a free host address of this mesh's network");
        return -1;
    }
    uint64_t longest = policy->now + (uint64_t)(policy->max_days ? policy->max_days : 365) * 86400;
    if (hub_expires != 0 && hub_expires <= policy->now) {
        snprintf(err, err_len, "the hub asks for a certificate that has already expired");
        return -1;
    }
    *expires = hub_expires != 0 && hub_expires < longest ? hub_expires : longest;
    return 0;
}
