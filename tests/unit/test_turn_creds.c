// test_turn_creds.c — the hub's TURN REST credentials (services/hub/turn_creds.c): HMAC-SHA1 against
// RFC 2202's test vectors, the username/password scheme coturn checks (against a value computed with
// `openssl dgst -sha1 -hmac`), the HubReply that carries them, and discovery's side: what it takes,
// when it asks again, and what it passes to nat (services/discovery/discovery_turn.c).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discovery_turn.h"
#include "hub.pb-c.h"
#include "turn_creds.h"
#include "wire.h"

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

static void test_discovery_side(void **state)
{
    (void)state;
    turn_creds_config_t c = lab_config();
    uint8_t id[32] = {0xab};
    size_t len = 0;
    uint8_t *buf = turn_creds_reply_pack(&c, id, 1700000000, &len);
    Weft__HubReply *reply = weft__hub_reply__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(reply);
    discovery_turn_t turn = {0};
    char why[160];
    assert_true(discovery_turn_wanted(&turn, 1700000000));   // none yet
    assert_int_equal(discovery_turn_take(&turn, reply->turn_credentials, 1700000000, why, sizeof why), 0);
    assert_false(discovery_turn_wanted(&turn, 1700000000));
    assert_false(discovery_turn_wanted(&turn, 1700000039));
    assert_true(discovery_turn_wanted(&turn, 1700000040));   // a third of 60 s left
    // clock skew: credentials that are already expired by our clock are refused, saying why
    discovery_turn_t late = {0};
    assert_int_equal(discovery_turn_take(&late, reply->turn_credentials, 1700000060, why, sizeof why), -1);
    assert_non_null(strstr(why, "already expired"));
    assert_non_null(strstr(why, "clock"));
    assert_null(late.packed);
    // passed on to nat as an Envelope, over a real socket pair
    zsock_t *pull = zsock_new_pull("inproc://turn-test");
    zsock_t *push = zsock_new_push("inproc://turn-test");
    assert_int_equal(discovery_turn_push(&turn, push, 1000, false), 0);
    assert_int_equal(discovery_turn_push(&turn, push, 2000, false), -1);   // not due again yet
    assert_int_equal(discovery_turn_push(&turn, push, 1000 + DISCOVERY_TURN_PUSH_MS, false), 0);
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(pull, &payload);
    assert_non_null(env);
    assert_int_equal(env->body_case, WEFT__ENVELOPE__BODY_TURN_CREDENTIALS);
    assert_string_equal(env->turn_credentials->username, reply->turn_credentials->username);
    assert_string_equal(env->turn_credentials->password, reply->turn_credentials->password);
    weft__envelope__free_unpacked(env, NULL);
    zframe_destroy(&payload);
    // bad ones
    Weft__TurnCredentials bad = *reply->turn_credentials;
    bad.n_servers = 0;
    assert_int_equal(discovery_turn_take(&late, &bad, 1700000000, why, sizeof why), -1);
    bad = *reply->turn_credentials;
    bad.password = "with space";
    assert_int_equal(discovery_turn_take(&late, &bad, 1700000000, why, sizeof why), -1);
    discovery_turn_clear(&turn);
    assert_null(turn.packed);
    assert_int_equal(discovery_turn_push(&turn, push, 99999, true), -1);   // nothing to pass on
    zsock_destroy(&push);
    zsock_destroy(&pull);
    weft__hub_reply__free_unpacked(reply, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2202_vectors),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_discovery_side),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
