/*
 * test_noise.c - cmocka tests for lib/noise.c (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b):
 * the cacophony test vector end to end (handshake + split + transport),
 * handshakes between random key pairs, and every failure path we can think
 * of (wrong psk/key/prologue, bit flips, truncation, garbage, bad state).
 *
 * Vector source: https://github.com/haskell-cryptography/cacophony
 * vectors/cacophony.txt (commit 8ee9d41e34a1a596cfa3ab12aa4069ff87dc1247),
 * the single entry with protocol_name "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b";
 * a copy of that entry is tests/vectors/noise_IKpsk2_25519_ChaChaPoly_BLAKE2b.txt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"

/* ------------------------------------------------------------------------ */
/* The cacophony vector, copied verbatim (hex)                               */
/* ------------------------------------------------------------------------ */

#define V_PROTOCOL_NAME "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"
#define V_INIT_PROLOGUE "4a6f686e2047616c74"
#define V_INIT_STATIC "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define V_INIT_EPHEMERAL "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define V_INIT_REMOTE_STATIC "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define V_RESP_STATIC "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define V_RESP_EPHEMERAL "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"
#define V_PSK "54686973206973206d7920417573747269616e20706572737065637469766521"
#define V_HANDSHAKE_HASH                                                                   \
    "ed837c9084f2f0333a7ec60b9bcacd9921394858de8ced118b5966d1147ba390"                     \
    "084dab42326c565a309c29317a6079be30aa1d790d25a517b43287426cb1d36a"

/* messages[0] = msg1 (initiator), [1] = msg2 (responder), then transport
 * messages alternating initiator -> responder, responder -> initiator. */
static const struct {
    const char *payload;
    const char *ciphertext;
} v_messages[] = {
    { "4c756477696720766f6e204d69736573",
      "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
      "b6fe0240b839afac809de1630eaf99d8f9b941394f0512c0554633bbb021d151"
      "76135c0a20e7fdb9a9ed066f22f054b47625b1d5061cb27d6a17f053273db7c2"
      "5216a5addc506ee321bc0618feb5849d" },
    { "4d757272617920526f746862617264",
      "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
      "8f627e69fc120006f746b9d420bf4056cf8481ab32d9e904ffaeeaa56a5290" },
    { "462e20412e20486179656b",
      "07fc0034398a5f1010322be193d62f94bebf2948a20b3e15d681fe" },
    { "4361726c204d656e676572",
      "2ea5400f5b8a16971c8b67bde75aeb7987d454b1c0beeb2566932d" },
    { "4a65616e2d426170746973746520536179",
      "96eef918ef51639fc0e156da1823c4f71b33fac5af983f5da9384f7da20d86ed"
      "91" },
    { "457567656e2042f6686d20766f6e2042617765726b",
      "f02766a56496e1fbf32e05274baebf6d693c8f3e4c6e0dc7ebdc5ac170f15dae"
      "433b92f469" },
};
#define V_NUM_MESSAGES (sizeof(v_messages) / sizeof(v_messages[0]))

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Decode a hex string into out (fails the test on bad input or overflow). */
static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t bin_len = 0;

    assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &bin_len, NULL), 0);
    assert_int_equal(bin_len * 2, strlen(hex));
    return bin_len;
}

static void keypair_from_hex(noise_keypair_t *kp, const char *priv_hex)
{
    uint8_t priv[32];

    assert_int_equal(unhex(priv, sizeof(priv), priv_hex), 32);
    assert_int_equal(noise_keypair_from_private(kp, priv), 0);
}

static uint32_t rand_below(uint32_t n)
{
    return randombytes_uniform(n);
}

/* A peer pair with an initiator and responder ready for msg1. */
typedef struct {
    noise_keypair_t is, rs;
    uint8_t psk[32];
    noise_handshake_t ini, resp;
} pair_t;

