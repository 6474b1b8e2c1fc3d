/*
 * test_keyring.c - cmocka tests for the data plane's keys (services/crypto/keyring.c): two keyrings,
 * "alice" and "bob", handed matching keypairs the way the handshake side hands them over (alice as
 * initiator, bob as responder), pass their sealed datagrams to each other by hand with a fake clock.
 * The key hand-over: a keypair for an unknown peer or an index in use is refused; during a rekey the old
 * and the new keys both open what was sealed with them; traffic for an unknown index asks for a
 * handshake, at most once a second; expired keys are dropped; replays and forged sources are refused.
 * Mesh frames (lib/mesh_frame.h) go to the mesh callback, not the TUN, and are dropped without one; a
 * peer's accepted subnets widen its source check until they are cleared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto_wire.h"
#include "keyring.h"
#include "mesh_frame.h"
#include "wire.h"

typedef struct {
    uint8_t id[WIRE_ID_LEN];
    uint32_t addr;                   // network byte order
    service_t *svc;
    keyring_t *keys;
    packet_batch_t *wire, *tun;
    keyring_io_t io;
    int wants[3];                    // key_event_kind_t -> how often asked
    int established;
    transport_cipher_t established_cipher;
    int mesh_frames;                 // how often the mesh callback was called
    uint8_t mesh_from[WIRE_ID_LEN];  // and the last call's peer and frame
    uint8_t mesh_frame[1500];
    size_t mesh_len;
} side_t;

typedef struct {
    side_t alice, bob;
    int64_t now;
    uint32_t next_index;
} world_t;

static void on_want(void *ctx, const uint8_t peer[WIRE_ID_LEN], key_event_kind_t why)
{
    (void)peer;
    side_t *s = ctx;
    s->wants[why]++;
}

static void on_established(void *ctx, const uint8_t peer[WIRE_ID_LEN], transport_cipher_t cipher)
{
    (void)peer;
    side_t *s = ctx;
    s->established++;
    s->established_cipher = cipher;
}

static void on_mesh(void *ctx, const uint8_t peer[WIRE_ID_LEN], uint8_t *frame, size_t len)
{
    side_t *s = ctx;
    assert_true(len <= sizeof s->mesh_frame);
    s->mesh_frames++;
    memcpy(s->mesh_from, peer, WIRE_ID_LEN);
    memcpy(s->mesh_frame, frame, len);
    s->mesh_len = len;
}

static void side_start(side_t *s, uint8_t tag, const char *addr)
{
    memset(s->id, tag, WIRE_ID_LEN);
    inet_pton(AF_INET, addr, &s->addr);
    s->svc = calloc(1, sizeof *s->svc);
    s->keys = keyring_new(1500, s->svc);
    assert_non_null(s->keys);
    s->wire = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    s->tun = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    s->io = (keyring_io_t){.to_wire = s->wire, .to_tun = s->tun, .want = on_want,
                           .established = on_established, .mesh = on_mesh, .ctx = s};
}

static void side_stop(side_t *s)
{
    keyring_destroy(&s->keys);
    assert_null(s->keys);
    packet_batch_destroy(&s->wire);
    packet_batch_destroy(&s->tun);
    free(s->svc);
}

static uint64_t counter(side_t *s, const char *name)
{
    return *service_counter(s->svc, name);
}

static int setup(void **state)
{
    world_t *w = calloc(1, sizeof *w);
    side_start(&w->alice, 0xa1, "10.100.0.1");
    side_start(&w->bob, 0xb0, "10.100.0.2");
    assert_int_equal(keyring_add_peer(w->alice.keys, w->bob.id, w->bob.addr), 0);
    assert_int_equal(keyring_add_peer(w->bob.keys, w->alice.id, w->alice.addr), 0);
    w->now = 5000;
    w->next_index = 100;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world_t *w = *state;
    side_stop(&w->alice);
    side_stop(&w->bob);
    free(w);
    return 0;
}

// One handshake's keys handed to both sides: alice as initiator (current at once), bob as responder
// (next, until alice's first packet). Returns alice's local index.
static uint32_t hand_over(world_t *w, transport_cipher_t cipher)
{
    keyring_keypair_t a = {.local_index = w->next_index++, .remote_index = w->next_index++, .initiator = true,
                           .cipher = cipher};
    keyring_keypair_t b = {.local_index = a.remote_index, .remote_index = a.local_index, .initiator = false,
                           .cipher = cipher};
    memcpy(a.peer, w->bob.id, WIRE_ID_LEN);
    memcpy(b.peer, w->alice.id, WIRE_ID_LEN);
    randombytes_buf(a.send_key, sizeof a.send_key);
    randombytes_buf(a.recv_key, sizeof a.recv_key);
    memcpy(b.send_key, a.recv_key, sizeof b.send_key);
    memcpy(b.recv_key, a.send_key, sizeof b.recv_key);
    assert_int_equal(keyring_install(w->bob.keys, &b, w->now, &w->bob.io), 0);
    assert_int_equal(keyring_install(w->alice.keys, &a, w->now, &w->alice.io), 0);
    return a.local_index;
}

// An IPv4 header from src with a payload byte, len bytes in all.
static void make_packet(uint8_t *pkt, size_t len, uint32_t src, uint8_t mark)
{
    memset(pkt, 0, len);
    pkt[0] = 0x45;
    memcpy(pkt + 12, &src, 4);
    pkt[len - 1] = mark;
}

// Delivers every datagram in from's wire batch to to's keyring (as nat would, tagged with from's id).
static void deliver(world_t *w, side_t *from, side_t *to)
{
    size_t offset = 0;
    for (size_t k = 0; k < from->wire->count; offset += from->wire->lengths[k], k++) {
        crypto_datagram_t d;
        assert_int_equal(crypto_datagram_decode(from->wire->data + offset, from->wire->lengths[k], &d), 0);
        assert_int_equal(d.type, CRYPTO_MSG_TRANSPORT);
        keyring_inbound(to->keys, d.receiver_index, d.counter, d.body, d.body_len, from->id, w->now, &to->io);
    }
    packet_batch_reset(from->wire);
}

static void test_handover_confirm_and_traffic(void **state)
{
    world_t *w = *state;
    hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    assert_int_equal(w->alice.established, 1);       // the initiator's keys are usable at once
    assert_int_equal(w->alice.wire->count, 1);       // and confirmed with a keepalive
    assert_int_equal(w->bob.established, 0);
    keyring_peer_stats_t st;
    assert_true(keyring_peer_stats(w->bob.keys, w->alice.id, w->now, &st));
    assert_false(st.established);
    assert_true(st.next_waiting);
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(w->bob.established, 1);
    assert_int_equal(counter(&w->bob, "keepalives_in"), 1);
    assert_true(keyring_peer_stats(w->bob.keys, w->alice.id, w->now, &st));
    assert_true(st.established);
    uint8_t pkt[100];
    make_packet(pkt, sizeof pkt, w->bob.addr, 7);
    keyring_outbound(w->bob.keys, pkt, sizeof pkt, w->alice.id, w->now, &w->bob.io);
    deliver(w, &w->bob, &w->alice);
    assert_int_equal(w->alice.tun->count, 1);
    assert_memory_equal(w->alice.tun->data, pkt, sizeof pkt);
    assert_true(keyring_peer_stats(w->alice.keys, w->bob.id, w->now, &st));
    assert_int_equal(st.rx_packets, 1);
    assert_int_equal(st.rx_bytes, sizeof pkt);
}

static void test_rekey_old_and_new_keys(void **state)
{
    world_t *w = *state;
    hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    deliver(w, &w->alice, &w->bob);
    uint8_t pkt[64];
    // sealed with the first keys, still in flight while the second handshake's keys are handed over
    make_packet(pkt, sizeof pkt, w->alice.addr, 1);
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    packet_batch_t *in_flight = w->alice.wire;
    w->alice.wire = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    w->alice.io.to_wire = w->alice.wire;
    w->now += 1000;
    bool aes = transport_aes_available();
    hand_over(w, aes ? TRANSPORT_AES256_GCM : TRANSPORT_CHACHA20_POLY1305);
    assert_int_equal(w->alice.established, 2);
    assert_int_equal(w->alice.established_cipher, aes ? TRANSPORT_AES256_GCM : TRANSPORT_CHACHA20_POLY1305);
    // the new keys' keepalive confirms bob's next; then the old datagram arrives: previous opens it
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(w->bob.established, 2);
    packet_batch_t *fresh = w->alice.wire;
    w->alice.wire = in_flight;
    deliver(w, &w->alice, &w->bob);
    w->alice.wire = fresh;
    w->alice.io.to_wire = fresh;
    packet_batch_destroy(&in_flight);
    assert_int_equal(w->bob.tun->count, 1);
    assert_int_equal(w->bob.tun->data[sizeof pkt - 1], 1);
    // new traffic goes with the new keys and opens
    make_packet(pkt, sizeof pkt, w->alice.addr, 2);
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(w->bob.tun->count, 2);
    assert_int_equal(counter(&w->bob, "drop_auth"), 0);
    assert_int_equal(counter(&w->bob, "drop_unknown_index"), 0);
}

static void test_refused_keypairs(void **state)
{
    world_t *w = *state;
    uint32_t index = hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    assert_true(keyring_index_in_use(w->alice.keys, index));
    assert_true(keyring_index_in_use(w->alice.keys, 0));
    keyring_keypair_t kp = {.local_index = index, .remote_index = 9, .initiator = true};
    memcpy(kp.peer, w->bob.id, WIRE_ID_LEN);
    assert_int_equal(keyring_install(w->alice.keys, &kp, w->now, &w->alice.io), -1);   // index in use
    kp.local_index = 4242;
    memset(kp.peer, 0x77, WIRE_ID_LEN);
    assert_int_equal(keyring_install(w->alice.keys, &kp, w->now, &w->alice.io), -1);   // not a member
    assert_int_equal(counter(&w->alice, "keypairs_refused"), 2);
    assert_false(keyring_index_in_use(w->alice.keys, 4242));
}

static void test_unknown_index_asks_once_a_second(void **state)
{
    world_t *w = *state;
    hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    deliver(w, &w->alice, &w->bob);
    // bob loses its keys (as a restarted data plane would): alice's traffic names an index bob lacks
    keyring_drop_keys(w->bob.keys, w->alice.id, false, NULL);
    uint8_t pkt[40];
    make_packet(pkt, sizeof pkt, w->alice.addr, 3);
    for (int i = 0; i < 5; i++)
        keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(counter(&w->bob, "drop_unknown_index"), 5);
    assert_int_equal(w->bob.wants[KEY_EVENT_WANT_UNKNOWN_INDEX], 1);
    assert_int_equal(w->bob.tun->count, 0);
    w->now += KEYRING_UNKNOWN_INDEX_RETRY_MS;
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(w->bob.wants[KEY_EVENT_WANT_UNKNOWN_INDEX], 2);
    // an index of another peer's keypair is unknown for this peer too
    keyring_inbound(w->alice.keys, 12345, 0, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    assert_int_equal(counter(&w->alice, "drop_unknown_index"), 1);
}

static void test_queue_until_keys(void **state)
{
    world_t *w = *state;
    uint8_t pkt[80];
    make_packet(pkt, sizeof pkt, w->alice.addr, 4);
    for (int i = 0; i < KEYRING_QUEUE_PACKETS + 3; i++)
        keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    assert_int_equal(w->alice.wants[KEY_EVENT_WANT_SESSION], KEYRING_QUEUE_PACKETS + 3);
    assert_int_equal(counter(&w->alice, "drop_queue_overflow"), 3);
    assert_int_equal(w->alice.wire->count, 0);
    hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    assert_int_equal(w->alice.wire->count, KEYRING_QUEUE_PACKETS);   // no keepalive: the queue confirms
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(w->bob.tun->count, KEYRING_QUEUE_PACKETS);
    // a handshake that gave up drops what waits
    keyring_drop_keys(w->alice.keys, w->bob.id, false, NULL);
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    uint64_t dropped = 0;
    assert_int_equal(keyring_drop_queue(w->alice.keys, w->bob.id, &dropped), 1);
    assert_int_equal(dropped, 1);
}

static void test_expiry_and_rekey_triggers(void **state)
{
    world_t *w = *state;
    hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    deliver(w, &w->alice, &w->bob);
    uint8_t pkt[40];
    make_packet(pkt, sizeof pkt, w->alice.addr, 5);
    w->now += KEYRING_REKEY_AFTER_MS;
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    assert_int_equal(w->alice.wants[KEY_EVENT_WANT_REKEY], 1);    // the initiator rekeys after 2 minutes
    make_packet(pkt, sizeof pkt, w->bob.addr, 5);
    keyring_outbound(w->bob.keys, pkt, sizeof pkt, w->alice.id, w->now, &w->bob.io);
    assert_int_equal(w->bob.wants[KEY_EVENT_WANT_REKEY], 0);      // the responder does not
    w->now += KEYRING_REJECT_AFTER_MS - KEYRING_REKEY_AFTER_MS;
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(counter(&w->bob, "drop_expired"), 1);
    keyring_tick(w->bob.keys, w->now);
    keyring_peer_stats_t st;
    assert_true(keyring_peer_stats(w->bob.keys, w->alice.id, w->now, &st));
    assert_false(st.established);
    assert_false(keyring_index_in_use(w->bob.keys, 101));   // the expired keypair's index is free again
}

static void test_replay_and_forged_source(void **state)
{
    world_t *w = *state;
    hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    deliver(w, &w->alice, &w->bob);
    uint8_t pkt[60];
    make_packet(pkt, sizeof pkt, w->alice.addr, 6);
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    uint8_t copy[200];
    size_t len = w->alice.wire->lengths[0];
    memcpy(copy, w->alice.wire->data, len);
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(w->bob.tun->count, 1);
    crypto_datagram_t d;
    assert_int_equal(crypto_datagram_decode(copy, len, &d), 0);
    keyring_inbound(w->bob.keys, d.receiver_index, d.counter, d.body, d.body_len, w->alice.id, w->now, &w->bob.io);
    assert_int_equal(counter(&w->bob, "drop_replay"), 1);
    copy[len - 1] ^= 1;   // a flipped tag bit
    keyring_inbound(w->bob.keys, d.receiver_index, d.counter + 1, d.body, d.body_len, w->alice.id, w->now,
                    &w->bob.io);
    assert_int_equal(counter(&w->bob, "drop_auth"), 1);
    // a packet whose inner source is bob's own address, sealed by alice: refused
    make_packet(pkt, sizeof pkt, w->bob.addr, 6);
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 1);
    assert_int_equal(w->bob.tun->count, 1);
    // tagged with the wrong peer: unknown for that peer
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    assert_int_equal(crypto_datagram_decode(w->alice.wire->data, w->alice.wire->lengths[0], &d), 0);
    uint8_t stranger[WIRE_ID_LEN];
    memset(stranger, 0x55, sizeof stranger);
    keyring_inbound(w->bob.keys, d.receiver_index, d.counter, d.body, d.body_len, stranger, w->now, &w->bob.io);
    assert_int_equal(counter(&w->bob, "drop_unknown_index"), 1);
}

static void test_removed_peer(void **state)
{
    world_t *w = *state;
    uint32_t index = hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    keyring_remove_peer(w->alice.keys, w->bob.id);
    assert_false(keyring_has_peer(w->alice.keys, w->bob.id));
    assert_false(keyring_index_in_use(w->alice.keys, index));
    uint8_t pkt[40];
    make_packet(pkt, sizeof pkt, w->alice.addr, 8);
    keyring_outbound(w->alice.keys, pkt, sizeof pkt, w->bob.id, w->now, &w->alice.io);
    assert_int_equal(counter(&w->alice, "drop_no_peer"), 1);
}

// A session from alice to bob, confirmed (alice's keepalive delivered), both batches empty.
static void confirmed_session(world_t *w)
{
    hand_over(w, TRANSPORT_CHACHA20_POLY1305);
    deliver(w, &w->alice, &w->bob);
    assert_int_equal(w->bob.established, 1);
    assert_int_equal(w->bob.tun->count, 0);
}

// Seals frame from alice for bob and delivers it.
static void alice_sends(world_t *w, const uint8_t *frame, size_t len)
{
    keyring_outbound(w->alice.keys, frame, len, w->bob.id, w->now, &w->alice.io);
    assert_int_equal(w->alice.wire->count, 1);
    deliver(w, &w->alice, &w->bob);
}

// A forward frame from alice for carol (0xc0) through bob, with a datagram that looks like nothing
// bob could read; len bytes in all.
static size_t make_forward(uint8_t *frame, size_t len, uint8_t ttl)
{
    uint8_t dst[MESH_NODE_ID_LEN], src[MESH_NODE_ID_LEN];
    memset(dst, 0xc0, sizeof dst);
    memset(src, 0xa1, sizeof src);
    mesh_forward_header(frame, ttl, dst, src);
    for (size_t i = MESH_FORWARD_HEADER_LEN; i < len; i++)
        frame[i] = (uint8_t)(i * 7 + 3);
    return len;
}

static void test_forward_frame_reaches_mesh_callback(void **state)
{
    world_t *w = *state;
    confirmed_session(w);
    uint8_t frame[MESH_FORWARD_HEADER_LEN + 148];
    size_t len = make_forward(frame, sizeof frame, 7);
    // its datagram begins with 0x45 at the place an IPv4 source would be: still not an IP packet
    frame[MESH_FORWARD_HEADER_LEN] = 0x45;
    alice_sends(w, frame, len);
    assert_int_equal(w->bob.mesh_frames, 1);
    assert_memory_equal(w->bob.mesh_from, w->alice.id, WIRE_ID_LEN);
    assert_int_equal(w->bob.mesh_len, len);
    assert_memory_equal(w->bob.mesh_frame, frame, len);
    mesh_forward_t fwd;
    assert_int_equal(mesh_forward_parse(w->bob.mesh_frame, w->bob.mesh_len, &fwd), 0);
    assert_int_equal(fwd.ttl, 7);
    assert_int_equal(fwd.datagram_len, 148);
    assert_int_equal(w->bob.tun->count, 0);                        // not for bob's TUN
    assert_int_equal(counter(&w->bob, "mesh_frames_in"), 1);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 0);      // no source check
    assert_int_equal(counter(&w->bob, "drop_mesh_frame"), 0);
    assert_int_equal(counter(&w->bob, "packets_decrypted"), 0);
    // an IP packet after it still goes to the TUN, alone
    uint8_t pkt[60];
    make_packet(pkt, sizeof pkt, w->alice.addr, 9);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 1);
    assert_int_equal(w->bob.tun->lengths[0], sizeof pkt);
    assert_memory_equal(w->bob.tun->data, pkt, sizeof pkt);
    assert_int_equal(w->bob.mesh_frames, 1);
}

static void test_announcement_reaches_mesh_callback(void **state)
{
    world_t *w = *state;
    confirmed_session(w);
    // an announcement's first byte, then bytes whose 13th-16th would be a foreign IPv4 source
    uint8_t frame[40];
    memset(frame, 0x5a, sizeof frame);
    frame[0] = MESH_FRAME_ANNOUNCE;
    alice_sends(w, frame, sizeof frame);
    assert_int_equal(w->bob.mesh_frames, 1);
    assert_int_equal(w->bob.mesh_len, sizeof frame);
    assert_memory_equal(w->bob.mesh_frame, frame, sizeof frame);
    assert_memory_equal(w->bob.mesh_from, w->alice.id, WIRE_ID_LEN);
    assert_int_equal(w->bob.tun->count, 0);
    assert_int_equal(counter(&w->bob, "mesh_frames_in"), 1);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 0);
    // the shortest: the type byte alone
    alice_sends(w, frame, 1);
    assert_int_equal(w->bob.mesh_frames, 2);
    assert_int_equal(w->bob.mesh_len, 1);
    assert_int_equal(w->bob.mesh_frame[0], MESH_FRAME_ANNOUNCE);
    assert_int_equal(w->bob.tun->count, 0);
}

static void test_mesh_frames_without_callback_dropped(void **state)
{
    world_t *w = *state;
    confirmed_session(w);
    w->bob.io.mesh = NULL;
    uint8_t forward[MESH_FORWARD_HEADER_LEN + 20];
    make_forward(forward, sizeof forward, 3);
    alice_sends(w, forward, sizeof forward);
    uint8_t announce[30];
    memset(announce, 0, sizeof announce);
    announce[0] = MESH_FRAME_ANNOUNCE;
    alice_sends(w, announce, sizeof announce);
    assert_int_equal(counter(&w->bob, "drop_mesh_frame"), 2);
    assert_int_equal(counter(&w->bob, "mesh_frames_in"), 0);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 0);
    assert_int_equal(w->bob.mesh_frames, 0);
    assert_int_equal(w->bob.tun->count, 0);
    // other first bytes are no mesh frames: 0x03 and 0x00 meet the source check
    announce[0] = 0x03;
    alice_sends(w, announce, sizeof announce);
    announce[0] = 0x00;
    alice_sends(w, announce, sizeof announce);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 2);
    assert_int_equal(counter(&w->bob, "drop_mesh_frame"), 2);
}

static void test_subnet_sources(void **state)
{
    world_t *w = *state;
    confirmed_session(w);
    uint32_t lan, lan_mask, lan_host, other_host, net2, net2_mask, net2_host;
    inet_pton(AF_INET, "192.168.50.0", &lan);
    inet_pton(AF_INET, "255.255.255.0", &lan_mask);
    inet_pton(AF_INET, "192.168.50.7", &lan_host);
    inet_pton(AF_INET, "192.168.51.7", &other_host);      // the next /24: outside
    inet_pton(AF_INET, "10.20.0.0", &net2);
    inet_pton(AF_INET, "255.255.0.0", &net2_mask);
    inet_pton(AF_INET, "10.20.200.9", &net2_host);
    uint8_t pkt[64];
    // before: a LAN host behind alice is a forged source
    make_packet(pkt, sizeof pkt, lan_host, 1);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 0);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 1);
    // alice's accepted subnets: 192.168.50.0/24 (given with host bits set) and 10.20.0.0/16
    uint32_t addrs[2] = {lan_host, net2}, masks[2] = {lan_mask, net2_mask};
    keyring_set_subnets(w->bob.keys, w->alice.id, addrs, masks, 2);
    make_packet(pkt, sizeof pkt, lan_host, 2);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 1);
    assert_memory_equal(w->bob.tun->data, pkt, sizeof pkt);
    make_packet(pkt, sizeof pkt, net2_host, 3);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 2);
    make_packet(pkt, sizeof pkt, w->alice.addr, 4);      // her own address still
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 3);
    // outside every subnet: refused; bob's own address too
    make_packet(pkt, sizeof pkt, other_host, 5);
    alice_sends(w, pkt, sizeof pkt);
    make_packet(pkt, sizeof pkt, w->bob.addr, 6);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 3);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 3);
    // subnets for an unknown peer change nothing (and add no peer)
    uint8_t stranger[WIRE_ID_LEN];
    memset(stranger, 0x55, sizeof stranger);
    keyring_set_subnets(w->bob.keys, stranger, addrs, masks, 2);
    assert_false(keyring_has_peer(w->bob.keys, stranger));
    // cleared: refused again
    keyring_set_subnets(w->bob.keys, w->alice.id, NULL, NULL, 0);
    make_packet(pkt, sizeof pkt, lan_host, 7);
    alice_sends(w, pkt, sizeof pkt);
    make_packet(pkt, sizeof pkt, net2_host, 8);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 3);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 5);
    make_packet(pkt, sizeof pkt, w->alice.addr, 9);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 4);
}

static void test_subnets_beyond_max_ignored(void **state)
{
    world_t *w = *state;
    confirmed_session(w);
    // KEYRING_MAX_SUBNETS + 1 /24s: 172.16.0.0/24, 172.16.1.0/24, ...; the last one is ignored
    uint32_t addrs[KEYRING_MAX_SUBNETS + 1], masks[KEYRING_MAX_SUBNETS + 1];
    for (size_t i = 0; i <= KEYRING_MAX_SUBNETS; i++) {
        addrs[i] = htonl(0xac100000u | (uint32_t)i << 8);
        masks[i] = htonl(0xffffff00u);
    }
    keyring_set_subnets(w->bob.keys, w->alice.id, addrs, masks, KEYRING_MAX_SUBNETS + 1);
    uint8_t pkt[40];
    make_packet(pkt, sizeof pkt, htonl(0xac100000u | (KEYRING_MAX_SUBNETS - 1) << 8 | 5), 1);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 1);
    make_packet(pkt, sizeof pkt, htonl(0xac100000u | KEYRING_MAX_SUBNETS << 8 | 5), 2);
    alice_sends(w, pkt, sizeof pkt);
    assert_int_equal(w->bob.tun->count, 1);
    assert_int_equal(counter(&w->bob, "drop_bad_source"), 1);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handover_confirm_and_traffic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekey_old_and_new_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_keypairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_index_asks_once_a_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_until_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_rekey_triggers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_and_forged_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_frame_reaches_mesh_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announcement_reaches_mesh_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mesh_frames_without_callback_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subnet_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subnets_beyond_max_ignored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
