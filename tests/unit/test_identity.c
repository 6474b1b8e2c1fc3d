// test_identity.c — key files (mode 0600, refusing others-readable files and garbage), hex ids,
// fingerprints, and that the X25519 forms of two identities agree on a shared secret.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "identity.h"

static void test_create_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/weft-id-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/identity.key", dir);
    identity_t a, b;
    assert_int_equal(identity_create(path, &a, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(identity_load(path, &b, err, sizeof err), 0);
    assert_memory_equal(a.public_key, b.public_key, 32);
    assert_memory_equal(a.secret_key, b.secret_key, 64);
    // never overwritten
    assert_int_equal(identity_create(path, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "exists"));
    // others-readable refused
    chmod(path, 0644);
    assert_int_equal(identity_load(path, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    // garbage refused
    FILE *f = fopen(path, "w");
    fputs("ed25519-seed nothex\n", f);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(identity_load(path, &b, err, sizeof err), -1);
    unlink(path);
    assert_int_equal(identity_load(path, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "weft init"));
    rmdir(dir);
}

static void test_x25519_agree(void **state)
{
    (void)state;
    identity_t a, b;
    uint8_t seed[32];
    randombytes_buf(seed, 32);
    crypto_sign_seed_keypair(a.public_key, a.secret_key, seed);
    randombytes_buf(seed, 32);
    crypto_sign_seed_keypair(b.public_key, b.secret_key, seed);
    uint8_t a_pub[32], a_sec[32], b_pub[32], b_sec[32], b_pub_from_id[32], s1[32], s2[32];
    assert_int_equal(identity_x25519(&a, a_pub, a_sec), 0);
    assert_int_equal(identity_x25519(&b, b_pub, b_sec), 0);
    assert_int_equal(identity_peer_x25519(b.public_key, b_pub_from_id), 0);
    assert_memory_equal(b_pub, b_pub_from_id, 32);
    assert_int_equal(crypto_scalarmult(s1, a_sec, b_pub), 0);
    assert_int_equal(crypto_scalarmult(s2, b_sec, a_pub), 0);
    assert_memory_equal(s1, s2, 32);
}

static void test_hex_and_fingerprint(void **state)
{
    (void)state;
    uint8_t id[32], back[32];
    for (int i = 0; i < 32; i++)
        id[i] = (uint8_t)i;
    char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN];
    id_to_hex(id, hex);
    assert_string_equal(hex, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    assert_int_equal(id_from_hex(hex, back), 0);
    assert_memory_equal(id, back, 32);
    assert_int_equal(id_from_hex("00", back), -1);
    assert_int_equal(id_from_hex("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", back), -1);
    assert_int_equal(id_from_hex(NULL, back), -1);
    id_fingerprint(id, fp);
    assert_int_equal(strlen(fp), 19);
    assert_int_equal(fp[4], '-');
    id[0] ^= 1;
    char fp2[FINGERPRINT_LEN];
    id_fingerprint(id, fp2);
    assert_string_not_equal(fp, fp2);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_load),
        cmocka_unit_test(test_x25519_agree),
        cmocka_unit_test(test_hex_and_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
