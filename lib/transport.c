/*
 * transport.c - per-packet ChaCha20-Poly1305 or AES-256-GCM for the data
 * plane after the Noise split, and the choice between them (see
 * transport.h for the contract).
 */
#include "transport.h"

#include <string.h>

#define NONCE_LEN 12
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == NONCE_LEN &&
                   crypto_aead_aes256gcm_NPUBBYTES == NONCE_LEN &&
                   crypto_aead_chacha20poly1305_ietf_KEYBYTES == TRANSPORT_KEY_LEN &&
                   crypto_aead_aes256gcm_KEYBYTES == TRANSPORT_KEY_LEN &&
                   crypto_aead_chacha20poly1305_ietf_ABYTES == TRANSPORT_TAG_LEN &&
                   crypto_aead_aes256gcm_ABYTES == TRANSPORT_TAG_LEN,
               "both AEADs share the key, nonce and tag sizes");

bool transport_aes_available(void)
{
    return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1;
}

bool transport_offers_aes(transport_preference_t pref, bool aes_ni)
{
    return aes_ni && pref != TRANSPORT_PREFER_CHACHA;
}

transport_cipher_t transport_cipher_choose(transport_preference_t pref, bool aes_ni, bool peer_offers_aes)
{
    return peer_offers_aes && transport_offers_aes(pref, aes_ni) ? TRANSPORT_AES256_GCM
                                                                 : TRANSPORT_CHACHA20_POLY1305;
}

int transport_preference_parse(const char *text, transport_preference_t *out)
{
    static const struct {
        const char *name;
        transport_preference_t pref;
    } names[] = {
        {"auto", TRANSPORT_PREFER_AUTO},
        {"chacha20-poly1305", TRANSPORT_PREFER_CHACHA},
        {"aes-256-gcm", TRANSPORT_PREFER_AES},
    };
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].pref;
            return 0;
        }
    }
    return -1;
}

const char *transport_cipher_name(transport_cipher_t cipher)
{
    return cipher == TRANSPORT_AES256_GCM ? "aes-256-gcm" : "chacha20-poly1305";
}

static int set_cipher(transport_cipher_t *field, crypto_aead_aes256gcm_state *aes, const uint8_t *key,
                      transport_cipher_t cipher)
{
    if (cipher == TRANSPORT_AES256_GCM) {
        if (!transport_aes_available() || crypto_aead_aes256gcm_beforenm(aes, key) != 0)
            return -1;
    } else if (cipher != TRANSPORT_CHACHA20_POLY1305) {
        return -1;
    } else {
        sodium_memzero(aes, sizeof *aes);
    }
    *field = cipher;
    return 0;
}

int transport_sender_set_cipher(transport_sender_t *s, transport_cipher_t cipher)
{
    return set_cipher(&s->cipher, &s->aes, s->key, cipher);
}

int transport_receiver_set_cipher(transport_receiver_t *r, transport_cipher_t cipher)
{
    return set_cipher(&r->cipher, &r->aes, r->key, cipher);
}

/* Noise ChaChaPoly nonce: 32 bits of zeros followed by the 64-bit counter
 * in little-endian byte order (used for AES-256-GCM as well). */
static void make_nonce(uint8_t nonce[NONCE_LEN], uint64_t counter)
{
    for (int i = 0; i < 4; i++)
        nonce[i] = 0;
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

int transport_encrypt(transport_sender_t *s, const uint8_t *plain, size_t len,
                      uint8_t *out, uint64_t *counter_used)
{
    uint8_t nonce[NONCE_LEN];

    if (s->counter >= TRANSPORT_REJECT_AFTER_MESSAGES)
        return -1;
    if (len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        len > crypto_aead_aes256gcm_MESSAGEBYTES_MAX)
        return -1;

    make_nonce(nonce, s->counter);
    /* libsodium allows out == plain for the combined-mode APIs. */
    if (s->cipher == TRANSPORT_AES256_GCM)
        crypto_aead_aes256gcm_encrypt_afternm(out, NULL, plain, len, NULL, 0, NULL, nonce, &s->aes);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, len, NULL, 0, NULL, nonce, s->key);
    *counter_used = s->counter;
    s->counter++;
    return 0;
}

int transport_decrypt(transport_receiver_t *r, uint64_t counter, const uint8_t *cipher,
                      size_t len, uint8_t *out, size_t *out_len)
{
    uint8_t nonce[NONCE_LEN];
    unsigned long long plain_len = 0;
    int rc;

    *out_len = 0;
    if (len < TRANSPORT_TAG_LEN)
        return -1;
    /* Pre-check only: rejects replays before spending a decryption on them.
     * The window itself is not touched until the tag has verified. */
    if (!replay_check(&r->window, counter, TRANSPORT_REJECT_AFTER_MESSAGES))
        return -2;

    make_nonce(nonce, counter);
    /* libsodium verifies the tag before writing any plaintext. */
    if (r->cipher == TRANSPORT_AES256_GCM)
        rc = crypto_aead_aes256gcm_decrypt_afternm(out, &plain_len, NULL, cipher, len, NULL, 0, nonce, &r->aes);
    else
        rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &plain_len, NULL, cipher, len, NULL, 0, nonce,
                                                       r->key);
    if (rc != 0)
        return -1;

    replay_update(&r->window, counter);
    *out_len = (size_t)plain_len;
    return 0;
}

void transport_sender_wipe(transport_sender_t *s)
{
    sodium_memzero(s, sizeof(*s));
}

void transport_receiver_wipe(transport_receiver_t *r)
{
    sodium_memzero(r, sizeof(*r));
}
