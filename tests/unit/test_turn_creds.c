// test_turn_creds.c — the hub's TURN REST credentials (services/hub/turn_creds.c): HMAC-SHA1 against
// RFC 2202's test vectors, the username/password scheme coturn checks (against a value computed with
// `openssl dgst -sha1 -hmac`), and the HubReply that carries them.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hub.pb-c.h"
#include "turn_creds.h"

static void hex_of(const uint8_t *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", bytes[i]);
}

static void check_hmac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len, const char *want)
{
    uint8_t mac[20];
    char hex[41];
    assert_int_equal(turn_creds_hmac_sha1(key, key_len, data, len, mac), 0);
    hex_of(mac, sizeof mac, hex);
    assert_string_equal(hex, want);
}

// RFC 2202 section 3, test cases 1..7
static void test_rfc2202_vectors(void **state)
{
    (void)state;
    uint8_t key[80];
    uint8_t data[50];
    memset(key, 0x0b, 20);
    check_hmac(key, 20, (const uint8_t *)"Hi There", 8, "b617318655057264e28bc0b6fb378c8ef146be00");
    check_hmac((const uint8_t *)"Jefe", 4, (const uint8_t *)"what do ya want for nothing?", 28,
               "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    check_hmac(key, 20, data, 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    check_hmac(key, 25, data, 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da");
    memset(key, 0x0c, 20);
    check_hmac(key, 20, (const uint8_t *)"Test With Truncation", 20, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04");
    memset(key, 0xaa, 80);
    check_hmac(key, 80, (const uint8_t *)"Test Using Larger Than Block-Size Key - Hash Key First", 54,
               "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    check_hmac(key, 80,
               (const uint8_t *)"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", 73,
               "e8e99d0f45237d786d6bbaa7965c7808bbff1a91");
}

static turn_creds_config_t lab_config(void)
{
    turn_creds_config_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.secret, sizeof c.secret, "lab-secret");
    snprintf(c.servers[0], sizeof c.servers[0], "198.18.1.2:3478");
    snprintf(c.servers[1], sizeof c.servers[1], "198.18.1.2:3478?transport=tcp");
    c.server_count = 2;
    c.ttl_s = 60;
    return c;
}

static void test_credentials(void **state)
{
    (void)state;
    turn_creds_config_t c = lab_config();
    uint8_t id[32];
    for (int i = 0; i < 32; i++)
        id[i] = (uint8_t)i;
    char user[TURN_CREDS_USER_LEN], pass[TURN_CREDS_PASS_LEN];
    int64_t expires = 0;
    assert_int_equal(turn_creds_make(&c, id, 1700000000, user, sizeof user, pass, sizeof pass, &expires), 0);
    assert_int_equal(expires, 1700000060);
    assert_string_equal(user, "1700000060:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    // printf %s USER | openssl dgst -sha1 -hmac lab-secret -binary | base64
    assert_string_equal(pass, "6OZFeWveueVkt3yuBgX/3Bi0cKw=");
    // no secret: none
    c.secret[0] = '\0';
    assert_int_equal(turn_creds_make(&c, id, 1700000000, user, sizeof user, pass, sizeof pass, &expires), -1);
    // too small buffers fail instead of truncating
    c = lab_config();
    assert_int_equal(turn_creds_make(&c, id, 1700000000, user, 20, pass, sizeof pass, &expires), -1);
    assert_int_equal(turn_creds_make(&c, id, 1700000000, user, sizeof user, pass, 10, &expires), -1);
}

static void test_reply(void **state)
{
    (void)state;
    turn_creds_config_t c = lab_config();
    uint8_t id[32] = {0xab};
    size_t len = 0;
    uint8_t *buf = turn_creds_reply_pack(&c, id, 1700000000, &len);
    assert_non_null(buf);
    Weft__HubReply *reply = weft__hub_reply__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(reply);
    assert_int_equal(reply->body_case, WEFT__HUB_REPLY__BODY_TURN_CREDENTIALS);
    Weft__TurnCredentials *t = reply->turn_credentials;
    assert_int_equal(t->n_servers, 2);
    assert_string_equal(t->servers[1], "198.18.1.2:3478?transport=tcp");
    assert_int_equal(t->expires_unix, 1700000060);
    assert_int_equal(t->ttl_s, 60);
    assert_true(strncmp(t->username, "1700000060:ab00", 15) == 0);
    assert_int_equal(strlen(t->password), 28);
    weft__hub_reply__free_unpacked(reply, NULL);
    // a hub without servers hands out nothing
    c.server_count = 0;
    assert_null(turn_creds_reply_pack(&c, id, 1700000000, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2202_vectors),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
