// cert.c — see cert.h.
#include "cert.h"
#include "bytes.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char cert_context[] = "weft-cert-v1";
static const char revoke_context[] = "weft-revoke-v1";

#define CERT_SIGNED_LEN (CERT_LEN - 64)
#define REVOCATION_SIGNED_LEN (REVOCATION_LEN - 64)


// Ed25519 over context || message (the context keeps a certificate's signature from being valid as
// any other signed object's and the other way round).
static void sign_with_context(const char *context, const uint8_t *msg, size_t len, const identity_t *signer,
                              uint8_t sig[64])
{
    uint8_t buf[256];
    size_t clen = strlen(context);
    memcpy(buf, context, clen);
    memcpy(buf + clen, msg, len);
    crypto_sign_detached(sig, NULL, buf, clen + len, signer->secret_key);
}

static int verify_with_context(const char *context, const uint8_t *msg, size_t len, const uint8_t key[32],
                               const uint8_t sig[64])
{
    uint8_t buf[256];
    size_t clen = strlen(context);
    memcpy(buf, context, clen);
    memcpy(buf + clen, msg, len);
    return crypto_sign_verify_detached(sig, buf, clen + len, key);
}

// --- certificates ---

static void cert_encode_signed(const cert_t *cert, uint8_t out[CERT_SIGNED_LEN])
{
    uint8_t *p = out;
    *p++ = cert->version;
    memcpy(p, cert->mesh_id, MESH_ID_LEN), p += MESH_ID_LEN;
    memcpy(p, cert->member_key, 32), p += 32;
    be_put32(p, cert->address), p += 4;
    *p++ = cert->prefix;
    be_put64(p, cert->issued), p += 8;
    be_put64(p, cert->expires), p += 8;
    memcpy(p, cert->issuer_key, 32);
}

int cert_sign(cert_t *cert, const identity_t *admin)
{
    if (sodium_init() < 0)
        return -1;
    cert->version = CERT_VERSION;
    memcpy(cert->issuer_key, admin->public_key, 32);
    uint8_t body[CERT_SIGNED_LEN];
    cert_encode_signed(cert, body);
    sign_with_context(cert_context, body, sizeof body, admin, cert->signature);
    return 0;
}

void cert_encode(const cert_t *cert, uint8_t out[CERT_LEN])
{
    cert_encode_signed(cert, out);
    memcpy(out + CERT_SIGNED_LEN, cert->signature, 64);
}

int cert_decode(const uint8_t *data, size_t len, cert_t *cert, char *err, size_t err_len)
{
    memset(cert, 0, sizeof *cert);
    if (!data || len != CERT_LEN) {
        snprintf(err, err_len, "certificate is %zu bytes, want %d", data ? len : 0, CERT_LEN);
        return -1;
    }
    if (data[0] != CERT_VERSION) {
        snprintf(err, err_len, "certificate version %u is not supported (want %d)", data[0], CERT_VERSION);
        return -1;
    }
    const uint8_t *p = data;
    cert->version = *p++;
    memcpy(cert->mesh_id, p, MESH_ID_LEN), p += MESH_ID_LEN;
    memcpy(cert->member_key, p, 32), p += 32;
    cert->address = be_get32(p), p += 4;
    cert->prefix = *p++;
    cert->issued = be_get64(p), p += 8;
    cert->expires = be_get64(p), p += 8;
    memcpy(cert->issuer_key, p, 32), p += 32;
    memcpy(cert->signature, p, 64);
    if (cert->prefix < 1 || cert->prefix > 32) {
        snprintf(err, err_len, "certificate prefix /%u is not 1..32", cert->prefix);
        return -1;
    }
    if (sodium_init() < 0 ||
        verify_with_context(cert_context, data, CERT_SIGNED_LEN, cert->issuer_key, cert->signature) != 0) {
        snprintf(err, err_len, "certificate signature does not verify");
        return -1;
    }
    return 0;
}

int cert_check(const cert_t *cert, const uint8_t mesh_id[MESH_ID_LEN], const uint8_t admin_key[32],
               uint64_t now, char *err, size_t err_len)
{
    if (sodium_memcmp(cert->mesh_id, mesh_id, MESH_ID_LEN) != 0) {
        char got[MESH_ID_HEX_LEN], want[MESH_ID_HEX_LEN];
        mesh_id_to_hex(cert->mesh_id, got);
        mesh_id_to_hex(mesh_id, want);
        snprintf(err, err_len, "certificate is for mesh %s, not this mesh %s", got, want);
        return -1;
    }
    if (sodium_memcmp(cert->issuer_key, admin_key, 32) != 0) {
        char fp[FINGERPRINT_LEN];
        id_fingerprint(cert->issuer_key, fp);
        snprintf(err, err_len, "certificate is signed by %s, who is not this mesh's admin", fp);
        return -1;
    }
    if (cert->expires != 0 && now >= cert->expires) {
        snprintf(err, err_len, "certificate expired %" PRIu64 " s ago", now - cert->expires);
        return -1;
    }
    if (cert->issued > CERT_CLOCK_SKEW && now < cert->issued - CERT_CLOCK_SKEW) {
        snprintf(err, err_len, "certificate is not valid for another %" PRIu64 " s (issued in the future; "
                 "check the clocks)", cert->issued - now);
        return -1;
    }
    return 0;
}

void cert_to_hex(const cert_t *cert, char out[CERT_HEX_LEN])
{
    uint8_t bytes[CERT_LEN];
    cert_encode(cert, bytes);
    sodium_bin2hex(out, CERT_HEX_LEN, bytes, sizeof bytes);
}

