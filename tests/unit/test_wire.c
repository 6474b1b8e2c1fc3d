// test_wire.c — protobuf round trips of every message, packet batches built and walked, and malformed
// messages and batches rejected over a real ZeroMQ socket pair.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "hub.pb-c.h"
#include "wire.h"

static void test_envelope_round_trips(void **state)
{
    (void)state;
    uint8_t id[32];
    memset(id, 0xab, sizeof id);
    Weft__Peer peer = WEFT__PEER__INIT;
    peer.id.data = id;
    peer.id.len = 32;
    peer.name = "beta";
    peer.overlay_addr = "10.100.0.2";
    peer.last_seen_ms = 1234567;
    Weft__Peer *peers[] = {&peer};
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.mesh = "lab";
    list.n_peers = 1;
    list.peers = peers;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_PEERS;
    env.peers = &list;
    uint8_t buf[512];
    size_t len = weft__envelope__pack(&env, buf);
    Weft__Envelope *back = weft__envelope__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->body_case, WEFT__ENVELOPE__BODY_PEERS);
    assert_string_equal(back->peers->mesh, "lab");
    assert_int_equal(back->peers->n_peers, 1);
    assert_memory_equal(back->peers->peers[0]->id.data, id, 32);
    assert_string_equal(back->peers->peers[0]->overlay_addr, "10.100.0.2");
    assert_int_equal(back->peers->peers[0]->last_seen_ms, 1234567);
    weft__envelope__free_unpacked(back, NULL);

    char *cands[] = {"a=candidate:1 1 UDP 2013266431 10.99.0.2 40000 typ host"};
    Weft__Signal sig = WEFT__SIGNAL__INIT;
    sig.from.data = id;
    sig.from.len = 32;
    sig.kind = WEFT__SIGNAL__KIND__ANSWER;
    sig.ufrag = "uf";
    sig.pwd = "pw";
    sig.n_candidates = 1;
    sig.candidates = cands;
    sig.answers = "offer-uf";
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_SIGNAL;
    req.signal = &sig;
    len = weft__hub_request__pack(&req, buf);
    Weft__HubRequest *rback = weft__hub_request__unpack(NULL, len, buf);
    assert_non_null(rback);
    assert_int_equal(rback->signal->kind, WEFT__SIGNAL__KIND__ANSWER);
    assert_string_equal(rback->signal->candidates[0], cands[0]);
    assert_string_equal(rback->signal->answers, "offer-uf");
    weft__hub_request__free_unpacked(rback, NULL);

    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = "lab";
    reg.id.data = id;
    reg.id.len = 32;
    reg.overlay_addr = "10.100.0.1";
    Weft__HubRequest req2 = WEFT__HUB_REQUEST__INIT;
    req2.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req2.register_ = &reg;
    len = weft__hub_request__pack(&req2, buf);
    rback = weft__hub_request__unpack(NULL, len, buf);
    assert_non_null(rback);
    assert_string_equal(rback->register_->overlay_addr, "10.100.0.1");
    weft__hub_request__free_unpacked(rback, NULL);
}