static void pair_setup(pair_t *p)
{
    noise_keypair_generate(&p->is);
    noise_keypair_generate(&p->rs);
    randombytes_buf(p->psk, sizeof(p->psk));
    assert_int_equal(noise_handshake_init(&p->ini, true, NULL, 0, &p->is, p->rs.pub, p->psk), 0);
    assert_int_equal(noise_handshake_init(&p->resp, false, NULL, 0, &p->rs, NULL, p->psk), 0);
}

/* ------------------------------------------------------------------------ */
/* Vector                                                                    */
/* ------------------------------------------------------------------------ */

/* Guard against transcription errors: every hex string above must occur
 * verbatim in the vector file (path passed in by noise_tests.cmake). */
static void test_vector_file_matches_embedded(void **state)
{
    (void)state;
#ifdef WEFT_NOISE_VECTOR_FILE
    static char buf[16384];
    FILE *f = fopen(WEFT_NOISE_VECTOR_FILE, "rb");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';

    const char *needles[] = { V_PROTOCOL_NAME, V_INIT_PROLOGUE, V_INIT_STATIC,
                              V_INIT_EPHEMERAL, V_INIT_REMOTE_STATIC, V_RESP_STATIC,
                              V_RESP_EPHEMERAL, V_PSK, V_HANDSHAKE_HASH };
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        assert_non_null(strstr(buf, needles[i]));
    for (size_t i = 0; i < V_NUM_MESSAGES; i++) {
        assert_non_null(strstr(buf, v_messages[i].payload));
        assert_non_null(strstr(buf, v_messages[i].ciphertext));
    }
#else
    skip();
#endif
}