int cert_from_hex(const char *hex, cert_t *cert, char *err, size_t err_len)
{
    memset(cert, 0, sizeof *cert);
    if (!hex) {
        snprintf(err, err_len, "no certificate");
        return -1;
    }
    size_t start = strspn(hex, " \t\r\n");
    size_t n = strlen(hex + start);
    while (n > 0 && strchr(" \t\r\n", hex[start + n - 1]))
        n--;
    uint8_t bytes[CERT_LEN];
    size_t len = 0;
    if (n != 2 * CERT_LEN ||
        sodium_hex2bin(bytes, sizeof bytes, hex + start, n, NULL, &len, NULL) != 0 || len != CERT_LEN) {
        snprintf(err, err_len, "certificate is not %d hex characters", 2 * CERT_LEN);
        return -1;
    }
    return cert_decode(bytes, len, cert, err, err_len);
}

int cert_save(const char *path, const cert_t *cert, char *err, size_t err_len)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, err_len, "%s: path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    char hex[CERT_HEX_LEN];
    cert_to_hex(cert, hex);
    int ok = fprintf(f, "%s\n", hex) > 0;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, err_len, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int cert_load(const char *path, cert_t *cert, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        memset(cert, 0, sizeof *cert);
        return -1;
    }
    char line[CERT_HEX_LEN + 8] = {0};
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char why[192];
    if (cert_from_hex(line, cert, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s: %s", path, why);
        return -1;
    }
    return 0;
}

// --- revocations ---

static void revocation_encode_signed(const revocation_t *rev, uint8_t out[REVOCATION_SIGNED_LEN])
{
    uint8_t *p = out;
    *p++ = rev->version;
    memcpy(p, rev->mesh_id, MESH_ID_LEN), p += MESH_ID_LEN;
    memcpy(p, rev->member_key, 32), p += 32;
    be_put64(p, rev->revoked_at), p += 8;
    memcpy(p, rev->issuer_key, 32);
}

int revocation_sign(revocation_t *rev, const identity_t *admin)
{
    if (sodium_init() < 0)
        return -1;
    rev->version = REVOCATION_VERSION;
    memcpy(rev->issuer_key, admin->public_key, 32);
    uint8_t body[REVOCATION_SIGNED_LEN];
    revocation_encode_signed(rev, body);
    sign_with_context(revoke_context, body, sizeof body, admin, rev->signature);
    return 0;
}

void revocation_encode(const revocation_t *rev, uint8_t out[REVOCATION_LEN])
{
    revocation_encode_signed(rev, out);
    memcpy(out + REVOCATION_SIGNED_LEN, rev->signature, 64);
}

int revocation_decode(const uint8_t *data, size_t len, revocation_t *rev, char *err, size_t err_len)
{
    memset(rev, 0, sizeof *rev);
    if (!data || len != REVOCATION_LEN) {
        snprintf(err, err_len, "revocation is %zu bytes, want %d", data ? len : 0, REVOCATION_LEN);
        return -1;
    }
    if (data[0] != REVOCATION_VERSION) {
        snprintf(err, err_len, "revocation version %u is not supported (want %d)", data[0],
                 REVOCATION_VERSION);
        return -1;
    }
    const uint8_t *p = data;
    rev->version = *p++;
    memcpy(rev->mesh_id, p, MESH_ID_LEN), p += MESH_ID_LEN;
    memcpy(rev->member_key, p, 32), p += 32;
    rev->revoked_at = be_get64(p), p += 8;
    memcpy(rev->issuer_key, p, 32), p += 32;
    memcpy(rev->signature, p, 64);
    if (sodium_init() < 0 ||
        verify_with_context(revoke_context, data, REVOCATION_SIGNED_LEN, rev->issuer_key, rev->signature) != 0) {
        snprintf(err, err_len, "revocation signature does not verify");
        return -1;
    }
    return 0;
}

int revocation_check(const revocation_t *rev, const uint8_t mesh_id[MESH_ID_LEN], const uint8_t admin_key[32],
                     char *err, size_t err_len)
{
    if (sodium_memcmp(rev->mesh_id, mesh_id, MESH_ID_LEN) != 0) {
        snprintf(err, err_len, "revocation is for another mesh");
        return -1;
    }
    if (sodium_memcmp(rev->issuer_key, admin_key, 32) != 0) {
        snprintf(err, err_len, "revocation is not signed by this mesh's admin");
        return -1;
    }
    return 0;
}

// --- mesh ids ---

void mesh_id_generate(uint8_t mesh_id[MESH_ID_LEN])
{
    if (sodium_init() < 0) {
        memset(mesh_id, 0, MESH_ID_LEN);
        return;
    }
    randombytes_buf(mesh_id, MESH_ID_LEN);
}

void mesh_id_to_hex(const uint8_t mesh_id[MESH_ID_LEN], char out[MESH_ID_HEX_LEN])
{
    sodium_bin2hex(out, MESH_ID_HEX_LEN, mesh_id, MESH_ID_LEN);
}

int mesh_id_from_hex(const char *hex, uint8_t mesh_id[MESH_ID_LEN])
{
    size_t len = 0;
    if (!hex || strlen(hex) != 2 * MESH_ID_LEN)
        return -1;
    if (sodium_hex2bin(mesh_id, MESH_ID_LEN, hex, 2 * MESH_ID_LEN, NULL, &len, NULL) != 0 || len != MESH_ID_LEN)
        return -1;
    return 0;
}
