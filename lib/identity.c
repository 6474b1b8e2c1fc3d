// identity.c — see identity.h. The key file holds one line: "ed25519-seed <64 hex>".
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char key_file_tag[] = "ed25519-seed ";

int identity_create(const char *path, identity_t *out, char *err, size_t err_len)
{
    if (sodium_init() < 0) {
        snprintf(err, err_len, "libsodium failed to initialise");
        return -1;
    }
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(out->public_key, out->secret_key, seed);
    char line[sizeof key_file_tag + 64 + 2];
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, seed, sizeof seed);
    int n = snprintf(line, sizeof line, "%s%s\n", key_file_tag, hex);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(hex, sizeof hex);

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (an identity exists already; remove it to make a new one)" : "");
        sodium_memzero(line, sizeof line);
        return -1;
    }
    ssize_t w = write(fd, line, (size_t)n);
    sodium_memzero(line, sizeof line);
    if (w != n || fsync(fd) != 0) {
        snprintf(err, err_len, "%s: write failed: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

int identity_load_id(const char *path, uint8_t id[32], char *why, size_t why_len)
{
    identity_t identity;
    char err[512];
    if (identity_load(path, &identity, err, sizeof err) != 0) {
        snprintf(why, why_len, "cannot load this node's identity: %s", err);
        return -1;
    }
    memcpy(id, identity.public_key, 32);
    identity_wipe(&identity);
    return 0;
}

int identity_load(const char *path, identity_t *out, char *err, size_t err_len)
{
    if (sodium_init() < 0) {
        snprintf(err, err_len, "libsodium failed to initialise");
        return -1;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s (run `weft init` first)", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
        snprintf(err, err_len, "%s: key file is readable by others (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    char line[256] = {0};
    ssize_t r = read(fd, line, sizeof line - 1);
    close(fd);
    uint8_t seed[32];
    size_t seed_len = 0;
    size_t tag_len = sizeof key_file_tag - 1;
    int rc = -1;
    if (r > (ssize_t)tag_len && memcmp(line, key_file_tag, tag_len) == 0 &&
        sodium_hex2bin(seed, sizeof seed, line + tag_len, (size_t)r - tag_len, "\n", &seed_len, NULL) == 0 &&
        seed_len == sizeof seed) {
        crypto_sign_seed_keypair(out->public_key, out->secret_key, seed);
        rc = 0;
    } else {
        snprintf(err, err_len, "%s: not a weft identity file (want 'ed25519-seed <64 hex>')", path);
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(line, sizeof line);
    return rc;
}

void identity_wipe(identity_t *id)
{
    sodium_memzero(id, sizeof *id);
}

int identity_x25519(const identity_t *id, uint8_t x_public[32], uint8_t x_secret[32])
{
    if (crypto_sign_ed25519_sk_to_curve25519(x_secret, id->secret_key) != 0)
        return -1;
    return crypto_scalarmult_base(x_public, x_secret);
}

int identity_peer_x25519(const uint8_t node_id[32], uint8_t x_public[32])
{
    return crypto_sign_ed25519_pk_to_curve25519(x_public, node_id);
}

void id_to_hex(const uint8_t id[32], char out[ID_HEX_LEN])
{
    sodium_bin2hex(out, ID_HEX_LEN, id, 32);
}

int id_from_hex(const char *hex, uint8_t id[32])
{
    size_t len = 0;
    if (!hex || strlen(hex) != 64)
        return -1;
    if (sodium_hex2bin(id, 32, hex, 64, NULL, &len, NULL) != 0 || len != 32)
        return -1;
    return 0;
}

void id_fingerprint(const uint8_t id[32], char out[FINGERPRINT_LEN])
{
    uint8_t digest[8];
    crypto_generichash(digest, sizeof digest, id, 32, NULL, 0);
    snprintf(out, FINGERPRINT_LEN, "%02x%02x-%02x%02x-%02x%02x-%02x%02x", digest[0], digest[1], digest[2],
             digest[3], digest[4], digest[5], digest[6], digest[7]);
}