static void test_cacophony_vector(void **state)
{
    noise_keypair_t init_s, init_e, resp_s, resp_e;
    uint8_t prologue[64], remote_static[32], psk[32], expected_hash[64], hash[64];
    uint8_t payload[256], expected[256], out[512], plain[256];
    size_t prologue_len, payload_len, expected_len, out_len, plain_len;
    noise_handshake_t ini, resp;
    transport_sender_t ini_send, resp_send;
    transport_receiver_t ini_recv, resp_recv;
    (void)state;

    assert_string_equal(NOISE_PROTOCOL_NAME, V_PROTOCOL_NAME);
    prologue_len = unhex(prologue, sizeof(prologue), V_INIT_PROLOGUE);
    keypair_from_hex(&init_s, V_INIT_STATIC);
    keypair_from_hex(&init_e, V_INIT_EPHEMERAL);
    keypair_from_hex(&resp_s, V_RESP_STATIC);
    keypair_from_hex(&resp_e, V_RESP_EPHEMERAL);
    unhex(remote_static, sizeof(remote_static), V_INIT_REMOTE_STATIC);
    unhex(psk, sizeof(psk), V_PSK);
    unhex(expected_hash, sizeof(expected_hash), V_HANDSHAKE_HASH);

    /* init_remote_static is the responder's public key. */
    assert_memory_equal(resp_s.pub, remote_static, 32);

    assert_int_equal(noise_handshake_init(&ini, true, prologue, prologue_len, &init_s,
                                          remote_static, psk), 0);
    assert_int_equal(noise_handshake_init(&resp, false, prologue, prologue_len, &resp_s, NULL,
                                          psk), 0);
    noise_handshake_set_ephemeral(&ini, &init_e);
    noise_handshake_set_ephemeral(&resp, &resp_e);
    assert_null(noise_handshake_remote_static(&resp));

    /* msg1: initiator -> responder */
    payload_len = unhex(payload, sizeof(payload), v_messages[0].payload);
    expected_len = unhex(expected, sizeof(expected), v_messages[0].ciphertext);
    assert_int_equal(expected_len, payload_len + NOISE_MSG1_OVERHEAD);
    assert_int_equal(noise_handshake_write(&ini, payload, payload_len, out, sizeof(out), &out_len), 0);
    assert_int_equal(out_len, expected_len);
    assert_memory_equal(out, expected, expected_len);
    assert_int_equal(noise_handshake_read(&resp, out, out_len, plain, sizeof(plain), &plain_len), 0);
    assert_int_equal(plain_len, payload_len);
    assert_memory_equal(plain, payload, payload_len);
    assert_non_null(noise_handshake_remote_static(&resp));
    assert_memory_equal(noise_handshake_remote_static(&resp), init_s.pub, 32);
    assert_false(noise_handshake_complete(&ini));
    assert_false(noise_handshake_complete(&resp));

    /* msg2: responder -> initiator */
    payload_len = unhex(payload, sizeof(payload), v_messages[1].payload);
    expected_len = unhex(expected, sizeof(expected), v_messages[1].ciphertext);
    assert_int_equal(expected_len, payload_len + NOISE_MSG2_OVERHEAD);
    assert_int_equal(noise_handshake_write(&resp, payload, payload_len, out, sizeof(out), &out_len), 0);
    assert_int_equal(out_len, expected_len);
    assert_memory_equal(out, expected, expected_len);
    assert_int_equal(noise_handshake_read(&ini, out, out_len, plain, sizeof(plain), &plain_len), 0);
    assert_int_equal(plain_len, payload_len);
    assert_memory_equal(plain, payload, payload_len);

    assert_true(noise_handshake_complete(&ini));
    assert_true(noise_handshake_complete(&resp));
    noise_handshake_hash(&ini, hash);
    assert_memory_equal(hash, expected_hash, 64);
    noise_handshake_hash(&resp, hash);
    assert_memory_equal(hash, expected_hash, 64);

    assert_int_equal(noise_handshake_split(&ini, &ini_send, &ini_recv), 0);
    assert_int_equal(noise_handshake_split(&resp, &resp_send, &resp_recv), 0);
    assert_false(noise_handshake_complete(&ini)); /* split wiped the state */

    /* Transport messages alternate directions; nonces start at 0 per direction. */
    for (size_t i = 2; i < V_NUM_MESSAGES; i++) {
        bool from_initiator = (i % 2) == 0;
        transport_sender_t *tx = from_initiator ? &ini_send : &resp_send;
        transport_receiver_t *rx = from_initiator ? &resp_recv : &ini_recv;
        uint64_t counter = UINT64_MAX;

        payload_len = unhex(payload, sizeof(payload), v_messages[i].payload);
        expected_len = unhex(expected, sizeof(expected), v_messages[i].ciphertext);
        assert_int_equal(expected_len, payload_len + TRANSPORT_TAG_LEN);
        assert_int_equal(transport_encrypt(tx, payload, payload_len, out, &counter), 0);
        assert_int_equal(counter, (i - 2) / 2);
        assert_memory_equal(out, expected, expected_len);
        assert_int_equal(transport_decrypt(rx, counter, expected, expected_len, plain, &plain_len), 0);
        assert_int_equal(plain_len, payload_len);
        assert_memory_equal(plain, payload, payload_len);
    }
}

/* ------------------------------------------------------------------------ */
/* Random handshakes                                                         */
/* ------------------------------------------------------------------------ */

