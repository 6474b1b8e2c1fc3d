/*
 * transport.c - per-packet ChaCha20-Poly1305 for the data plane after the
 * Noise split (see transport.h for the contract).
 */
#include "transport.h"

#include <sodium.h>

/* Noise ChaChaPoly nonce: 32 bits of zeros followed by the 64-bit counter
 * in little-endian byte order. */
static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t counter)
{
    for (int i = 0; i < 4; i++)
        nonce[i] = 0;
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

int transport_encrypt(transport_sender_t *s, const uint8_t *plain, size_t len,
                      uint8_t *out, uint64_t *counter_used)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

    if (s->counter >= TRANSPORT_REJECT_AFTER_MESSAGES)
        return -1;
    if (len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return -1;

    make_nonce(nonce, s->counter);
    /* libsodium allows out == plain for the combined-mode API. */
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, len, NULL, 0, NULL, nonce, s->key);
    *counter_used = s->counter;
    s->counter++;
    return 0;
}

int transport_decrypt(transport_receiver_t *r, uint64_t counter, const uint8_t *cipher,
                      size_t len, uint8_t *out, size_t *out_len)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    unsigned long long plain_len = 0;

    *out_len = 0;
    if (len < TRANSPORT_TAG_LEN)
        return -1;
    /* Pre-check only: rejects replays before spending a decryption on them.
     * The window itself is not touched until the tag has verified. */
    if (!replay_check(&r->window, counter, TRANSPORT_REJECT_AFTER_MESSAGES))
        return -2;

    make_nonce(nonce, counter);
    /* libsodium verifies the tag before writing any plaintext. */
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plain_len, NULL, cipher, len,
                                                  NULL, 0, nonce, r->key) != 0)
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
