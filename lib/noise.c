/*
 * noise.c - Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b (Noise revision 34) on
 * libsodium: the CipherState / SymmetricState / HandshakeState of the spec
 * section 5 flattened into one struct, and the two IKpsk2 messages written
 * out token by token (in the style of WireGuard's noise.c).
 *
 *   DH      X25519              crypto_scalarmult(_base), DHLEN 32
 *   HASH    BLAKE2b-512         crypto_generichash_blake2b, HASHLEN 64, BLOCKLEN 128
 *   HMAC    RFC 2104 over BLAKE2b (written here; not libsodium's keyed BLAKE2b)
 *   HKDF    Noise section 4.3 (2 or 3 outputs, empty info)
 *   CIPHER  ChaCha20-Poly1305 IETF, nonce = 4 zero bytes || LE64(n)
 */
#include "noise.h"

#include <string.h>

#include <sodium.h>

#define BLAKE2B_BLOCK_LEN 128

/* Protocol names no longer than HASHLEN are used zero-padded as the initial h. */
_Static_assert(sizeof(NOISE_PROTOCOL_NAME) - 1 <= NOISE_HASH_LEN,
               "protocol name must fit in HASHLEN");
_Static_assert(NOISE_PUBLIC_KEY_LEN == crypto_scalarmult_BYTES, "X25519 key size");
_Static_assert(NOISE_SYMMETRIC_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES,
               "ChaChaPoly key size");
_Static_assert(NOISE_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "ChaChaPoly tag size");

/* ------------------------------------------------------------------------ */
/* Crypto primitives                                                         */
/* ------------------------------------------------------------------------ */

/* HMAC-BLAKE2b per RFC 2104: H((K ^ opad) || H((K ^ ipad) || data)). */
static void hmac_blake2b(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t key_len,
                         const uint8_t *data, size_t data_len)
{
    uint8_t k[BLAKE2B_BLOCK_LEN] = { 0 };
    uint8_t pad[BLAKE2B_BLOCK_LEN];
    uint8_t inner[NOISE_HASH_LEN];
    crypto_generichash_blake2b_state st;

    /* Keys longer than a block are hashed first (never the case in Noise,
     * where keys are always HASHLEN bytes, but that is what RFC 2104 says). */
    if (key_len > BLAKE2B_BLOCK_LEN)
        crypto_generichash_blake2b(k, NOISE_HASH_LEN, key, key_len, NULL, 0);
    else if (key_len > 0)
        memcpy(k, key, key_len);

    for (size_t i = 0; i < BLAKE2B_BLOCK_LEN; i++)
        pad[i] = k[i] ^ 0x36;
    crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
    crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
    if (data_len > 0)
        crypto_generichash_blake2b_update(&st, data, data_len);
    crypto_generichash_blake2b_final(&st, inner, sizeof(inner));

    for (size_t i = 0; i < BLAKE2B_BLOCK_LEN; i++)
        pad[i] = k[i] ^ 0x5c;
    crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
    crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
    crypto_generichash_blake2b_update(&st, inner, sizeof(inner));
    crypto_generichash_blake2b_final(&st, out, NOISE_HASH_LEN);

    sodium_memzero(k, sizeof(k));
    sodium_memzero(pad, sizeof(pad));
    sodium_memzero(inner, sizeof(inner));
    sodium_memzero(&st, sizeof(st));
}

/*
 * Noise HKDF(chaining_key, input_key_material, num_outputs):
 *   temp_key = HMAC(ck, ikm)
 *   out1 = HMAC(temp_key, 0x01)
 *   out2 = HMAC(temp_key, out1 || 0x02)
 *   out3 = HMAC(temp_key, out2 || 0x03)      (only if out3 != NULL)
 * The outputs may alias ck (temp_key is derived before anything is written).
 */