static void test_random_handshakes(void **state)
{
    static uint8_t p1[2000], p2[2000], msg[2200], plain[2200];
    (void)state;

    for (int iter = 0; iter < 64; iter++) {
        noise_keypair_t is, rs;
        uint8_t psk[32], prologue[100], h1[64], h2[64];
        size_t prologue_len = rand_below(sizeof(prologue) + 1);
        size_t l1 = rand_below(sizeof(p1) + 1), l2 = rand_below(sizeof(p2) + 1);
        size_t msg_len, plain_len;
        noise_handshake_t ini, resp;
        transport_sender_t ini_send, resp_send;
        transport_receiver_t ini_recv, resp_recv;

        if (iter == 0)
            l1 = l2 = 0; /* always cover empty payloads */
        noise_keypair_generate(&is);
        noise_keypair_generate(&rs);
        randombytes_buf(prologue, sizeof(prologue));
        randombytes_buf(p1, l1);
        randombytes_buf(p2, l2);
        if (iter % 2)
            randombytes_buf(psk, sizeof(psk));
        else
            memset(psk, 0, sizeof(psk)); /* "no network key" */

        assert_int_equal(noise_handshake_init(&ini, true, prologue_len ? prologue : NULL,
                                              prologue_len, &is, rs.pub, psk), 0);
        assert_int_equal(noise_handshake_init(&resp, false, prologue_len ? prologue : NULL,
                                              prologue_len, &rs, NULL, psk), 0);

        assert_int_equal(noise_handshake_write(&ini, p1, l1, msg, sizeof(msg), &msg_len), 0);
        assert_int_equal(msg_len, l1 + NOISE_MSG1_OVERHEAD);
        assert_int_equal(noise_handshake_read(&resp, msg, msg_len, plain, sizeof(plain), &plain_len), 0);
        assert_int_equal(plain_len, l1);
        if (l1)
            assert_memory_equal(plain, p1, l1);
        assert_memory_equal(noise_handshake_remote_static(&resp), is.pub, 32);
        assert_memory_equal(noise_handshake_remote_static(&ini), rs.pub, 32);

        assert_int_equal(noise_handshake_write(&resp, p2, l2, msg, sizeof(msg), &msg_len), 0);
        assert_int_equal(msg_len, l2 + NOISE_MSG2_OVERHEAD);
        assert_int_equal(noise_handshake_read(&ini, msg, msg_len, plain, sizeof(plain), &plain_len), 0);
        assert_int_equal(plain_len, l2);
        if (l2)
            assert_memory_equal(plain, p2, l2);

        assert_true(noise_handshake_complete(&ini));
        assert_true(noise_handshake_complete(&resp));
        noise_handshake_hash(&ini, h1);
        noise_handshake_hash(&resp, h2);
        assert_memory_equal(h1, h2, 64);

        assert_int_equal(noise_handshake_split(&ini, &ini_send, &ini_recv), 0);
        assert_int_equal(noise_handshake_split(&resp, &resp_send, &resp_recv), 0);
        assert_memory_equal(ini_send.key, resp_recv.key, 32);
        assert_memory_equal(resp_send.key, ini_recv.key, 32);
        assert_memory_not_equal(ini_send.key, ini_recv.key, 32);

        /* A few packets each way. */
        for (int k = 0; k < 4; k++) {
            uint64_t c;
            size_t l = rand_below(1500);

            assert_int_equal(transport_encrypt(&ini_send, p1, l, msg, &c), 0);
            assert_int_equal(transport_decrypt(&resp_recv, c, msg, l + 16, plain, &plain_len), 0);
            assert_int_equal(plain_len, l);
            if (l)
                assert_memory_equal(plain, p1, l);
            assert_int_equal(transport_encrypt(&resp_send, p2, l, msg, &c), 0);
            assert_int_equal(transport_decrypt(&ini_recv, c, msg, l + 16, plain, &plain_len), 0);
            assert_int_equal(plain_len, l);
            if (l)
                assert_memory_equal(plain, p2, l);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Mismatches                                                                */
/* ------------------------------------------------------------------------ */

static void test_wrong_psk(void **state)
{
    pair_t p;
    uint8_t other_psk[32], msg[256], plain[256];
    size_t msg_len, plain_len;
    (void)state;

    pair_setup(&p);
    memcpy(other_psk, p.psk, 32);
    other_psk[7] ^= 0x10;
    assert_int_equal(noise_handshake_init(&p.resp, false, NULL, 0, &p.rs, NULL, other_psk), 0);

    /* psk2: msg1 does not depend on the psk, so it still goes through ... */
    assert_int_equal(noise_handshake_write(&p.ini, (const uint8_t *)"hi", 2, msg, sizeof(msg), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), 0);
    assert_int_equal(noise_handshake_write(&p.resp, (const uint8_t *)"yo", 2, msg, sizeof(msg), &msg_len), 0);
    /* ... but msg2 must fail at the initiator. */
    assert_int_equal(noise_handshake_read(&p.ini, msg, msg_len, plain, sizeof(plain), &plain_len), -1);
    assert_int_equal(plain_len, 0);
    assert_false(noise_handshake_complete(&p.ini));

    /* Zero psk on one side, random on the other: same outcome. */
    pair_setup(&p);
    memset(other_psk, 0, sizeof(other_psk));
    assert_int_equal(noise_handshake_init(&p.ini, true, NULL, 0, &p.is, p.rs.pub, other_psk), 0);
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), 0);
    assert_int_equal(noise_handshake_write(&p.resp, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.ini, msg, msg_len, plain, sizeof(plain), &plain_len), -1);
}

static void test_wrong_responder_key(void **state)
{
    pair_t p;
    noise_keypair_t other;
    uint8_t msg[256], plain[256];
    size_t msg_len, plain_len;
    (void)state;

    /* Initiator believes the responder is 'other'. */
    pair_setup(&p);
    noise_keypair_generate(&other);
    assert_int_equal(noise_handshake_init(&p.ini, true, NULL, 0, &p.is, other.pub, p.psk), 0);
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), -1);
    assert_null(noise_handshake_remote_static(&p.resp));
}