static void test_batch_build_and_walk(void **state)
{
    (void)state;
    packet_batch_t *b = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    uint8_t peer_a[32], peer_b[32];
    memset(peer_a, 1, 32);
    memset(peer_b, 2, 32);
    uint8_t pkt[1400];
    for (int i = 0; i < 10; i++) {
        memset(pkt, i, sizeof pkt);
        assert_int_equal(packet_batch_add(b, pkt, 100 + i, i % 2 ? peer_b : peer_a), 0);
    }
    assert_int_equal(b->count, 10);
    assert_int_equal(b->peer_count, 2);
    // fill to the packet limit
    while (packet_batch_fits(b, 10, peer_a))
        packet_batch_add(b, pkt, 10, peer_a);
    assert_int_equal(b->count, WIRE_MAX_BATCH_PACKETS);
    assert_int_equal(packet_batch_add(b, pkt, 10, peer_a), -1);

    // send over a real socket pair and walk it on the other side
    zsock_t *pull = zsock_new_pull("inproc://test-batch");
    zsock_t *push = zsock_new_push("inproc://test-batch");
    packet_batch_reset(b);
    for (int i = 0; i < 10; i++) {
        memset(pkt, i, sizeof pkt);
        packet_batch_add(b, pkt, 100 + i, i % 2 ? peer_b : peer_a);
    }
    assert_int_equal(packet_batch_send(b, push), 10);
    assert_int_equal(b->count, 0);
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(pull, &payload);
    assert_non_null(env);
    assert_non_null(payload);
    packet_view_t view;
    char why[128];
    assert_int_equal(packet_view_init(&view, env->packets, payload, why, sizeof why), 0);
    const uint8_t *data, *peer;
    size_t len;
    int i = 0;
    while (packet_view_next(&view, &data, &len, &peer)) {
        assert_int_equal(len, 100 + i);
        assert_int_equal(data[0], i);
        assert_int_equal(data[len - 1], i);
        assert_memory_equal(peer, i % 2 ? peer_b : peer_a, 32);
        i++;
    }
    assert_int_equal(i, 10);
    zframe_destroy(&payload);
    weft__envelope__free_unpacked(env, NULL);
    packet_batch_destroy(&b);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

static void test_bad_batches_rejected(void **state)
{
    (void)state;
    uint8_t data[100] = {0};
    zframe_t *payload = zframe_new(data, sizeof data);
    uint32_t lengths[] = {60, 50};  // 110 != 100
    Weft__PacketBatch hdr = WEFT__PACKET_BATCH__INIT;
    hdr.n_lengths = 2;
    hdr.lengths = lengths;
    packet_view_t v;
    char why[128];
    assert_int_equal(packet_view_init(&v, &hdr, payload, why, sizeof why), -1);
    lengths[1] = 40;
    assert_int_equal(packet_view_init(&v, &hdr, payload, why, sizeof why), 0);
    uint32_t index[] = {0, 3};
    uint8_t id[32] = {0};
    ProtobufCBinaryData peers[] = {{32, id}};
    hdr.n_peers = 1;
    hdr.peers = peers;
    hdr.n_peer_index = 2;
    hdr.peer_index = index;
    assert_int_equal(packet_view_init(&v, &hdr, payload, why, sizeof why), -1);  // index 3 out of range
    index[1] = 0;
    assert_int_equal(packet_view_init(&v, &hdr, payload, why, sizeof why), 0);
    peers[0].len = 31;
    assert_int_equal(packet_view_init(&v, &hdr, payload, why, sizeof why), -1);  // short id
    peers[0].len = 32;
    hdr.n_peer_index = 1;
    assert_int_equal(packet_view_init(&v, &hdr, payload, why, sizeof why), -1);  // index count mismatch
    zframe_destroy(&payload);
}

static void test_garbage_messages_dropped(void **state)
{
    (void)state;
    zsock_t *pull = zsock_new_pull("inproc://test-garbage");
    zsock_t *push = zsock_new_push("inproc://test-garbage");
    zsock_set_rcvtimeo(pull, 1000);
    zframe_t *payload = NULL;
    // three frames
    zstr_sendm(push, "a");
    zstr_sendm(push, "b");
    zstr_send(push, "c");
    assert_null(wire_recv(pull, &payload));
    // not protobuf
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    zsock_send(push, "b", junk, sizeof junk);
    assert_null(wire_recv(pull, &payload));
    // empty envelope
    zsock_send(push, "b", "", (size_t)0);
    assert_null(wire_recv(pull, &payload));
    // packet batch without payload frame
    Weft__PacketBatch hdr = WEFT__PACKET_BATCH__INIT;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_PACKETS;
    env.packets = &hdr;
    assert_int_equal(wire_send(push, &env, NULL, 0, false), 0);
    assert_null(wire_recv(pull, &payload));
    // random bytes, many times: dropped or accepted, never a crash
    unsigned seed = 7;
    for (int i = 0; i < 2000; i++) {
        uint8_t buf[64];
        size_t n = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rand_r(&seed);
        zsock_send(push, "b", buf, n);
        Weft__Envelope *e = wire_recv(pull, &payload);
        if (e)
            weft__envelope__free_unpacked(e, NULL);
        zframe_destroy(&payload);
    }
    // and a good message still arrives after all that
    Weft__StatusRequest sr = WEFT__STATUS_REQUEST__INIT;
    Weft__Envelope good = WEFT__ENVELOPE__INIT;
    good.body_case = WEFT__ENVELOPE__BODY_STATUS_REQUEST;
    good.status_request = &sr;
    assert_int_equal(wire_send(push, &good, NULL, 0, false), 0);
    Weft__Envelope *e = wire_recv(pull, &payload);
    assert_non_null(e);
    assert_int_equal(e->body_case, WEFT__ENVELOPE__BODY_STATUS_REQUEST);
    weft__envelope__free_unpacked(e, NULL);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_round_trips),
        cmocka_unit_test(test_batch_build_and_walk),
        cmocka_unit_test(test_bad_batches_rejected),
        cmocka_unit_test(test_garbage_messages_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