static void hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
                 uint8_t out1[NOISE_HASH_LEN], uint8_t out2[NOISE_HASH_LEN],
                 uint8_t out3[NOISE_HASH_LEN])
{
    uint8_t temp_key[NOISE_HASH_LEN];
    uint8_t buf[NOISE_HASH_LEN + 1];
    uint8_t o1[NOISE_HASH_LEN];
    uint8_t o2[NOISE_HASH_LEN];

    hmac_blake2b(temp_key, ck, NOISE_HASH_LEN, ikm, ikm_len);

    buf[0] = 0x01;
    hmac_blake2b(o1, temp_key, sizeof(temp_key), buf, 1);

    memcpy(buf, o1, NOISE_HASH_LEN);
    buf[NOISE_HASH_LEN] = 0x02;
    hmac_blake2b(o2, temp_key, sizeof(temp_key), buf, sizeof(buf));

    if (out3 != NULL) {
        memcpy(buf, o2, NOISE_HASH_LEN);
        buf[NOISE_HASH_LEN] = 0x03;
        hmac_blake2b(out3, temp_key, sizeof(temp_key), buf, sizeof(buf));
    }
    memcpy(out1, o1, NOISE_HASH_LEN);
    memcpy(out2, o2, NOISE_HASH_LEN);

    sodium_memzero(temp_key, sizeof(temp_key));
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(o1, sizeof(o1));
    sodium_memzero(o2, sizeof(o2));
}

/* ChaChaPoly nonce: 32 bits of zeros then the 64-bit counter, little-endian. */
static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t n)
{
    for (int i = 0; i < 4; i++)
        nonce[i] = 0;
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* ------------------------------------------------------------------------ */
/* SymmetricState (spec 5.2); the CipherState lives in hs->k / has_k / n     */
/* ------------------------------------------------------------------------ */

static void mix_hash(noise_handshake_t *hs, const uint8_t *data, size_t len)
{
    crypto_generichash_blake2b_state st;

    crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
    crypto_generichash_blake2b_update(&st, hs->h, NOISE_HASH_LEN);
    if (len > 0)
        crypto_generichash_blake2b_update(&st, data, len);
    crypto_generichash_blake2b_final(&st, hs->h, NOISE_HASH_LEN);
    sodium_memzero(&st, sizeof(st));
}

/* ck, temp_k = HKDF(ck, ikm, 2); k = temp_k truncated to 32 bytes; n = 0. */
static void mix_key(noise_handshake_t *hs, const uint8_t *ikm, size_t ikm_len)
{
    uint8_t temp_k[NOISE_HASH_LEN];

    hkdf(hs->ck, ikm, ikm_len, hs->ck, temp_k, NULL);
    memcpy(hs->k, temp_k, NOISE_SYMMETRIC_KEY_LEN);
    hs->has_k = true;
    hs->n = 0;
    sodium_memzero(temp_k, sizeof(temp_k));
}

/* ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h); k = temp_k[:32]; n = 0. */
static void mix_key_and_hash(noise_handshake_t *hs, const uint8_t *ikm, size_t ikm_len)
{
    uint8_t temp_h[NOISE_HASH_LEN];
    uint8_t temp_k[NOISE_HASH_LEN];

    hkdf(hs->ck, ikm, ikm_len, hs->ck, temp_h, temp_k);
    mix_hash(hs, temp_h, sizeof(temp_h));
    memcpy(hs->k, temp_k, NOISE_SYMMETRIC_KEY_LEN);
    hs->has_k = true;
    hs->n = 0;
    sodium_memzero(temp_h, sizeof(temp_h));
    sodium_memzero(temp_k, sizeof(temp_k));
}

/* MixKey(DH(priv, pub)).  Fails if X25519 yields all zeros (low-order pub). */
static int mix_dh(noise_handshake_t *hs, const uint8_t priv[NOISE_PRIVATE_KEY_LEN],
                  const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
    uint8_t shared[crypto_scalarmult_BYTES];
    int ret = -1;

    if (crypto_scalarmult(shared, priv, pub) == 0) {
        mix_key(hs, shared, sizeof(shared));
        ret = 0;
    }
    sodium_memzero(shared, sizeof(shared));
    return ret;
}

/* out = ENCRYPT(k, n++, h, plain) (len + 16 bytes); MixHash(out).
 * out must not overlap plain. */
static int encrypt_and_hash(noise_handshake_t *hs, const uint8_t *plain, size_t len,
                            uint8_t *out)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

    if (!hs->has_k) {
        /* Spec: without a key the "ciphertext" is the plaintext.  IKpsk2
         * always has a key by the first EncryptAndHash; kept for fidelity. */
        if (len > 0)
            memcpy(out, plain, len);
        mix_hash(hs, out, len);
        return 0;
    }
    if (hs->n == UINT64_MAX) /* nonce 2^64-1 is reserved by the spec */
        return -1;
    make_nonce(nonce, hs->n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, len, hs->h, NOISE_HASH_LEN,
                                              NULL, nonce, hs->k);
    hs->n++;
    mix_hash(hs, out, len + NOISE_TAG_LEN);
    return 0;
}