static void test_prologue_mismatch(void **state)
{
    pair_t p;
    uint8_t msg[256], plain[256];
    size_t msg_len, plain_len;
    (void)state;

    pair_setup(&p);
    assert_int_equal(noise_handshake_init(&p.ini, true, (const uint8_t *)"weft", 4, &p.is,
                                          p.rs.pub, p.psk), 0);
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), -1);
}

/* ------------------------------------------------------------------------ */
/* Tampering, truncation, garbage                                            */
/* ------------------------------------------------------------------------ */

static const uint8_t flip_masks[] = { 0x01, 0x80, 0xff };

static void test_tampered_msg1(void **state)
{
    pair_t p;
    uint8_t msg[256], bad[256], plain[256];
    size_t msg_len, plain_len;
    (void)state;

    pair_setup(&p);
    assert_int_equal(noise_handshake_write(&p.ini, (const uint8_t *)"hello responder", 15, msg,
                                           sizeof(msg), &msg_len), 0);
    for (size_t i = 0; i < msg_len; i++) {
        for (size_t m = 0; m < sizeof(flip_masks); m++) {
            memcpy(bad, msg, msg_len);
            bad[i] ^= flip_masks[m];
            plain_len = 12345;
            assert_int_equal(noise_handshake_read(&p.resp, bad, msg_len, plain, sizeof(plain),
                                                  &plain_len), -1);
            assert_int_equal(plain_len, 0);
        }
    }
    /* Failed reads left the responder untouched: the genuine message works. */
    assert_null(noise_handshake_remote_static(&p.resp));
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), 0);
    assert_int_equal(plain_len, 15);
    assert_memory_equal(plain, "hello responder", 15);
}

static void test_tampered_msg2(void **state)
{
    pair_t p;
    uint8_t msg[256], bad[256], plain[256], h1[64], h2[64];
    size_t msg_len, plain_len;
    (void)state;

    pair_setup(&p);
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), 0);
    assert_int_equal(noise_handshake_write(&p.resp, (const uint8_t *)"hello initiator", 15, msg,
                                           sizeof(msg), &msg_len), 0);
    for (size_t i = 0; i < msg_len; i++) {
        for (size_t m = 0; m < sizeof(flip_masks); m++) {
            memcpy(bad, msg, msg_len);
            bad[i] ^= flip_masks[m];
            assert_int_equal(noise_handshake_read(&p.ini, bad, msg_len, plain, sizeof(plain),
                                                  &plain_len), -1);
            assert_false(noise_handshake_complete(&p.ini));
        }
    }
    assert_int_equal(noise_handshake_read(&p.ini, msg, msg_len, plain, sizeof(plain), &plain_len), 0);
    assert_memory_equal(plain, "hello initiator", 15);
    noise_handshake_hash(&p.ini, h1);
    noise_handshake_hash(&p.resp, h2);
    assert_memory_equal(h1, h2, 64);
}

