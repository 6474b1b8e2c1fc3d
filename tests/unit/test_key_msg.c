/*
 * test_key_msg.c - cmocka tests for the key hand-over messages (services/crypto/key_msg.c): a Keypair
 * and a KeyEvent sent through a real ZeroMQ pair (inproc://, lib/wire.c) and read back equal; every
 * malformed field refused with a reason; the keys of a received envelope wiped by key_msg_wipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <czmq.h>
#include <sodium.h>
#include <string.h>

#include "key_msg.h"
#include "wire.h"

static keyring_keypair_t sample(void)
{
    keyring_keypair_t kp = {.local_index = 0x01020304, .remote_index = 0xa0b0c0d0, .initiator = true,
                            .cipher = TRANSPORT_AES256_GCM};
    randombytes_buf(kp.peer, sizeof kp.peer);
    randombytes_buf(kp.send_key, sizeof kp.send_key);
    randombytes_buf(kp.recv_key, sizeof kp.recv_key);
    return kp;
}

static void test_keypair_through_a_socket(void **state)
{
    (void)state;
    zsock_t *out = zsock_new_pair("@inproc://test-key-msg");
    zsock_t *in = zsock_new_pair(">inproc://test-key-msg");
    assert_non_null(out);
    assert_non_null(in);
    keyring_keypair_t kp = sample();
    Weft__Keypair msg;
    key_msg_keypair(&msg, &kp);
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_KEYPAIR;
    env.keypair = &msg;
    assert_int_equal(wire_send(out, &env, NULL, 0, false), 0);
    zframe_t *payload = NULL;
    Weft__Envelope *got = wire_recv(in, &payload);
    assert_non_null(got);
    assert_null(payload);
    assert_int_equal(got->body_case, WEFT__ENVELOPE__BODY_KEYPAIR);
    keyring_keypair_t back;
    char why[128];
    assert_int_equal(key_msg_read_keypair(got->keypair, &back, why, sizeof why), 0);
    assert_memory_equal(&back, &kp, sizeof kp);
    key_msg_wipe(got);
    static const uint8_t zero[TRANSPORT_KEY_LEN];
    assert_memory_equal(got->keypair->send_key.data, zero, sizeof zero);
    assert_memory_equal(got->keypair->recv_key.data, zero, sizeof zero);
    weft__envelope__free_unpacked(got, NULL);
    zsock_destroy(&in);
    zsock_destroy(&out);
}

static void test_keypair_refusals(void **state)
{
    (void)state;
    keyring_keypair_t kp = sample(), back;
    char why[128];
    Weft__Keypair msg;
    key_msg_keypair(&msg, &kp);
    msg.peer.len = 31;
    assert_int_equal(key_msg_read_keypair(&msg, &back, why, sizeof why), -1);
    assert_non_null(strstr(why, "peer id"));
    key_msg_keypair(&msg, &kp);
    msg.recv_key.len = 16;
    assert_int_equal(key_msg_read_keypair(&msg, &back, why, sizeof why), -1);
    assert_non_null(strstr(why, "key is not 32"));
    static const uint8_t zero[TRANSPORT_KEY_LEN];
    assert_memory_equal(back.send_key, zero, sizeof zero);   // nothing of a refused message is kept
    key_msg_keypair(&msg, &kp);
    msg.local_index = 0;
    assert_int_equal(key_msg_read_keypair(&msg, &back, why, sizeof why), -1);
    assert_non_null(strstr(why, "index is 0"));
    key_msg_keypair(&msg, &kp);
    msg.cipher = (Weft__Keypair__Cipher)7;
    assert_int_equal(key_msg_read_keypair(&msg, &back, why, sizeof why), -1);
    assert_non_null(strstr(why, "cipher"));
}

static void test_event_round_trip_and_refusals(void **state)
{
    (void)state;
    key_event_t ev = {.kind = KEY_EVENT_ESTABLISHED, .cipher = TRANSPORT_AES256_GCM, .age_ms = 4242}, back;
    memset(ev.peer, 0x42, sizeof ev.peer);
    Weft__KeyEvent msg;
    key_msg_event(&msg, &ev);
    uint8_t buf[128];
    size_t len = weft__key_event__pack(&msg, buf);
    Weft__KeyEvent *got = weft__key_event__unpack(NULL, len, buf);
    assert_non_null(got);
    char why[128];
    assert_int_equal(key_msg_read_event(got, &back, why, sizeof why), 0);
    assert_memory_equal(&back, &ev, sizeof ev);
    got->kind = (Weft__KeyEvent__Kind)9;
    assert_int_equal(key_msg_read_event(got, &back, why, sizeof why), -1);
    assert_non_null(strstr(why, "kind"));
    got->kind = WEFT__KEY_EVENT__KIND__WANT_REKEY;
    got->peer.len = 0;
    assert_int_equal(key_msg_read_event(got, &back, why, sizeof why), -1);
    weft__key_event__free_unpacked(got, NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keypair_through_a_socket),
        cmocka_unit_test(test_keypair_refusals),
        cmocka_unit_test(test_event_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