/* out = DECRYPT(k, n++, h, cipher) (len - 16 bytes); MixHash(cipher). */
static int decrypt_and_hash(noise_handshake_t *hs, const uint8_t *cipher, size_t len,
                            uint8_t *out)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

    if (!hs->has_k) { /* see encrypt_and_hash */
        if (len > 0)
            memcpy(out, cipher, len);
        mix_hash(hs, cipher, len);
        return 0;
    }
    if (len < NOISE_TAG_LEN || hs->n == UINT64_MAX)
        return -1;
    make_nonce(nonce, hs->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, cipher, len, hs->h,
                                                  NOISE_HASH_LEN, nonce, hs->k) != 0)
        return -1;
    hs->n++;
    mix_hash(hs, cipher, len);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Key pairs                                                                 */
/* ------------------------------------------------------------------------ */

void noise_keypair_generate(noise_keypair_t *kp)
{
    /* sodium_init() is idempotent.  It can only fail if its internal lock
     * fails; randombytes and X25519 still work without it (portable code,
     * RNG set up lazily), so there is nothing better to do than carry on. */
    int init_ret = sodium_init();
    (void)init_ret;

    /* X25519 clamps the scalar itself, so any 32 random bytes are a valid
     * private key.  The base-point multiplication cannot produce the
     * all-zero point for a clamped scalar; the loop is only defensive. */
    do {
        randombytes_buf(kp->priv, sizeof(kp->priv));
    } while (crypto_scalarmult_base(kp->pub, kp->priv) != 0);
}