static void test_truncated_and_extended(void **state)
{
    pair_t p;
    uint8_t msg1[256], msg2[256], plain[256];
    size_t msg1_len, msg2_len, plain_len;
    (void)state;

    pair_setup(&p);
    assert_int_equal(noise_handshake_write(&p.ini, (const uint8_t *)"0123456789", 10, msg1,
                                           sizeof(msg1), &msg1_len), 0);
    for (size_t l = 0; l < msg1_len; l++)
        assert_int_equal(noise_handshake_read(&p.resp, msg1, l, plain, sizeof(plain), &plain_len), -1);
    msg1[msg1_len] = 0; /* one extra trailing byte */
    assert_int_equal(noise_handshake_read(&p.resp, msg1, msg1_len + 1, plain, sizeof(plain),
                                          &plain_len), -1);
    assert_int_equal(noise_handshake_read(&p.resp, msg1, msg1_len, plain, sizeof(plain), &plain_len), 0);

    assert_int_equal(noise_handshake_write(&p.resp, (const uint8_t *)"abcdefghij", 10, msg2,
                                           sizeof(msg2), &msg2_len), 0);
    for (size_t l = 0; l < msg2_len; l++)
        assert_int_equal(noise_handshake_read(&p.ini, msg2, l, plain, sizeof(plain), &plain_len), -1);
    msg2[msg2_len] = 0;
    assert_int_equal(noise_handshake_read(&p.ini, msg2, msg2_len + 1, plain, sizeof(plain),
                                          &plain_len), -1);
    assert_int_equal(noise_handshake_read(&p.ini, msg2, msg2_len, plain, sizeof(plain), &plain_len), 0);
    assert_true(noise_handshake_complete(&p.ini));
}

static void test_garbage_input(void **state)
{
    static uint8_t junk[NOISE_MAX_MESSAGE_LEN + 2], plain[NOISE_MAX_MESSAGE_LEN + 2];
    pair_t p;
    size_t plain_len;
    uint8_t msg[256];
    size_t msg_len;
    (void)state;

    pair_setup(&p);
    for (int i = 0; i < 2000; i++) {
        size_t l = rand_below(400);

        randombytes_buf(junk, l);
        assert_int_equal(noise_handshake_read(&p.resp, junk, l, plain, sizeof(plain), &plain_len), -1);
    }
    /* Oversized messages (Noise limit is 65535 bytes). */
    randombytes_buf(junk, sizeof(junk));
    assert_int_equal(noise_handshake_read(&p.resp, junk, NOISE_MAX_MESSAGE_LEN + 1, plain,
                                          sizeof(plain), &plain_len), -1);
    assert_int_equal(noise_handshake_read(&p.resp, junk, NOISE_MAX_MESSAGE_LEN, plain,
                                          sizeof(plain), &plain_len), -1);

    /* And garbage msg2 at the initiator. */
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    for (int i = 0; i < 2000; i++) {
        size_t l = rand_below(400);

        randombytes_buf(junk, l);
        assert_int_equal(noise_handshake_read(&p.ini, junk, l, plain, sizeof(plain), &plain_len), -1);
    }
}

/* X25519 with a low-order point yields all zeros; that must be refused. */
static void test_low_order_keys(void **state)
{
    static const uint8_t zero[32] = { 0 };
    uint8_t one[32] = { 1 };
    noise_keypair_t is;
    noise_handshake_t ini;
    pair_t p;
    uint8_t msg[256], plain[256];
    size_t msg_len, plain_len;
    (void)state;

    noise_keypair_generate(&is);
    uint8_t psk[32] = { 0 };
    assert_int_equal(noise_handshake_init(&ini, true, NULL, 0, &is, zero, psk), 0);
    assert_int_equal(noise_handshake_write(&ini, NULL, 0, msg, sizeof(msg), &msg_len), -1);
    assert_int_equal(noise_handshake_init(&ini, true, NULL, 0, &is, one, psk), 0);
    assert_int_equal(noise_handshake_write(&ini, NULL, 0, msg, sizeof(msg), &msg_len), -1);

    /* A genuine msg1 whose ephemeral is replaced by a low-order point. */
    pair_setup(&p);
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    memcpy(msg, zero, 32);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), -1);
    memcpy(msg, one, 32);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(plain), &plain_len), -1);
}

