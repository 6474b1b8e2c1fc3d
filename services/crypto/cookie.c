// cookie.c — see cookie.h.
#include "cookie.h"

#include <sodium.h>
#include <string.h>

#define LABEL_MAC1 "weft mac1"
#define LABEL_COOKIE "weft cookie"

// HASH(label || material): a 32-byte key.
static void derive_key(const char *label, const uint8_t material[32], uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    crypto_generichash_update(&st, material, 32);
    crypto_generichash_final(&st, out, 32);
}

static void mac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len, uint8_t out[COOKIE_MAC_LEN])
{
    crypto_generichash(out, COOKIE_MAC_LEN, data, len, key, key_len);
}

void cookie_checker_init(cookie_checker_t *checker, const uint8_t local_public[32])
{
    memset(checker, 0, sizeof *checker);
    derive_key(LABEL_MAC1, local_public, checker->mac1_key);
}

int cookie_maker_init(cookie_maker_t *maker, const uint8_t peer_public[32], const uint8_t local_private[32])
{
    memset(maker, 0, sizeof *maker);
    derive_key(LABEL_MAC1, peer_public, maker->mac1_key);
    uint8_t shared[32];
    int rc = crypto_scalarmult(shared, local_private, peer_public);
    derive_key(LABEL_COOKIE, shared, maker->cookie_key);
    sodium_memzero(shared, sizeof shared);
    return rc == 0 ? 0 : -1;
}

bool cookie_fresh(const cookie_maker_t *maker, int64_t now_ms)
{
    return maker->have_cookie && now_ms - maker->cookie_ms < COOKIE_VALID_MS;
}

int cookie_add_macs(const cookie_maker_t *maker, uint8_t *msg, size_t len, int64_t now_ms)
{
    if (len < COOKIE_MACS_LEN)
        return -1;
    uint8_t *mac1 = msg + len - COOKIE_MACS_LEN, *mac2 = mac1 + COOKIE_MAC_LEN;
    mac(maker->mac1_key, sizeof maker->mac1_key, msg, len - COOKIE_MACS_LEN, mac1);
    if (cookie_fresh(maker, now_ms))
        mac(maker->cookie, COOKIE_LEN, msg, len - COOKIE_MAC_LEN, mac2);
    else
        memset(mac2, 0, COOKIE_MAC_LEN);
    return 0;
}

bool cookie_check_mac1(const cookie_checker_t *checker, const uint8_t *msg, size_t len)
{
    if (len < COOKIE_MACS_LEN)
        return false;
    uint8_t expected[COOKIE_MAC_LEN];
    mac(checker->mac1_key, sizeof checker->mac1_key, msg, len - COOKIE_MACS_LEN, expected);
    return sodium_memcmp(expected, msg + len - COOKIE_MACS_LEN, COOKIE_MAC_LEN) == 0;
}

// The cookie of binding under the current secret (a new secret every COOKIE_SECRET_MS).
static void make_cookie(cookie_checker_t *checker, const uint8_t binding[COOKIE_BINDING_LEN], int64_t now_ms,
                        uint8_t out[COOKIE_LEN])
{
    if (!checker->secret_set || now_ms - checker->secret_ms >= COOKIE_SECRET_MS || now_ms < checker->secret_ms) {
        randombytes_buf(checker->secret, sizeof checker->secret);
        checker->secret_ms = now_ms;
        checker->secret_set = true;
    }
    mac(checker->secret, sizeof checker->secret, binding, COOKIE_BINDING_LEN, out);
}

bool cookie_check_mac2(cookie_checker_t *checker, const uint8_t *msg, size_t len,
                       const uint8_t binding[COOKIE_BINDING_LEN], int64_t now_ms)
{
    if (len < COOKIE_MACS_LEN)
        return false;
    uint8_t cookie[COOKIE_LEN], expected[COOKIE_MAC_LEN];
    make_cookie(checker, binding, now_ms, cookie);
    mac(cookie, sizeof cookie, msg, len - COOKIE_MAC_LEN, expected);
    sodium_memzero(cookie, sizeof cookie);
    return sodium_memcmp(expected, msg + len - COOKIE_MAC_LEN, COOKIE_MAC_LEN) == 0;
}

int cookie_reply_body(cookie_checker_t *checker, const uint8_t pair_key[32],
                      const uint8_t header[COOKIE_REPLY_HEADER_LEN], const uint8_t binding[COOKIE_BINDING_LEN],
                      int64_t now_ms, uint8_t out[COOKIE_REPLY_BODY_LEN])
{
    uint8_t cookie[COOKIE_LEN];
    make_cookie(checker, binding, now_ms, cookie);
    randombytes_buf(out, COOKIE_NONCE_LEN);
    unsigned long long clen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_encrypt(out + COOKIE_NONCE_LEN, &clen, cookie, sizeof cookie, header,
                                                        COOKIE_REPLY_HEADER_LEN, NULL, out, pair_key);
    sodium_memzero(cookie, sizeof cookie);
    return rc == 0 && clen == COOKIE_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES ? 0 : -1;
}

int cookie_read_reply(cookie_maker_t *maker, const uint8_t header[COOKIE_REPLY_HEADER_LEN], const uint8_t *body,
                      size_t body_len, int64_t now_ms)
{
    if (body_len != COOKIE_REPLY_BODY_LEN)
        return -1;
    uint8_t cookie[COOKIE_LEN];
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, &plen, NULL, body + COOKIE_NONCE_LEN,
                                                   body_len - COOKIE_NONCE_LEN, header, COOKIE_REPLY_HEADER_LEN,
                                                   body, maker->cookie_key) != 0 ||
        plen != COOKIE_LEN)
        return -1;
    memcpy(maker->cookie, cookie, COOKIE_LEN);
    sodium_memzero(cookie, sizeof cookie);
    maker->cookie_ms = now_ms;
    maker->have_cookie = true;
    return 0;
}