int noise_keypair_from_private(noise_keypair_t *kp, const uint8_t priv[NOISE_PRIVATE_KEY_LEN])
{
    if (sodium_init() < 0) {
        sodium_memzero(kp, sizeof(*kp));
        return -1;
    }
    memmove(kp->priv, priv, NOISE_PRIVATE_KEY_LEN); /* priv may point into kp */
    if (crypto_scalarmult_base(kp->pub, kp->priv) != 0) {
        sodium_memzero(kp, sizeof(*kp));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* HandshakeState                                                            */
/* ------------------------------------------------------------------------ */

int noise_handshake_init(noise_handshake_t *hs, bool initiator, const uint8_t *prologue,
                         size_t prologue_len, const noise_keypair_t *s, const uint8_t *rs,
                         const uint8_t psk[NOISE_PSK_LEN])
{
    noise_keypair_t s_copy;
    uint8_t rs_copy[NOISE_PUBLIC_KEY_LEN] = { 0 };
    uint8_t psk_copy[NOISE_PSK_LEN];

    if (hs == NULL)
        return -1;
    if (s == NULL || psk == NULL || (prologue == NULL && prologue_len > 0) ||
        (initiator && rs == NULL) || (!initiator && rs != NULL)) {
        noise_handshake_wipe(hs);
        return -1;
    }
    if (sodium_init() < 0) {
        noise_handshake_wipe(hs);
        return -1;
    }

    /* Copy the keys first: they may point into *hs (re-initialising a
     * handshake from its own fields), which is wiped next. */
    s_copy = *s;
    memcpy(psk_copy, psk, NOISE_PSK_LEN);
    if (initiator)
        memcpy(rs_copy, rs, NOISE_PUBLIC_KEY_LEN);
    noise_handshake_wipe(hs);
    hs->s = s_copy;
    memcpy(hs->psk, psk_copy, NOISE_PSK_LEN);
    memcpy(hs->rs, rs_copy, NOISE_PUBLIC_KEY_LEN);
    sodium_memzero(&s_copy, sizeof(s_copy));
    sodium_memzero(psk_copy, sizeof(psk_copy));
    hs->initiator = initiator;

    /* InitializeSymmetric(protocol_name): name fits in HASHLEN, so h is the
     * name padded with zeros; ck = h; no cipher key yet. */
    memcpy(hs->h, NOISE_PROTOCOL_NAME, sizeof(NOISE_PROTOCOL_NAME) - 1);
    memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
    hs->has_k = false;
    hs->n = 0;

    mix_hash(hs, prologue, prologue_len); /* always, even when empty */

    /* Pre-message pattern "<- s": both sides hash the responder's static. */
    if (initiator) {
        hs->has_rs = true;
        mix_hash(hs, hs->rs, NOISE_PUBLIC_KEY_LEN);
        hs->state = NOISE_STATE_WRITE_MSG1;
    } else {
        mix_hash(hs, hs->s.pub, NOISE_PUBLIC_KEY_LEN);
        hs->state = NOISE_STATE_READ_MSG1;
    }
    return 0;
}

void noise_handshake_set_ephemeral(noise_handshake_t *hs, const noise_keypair_t *e)
{
    hs->e = *e;
    hs->has_fixed_e = true;
}

/*
 * Both write and read work on a stack copy of the handshake and only copy
 * it back on success, so any failure leaves *hs untouched.
 */
int noise_handshake_write(noise_handshake_t *hs, const uint8_t *payload, size_t payload_len,
                          uint8_t *out, size_t out_cap, size_t *out_len)
{
    noise_handshake_t t;
    size_t need;
    size_t off = 0;
    bool msg1;
    int ret = -1;

    if (out_len != NULL)
        *out_len = 0;
    if (hs == NULL || out == NULL || out_len == NULL || (payload == NULL && payload_len > 0))
        return -1;
    if (hs->state == NOISE_STATE_WRITE_MSG1)
        msg1 = true;
    else if (hs->state == NOISE_STATE_WRITE_MSG2)
        msg1 = false;
    else
        return -1;
    if (payload_len > NOISE_MAX_MESSAGE_LEN)
        return -1;
    need = payload_len + (msg1 ? NOISE_MSG1_OVERHEAD : NOISE_MSG2_OVERHEAD);
    if (need > NOISE_MAX_MESSAGE_LEN || need > out_cap)
        return -1;

    t = *hs;
    if (!t.has_fixed_e)
        noise_keypair_generate(&t.e);

    /* e: send e.pub; MixHash(e.pub); psk modifier => also MixKey(e.pub). */
    memcpy(out, t.e.pub, NOISE_PUBLIC_KEY_LEN);
    off += NOISE_PUBLIC_KEY_LEN;
    mix_hash(&t, t.e.pub, NOISE_PUBLIC_KEY_LEN);
    mix_key(&t, t.e.pub, NOISE_PUBLIC_KEY_LEN);

    if (msg1) {
        /* -> e, es, s, ss */
        if (mix_dh(&t, t.e.priv, t.rs) != 0) /* es */
            goto out;
        if (encrypt_and_hash(&t, t.s.pub, NOISE_PUBLIC_KEY_LEN, out + off) != 0) /* s */
            goto out;
        off += NOISE_PUBLIC_KEY_LEN + NOISE_TAG_LEN;
        if (mix_dh(&t, t.s.priv, t.rs) != 0) /* ss */
            goto out;
        t.state = NOISE_STATE_READ_MSG2;
    } else {
        /* <- e, ee, se, psk  (responder: se = DH(e, rs)) */
        if (mix_dh(&t, t.e.priv, t.re) != 0) /* ee */
            goto out;
        if (mix_dh(&t, t.e.priv, t.rs) != 0) /* se */
            goto out;
        mix_key_and_hash(&t, t.psk, NOISE_PSK_LEN); /* psk */
        t.state = NOISE_STATE_COMPLETE;
    }

    if (encrypt_and_hash(&t, payload, payload_len, out + off) != 0)
        goto out;
    off += payload_len + NOISE_TAG_LEN;

    *hs = t;
    *out_len = off;
    ret = 0;
out:
    sodium_memzero(&t, sizeof(t));
    return ret;
}

int noise_handshake_read(noise_handshake_t *hs, const uint8_t *msg, size_t msg_len,
                         uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
{
    noise_handshake_t t;
    size_t overhead;
    size_t plen;
    size_t off = 0;
    bool msg1;
    int ret = -1;

    if (payload_len != NULL)
        *payload_len = 0;
    if (hs == NULL || msg == NULL || payload_len == NULL)
        return -1;
    if (hs->state == NOISE_STATE_READ_MSG1)
        msg1 = true;
    else if (hs->state == NOISE_STATE_READ_MSG2)
        msg1 = false;
    else
        return -1;
    overhead = msg1 ? NOISE_MSG1_OVERHEAD : NOISE_MSG2_OVERHEAD;
    if (msg_len < overhead || msg_len > NOISE_MAX_MESSAGE_LEN)
        return -1;
    plen = msg_len - overhead;
    if (plen > payload_cap || (plen > 0 && payload_out == NULL))
        return -1;

    t = *hs;

    /* e: read re; MixHash(re); psk modifier => also MixKey(re). */
    memcpy(t.re, msg, NOISE_PUBLIC_KEY_LEN);
    off += NOISE_PUBLIC_KEY_LEN;
    mix_hash(&t, t.re, NOISE_PUBLIC_KEY_LEN);
    mix_key(&t, t.re, NOISE_PUBLIC_KEY_LEN);

    if (msg1) {
        /* -> e, es, s, ss  (responder: es = DH(s, re), ss = DH(s, rs)) */
        if (mix_dh(&t, t.s.priv, t.re) != 0) /* es */
            goto out;
        if (decrypt_and_hash(&t, msg + off, NOISE_PUBLIC_KEY_LEN + NOISE_TAG_LEN, t.rs) != 0)
            goto out; /* s */
        off += NOISE_PUBLIC_KEY_LEN + NOISE_TAG_LEN;
        t.has_rs = true;
        if (mix_dh(&t, t.s.priv, t.rs) != 0) /* ss */
            goto out;
        t.state = NOISE_STATE_WRITE_MSG2;
    } else {
        /* <- e, ee, se, psk  (initiator: se = DH(s, re)) */
        if (mix_dh(&t, t.e.priv, t.re) != 0) /* ee */
            goto out;
        if (mix_dh(&t, t.s.priv, t.re) != 0) /* se */
            goto out;
        mix_key_and_hash(&t, t.psk, NOISE_PSK_LEN); /* psk */
        t.state = NOISE_STATE_COMPLETE;
    }

    if (decrypt_and_hash(&t, msg + off, plen + NOISE_TAG_LEN, payload_out) != 0)
        goto out;

    *hs = t;
    *payload_len = plen;
    ret = 0;
out:
    sodium_memzero(&t, sizeof(t));
    return ret;
}

bool noise_handshake_complete(const noise_handshake_t *hs)
{
    return hs->state == NOISE_STATE_COMPLETE;
}

const uint8_t *noise_handshake_remote_static(const noise_handshake_t *hs)
{
    return hs->has_rs ? hs->rs : NULL;
}

int noise_handshake_mix_hash(noise_handshake_t *hs, const uint8_t *data, size_t len)
{
    if (hs == NULL || (hs->state != NOISE_STATE_READ_MSG2 && hs->state != NOISE_STATE_WRITE_MSG2))
        return -1;
    mix_hash(hs, data, len);
    return 0;
}

void noise_handshake_hash(const noise_handshake_t *hs, uint8_t out[NOISE_HASH_LEN])
{
    memcpy(out, hs->h, NOISE_HASH_LEN);
}

int noise_handshake_split(noise_handshake_t *hs, transport_sender_t *send,
                          transport_receiver_t *recv)
{
    uint8_t k1[NOISE_HASH_LEN];
    uint8_t k2[NOISE_HASH_LEN];

    if (hs == NULL || send == NULL || recv == NULL || hs->state != NOISE_STATE_COMPLETE)
        return -1;

    /* Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2), truncated to 32. */
    hkdf(hs->ck, NULL, 0, k1, k2, NULL);
    memcpy(send->key, hs->initiator ? k1 : k2, TRANSPORT_KEY_LEN);
    memcpy(recv->key, hs->initiator ? k2 : k1, TRANSPORT_KEY_LEN);
    send->counter = 0;
    replay_init(&recv->window);
    transport_sender_set_cipher(send, TRANSPORT_CHACHA20_POLY1305);
    transport_receiver_set_cipher(recv, TRANSPORT_CHACHA20_POLY1305);

    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    noise_handshake_wipe(hs);
    return 0;
}

void noise_handshake_wipe(noise_handshake_t *hs)
{
    sodium_memzero(hs, sizeof(*hs));
}