/* ------------------------------------------------------------------------ */
/* API misuse                                                                */
/* ------------------------------------------------------------------------ */

static void test_bad_arguments(void **state)
{
    noise_keypair_t kp, kp2;
    noise_handshake_t hs;
    uint8_t psk[32] = { 0 };
    (void)state;

    noise_keypair_generate(&kp);
    noise_keypair_generate(&kp2);
    assert_int_equal(noise_handshake_init(&hs, true, NULL, 0, &kp, NULL, psk), -1); /* no rs */
    assert_int_equal(noise_handshake_init(&hs, false, NULL, 0, &kp, kp2.pub, psk), -1);
    assert_int_equal(noise_handshake_init(&hs, true, NULL, 0, NULL, kp2.pub, psk), -1);
    assert_int_equal(noise_handshake_init(&hs, true, NULL, 0, &kp, kp2.pub, NULL), -1);
    assert_int_equal(noise_handshake_init(&hs, true, NULL, 5, &kp, kp2.pub, psk), -1);
    assert_int_equal(noise_handshake_init(NULL, true, NULL, 0, &kp, kp2.pub, psk), -1);
    assert_false(noise_handshake_complete(&hs));

    /* keypair_from_private reproduces the public key. */
    assert_int_equal(noise_keypair_from_private(&kp2, kp.priv), 0);
    assert_memory_equal(kp2.pub, kp.pub, 32);
}

static void test_wrong_state(void **state)
{
    pair_t p;
    uint8_t msg[256], msg1[256], plain[256];
    size_t msg_len, msg1_len, plain_len;
    transport_sender_t tx;
    transport_receiver_t rx;
    (void)state;

    pair_setup(&p);
    /* Responder cannot write first; initiator cannot read first. */
    assert_int_equal(noise_handshake_write(&p.resp, NULL, 0, msg, sizeof(msg), &msg_len), -1);
    assert_int_equal(noise_handshake_read(&p.ini, msg, 200, plain, sizeof(plain), &plain_len), -1);
    assert_int_equal(noise_handshake_split(&p.ini, &tx, &rx), -1);
    assert_int_equal(noise_handshake_split(&p.resp, &tx, &rx), -1);

    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg1, sizeof(msg1), &msg1_len), 0);
    /* Initiator cannot write msg1 twice. */
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), -1);
    assert_int_equal(noise_handshake_split(&p.ini, &tx, &rx), -1);

    assert_int_equal(noise_handshake_read(&p.resp, msg1, msg1_len, plain, sizeof(plain), &plain_len), 0);
    /* Responder cannot read msg1 twice (that is a replayed msg1). */
    assert_int_equal(noise_handshake_read(&p.resp, msg1, msg1_len, plain, sizeof(plain), &plain_len), -1);
    assert_int_equal(noise_handshake_write(&p.resp, NULL, 0, msg, sizeof(msg), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.ini, msg, msg_len, plain, sizeof(plain), &plain_len), 0);

    /* Complete: no more reads or writes. */
    assert_int_equal(noise_handshake_read(&p.ini, msg, msg_len, plain, sizeof(plain), &plain_len), -1);
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), -1);
    assert_int_equal(noise_handshake_write(&p.resp, NULL, 0, msg, sizeof(msg), &msg_len), -1);

    assert_int_equal(noise_handshake_split(&p.ini, &tx, &rx), 0);
    assert_int_equal(noise_handshake_split(&p.ini, &tx, &rx), -1); /* wiped */
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, msg, sizeof(msg), &msg_len), -1);

    /* A wiped handshake refuses everything. */
    noise_handshake_wipe(&p.resp);
    assert_int_equal(noise_handshake_split(&p.resp, &tx, &rx), -1);
    assert_int_equal(noise_handshake_read(&p.resp, msg1, msg1_len, plain, sizeof(plain), &plain_len), -1);
}

