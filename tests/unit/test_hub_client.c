/*
 * test_hub_client.c - cmocka tests for lib/hub_client against a real CURVE ROUTER on loopback (a thread
 * here plays the hub): a call gets its answer past what the hub pushes unasked and past malformed
 * messages, a wrong hub key gets the "no answer" error in time, a bad key is refused, and hub_client_recv
 * reports a message that is not one HubReply frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <czmq.h>
#include <sodium.h>
#include <string.h>

#include "hub_client.h"
#include "hub_key.h"

typedef struct {
    zcert_t *cert;       // the hub's CURVE key pair
    char endpoint[64];
} hub_t;

static zframe_t *packed_reply(const Weft__HubReply *reply)
{
    zframe_t *frame = zframe_new(NULL, weft__hub_reply__get_packed_size(reply));
    weft__hub_reply__pack(reply, zframe_data(frame));
    return frame;
}

// Answers each request: first a two-frame message, then a PeerList, then Done "pong" (or, for a Leave,
// only the two-frame message).
static void hub_actor(zsock_t *pipe, void *args)
{
    hub_t *hub = args;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_curve_server(router, 1);
    zcert_apply(hub->cert, router);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    snprintf(hub->endpoint, sizeof hub->endpoint, "tcp://127.0.0.1:%d", port);
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    while (zpoller_wait(poller, -1) == router) {
        zmsg_t *msg = zmsg_recv(router);
        zframe_t *who = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        Weft__HubRequest *req = weft__hub_request__unpack(NULL, zframe_size(body), zframe_data(body));
        zmsg_t *bad = zmsg_new();
        zmsg_append(bad, &(zframe_t *){zframe_dup(who)});
        zmsg_addstr(bad, "one");
        zmsg_addstr(bad, "two");
        zmsg_send(&bad, router);
        if (req && req->body_case != WEFT__HUB_REQUEST__BODY_LEAVE) {
            Weft__PeerList peers = WEFT__PEER_LIST__INIT;
            Weft__HubReply pushed = WEFT__HUB_REPLY__INIT;
            pushed.body_case = WEFT__HUB_REPLY__BODY_PEERS;
            pushed.peers = &peers;
            zframe_t *frame = packed_reply(&pushed);
            zframe_send(&(zframe_t *){zframe_dup(who)}, router, ZFRAME_MORE);
            zframe_send(&frame, router, 0);
            Weft__Done done = WEFT__DONE__INIT;
            done.message = "pong";
            Weft__HubReply answer = WEFT__HUB_REPLY__INIT;
            answer.body_case = WEFT__HUB_REPLY__BODY_DONE;
            answer.done = &done;
            frame = packed_reply(&answer);
            zframe_send(&(zframe_t *){zframe_dup(who)}, router, ZFRAME_MORE);
            zframe_send(&frame, router, 0);
        }
        if (req)
            weft__hub_request__free_unpacked(req, NULL);
        zframe_destroy(&who);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

static void node_identity(identity_t *id)
{
    crypto_sign_keypair(id->public_key, id->secret_key);
}

static void test_call_gets_its_answer(void **state)
{
    (void)state;
    hub_t hub = {.cert = zcert_new()};
    zactor_t *actor = zactor_new(hub_actor, &hub);
    identity_t id;
    node_identity(&id);
    char err[256] = "";
    hub_client_t *client = hub_client_new(hub.endpoint, zcert_public_txt(hub.cert), &id, NULL, err, sizeof err);
    assert_non_null(client);
    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = "m";
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req.register_ = &reg;
    Weft__HubReply *reply = hub_client_call(client, &req, 5000, err, sizeof err);
    assert_non_null(reply);
    assert_int_equal(reply->body_case, WEFT__HUB_REPLY__BODY_DONE);  // the PeerList and the 2 frames skipped
    assert_string_equal(reply->done->message, "pong");
    weft__hub_reply__free_unpacked(reply, NULL);
    hub_client_destroy(&client);

    // the key as `weft hub key` prints it now (64 hex) reaches the same hub
    char hex[HUB_KEY_HEX_LEN];
    hub_key_format(zcert_public_key(hub.cert), hex);
    client = hub_client_new(hub.endpoint, hex, &id, NULL, err, sizeof err);
    assert_non_null(client);
    reply = hub_client_call(client, &req, 5000, err, sizeof err);
    assert_non_null(reply);
    assert_int_equal(reply->body_case, WEFT__HUB_REPLY__BODY_DONE);
    weft__hub_reply__free_unpacked(reply, NULL);

    // the actor loop's way: send, poll the socket, receive; a two-frame message is reported, not decoded
    Weft__Leave leave = WEFT__LEAVE__INIT;
    leave.mesh = "m";
    req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE;
    req.leave = &leave;
    assert_int_equal(hub_client_send(client, &req, ZMQ_DONTWAIT), 0);
    zpoller_t *poller = zpoller_new(hub_client_socket(client), NULL);
    assert_ptr_equal(zpoller_wait(poller, 5000), hub_client_socket(client));
    size_t frames = 0;
    assert_null(hub_client_recv(client, &frames));
    assert_int_equal(frames, 2);
    zpoller_destroy(&poller);
    hub_client_destroy(&client);
    assert_null(client);
    zactor_destroy(&actor);
    zcert_destroy(&hub.cert);
}

static void test_wrong_hub_key_gets_no_answer(void **state)
{
    (void)state;
    hub_t hub = {.cert = zcert_new()};
    zactor_t *actor = zactor_new(hub_actor, &hub);
    zcert_t *other = zcert_new();
    identity_t id;
    node_identity(&id);
    char err[256] = "";
    hub_client_t *client = hub_client_new(hub.endpoint, zcert_public_txt(other), &id, NULL, err, sizeof err);
    assert_non_null(client);  // CURVE fails in the handshake, so connecting itself works
    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = "m";
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req.register_ = &reg;
    int64_t start = zclock_mono();
    assert_null(hub_client_call(client, &req, 1000, err, sizeof err));
    int64_t took = zclock_mono() - start;
    assert_true(took >= 900 && took < 3000);
    assert_non_null(strstr(err, "no answer from the hub at"));
    hub_client_destroy(&client);
    zcert_destroy(&other);
    zactor_destroy(&actor);
    zcert_destroy(&hub.cert);
}

static void test_bad_key_is_refused(void **state)
{
    (void)state;
    identity_t id;
    node_identity(&id);
    char err[256] = "";
    assert_null(hub_client_new("tcp://127.0.0.1:9", "short", &id, NULL, err, sizeof err));
    assert_non_null(strstr(err, "64 hex characters"));
    err[0] = '\0';
    assert_null(hub_client_new("tcp://127.0.0.1:9", NULL, &id, NULL, err, sizeof err));
    assert_non_null(strstr(err, "64 hex characters"));
    err[0] = '\0';
    zcert_t *cert = zcert_new();
    assert_null(hub_client_new("not an endpoint", zcert_public_txt(cert), &id, NULL, err, sizeof err));
    assert_non_null(strstr(err, "cannot connect to the hub at 'not an endpoint'"));
    zcert_destroy(&cert);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_gets_its_answer),
        cmocka_unit_test(test_wrong_hub_key_gets_no_answer),
        cmocka_unit_test(test_bad_key_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
