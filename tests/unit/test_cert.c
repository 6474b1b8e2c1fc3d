/*
 * test_cert.c - cmocka tests for lib/cert: membership certificates and revocations (sign, encode,
 * decode, check), every field tampered, every truncation, the expiry and clock-skew edges, hex and
 * file round trips, and mesh ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert.h"

#define NOW 1800000000ULL

static identity_t admin, member, stranger;
static uint8_t mesh[MESH_ID_LEN];

static void make_identity(identity_t *id)
{
    crypto_sign_keypair(id->public_key, id->secret_key);
}

static int setup(void **state)
{
    (void)state;
    make_identity(&admin);
    make_identity(&member);
    make_identity(&stranger);
    mesh_id_generate(mesh);
    return 0;
}

static cert_t make_cert(uint64_t issued, uint64_t expires)
{
    cert_t c = {0};
    memcpy(c.mesh_id, mesh, MESH_ID_LEN);
    memcpy(c.member_key, member.public_key, 32);
    c.address = 0x0a640007;   // 10.100.0.7
    c.prefix = 16;
    c.issued = issued;
    c.expires = expires;
    assert_int_equal(cert_sign(&c, &admin), 0);
    return c;
}

static void test_sign_encode_decode(void **state)
{
    (void)state;
    cert_t c = make_cert(NOW - 10, NOW + 3600);
    assert_int_equal(c.version, CERT_VERSION);
    assert_memory_equal(c.issuer_key, admin.public_key, 32);
    uint8_t bytes[CERT_LEN];
    cert_encode(&c, bytes);
    // the layout: version, mesh id, member key, address big endian, prefix, ...
    assert_int_equal(bytes[0], 1);
    assert_memory_equal(bytes + 1, mesh, 16);
    assert_memory_equal(bytes + 17, member.public_key, 32);
    assert_int_equal(bytes[49], 10);
    assert_int_equal(bytes[52], 7);
    assert_int_equal(bytes[53], 16);
    assert_memory_equal(bytes + 70, admin.public_key, 32);

    cert_t d;
    char err[256] = "";
    assert_int_equal(cert_decode(bytes, sizeof bytes, &d, err, sizeof err), 0);
    assert_memory_equal(d.mesh_id, mesh, 16);
    assert_memory_equal(d.member_key, member.public_key, 32);
    assert_int_equal(d.address, 0x0a640007);
    assert_int_equal(d.prefix, 16);
    assert_int_equal(d.issued, NOW - 10);
    assert_int_equal(d.expires, NOW + 3600);
    assert_int_equal(cert_check(&d, mesh, admin.public_key, NOW, err, sizeof err), 0);
}

static void test_every_byte_tampered(void **state)
{
    (void)state;
    cert_t c = make_cert(NOW - 10, NOW + 3600);
    uint8_t bytes[CERT_LEN];
    cert_encode(&c, bytes);
    for (size_t i = 0; i < CERT_LEN; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            uint8_t copy[CERT_LEN];
            memcpy(copy, bytes, sizeof copy);
            copy[i] ^= (uint8_t)(1 << bit);
            cert_t d;
            char err[256] = "";
            int rc = cert_decode(copy, sizeof copy, &d, err, sizeof err);
            // a changed issuer key makes a signature check against another key: still refused
            if (rc == 0)
                fail_msg("byte %zu bit %d tampered, still decodes", i, bit);
            assert_true(strlen(err) > 0);
        }
    }
}

static void test_truncations_and_extensions(void **state)
{
    (void)state;
    cert_t c = make_cert(NOW - 10, NOW + 3600);
    uint8_t bytes[CERT_LEN + 1] = {0};
    cert_encode(&c, bytes);
    cert_t d;
    char err[256];
    for (size_t len = 0; len < CERT_LEN; len++)
        assert_int_equal(cert_decode(bytes, len, &d, err, sizeof err), -1);
    assert_int_equal(cert_decode(bytes, CERT_LEN + 1, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "bytes"));
    assert_int_equal(cert_decode(NULL, 0, &d, err, sizeof err), -1);
}

static void test_version_and_prefix(void **state)
{
    (void)state;
    cert_t c = make_cert(NOW - 10, NOW + 3600);
    uint8_t bytes[CERT_LEN];
    cert_encode(&c, bytes);
    bytes[0] = 2;
    cert_t d;
    char err[256];
    assert_int_equal(cert_decode(bytes, sizeof bytes, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "version 2"));
    // a prefix out of range is refused even when properly signed
    c = make_cert(NOW - 10, NOW + 3600);
    c.prefix = 33;
    cert_sign(&c, &admin);
    cert_encode(&c, bytes);
    assert_int_equal(cert_decode(bytes, sizeof bytes, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "prefix"));
}

static void test_check_mesh_and_issuer(void **state)
{
    (void)state;
    cert_t c = make_cert(NOW - 10, NOW + 3600);
    char err[256];
    uint8_t other[MESH_ID_LEN];
    memcpy(other, mesh, sizeof other);
    other[15] ^= 1;
    assert_int_equal(cert_check(&c, other, admin.public_key, NOW, err, sizeof err), -1);
    assert_non_null(strstr(err, "mesh"));
    assert_int_equal(cert_check(&c, mesh, stranger.public_key, NOW, err, sizeof err), -1);
    assert_non_null(strstr(err, "admin"));
    // a certificate signed by a stranger decodes (its signature is its own) but is not the admin's
    cert_t s = c;
    cert_sign(&s, &stranger);
    uint8_t bytes[CERT_LEN];
    cert_encode(&s, bytes);
    cert_t d;
    assert_int_equal(cert_decode(bytes, sizeof bytes, &d, err, sizeof err), 0);
    assert_int_equal(cert_check(&d, mesh, admin.public_key, NOW, err, sizeof err), -1);
    // a stranger's signature under the admin's key does not verify
    memcpy(s.issuer_key, admin.public_key, 32);
    cert_encode(&s, bytes);
    assert_int_equal(cert_decode(bytes, sizeof bytes, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "signature"));
}

static void test_expiry_edges(void **state)
{
    (void)state;
    char err[256];
    cert_t c = make_cert(NOW, NOW + 100);
    assert_int_equal(cert_check(&c, mesh, admin.public_key, NOW + 99, err, sizeof err), 0);
    assert_int_equal(cert_check(&c, mesh, admin.public_key, NOW + 100, err, sizeof err), -1);
    assert_non_null(strstr(err, "expired 0 s ago"));
    assert_int_equal(cert_check(&c, mesh, admin.public_key, NOW + 160, err, sizeof err), -1);
    assert_non_null(strstr(err, "expired 60 s ago"));
    // clock skew: usable from issued - CERT_CLOCK_SKEW on
    assert_int_equal(cert_check(&c, mesh, admin.public_key, NOW - CERT_CLOCK_SKEW, err, sizeof err), 0);
    assert_int_equal(cert_check(&c, mesh, admin.public_key, NOW - CERT_CLOCK_SKEW - 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "clocks"));
    // expires 0: never
    cert_t forever = make_cert(NOW, 0);
    assert_int_equal(cert_check(&forever, mesh, admin.public_key, UINT64_MAX - 1, err, sizeof err), 0);
    // issued near 0 does not wrap
    cert_t early = make_cert(5, 0);
    assert_int_equal(cert_check(&early, mesh, admin.public_key, 0, err, sizeof err), 0);
}

static void test_hex_and_file(void **state)
{
    (void)state;
    cert_t c = make_cert(NOW - 10, NOW + 3600), d;
    char hex[CERT_HEX_LEN], err[512];
    cert_to_hex(&c, hex);
    assert_int_equal(strlen(hex), 2 * CERT_LEN);
    assert_int_equal(cert_from_hex(hex, &d, err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
    char padded[CERT_HEX_LEN + 8];
    snprintf(padded, sizeof padded, "  %s\n", hex);
    assert_int_equal(cert_from_hex(padded, &d, err, sizeof err), 0);
    hex[10] = 'x';
    assert_int_equal(cert_from_hex(hex, &d, err, sizeof err), -1);
    hex[2 * CERT_LEN - 1] = '\0';
    assert_int_equal(cert_from_hex(hex, &d, err, sizeof err), -1);
    assert_int_equal(cert_from_hex(NULL, &d, err, sizeof err), -1);

    char dir[] = "/tmp/weft-cert-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/member.cert", dir);
    assert_int_equal(cert_save(path, &c, err, sizeof err), 0);
    memset(&d, 0, sizeof d);
    assert_int_equal(cert_load(path, &d, err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
    FILE *f = fopen(path, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    assert_int_equal(cert_load(path, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    unlink(path);
    assert_int_equal(cert_load(path, &d, err, sizeof err), -1);
    rmdir(dir);
}

static void test_revocation(void **state)
{
    (void)state;
    revocation_t r = {0};
    memcpy(r.mesh_id, mesh, MESH_ID_LEN);
    memcpy(r.member_key, member.public_key, 32);
    r.revoked_at = NOW;
    assert_int_equal(revocation_sign(&r, &admin), 0);
    uint8_t bytes[REVOCATION_LEN + 1];
    revocation_encode(&r, bytes);
    revocation_t d;
    char err[256];
    assert_int_equal(revocation_decode(bytes, REVOCATION_LEN, &d, err, sizeof err), 0);
    assert_memory_equal(d.member_key, member.public_key, 32);
    assert_int_equal(d.revoked_at, NOW);
    assert_int_equal(revocation_check(&d, mesh, admin.public_key, err, sizeof err), 0);
    assert_int_equal(revocation_check(&d, mesh, stranger.public_key, err, sizeof err), -1);
    uint8_t other[MESH_ID_LEN] = {0};
    assert_int_equal(revocation_check(&d, other, admin.public_key, err, sizeof err), -1);
    for (size_t i = 0; i < REVOCATION_LEN; i++) {
        uint8_t copy[REVOCATION_LEN];
        memcpy(copy, bytes, sizeof copy);
        copy[i] ^= 0x10;
        if (revocation_decode(copy, sizeof copy, &d, err, sizeof err) == 0)
            fail_msg("revocation byte %zu tampered, still decodes", i);
    }
    for (size_t len = 0; len < REVOCATION_LEN; len++)
        assert_int_equal(revocation_decode(bytes, len, &d, err, sizeof err), -1);
    assert_int_equal(revocation_decode(bytes, REVOCATION_LEN + 1, &d, err, sizeof err), -1);
    // a certificate's signature is no revocation's, and the other way round (different contexts)
    cert_t c = make_cert(NOW, NOW + 10);
    uint8_t cb[CERT_LEN];
    cert_encode(&c, cb);
    assert_int_equal(revocation_decode(cb, REVOCATION_LEN, &d, err, sizeof err), -1);
}

static void test_mesh_id_hex(void **state)
{
    (void)state;
    char hex[MESH_ID_HEX_LEN];
    uint8_t back[MESH_ID_LEN];
    mesh_id_to_hex(mesh, hex);
    assert_int_equal(strlen(hex), 32);
    assert_int_equal(mesh_id_from_hex(hex, back), 0);
    assert_memory_equal(back, mesh, MESH_ID_LEN);
    assert_int_equal(mesh_id_from_hex("abc", back), -1);
    assert_int_equal(mesh_id_from_hex("zz000000000000000000000000000000", back), -1);
    assert_int_equal(mesh_id_from_hex(NULL, back), -1);
    uint8_t a[MESH_ID_LEN], b[MESH_ID_LEN];
    mesh_id_generate(a);
    mesh_id_generate(b);
    assert_memory_not_equal(a, b, MESH_ID_LEN);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_encode_decode),
        cmocka_unit_test(test_every_byte_tampered),
        cmocka_unit_test(test_truncations_and_extensions),
        cmocka_unit_test(test_version_and_prefix),
        cmocka_unit_test(test_check_mesh_and_issuer),
        cmocka_unit_test(test_expiry_edges),
        cmocka_unit_test(test_hex_and_file),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_mesh_id_hex),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