static void test_buffer_sizes(void **state)
{
    pair_t p;
    uint8_t payload[40] = { 0 }, msg[256], plain[256];
    size_t msg_len, plain_len;
    (void)state;

    pair_setup(&p);
    /* out_cap one byte short fails, exact fits. */
    assert_int_equal(noise_handshake_write(&p.ini, payload, sizeof(payload), msg,
                                           NOISE_MSG1_OVERHEAD + sizeof(payload) - 1, &msg_len), -1);
    assert_int_equal(msg_len, 0);
    assert_int_equal(noise_handshake_write(&p.ini, payload, sizeof(payload), msg,
                                           NOISE_MSG1_OVERHEAD + sizeof(payload), &msg_len), 0);
    assert_int_equal(msg_len, NOISE_MSG1_OVERHEAD + sizeof(payload));
    /* payload_cap one byte short fails (and does not consume the state). */
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(payload) - 1,
                                          &plain_len), -1);
    assert_int_equal(noise_handshake_read(&p.resp, msg, msg_len, plain, sizeof(payload),
                                          &plain_len), 0);

    assert_int_equal(noise_handshake_write(&p.resp, payload, sizeof(payload), msg,
                                           NOISE_MSG2_OVERHEAD + sizeof(payload) - 1, &msg_len), -1);
    assert_int_equal(noise_handshake_write(&p.resp, payload, sizeof(payload), msg,
                                           NOISE_MSG2_OVERHEAD + sizeof(payload), &msg_len), 0);
    assert_int_equal(noise_handshake_read(&p.ini, msg, msg_len, NULL, 0, &plain_len), -1);
    assert_int_equal(noise_handshake_read(&p.ini, msg, msg_len, plain, sizeof(payload), &plain_len), 0);

    /* Payload making the message exceed 65535 bytes is refused. */
    {
        static uint8_t big[NOISE_MAX_MESSAGE_LEN + 200], big_out[NOISE_MAX_MESSAGE_LEN + 400];
        pair_t q;

        pair_setup(&q);
        assert_int_equal(noise_handshake_write(&q.ini, big, NOISE_MAX_MESSAGE_LEN - NOISE_MSG1_OVERHEAD + 1,
                                               big_out, sizeof(big_out), &msg_len), -1);
        assert_int_equal(noise_handshake_write(&q.ini, big, NOISE_MAX_MESSAGE_LEN - NOISE_MSG1_OVERHEAD,
                                               big_out, sizeof(big_out), &msg_len), 0);
        assert_int_equal(msg_len, NOISE_MAX_MESSAGE_LEN);
        assert_int_equal(noise_handshake_read(&q.resp, big_out, msg_len, big, sizeof(big), &plain_len), 0);
        assert_int_equal(plain_len, NOISE_MAX_MESSAGE_LEN - NOISE_MSG1_OVERHEAD);
    }
}

/* Random ephemerals: two handshakes between the same peers differ. */
static void test_fresh_ephemerals(void **state)
{
    pair_t p;
    uint8_t m1[256], m2[256];
    size_t l1, l2;
    noise_handshake_t again;
    (void)state;

    pair_setup(&p);
    assert_int_equal(noise_handshake_init(&again, true, NULL, 0, &p.is, p.rs.pub, p.psk), 0);
    assert_int_equal(noise_handshake_write(&p.ini, NULL, 0, m1, sizeof(m1), &l1), 0);
    assert_int_equal(noise_handshake_write(&again, NULL, 0, m2, sizeof(m2), &l2), 0);
    assert_int_equal(l1, l2);
    assert_memory_not_equal(m1, m2, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_file_matches_embedded),
        cmocka_unit_test(test_cacophony_vector),
        cmocka_unit_test(test_random_handshakes),
        cmocka_unit_test(test_wrong_psk),
        cmocka_unit_test(test_wrong_responder_key),
        cmocka_unit_test(test_prologue_mismatch),
        cmocka_unit_test(test_tampered_msg1),
        cmocka_unit_test(test_tampered_msg2),
        cmocka_unit_test(test_truncated_and_extended),
        cmocka_unit_test(test_garbage_input),
        cmocka_unit_test(test_low_order_keys),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_wrong_state),
        cmocka_unit_test(test_buffer_sizes),
        cmocka_unit_test(test_fresh_ephemerals),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
