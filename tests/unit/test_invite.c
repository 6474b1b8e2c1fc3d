/*
 * test_invite.c - cmocka tests for lib/invite (invite codes) and lib/base32: round trips, the order of
 * the decoder's checks (prefix, base32, fields, checksum, signature), typo detection over every
 * character, truncations, expiry messages, and base32 against the RFC 4648 test vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base32.h"
#include "invite.h"

#define NOW 1800000000ULL

static identity_t admin, stranger;

static int setup(void **state)
{
    (void)state;
    crypto_sign_keypair(admin.public_key, admin.secret_key);
    crypto_sign_keypair(stranger.public_key, stranger.secret_key);
    return 0;
}

static invite_t make_invite(int hubs)
{
    invite_t inv = {0};
    mesh_id_generate(inv.mesh_id);
    snprintf(inv.mesh_name, sizeof inv.mesh_name, "home-lab");
    inv.hub_count = (uint8_t)hubs;
    for (int i = 0; i < hubs; i++)
        snprintf(inv.hubs[i], sizeof inv.hubs[i], "tcp://hub%d.example.net:%d", i, 7400 + i);
    randombytes_buf(inv.hub_key, sizeof inv.hub_key);
    inv.expires = NOW + 86400;
    inv.max_uses = 3;
    invite_new_nonce(&inv);
    char err[256];
    assert_int_equal(invite_sign(&inv, &admin, err, sizeof err), 0);
    return inv;
}

static void encode(const invite_t *inv, char *code, size_t len)
{
    char err[256];
    assert_int_equal(invite_encode(inv, code, len, err, sizeof err), 0);
}

// ---- base32 ----

static void test_base32_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *out[] = {"", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb", "mzxw6ytboi"};
    for (int i = 0; i < 7; i++) {
        char text[32];
        uint8_t back[32];
        size_t n = strlen(in[i]);
        assert_int_equal(base32_encode((const uint8_t *)in[i], n, text, sizeof text), (int)strlen(out[i]));
        assert_string_equal(text, out[i]);
        assert_int_equal(base32_decode(text, strlen(text), back, sizeof back, NULL), (int)n);
        assert_memory_equal(back, in[i], n);
    }
}

static void test_base32_round_trips_and_errors(void **state)
{
    (void)state;
    uint8_t data[300], back[300];
    char text[600];
    for (size_t len = 0; len <= sizeof data; len += 7) {
        randombytes_buf(data, len);
        int n = base32_encode(data, len, text, sizeof text);
        assert_int_equal(n, (int)BASE32_ENCODED_LEN(len));
        assert_int_equal(base32_decode(text, (size_t)n, back, sizeof back, NULL), (int)len);
        assert_memory_equal(back, data, len);
        // upper case and whitespace are accepted
        for (int i = 0; i < n; i++)
            if (text[i] >= 'a' && text[i] <= 'z')
                text[i] = (char)(text[i] - 'a' + 'A');
        assert_int_equal(base32_decode(text, (size_t)n, back, sizeof back, NULL), (int)len);
    }
    assert_int_equal(base32_decode("mz xw\n6", 7, back, sizeof back, NULL), 3);
    size_t bad = 99;
    assert_int_equal(base32_decode("mzx1", 4, back, sizeof back, &bad), -1);
    assert_int_equal(bad, 3);
    assert_int_equal(base32_decode("mzx=", 4, back, sizeof back, &bad), -1);
    assert_int_equal(base32_decode("m", 1, back, sizeof back, NULL), -1);    // 5 bits: impossible length
    assert_int_equal(base32_decode("mz", 2, back, sizeof back, NULL), -1);   // non-zero padding bits
    assert_int_equal(base32_decode("mzxw6ytboi", 10, back, 5, NULL), -1);   // does not fit
    assert_int_equal(base32_encode(data, 10, text, BASE32_ENCODED_LEN(10)), -1);   // no room for NUL
}

// ---- invites ----

static void test_round_trip(void **state)
{
    (void)state;
    for (int hubs = 1; hubs <= INVITE_MAX_HUBS; hubs++) {
        invite_t inv = make_invite(hubs), back;
        char code[INVITE_MAX_CODE], err[256];
        encode(&inv, code, sizeof code);
        assert_memory_equal(code, "weft1-", 6);
        for (const char *p = code + 6; *p; p++)
            assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", *p));
        assert_int_equal(invite_decode(code, &back, err, sizeof err), 0);
        assert_memory_equal(&inv, &back, sizeof inv);
        assert_int_equal(invite_check_expiry(&back, NOW, err, sizeof err), 0);
    }
    // surrounding whitespace and an upper-case copy decode too
    invite_t inv = make_invite(1), back;
    char code[INVITE_MAX_CODE], padded[INVITE_MAX_CODE + 8], err[256];
    encode(&inv, code, sizeof code);
    snprintf(padded, sizeof padded, "  %s \n", code);
    assert_int_equal(invite_decode(padded, &back, err, sizeof err), 0);
    for (char *p = code; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(invite_decode(code, &back, err, sizeof err), 0);
    // the largest invite fits INVITE_MAX_CODE
    invite_t big = make_invite(INVITE_MAX_HUBS);
    memset(big.mesh_name, 'n', INVITE_MAX_NAME);
    for (int i = 0; i < INVITE_MAX_HUBS; i++)
        memset(big.hubs[i], 'h', INVITE_MAX_ENDPOINT);
    assert_int_equal(invite_sign(&big, &admin, err, sizeof err), 0);
    char bigcode[INVITE_MAX_CODE];
    encode(&big, bigcode, sizeof bigcode);
    assert_int_equal(invite_decode(bigcode, &back, err, sizeof err), 0);
    assert_memory_equal(&big, &back, sizeof big);
}

static void test_every_typo_is_caught(void **state)
{
    (void)state;
    invite_t inv = make_invite(2), back;
    char code[INVITE_MAX_CODE], err[256];
    encode(&inv, code, sizeof code);
    size_t len = strlen(code);
    int checksum = 0, other = 0;
    for (size_t i = 6; i < len; i++) {
        char saved = code[i];
        code[i] = saved == 'q' ? 'r' : 'q';   // another valid base32 character
        int rc = invite_decode(code, &back, err, sizeof err);
        if (rc == 0)
            fail_msg("typo at %zu not caught", i);
        assert_non_null(strstr(err, "copy"));
        assert_non_null(strstr(err, "typo"));
        if (strstr(err, "checksum mismatch"))
            checksum++;
        else
            other++;   // the last character's padding bits: not whole base32
        code[i] = saved;
    }
    assert_int_equal(checksum + other, (int)(len - 6));
    assert_true(other <= 1);
    // a character that cannot be in a code names itself
    code[20] = '0';
    assert_int_equal(invite_decode(code, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "'0'"));
    assert_non_null(strstr(err, "character 21"));
}

static void test_order_of_checks(void **state)
{
    (void)state;
    invite_t inv = make_invite(1), back;
    char code[INVITE_MAX_CODE], err[256];
    encode(&inv, code, sizeof code);

    assert_int_equal(invite_decode("hello", &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a weft invite code"));
    assert_int_equal(invite_decode(NULL, &back, err, sizeof err), -1);
    char v2[INVITE_MAX_CODE];
    snprintf(v2, sizeof v2, "weft2-%s", code + 6);
    assert_int_equal(invite_decode(v2, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "version"));

    // truncated codes: cut short, never a crash
    size_t len = strlen(code);
    for (size_t cut = 6; cut < len; cut++) {
        char shorter[INVITE_MAX_CODE];
        memcpy(shorter, code, cut);
        shorter[cut] = '\0';
        assert_int_equal(invite_decode(shorter, &back, err, sizeof err), -1);
    }
    code[len - 20] = '\0';
    assert_int_equal(invite_decode(code, &back, err, sizeof err), -1);
    assert_true(strstr(err, "cut short") != NULL);

    // a binary invite version byte other than 1 is reported before the checksum
    uint8_t bytes[INVITE_MAX_BYTES];
    int n = invite_pack(&inv, bytes, sizeof bytes, err, sizeof err);
    assert_true(n > 0);
    assert_int_equal(invite_unpack(bytes, (size_t)n, &back, err, sizeof err), 0);
    // (with the checksum fixed up: a code from another version of weft)
    bytes[0] = 7;
    crypto_generichash(bytes + n - 4, 4, bytes, (size_t)n - 4, NULL, 0);
    assert_int_equal(invite_unpack(bytes, (size_t)n, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "version 7"));
    bytes[0] = 1;   // (without: a typo)
    assert_int_equal(invite_unpack(bytes, (size_t)n, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "typo (checksum mismatch)"));
    crypto_generichash(bytes + n - 4, 4, bytes, (size_t)n - 4, NULL, 0);
    assert_int_equal(invite_unpack(bytes, (size_t)n, &back, err, sizeof err), 0);
    // extra bytes
    assert_int_equal(invite_unpack(bytes, (size_t)n + 1, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "copy all of it again"));
    // lengths out of range, checksum right: damaged (an encoder bug, not a typo)
    bytes[17] = 0;   // mesh name length 0
    crypto_generichash(bytes + n - 4, 4, bytes, (size_t)n - 4, NULL, 0);
    assert_int_equal(invite_unpack(bytes, (size_t)n, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "damaged: the mesh name's length"));
    // contents checked after the checksum: a non-printable name, checksum right
    bytes[17] = 8;
    bytes[18] = '\n';
    crypto_generichash(bytes + n - 4, 4, bytes, (size_t)n - 4, NULL, 0);
    assert_int_equal(invite_unpack(bytes, (size_t)n, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "damaged: mesh name"));
}

// A code with a valid checksum whose signature is wrong: the last check.
static void test_signature(void **state)
{
    (void)state;
    invite_t inv = make_invite(1), back;
    char code[INVITE_MAX_CODE], err[256];
    // signed by a stranger but naming the admin: the checksum is right, the signature is not
    assert_int_equal(invite_sign(&inv, &stranger, err, sizeof err), 0);
    memcpy(inv.admin_key, admin.public_key, 32);
    encode(&inv, code, sizeof code);
    assert_int_equal(invite_decode(code, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "signature"));
    // a changed field after signing (re-checksummed by invite_encode): signature fails
    inv = make_invite(1);
    inv.max_uses = 1000;
    encode(&inv, code, sizeof code);
    assert_int_equal(invite_decode(code, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "signature"));
}

static void test_fields_checked_when_signing(void **state)
{
    (void)state;
    char err[256];
    invite_t inv = make_invite(1);
    inv.mesh_name[0] = '\0';
    assert_int_equal(invite_sign(&inv, &admin, err, sizeof err), -1);
    inv = make_invite(1);
    inv.hub_count = 0;
    assert_int_equal(invite_sign(&inv, &admin, err, sizeof err), -1);
    inv.hub_count = INVITE_MAX_HUBS + 1;
    assert_int_equal(invite_sign(&inv, &admin, err, sizeof err), -1);
    inv = make_invite(1);
    inv.max_uses = 0;
    assert_int_equal(invite_sign(&inv, &admin, err, sizeof err), -1);
    inv = make_invite(1);
    inv.hubs[0][3] = '\n';
    assert_int_equal(invite_sign(&inv, &admin, err, sizeof err), -1);
    inv = make_invite(1);
    char small[20];
    assert_int_equal(invite_encode(&inv, small, sizeof small, err, sizeof err), -1);
}

static void test_expiry(void **state)
{
    (void)state;
    invite_t inv = make_invite(1);
    char err[256];
    inv.expires = NOW;
    assert_int_equal(invite_check_expiry(&inv, NOW - 1, err, sizeof err), 0);
    assert_int_equal(invite_check_expiry(&inv, NOW, err, sizeof err), -1);
    assert_int_equal(invite_check_expiry(&inv, NOW + 3 * 3600 + 100, err, sizeof err), -1);
    assert_string_equal(err, "invite expired 3 h ago: ask for a new one with `weft mesh invite`");
    assert_int_equal(invite_check_expiry(&inv, NOW + 30, err, sizeof err), -1);
    assert_non_null(strstr(err, "30 s ago"));
    assert_int_equal(invite_check_expiry(&inv, NOW + 600, err, sizeof err), -1);
    assert_non_null(strstr(err, "10 min ago"));
    assert_int_equal(invite_check_expiry(&inv, NOW + 5 * 86400, err, sizeof err), -1);
    assert_non_null(strstr(err, "5 d ago"));
}

// ---- the joiner's signature and the admin's checks of a certificate request ----

static void test_join_signature(void **state)
{
    (void)state;
    invite_t inv = make_invite(1);
    uint8_t sig[INVITE_JOIN_SIG_LEN];
    invite_join_sign(&stranger, inv.mesh_id, inv.nonce, sig);
    assert_int_equal(invite_join_verify(stranger.public_key, inv.mesh_id, inv.nonce, sig, sizeof sig), 0);
    assert_int_equal(invite_join_verify(admin.public_key, inv.mesh_id, inv.nonce, sig, sizeof sig), -1);  // other key
    assert_int_equal(invite_join_verify(stranger.public_key, inv.mesh_id, inv.nonce, sig, 63), -1);
    assert_int_equal(invite_join_verify(stranger.public_key, inv.mesh_id, inv.nonce, NULL, 0), -1);
    uint8_t other_nonce[INVITE_NONCE_LEN];
    memcpy(other_nonce, inv.nonce, sizeof other_nonce);
    other_nonce[0] ^= 1;
    assert_int_equal(invite_join_verify(stranger.public_key, inv.mesh_id, other_nonce, sig, sizeof sig), -1);
    uint8_t other_mesh[MESH_ID_LEN];
    memcpy(other_mesh, inv.mesh_id, sizeof other_mesh);
    other_mesh[15] ^= 1;
    assert_int_equal(invite_join_verify(stranger.public_key, other_mesh, inv.nonce, sig, sizeof sig), -1);
}

#define NET_10_100 ((10u << 24) | (100u << 16))

static invite_policy_t policy_for(const invite_t *inv)
{
    invite_policy_t p = {.network = NET_10_100 | 1, .prefix = 16, .own_address = NET_10_100 | 1, .now = NOW,
                         .max_days = 365};
    memcpy(p.mesh_id, inv->mesh_id, MESH_ID_LEN);
    memcpy(p.admin_key, admin.public_key, 32);
    return p;
}

// check(...) with the joiner `stranger`, address 10.100.0.7/16 unless given
static int check(const invite_policy_t *p, const invite_t *inv, const uint8_t *sig, uint32_t address,
                 uint64_t hub_expires, uint64_t *expires, char *err)
{
    uint8_t bin[INVITE_MAX_BYTES];
    char why[256];
    int len = inv ? invite_pack(inv, bin, sizeof bin, why, sizeof why) : 0;
    return invite_check_cert_request(p, inv ? bin : NULL, (size_t)len, stranger.public_key, sig, sig ? 64 : 0,
                                     address, 16, hub_expires, expires, err, 256);
}

static void test_cert_request_checks(void **state)
{
    (void)state;
    invite_t inv = make_invite(1);
    invite_policy_t p = policy_for(&inv);
    uint8_t sig[INVITE_JOIN_SIG_LEN], wrong[INVITE_JOIN_SIG_LEN];
    invite_join_sign(&stranger, inv.mesh_id, inv.nonce, sig);
    invite_join_sign(&admin, inv.mesh_id, inv.nonce, wrong);  // signed, by another key
    uint64_t expires = 1;
    char err[256];
    uint32_t addr = NET_10_100 | 7;

    // honest: expiry 0 from the hub becomes the admin's own limit, never 0
    assert_int_equal(check(&p, &inv, sig, addr, 0, &expires, err), 0);
    assert_int_equal(expires, NOW + 365 * 86400ULL);
    // a room's end sooner than that is kept; a far one is bounded
    assert_int_equal(check(&p, &inv, sig, addr, NOW + 3600, &expires, err), 0);
    assert_int_equal(expires, NOW + 3600);
    assert_int_equal(check(&p, &inv, sig, addr, NOW + 100ULL * 365 * 86400, &expires, err), 0);
    assert_int_equal(expires, NOW + 365 * 86400ULL);
    p.max_days = 7;
    assert_int_equal(check(&p, &inv, sig, addr, 0, &expires, err), 0);
    assert_int_equal(expires, NOW + 7 * 86400ULL);
    p.max_days = 365;
    assert_int_equal(check(&p, &inv, sig, addr, NOW - 1, &expires, err), -1);
    assert_non_null(strstr(err, "already expired"));

    // forged: no invite, no or a wrong joiner signature
    assert_int_equal(check(&p, NULL, sig, addr, 0, &expires, err), -1);
    assert_non_null(strstr(err, "no invite"));
    assert_int_equal(check(&p, &inv, NULL, addr, 0, &expires, err), -1);
    assert_non_null(strstr(err, "joiner's signature"));
    assert_int_equal(check(&p, &inv, wrong, addr, 0, &expires, err), -1);
    assert_non_null(strstr(err, "joiner's signature"));

    // an invite signed by someone else, for another mesh, or long expired
    invite_t foreign = make_invite(1);
    memcpy(foreign.mesh_id, inv.mesh_id, MESH_ID_LEN);
    assert_int_equal(invite_sign(&foreign, &stranger, err, 256), 0);
    assert_int_equal(check(&p, &foreign, sig, addr, 0, &expires, err), -1);
    assert_non_null(strstr(err, "not signed by this admin"));
    invite_t elsewhere = make_invite(1);
    uint8_t sig2[INVITE_JOIN_SIG_LEN];
    invite_join_sign(&stranger, elsewhere.mesh_id, elsewhere.nonce, sig2);
    assert_int_equal(check(&p, &elsewhere, sig2, addr, 0, &expires, err), -1);
    assert_non_null(strstr(err, "another mesh"));
    p.now = inv.expires + 61;
    assert_int_equal(check(&p, &inv, sig, addr, 0, &expires, err), -1);
    assert_non_null(strstr(err, "expired"));
    p.now = inv.expires + 59;  // the grace: the hub took the use a moment ago
    assert_int_equal(check(&p, &inv, sig, addr, 0, &expires, err), 0);
    p.now = NOW;

    // addresses: outside the network, the admin's own, the network and broadcast addresses, another prefix
    uint32_t bad[] = {(10u << 24) | (101u << 16) | 7, NET_10_100 | 1, NET_10_100, NET_10_100 | 0xffff};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(&p, &inv, sig, bad[i], 0, &expires, err), -1);
        assert_non_null(strstr(err, "address"));
    }
    uint8_t bin[INVITE_MAX_BYTES];
    int len = invite_pack(&inv, bin, sizeof bin, err, 256);
    assert_int_equal(invite_check_cert_request(&p, bin, (size_t)len, stranger.public_key, sig, 64, addr, 24, 0,
                                               &expires, err, 256), -1);
    // a damaged invite
    bin[10] ^= 1;
    assert_int_equal(invite_check_cert_request(&p, bin, (size_t)len, stranger.public_key, sig, 64, addr, 16, 0,
                                               &expires, err, 256), -1);
    assert_non_null(strstr(err, "does not decode"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base32_rfc4648_vectors),
        cmocka_unit_test(test_base32_round_trips_and_errors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_typo_is_caught),
        cmocka_unit_test(test_order_of_checks),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_fields_checked_when_signing),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_join_signature),
        cmocka_unit_test(test_cert_request_checks),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
