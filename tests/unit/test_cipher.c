/*
 * test_cipher.c - cmocka tests for the transport cipher (lib/transport.c): the choice between
 * AES-256-GCM and ChaCha20-Poly1305 for every combination of the two ends, the crypto.cipher key,
 * and both AEADs: round trips (also in place), tampering, and a packet sealed with one cipher
 * refused by the other.  The AES-256-GCM tests need AES-NI and are skipped (reported) without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "config.h"
#include "transport.h"

// ---- the choice ----

static void test_choice_every_combination(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        transport_preference_t responder;
        bool responder_aes_ni;
        bool initiator_offers;   // false: no AES-NI, crypto.cipher chacha20-poly1305, or the old format
        transport_cipher_t want;
    } cases[] = {
        {"both auto with AES-NI", TRANSPORT_PREFER_AUTO, true, true, TRANSPORT_AES256_GCM},
        {"both aes-256-gcm with AES-NI", TRANSPORT_PREFER_AES, true, true, TRANSPORT_AES256_GCM},
        {"initiator without AES (or old format)", TRANSPORT_PREFER_AUTO, true, false, TRANSPORT_CHACHA20_POLY1305},
        {"responder without AES-NI", TRANSPORT_PREFER_AUTO, false, true, TRANSPORT_CHACHA20_POLY1305},
        {"neither has AES-NI", TRANSPORT_PREFER_AUTO, false, false, TRANSPORT_CHACHA20_POLY1305},
        {"responder set to chacha", TRANSPORT_PREFER_CHACHA, true, true, TRANSPORT_CHACHA20_POLY1305},
        {"responder aes-256-gcm, peer without AES", TRANSPORT_PREFER_AES, true, false, TRANSPORT_CHACHA20_POLY1305},
        {"responder aes-256-gcm without AES-NI", TRANSPORT_PREFER_AES, false, true, TRANSPORT_CHACHA20_POLY1305},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        transport_cipher_t got =
            transport_cipher_choose(cases[i].responder, cases[i].responder_aes_ni, cases[i].initiator_offers);
        if (got != cases[i].want)
            fail_msg("%s: got %s", cases[i].what, transport_cipher_name(got));
    }
    // what an initiator offers
    assert_true(transport_offers_aes(TRANSPORT_PREFER_AUTO, true));
    assert_true(transport_offers_aes(TRANSPORT_PREFER_AES, true));
    assert_false(transport_offers_aes(TRANSPORT_PREFER_CHACHA, true));
    assert_false(transport_offers_aes(TRANSPORT_PREFER_AUTO, false));
    assert_false(transport_offers_aes(TRANSPORT_PREFER_AES, false));
}

static void test_preference_names(void **state)
{
    (void)state;
    transport_preference_t p = TRANSPORT_PREFER_AES;
    assert_int_equal(transport_preference_parse("auto", &p), 0);
    assert_int_equal(p, TRANSPORT_PREFER_AUTO);
    assert_int_equal(transport_preference_parse("chacha20-poly1305", &p), 0);
    assert_int_equal(p, TRANSPORT_PREFER_CHACHA);
    assert_int_equal(transport_preference_parse("aes-256-gcm", &p), 0);
    assert_int_equal(p, TRANSPORT_PREFER_AES);
    assert_int_equal(transport_preference_parse("aes", &p), -1);
    assert_int_equal(transport_preference_parse("", &p), -1);
    assert_int_equal(transport_preference_parse(NULL, &p), -1);
    assert_int_equal(p, TRANSPORT_PREFER_AES);
    assert_string_equal(transport_cipher_name(TRANSPORT_AES256_GCM), "aes-256-gcm");
    assert_string_equal(transport_cipher_name(TRANSPORT_CHACHA20_POLY1305), "chacha20-poly1305");
}

static void test_config_key(void **state)
{
    (void)state;
    static weft_config_t cfg;
    char err[256] = "";
    config_defaults(&cfg, "/tmp/weft-test-cipher");
    assert_string_equal(cfg.crypto_cipher, "auto");
    static const char good[] = "crypto:\n  cipher: aes-256-gcm\n";
    assert_int_equal(config_parse(&cfg, good, strlen(good), "t.yaml", err, sizeof err), 0);
    assert_string_equal(cfg.crypto_cipher, "aes-256-gcm");
    static const char bad[] = "crypto:\n  cipher: aes-128-gcm\n";
    assert_int_equal(config_parse(&cfg, bad, strlen(bad), "t.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "crypto.cipher"));
    assert_string_equal(cfg.crypto_cipher, "aes-256-gcm");   // unchanged
}

// ---- both AEADs ----

typedef struct {
    transport_sender_t tx;
    transport_receiver_t rx;
} link_t;

static void link_setup(link_t *l, const uint8_t key[32], transport_cipher_t cipher)
{
    memset(l, 0, sizeof *l);
    memcpy(l->tx.key, key, 32);
    memcpy(l->rx.key, key, 32);
    replay_init(&l->rx.window);
    assert_int_equal(transport_sender_set_cipher(&l->tx, cipher), 0);
    assert_int_equal(transport_receiver_set_cipher(&l->rx, cipher), 0);
}

static void need_aes(void)
{
    if (!transport_aes_available()) {
        print_message("this CPU has no AES-NI: the AES-256-GCM case is skipped\n");
        skip();
    }
}

static void round_trips(transport_cipher_t cipher)
{
    static uint8_t plain[1500], sealed[1600], out[1600];
    uint8_t key[32];
    link_t l;
    randombytes_buf(key, sizeof key);
    link_setup(&l, key, cipher);
    for (uint64_t i = 0; i < 100; i++) {
        size_t len = i == 0 ? 0 : randombytes_uniform(sizeof plain + 1);
        uint64_t c = UINT64_MAX;
        size_t out_len = 9999;
        randombytes_buf(plain, len);
        assert_int_equal(transport_encrypt(&l.tx, plain, len, sealed, &c), 0);
        assert_int_equal(c, i);
        assert_int_equal(transport_decrypt(&l.rx, c, sealed, len + TRANSPORT_TAG_LEN, out, &out_len), 0);
        assert_int_equal(out_len, len);
        if (len)
            assert_memory_equal(out, plain, len);
    }
    // in place, both ways
    uint8_t buf[1400 + TRANSPORT_TAG_LEN], orig[1400];
    uint64_t c;
    size_t out_len;
    randombytes_buf(orig, sizeof orig);
    memcpy(buf, orig, sizeof orig);
    assert_int_equal(transport_encrypt(&l.tx, buf, sizeof orig, buf, &c), 0);
    assert_memory_not_equal(buf, orig, sizeof orig);
    assert_int_equal(transport_decrypt(&l.rx, c, buf, sizeof buf, buf, &out_len), 0);
    assert_int_equal(out_len, sizeof orig);
    assert_memory_equal(buf, orig, sizeof orig);
    // every flipped bit (ciphertext and tag) is refused, and the window keeps the genuine packet
    uint8_t small[64], sealed_small[64 + TRANSPORT_TAG_LEN];
    randombytes_buf(small, sizeof small);
    assert_int_equal(transport_encrypt(&l.tx, small, sizeof small, sealed_small, &c), 0);
    for (size_t bit = 0; bit < 8 * sizeof sealed_small; bit++) {
        sealed_small[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(transport_decrypt(&l.rx, c, sealed_small, sizeof sealed_small, out, &out_len), -1);
        assert_int_equal(out_len, 0);
        sealed_small[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(transport_decrypt(&l.rx, c + 1, sealed_small, sizeof sealed_small, out, &out_len), -1);
    assert_int_equal(transport_decrypt(&l.rx, c, sealed_small, sizeof sealed_small, out, &out_len), 0);
    assert_int_equal(transport_decrypt(&l.rx, c, sealed_small, sizeof sealed_small, out, &out_len), -2);
    transport_sender_wipe(&l.tx);
    transport_receiver_wipe(&l.rx);
}

static void test_chacha_round_trip_and_tamper(void **state)
{
    (void)state;
    round_trips(TRANSPORT_CHACHA20_POLY1305);
}

static void test_aes_round_trip_and_tamper(void **state)
{
    (void)state;
    need_aes();
    round_trips(TRANSPORT_AES256_GCM);
}

// The AES-256-GCM transport is libsodium's AES-256-GCM with the key as given and the Noise nonce layout
// (4 zero bytes, then the counter little-endian): the precomputed key schedule changes nothing on the wire.
static void test_aes_matches_one_shot_api(void **state)
{
    (void)state;
    need_aes();
    uint8_t key[32], plain[1400], sealed[1400 + TRANSPORT_TAG_LEN], want[sizeof sealed];
    randombytes_buf(key, sizeof key);
    randombytes_buf(plain, sizeof plain);
    link_t l;
    link_setup(&l, key, TRANSPORT_AES256_GCM);
    l.tx.counter = 0x0102030405060708ull;
    uint64_t c;
    assert_int_equal(transport_encrypt(&l.tx, plain, sizeof plain, sealed, &c), 0);
    uint8_t nonce[12] = {0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
    crypto_aead_aes256gcm_encrypt(want, NULL, plain, sizeof plain, NULL, 0, NULL, nonce, key);
    assert_memory_equal(sealed, want, sizeof want);
}

// The same key and counter under the other cipher: refused both ways, and the window is left alone.
static void test_other_cipher_refused(void **state)
{
    (void)state;
    need_aes();
    uint8_t key[32], plain[1400], sealed[1400 + TRANSPORT_TAG_LEN], out[sizeof sealed];
    randombytes_buf(key, sizeof key);
    randombytes_buf(plain, sizeof plain);
    link_t chacha, aes;
    link_setup(&chacha, key, TRANSPORT_CHACHA20_POLY1305);
    link_setup(&aes, key, TRANSPORT_AES256_GCM);
    uint8_t by_aes[sizeof sealed];
    uint64_t c, c_aes;
    size_t out_len;

    assert_int_equal(transport_encrypt(&chacha.tx, plain, sizeof plain, sealed, &c), 0);
    assert_int_equal(transport_encrypt(&aes.tx, plain, sizeof plain, by_aes, &c_aes), 0);
    assert_int_equal(c, c_aes);
    assert_memory_not_equal(sealed, by_aes, sizeof sealed);
    assert_int_equal(transport_decrypt(&aes.rx, c, sealed, sizeof sealed, out, &out_len), -1);
    assert_int_equal(transport_decrypt(&chacha.rx, c, by_aes, sizeof by_aes, out, &out_len), -1);
    assert_int_equal(out_len, 0);
    // each opens its own (the refusals left the windows alone)
    assert_int_equal(transport_decrypt(&chacha.rx, c, sealed, sizeof sealed, out, &out_len), 0);
    assert_int_equal(transport_decrypt(&aes.rx, c, by_aes, sizeof by_aes, out, &out_len), 0);
    assert_int_equal(out_len, sizeof plain);
    assert_memory_equal(out, plain, sizeof plain);
}

static void test_set_cipher_refuses_unknown(void **state)
{
    (void)state;
    uint8_t key[32] = {1};
    link_t l;
    link_setup(&l, key, TRANSPORT_CHACHA20_POLY1305);
    assert_int_equal(transport_sender_set_cipher(&l.tx, (transport_cipher_t)7), -1);
    assert_int_equal(transport_receiver_set_cipher(&l.rx, (transport_cipher_t)7), -1);
    assert_int_equal(l.tx.cipher, TRANSPORT_CHACHA20_POLY1305);
    assert_int_equal(l.rx.cipher, TRANSPORT_CHACHA20_POLY1305);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice_every_combination),
        cmocka_unit_test(test_preference_names),
        cmocka_unit_test(test_config_key),
        cmocka_unit_test(test_chacha_round_trip_and_tamper),
        cmocka_unit_test(test_aes_round_trip_and_tamper),
        cmocka_unit_test(test_aes_matches_one_shot_api),
        cmocka_unit_test(test_other_cipher_refused),
        cmocka_unit_test(test_set_cipher_refuses_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
