/*
 * test_session.c - cmocka tests for weft-crypto's session table (services/crypto/session.c) and its
 * datagram codec (crypto_wire.c): two session sets, "alice" and "bob", in one process with a fake
 * clock, pass their datagrams to each other by hand (the way nat would, tagged with the sender's id).
 * The membership tests give them certificates signed by an admin (lib/cert.h) and check every refusal.
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

#include "cert.h"
#include "cookie.h"
#include "crypto_wire.h"
#include "identity.h"
#include "keyring.h"
#include "noise.h"
#include "ratelimit.h"
#include "session.h"
#include "wire.h"

#define ALICE_ADDR "10.100.0.1"
#define BOB_ADDR "10.100.0.2"

// A node: crypto's session table and the data plane's keyring in one process, joined as the two services
// join them (keys handed over, key events back), both writing datagrams into nat and packets into dev.
typedef struct {
    identity_t identity;
    const char *addr;
    service_t *svc;
    session_set_t *set;
    keyring_t *keys;
    packet_batch_t *nat, *dev;
    session_io_t io;
    keyring_io_t kio;
    const session_time_t *now;       // the world's clock
    uint8_t members[4][32];          // the member list last given (for the keyring's removals)
    size_t member_count;
    transport_preference_t cipher;   // crypto.cipher (default auto)
    bool aes_ni;                     // pretend this CPU has AES-NI (default: no)
} node_t;

typedef struct {
    node_t alice, bob;
    session_time_t now;
} world_t;

// ---- helpers ----

static const session_time_t *world_clock;   // the running test's world clock, for the nodes' keyrings

// session_keys_t of a node: its keyring, as weft-dataplane's actor does with a Keypair and a KeysDrop.
static int node_install(void *ctx, const keyring_keypair_t *kp)
{
    node_t *n = ctx;
    keyring_install(n->keys, kp, n->now->mono_ms, &n->kio);   // a refusal comes back as a key event
    return 0;
}

static void node_drop(void *ctx, const uint8_t peer[32], bool keys, bool queue)
{
    node_t *n = ctx;
    if (keys)
        keyring_drop_keys(n->keys, peer, queue, queue ? service_counter(n->svc, "drop_revoked") : NULL);
    else if (queue)
        keyring_drop_queue(n->keys, peer, service_counter(n->svc, "drop_handshake_timeout"));
}

// keyring_io_t callbacks of a node: key events to its session table, as weft-crypto's actor does.
static void node_key_event(node_t *n, const uint8_t peer[32], key_event_kind_t kind, transport_cipher_t cipher)
{
    key_event_t ev = {.kind = kind, .cipher = cipher};
    memcpy(ev.peer, peer, 32);
    session_set_key_event(n->set, &ev, n->now, &n->io);
}

static void node_want(void *ctx, const uint8_t peer[32], key_event_kind_t why)
{
    node_key_event(ctx, peer, why, TRANSPORT_CHACHA20_POLY1305);
}

static void node_established(void *ctx, const uint8_t peer[32], transport_cipher_t cipher)
{
    node_key_event(ctx, peer, KEY_EVENT_ESTABLISHED, cipher);
}

static void node_make_identity(node_t *n, const char *addr)
{
    crypto_sign_keypair(n->identity.public_key, n->identity.secret_key);
    n->addr = addr;
}

// membership: NULL for a mesh without certificates, else its certificates/mesh_id/admin_key/certificate
static void node_start_member(node_t *n, const uint8_t psk[32], const session_config_t *membership)
{
    session_config_t cfg = {0};
    if (membership) {
        cfg.certificates = membership->certificates;
        memcpy(cfg.mesh_id, membership->mesh_id, sizeof cfg.mesh_id);
        memcpy(cfg.admin_key, membership->admin_key, sizeof cfg.admin_key);
        memcpy(cfg.certificate, membership->certificate, sizeof cfg.certificate);
    }
    uint8_t x_public[32];
    memcpy(cfg.local_id, n->identity.public_key, 32);
    assert_int_equal(identity_x25519(&n->identity, x_public, cfg.static_private), 0);
    if (psk)
        memcpy(cfg.psk, psk, 32);
    cfg.max_packet = 1500;
    cfg.cipher = n->cipher;
    cfg.aes_ni = n->aes_ni;
    n->svc = calloc(1, sizeof *n->svc);
    session_keys_t keys = {.install = node_install, .drop = node_drop, .ctx = n};
    n->set = session_set_new(&cfg, n->svc, &keys);
    assert_non_null(n->set);
    n->keys = keyring_new(cfg.max_packet, n->svc);
    assert_non_null(n->keys);
    n->nat = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    n->dev = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    n->io = (session_io_t){.to_wire = n->nat};
    n->kio = (keyring_io_t){.to_wire = n->nat, .to_tun = n->dev, .want = node_want, .established = node_established,
                            .ctx = n};
    n->member_count = 0;
    n->now = world_clock;
}

static void node_start(node_t *n, const uint8_t psk[32])
{
    node_start_member(n, psk, NULL);
}

static void node_stop(node_t *n)
{
    session_set_destroy(&n->set);
    assert_null(n->set);
    keyring_destroy(&n->keys);
    packet_batch_destroy(&n->nat);
    packet_batch_destroy(&n->dev);
    free(n->svc);
    n->svc = NULL;
}

static uint64_t counter(node_t *n, const char *name)
{
    return *service_counter(n->svc, name);
}

// Gives n's session table (crypto) the member list: the given nodes.
static void node_session_members(node_t *n, node_t **members, size_t count)
{
    Weft__Peer peers[4];
    Weft__Peer *ptrs[4];
    for (size_t i = 0; i < count; i++) {
        weft__peer__init(&peers[i]);
        peers[i].id.data = members[i]->identity.public_key;
        peers[i].id.len = 32;
        peers[i].overlay_addr = (char *)members[i]->addr;
        ptrs[i] = &peers[i];
    }
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.peers = ptrs;
    list.n_peers = count;
    session_set_update_members(n->set, &list);
}

// Makes n's member list, in its session table and its keyring: the given nodes.
static void node_members(node_t *n, node_t **members, size_t count)
{
    node_session_members(n, members, count);
    // the data plane applies the same list: listed members (with their overlay address), others removed
    for (size_t i = 0; i < n->member_count; i++) {
        bool listed = false;
        for (size_t k = 0; k < count; k++)
            listed |= memcmp(n->members[i], members[k]->identity.public_key, 32) == 0;
        if (!listed)
            keyring_remove_peer(n->keys, n->members[i]);
    }
    for (size_t k = 0; k < count; k++) {
        struct in_addr addr;
        assert_int_equal(inet_pton(AF_INET, members[k]->addr, &addr), 1);
        assert_int_equal(keyring_add_peer(n->keys, members[k]->identity.public_key, addr.s_addr), 0);
        memcpy(n->members[k], members[k]->identity.public_key, 32);
    }
    n->member_count = count;
}

static int world_setup_psk(void **state, const uint8_t *psk_alice, const uint8_t *psk_bob)
{
    world_t *w = calloc(1, sizeof *w);
    node_make_identity(&w->alice, ALICE_ADDR);
    node_make_identity(&w->bob, BOB_ADDR);
    world_clock = &w->now;
    node_start(&w->alice, psk_alice);
    node_start(&w->bob, psk_bob);
    node_t *a = &w->alice, *b = &w->bob;
    node_members(a, &b, 1);
    node_members(b, &a, 1);
    w->now = (session_time_t){.mono_ms = 1000, .unix_ns = (int64_t)1700000000 * 1000000000};
    *state = w;
    return 0;
}

static int world_setup(void **state)
{
    static const uint8_t psk[32] = {1, 2, 3, 4, 5, 6, 7, 8};
    return world_setup_psk(state, psk, psk);
}

static int world_teardown(void **state)
{
    world_t *w = *state;
    node_stop(&w->alice);
    node_stop(&w->bob);
    free(w);
    return 0;
}

static void advance(world_t *w, int64_t ms)
{
    w->now.mono_ms += ms;
    w->now.unix_ns += ms * 1000000;
}

// The i-th packet of a batch (no peers checked).
static const uint8_t *batch_packet(const packet_batch_t *b, size_t i, size_t *len)
{
    size_t offset = 0;
    for (size_t k = 0; k < i; k++)
        offset += b->lengths[k];
    *len = b->lengths[i];
    return b->data + offset;
}

static uint8_t batch_type(const packet_batch_t *b, size_t i)
{
    size_t len;
    return batch_packet(b, i, &len)[0];
}

// One datagram received by `to`, tagged with peer: transport to its keyring, handshakes to its session
// table, as nat and the data plane sort them.
static void receive(world_t *w, node_t *to, const uint8_t *peer, const uint8_t *p, size_t len)
{
    crypto_datagram_t d;
    if (crypto_datagram_decode(p, len, &d) == 0 && d.type == CRYPTO_MSG_TRANSPORT && peer)
        keyring_inbound(to->keys, d.receiver_index, d.counter, d.body, d.body_len, peer, w->now.mono_ms, &to->kio);
    else
        session_set_inbound(to->set, p, len, peer, &w->now, &to->io);
}

// Delivers one datagram (bytes given) to `to` as if from `from`.
static void deliver_bytes(world_t *w, node_t *from, node_t *to, const uint8_t *p, size_t len)
{
    receive(w, to, from->identity.public_key, p, len);
}

// The timers of a node: its keyring's (expiry) and its session table's.
static void node_tick(world_t *w, node_t *n)
{
    keyring_tick(n->keys, w->now.mono_ms);
    session_set_tick(n->set, &w->now, &n->io);
}

// A plaintext packet for peer read by `from`'s data plane.
static void outbound(world_t *w, node_t *from, const uint8_t *peer, const uint8_t *pkt, size_t len)
{
    keyring_outbound(from->keys, pkt, len, peer, w->now.mono_ms, &from->kio);
}

// Delivers every datagram `from` sent to `to`, tagged with from's id, then empties from's nat batch.
static void deliver(world_t *w, node_t *from, node_t *to)
{
    packet_batch_t *copy = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    for (size_t i = 0; i < from->nat->count; i++) {
        size_t len;
        const uint8_t *p = batch_packet(from->nat, i, &len);
        packet_batch_add(copy, p, len, NULL);
    }
    packet_batch_reset(from->nat);
    for (size_t i = 0; i < copy->count; i++) {
        size_t len;
        const uint8_t *p = batch_packet(copy, i, &len);
        deliver_bytes(w, from, to, p, len);
    }
    packet_batch_destroy(&copy);
}

// A minimal IPv4 packet from src to dst with a payload of `fill` bytes.
static size_t make_ip(uint8_t *buf, const char *src, const char *dst, size_t fill, uint8_t mark)
{
    size_t len = 20 + fill;
    memset(buf, mark, len);
    buf[0] = 0x45;
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    inet_pton(AF_INET, src, buf + 12);
    inet_pton(AF_INET, dst, buf + 16);
    return len;
}

static void send_ip(world_t *w, node_t *from, node_t *to, uint8_t mark)
{
    uint8_t pkt[200];
    size_t len = make_ip(pkt, from->addr, to->addr, 40, mark);
    outbound(w, from, to->identity.public_key, pkt, len);
}

// Runs the handshake alice -> bob triggered by one packet, and checks it arrives.
static void handshake(world_t *w)
{
    node_t *a = &w->alice, *b = &w->bob;
    send_ip(w, a, b, 0xaa);
    assert_int_equal(a->nat->count, 1);
    assert_int_equal(batch_type(a->nat, 0), CRYPTO_MSG_INITIATION);
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 1);
    assert_int_equal(batch_type(b->nat, 0), CRYPTO_MSG_RESPONSE);
    deliver(w, b, a);
    assert_int_equal(a->nat->count, 1);       // the queued packet
    assert_int_equal(batch_type(a->nat, 0), CRYPTO_MSG_TRANSPORT);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 1);
    size_t len;
    const uint8_t *p = batch_packet(b->dev, 0, &len);
    assert_int_equal(len, 60);
    assert_int_equal(p[30], 0xaa);
    packet_batch_reset(b->dev);
}

// ---- codec ----

static void test_codec_roundtrip_and_bounds(void **state)
{
    (void)state;
    uint8_t buf[CRYPTO_INITIATION_LEN] = {0};
    crypto_datagram_t d;
    crypto_write_initiation_header(buf, 0x01020304);
    assert_int_equal(crypto_datagram_decode(buf, CRYPTO_INITIATION_LEN, &d), 0);
    assert_int_equal(d.type, 1);
    assert_int_equal(d.sender_index, 0x01020304);
    assert_int_equal(d.body_len, CRYPTO_INITIATION_LEN - 8 - CRYPTO_MACS_LEN);   // the MACs are not Noise's
    assert_int_equal(CRYPTO_INITIATION_LEN, 148);
    assert_int_equal(CRYPTO_RESPONSE_LEN, 92);
    assert_int_equal(crypto_datagram_decode(buf, CRYPTO_INITIATION_LEN - 1, &d), -1);
    assert_int_equal(crypto_datagram_decode(buf, 116, &d), -1);   // the old, MAC-less initiation
    buf[2] = 1;
    assert_int_equal(crypto_datagram_decode(buf, CRYPTO_INITIATION_LEN, &d), -1);

    uint8_t r[CRYPTO_RESPONSE_LEN] = {0};
    crypto_write_response_header(r, 7, 9);
    assert_int_equal(crypto_datagram_decode(r, sizeof r, &d), 0);
    assert_int_equal(d.sender_index, 7);
    assert_int_equal(d.receiver_index, 9);
    assert_int_equal(crypto_datagram_decode(r, sizeof r + 0, &d), 0);
    assert_int_equal(crypto_datagram_decode(r, sizeof r - 1, &d), -1);

    // handshake messages with a certificate: exactly one more length each
    uint8_t big[CRYPTO_INITIATION_CERT_LEN + 1] = {0};
    crypto_write_initiation_header(big, 1);
    assert_int_equal(crypto_datagram_decode(big, CRYPTO_INITIATION_CERT_LEN, &d), 0);
    assert_int_equal(d.body_len, CRYPTO_INITIATION_CERT_LEN - 8 - CRYPTO_MACS_LEN);
    assert_int_equal(crypto_datagram_decode(big, CRYPTO_INITIATION_CERT_LEN - 1, &d), -1);
    assert_int_equal(crypto_datagram_decode(big, CRYPTO_INITIATION_CERT_LEN + 1, &d), -1);
    crypto_write_response_header(big, 1, 2);
    assert_int_equal(crypto_datagram_decode(big, CRYPTO_RESPONSE_CERT_LEN, &d), 0);
    assert_int_equal(crypto_datagram_decode(big, CRYPTO_RESPONSE_CERT_LEN - 1, &d), -1);
    assert_int_equal(crypto_datagram_decode(big, CRYPTO_RESPONSE_CERT_LEN + 1, &d), -1);

    uint8_t t[CRYPTO_TRANSPORT_OVERHEAD] = {0};
    crypto_write_transport_header(t, 5, 0x1122334455667788ULL);
    assert_int_equal(crypto_datagram_decode(t, sizeof t, &d), 0);
    assert_int_equal(d.counter, 0x1122334455667788ULL);
    assert_int_equal(d.receiver_index, 5);
    assert_int_equal(d.body_len, 16);
    assert_int_equal(crypto_datagram_decode(t, sizeof t - 1, &d), -1);
    t[0] = 3;
    assert_int_equal(crypto_datagram_decode(t, sizeof t, &d), -1);

    // cookie reply: exactly 64 bytes, body = nonce || encrypted cookie
    uint8_t c[CRYPTO_COOKIE_REPLY_LEN + 1] = {0};
    assert_int_equal(crypto_write_cookie_header(c, 0x0a0b0c0d), CRYPTO_COOKIE_HEADER_LEN);
    assert_int_equal(crypto_datagram_decode(c, CRYPTO_COOKIE_REPLY_LEN, &d), 0);
    assert_int_equal(d.type, CRYPTO_MSG_COOKIE_REPLY);
    assert_int_equal(d.receiver_index, 0x0a0b0c0d);
    assert_int_equal(d.body_len, COOKIE_REPLY_BODY_LEN);
    assert_ptr_equal(d.body, c + 8);
    assert_int_equal(crypto_datagram_decode(c, CRYPTO_COOKIE_REPLY_LEN - 1, &d), -1);
    assert_int_equal(crypto_datagram_decode(c, CRYPTO_COOKIE_REPLY_LEN + 1, &d), -1);
    c[3] = 1;
    assert_int_equal(crypto_datagram_decode(c, CRYPTO_COOKIE_REPLY_LEN, &d), -1);
    assert_int_equal(crypto_datagram_decode(NULL, 0, &d), -1);
    assert_int_equal(crypto_datagram_decode(t, 3, &d), -1);

    uint8_t ts1[12], ts2[12];
    crypto_tai64n((int64_t)1700000000 * 1000000000 + 999999999, ts1);
    crypto_tai64n((int64_t)1700000001 * 1000000000, ts2);
    assert_true(memcmp(ts1, ts2, 12) < 0);
}

// ---- handshake and transport ----

static void test_handshake_and_both_directions(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    assert_int_equal(counter(a, "handshakes_initiated"), 1);
    assert_int_equal(counter(a, "handshakes_completed"), 1);
    assert_int_equal(counter(b, "handshakes_responded"), 1);
    assert_int_equal(counter(b, "handshakes_completed"), 1);
    assert_int_equal(session_set_established(a->set), 1);
    assert_int_equal(session_set_established(b->set), 1);
    assert_int_equal(counter(a, "sessions"), 1);

    // bob answers straight away with the confirmed session
    send_ip(w, b, a, 0xbb);
    assert_int_equal(b->nat->count, 1);
    assert_int_equal(b->nat->peer_count, 1);
    assert_memory_equal(b->nat->peers[0], a->identity.public_key, 32);
    deliver(w, b, a);
    assert_int_equal(a->dev->count, 1);
    assert_int_equal(counter(a, "packets_decrypted"), 1);
    assert_int_equal(counter(b, "packets_encrypted"), 1);

    // a burst goes out in one batch, no handshake
    for (int i = 0; i < 100; i++)
        send_ip(w, a, b, (uint8_t)i);
    assert_int_equal(a->nat->count, 100);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 100);
    assert_int_equal(counter(a, "handshakes_initiated"), 1);
}

static void test_no_psk_and_psk_mismatch(void **state)
{
    (void)state;
    void *s;
    static const uint8_t other[32] = {9};
    world_setup_psk(&s, NULL, NULL);   // both all-zero: works
    world_t *w = s;
    handshake(w);
    world_teardown(&s);

    world_setup_psk(&s, NULL, other);
    w = s;
    // IKpsk2 mixes the psk into message 2 only: bob cannot tell, alice rejects his response
    send_ip(w, &w->alice, &w->bob, 1);
    deliver(w, &w->alice, &w->bob);
    deliver(w, &w->bob, &w->alice);
    assert_int_equal(w->alice.nat->count, 0);
    assert_int_equal(counter(&w->alice, "drop_auth"), 1);
    assert_int_equal(counter(&w->alice, "handshakes_completed"), 0);
    world_teardown(&s);
}

// ---- bad input ----

static void test_tampered_and_truncated(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    uint8_t copy[2048];
    size_t len;

    // initiation: every byte after the type and reserved bytes, up to mac2, is covered by mac1 (checked
    // before any DH); mac2 is only looked at under load
    send_ip(w, a, b, 1);
    const uint8_t *init = batch_packet(a->nat, 0, &len);
    memcpy(copy, init, len);
    size_t init_len = len;
    uint64_t tampered = 0;
    for (size_t i = 4; i < init_len - COOKIE_MAC_LEN; i += 7, tampered++) {
        copy[i] ^= 0x40;
        deliver_bytes(w, a, b, copy, init_len);
        copy[i] ^= 0x40;
    }
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(counter(b, "drop_handshake_mac1"), tampered);
    uint64_t auth = counter(b, "drop_auth");
    assert_int_equal(auth, 0);
    deliver_bytes(w, a, b, copy, init_len - 1);
    copy[1] = 1;
    deliver_bytes(w, a, b, copy, init_len);
    copy[1] = 0;
    assert_int_equal(counter(b, "drop_malformed"), 2);

    // the genuine initiation still works after all that
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 1);
    const uint8_t *resp = batch_packet(b->nat, 0, &len);
    memcpy(copy, resp, len);
    size_t resp_len = len;
    packet_batch_reset(b->nat);
    copy[resp_len - 40] ^= 1;   // in the Noise part: mac1 no longer matches
    deliver_bytes(w, b, a, copy, resp_len);
    assert_int_equal(counter(a, "drop_handshake_mac1"), 1);
    assert_int_equal(counter(a, "drop_auth"), 0);
    deliver_bytes(w, b, a, copy, resp_len - 1);
    assert_int_equal(counter(a, "drop_malformed"), 1);
    copy[resp_len - 40] ^= 1;
    copy[8] ^= 1;       // receiver index
    deliver_bytes(w, b, a, copy, resp_len);
    assert_int_equal(counter(a, "drop_unknown_index"), 1);
    copy[8] ^= 1;
    deliver_bytes(w, b, a, copy, resp_len);   // genuine: completes
    assert_int_equal(counter(a, "handshakes_completed"), 1);
    // a replayed response finds no initiation in flight
    deliver_bytes(w, b, a, copy, resp_len);
    assert_int_equal(counter(a, "drop_unknown_index"), 2);

    // transport
    assert_int_equal(a->nat->count, 1);
    const uint8_t *t = batch_packet(a->nat, 0, &len);
    memcpy(copy, t, len);
    size_t t_len = len;
    packet_batch_reset(a->nat);
    copy[20] ^= 0x80;
    deliver_bytes(w, a, b, copy, t_len);
    assert_int_equal(counter(b, "drop_auth"), auth + 1);
    copy[20] ^= 0x80;
    copy[8] ^= 1;       // counter: the tag no longer matches
    deliver_bytes(w, a, b, copy, t_len);
    assert_int_equal(counter(b, "drop_auth"), auth + 2);
    copy[8] ^= 1;
    deliver_bytes(w, a, b, copy, 31);
    deliver_bytes(w, a, b, copy, 0);
    session_set_inbound(b->set, copy, t_len, NULL, &w->now, &b->io);   // untagged
    assert_int_equal(counter(b, "drop_malformed"), 5);
    deliver_bytes(w, a, b, copy, t_len);
    assert_int_equal(b->dev->count, 1);
    assert_int_equal(counter(b, "packets_decrypted"), 1);

    // garbage of every length never crashes
    uint8_t junk[300];
    for (size_t n = 0; n < sizeof junk; n++) {
        randombytes_buf(junk, n);
        if (n > 0)
            junk[0] = (uint8_t)(n % 5);
        deliver_bytes(w, a, b, junk, n);
    }
}

static void test_replayed_transport(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    send_ip(w, a, b, 7);
    size_t len;
    uint8_t copy[256];
    const uint8_t *src_copy = batch_packet(a->nat, 0, &len);
    memcpy(copy, src_copy, len);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 1);
    deliver_bytes(w, a, b, copy, len);
    assert_int_equal(b->dev->count, 1);
    assert_int_equal(counter(b, "drop_replay"), 1);
}

static void test_replayed_initiation(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    send_ip(w, a, b, 1);
    size_t len;
    uint8_t copy[256];
    const uint8_t *src_copy = batch_packet(a->nat, 0, &len);
    memcpy(copy, src_copy, len);
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 1);
    packet_batch_reset(b->nat);
    // an exact replay is recognised by its mac1 before any DH
    deliver_bytes(w, a, b, copy, len);
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(counter(b, "drop_handshake_repeat"), 1);
    // so is one with another mac2 (an attacker cannot make a valid one, but may change it)
    copy[len - 1] ^= 1;
    deliver_bytes(w, a, b, copy, len);
    copy[len - 1] ^= 1;
    assert_int_equal(counter(b, "drop_handshake_repeat"), 2);
    assert_int_equal(counter(b, "drop_handshake_replay"), 0);
    // later initiations (retries after REKEY_TIMEOUT) are accepted; once SESSION_RECENT_INITIATIONS
    // newer ones pushed it out of the memory, the old one costs a DH again and the timestamp refuses it
    for (int i = 0; i < SESSION_RECENT_INITIATIONS; i++) {
        advance(w, SESSION_REKEY_TIMEOUT_MS);
        node_tick(w, a);
        assert_int_equal(a->nat->count, 1);
        deliver(w, a, b);
        assert_int_equal(b->nat->count, 1);
        packet_batch_reset(b->nat);
    }
    assert_int_equal(counter(b, "handshakes_responded"), 1 + SESSION_RECENT_INITIATIONS);
    deliver_bytes(w, a, b, copy, len);
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(counter(b, "drop_handshake_repeat"), 2);
    assert_int_equal(counter(b, "drop_handshake_replay"), 1);
}

// ---- handshake flood protection (cookie.c, ratelimit.c) ----

// A maker for messages to node `to` from identity `as`: mac1 needs only to's node id (public); the
// pair's cookie key needs as's private key too.
static void maker_for(cookie_maker_t *m, node_t *to, const identity_t *as)
{
    uint8_t x_public[32], my_public[32], my_private[32];
    assert_int_equal(identity_peer_x25519(to->identity.public_key, x_public), 0);
    assert_int_equal(identity_x25519(as, my_public, my_private), 0);
    assert_int_equal(cookie_maker_init(m, x_public, my_private), 0);
}

static identity_t stranger(void)
{
    identity_t id;
    crypto_sign_keypair(id.public_key, id.secret_key);
    return id;
}

// An initiation with a random Noise part and correct MACs from m: passes mac1, fails the DH.
static void craft_initiation(cookie_maker_t *m, uint8_t out[CRYPTO_INITIATION_LEN], const world_t *w)
{
    crypto_write_initiation_header(out, randombytes_random() | 1);
    randombytes_buf(out + CRYPTO_INITIATION_HEADER_LEN, CRYPTO_INITIATION_LEN - CRYPTO_INITIATION_HEADER_LEN);
    assert_int_equal(cookie_add_macs(m, out, CRYPTO_INITIATION_LEN, w->now.mono_ms), 0);
}

// The peer id a batch's i-th packet is tagged with.
static const uint8_t *batch_peer(const packet_batch_t *b, size_t i)
{
    return b->peers[b->peer_index[i]];
}

static void test_mac1_wrong_and_right(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    uint8_t msg[CRYPTO_INITIATION_LEN];
    // random bytes of the right length and header: no DH, counted
    for (int i = 0; i < 50; i++) {
        crypto_write_initiation_header(msg, 1);
        randombytes_buf(msg + 8, sizeof msg - 8);
        deliver_bytes(w, a, b, msg, sizeof msg);
    }
    assert_int_equal(counter(b, "drop_handshake_mac1"), 50);
    assert_int_equal(counter(b, "drop_auth"), 0);
    // MACs for another key (alice's instead of bob's): refused the same way
    cookie_maker_t wrong, right;
    maker_for(&wrong, a, &a->identity);
    craft_initiation(&wrong, msg, w);
    deliver_bytes(w, a, b, msg, sizeof msg);
    assert_int_equal(counter(b, "drop_handshake_mac1"), 51);
    // a right mac1 on a bad Noise message gets as far as the DH, which refuses it
    identity_t anyone = stranger();
    maker_for(&right, b, &anyone);
    craft_initiation(&right, msg, w);
    deliver_bytes(w, a, b, msg, sizeof msg);
    assert_int_equal(counter(b, "drop_handshake_mac1"), 51);
    assert_int_equal(counter(b, "drop_auth"), 1);
    assert_int_equal(b->nat->count, 0);
    // and the genuine handshake (MACs on both messages) still completes
    handshake(w);
    assert_int_equal(counter(a, "drop_handshake_mac1"), 0);
}

static void test_rate_limit_and_load(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    cookie_maker_t m;
    maker_for(&m, b, &a->identity);   // alice's own: she can read bob's cookie replies
    uint8_t msg[CRYPTO_INITIATION_LEN];
    // a flood of mac1-valid initiations "from alice's path" in one millisecond: the burst reaches the DH,
    // the rest is rate limited, until the load threshold makes mac2 required
    for (int i = 0; i < SESSION_LOAD_INITIATIONS - 1; i++) {
        craft_initiation(&m, msg, w);
        deliver_bytes(w, a, b, msg, sizeof msg);
    }
    assert_int_equal(counter(b, "drop_auth"), SESSION_PEER_INITIATIONS_BURST);
    assert_int_equal(counter(b, "drop_handshake_rate_limit"),
                     SESSION_LOAD_INITIATIONS - 1 - SESSION_PEER_INITIATIONS_BURST);
    assert_int_equal(counter(b, "under_load"), 0);
    assert_int_equal(b->nat->count, 0);
    // under load: no mac2, no DH, a cookie reply (for alice's path) instead
    craft_initiation(&m, msg, w);
    deliver_bytes(w, a, b, msg, sizeof msg);
    assert_int_equal(counter(b, "under_load"), 1);
    assert_int_equal(counter(b, "drop_handshake_mac2"), 1);
    assert_int_equal(counter(b, "cookie_replies_out"), 1);
    assert_int_equal(b->nat->count, 1);
    size_t len;
    const uint8_t *reply = batch_packet(b->nat, 0, &len);
    crypto_datagram_t d;
    assert_int_equal(crypto_datagram_decode(reply, len, &d), 0);
    assert_int_equal(d.type, CRYPTO_MSG_COOKIE_REPLY);
    assert_memory_equal(batch_peer(b->nat, 0), a->identity.public_key, 32);   // nat sends it on alice's path
    // only the pair (alice and bob) can read the cookie, or make a reply: not a host that knows both ids
    cookie_maker_t other;
    identity_t anyone = stranger();
    maker_for(&other, b, &anyone);
    assert_int_equal(cookie_read_reply(&other, reply, d.body, d.body_len, w->now.mono_ms), -1);
    assert_int_equal(cookie_read_reply(&m, reply, d.body, d.body_len - 1, w->now.mono_ms), -1);
    uint8_t forged[CRYPTO_COOKIE_REPLY_LEN];
    memcpy(forged, reply, sizeof forged);
    forged[4] ^= 1;   // the header is authenticated too
    assert_int_equal(cookie_read_reply(&m, forged, forged + 8, d.body_len, w->now.mono_ms), -1);
    assert_int_equal(cookie_read_reply(&m, reply, d.body, d.body_len, w->now.mono_ms), 0);
    packet_batch_reset(b->nat);
    // with the cookie, mac2 passes; the per-peer bucket is still empty
    craft_initiation(&m, msg, w);
    deliver_bytes(w, a, b, msg, sizeof msg);
    assert_int_equal(counter(b, "drop_handshake_mac2"), 1);
    assert_int_equal(counter(b, "drop_handshake_rate_limit"), SESSION_LOAD_INITIATIONS - SESSION_PEER_INITIATIONS_BURST);
    // without, it does not
    craft_initiation(&other, msg, w);
    deliver_bytes(w, a, b, msg, sizeof msg);
    assert_int_equal(counter(b, "drop_handshake_mac2"), 2);
    // cookie replies on one member's path are rate limited too
    for (int i = 0; i < 3 * SESSION_COOKIE_REPLIES_BURST; i++) {
        craft_initiation(&other, msg, w);
        deliver_bytes(w, a, b, msg, sizeof msg);
    }
    assert_int_equal(counter(b, "cookie_replies_out"), SESSION_COOKIE_REPLIES_BURST);
    assert_true(counter(b, "cookie_replies_limited") >= 2 * SESSION_COOKIE_REPLIES_BURST);
    packet_batch_reset(b->nat);
    // a second later the bucket has refilled (to its burst), and the node is no longer under load
    advance(w, 1000);
    for (int i = 0; i < SESSION_LOAD_INITIATIONS - 1; i++) {
        craft_initiation(&m, msg, w);
        deliver_bytes(w, a, b, msg, sizeof msg);
    }
    assert_int_equal(counter(b, "drop_auth"), 2 * SESSION_PEER_INITIATIONS_BURST);
    assert_int_equal(counter(b, "drop_handshake_mac2"), 2 + 3 * SESSION_COOKIE_REPLIES_BURST);

    // the token bucket itself: rate and burst, for the node-wide limit
    rate_limit_t rl = {0};
    int allowed = 0;
    for (int i = 0; i < 1000; i++)
        allowed += rate_limit_allow(&rl, SESSION_ALL_INITIATIONS_PER_S, SESSION_ALL_INITIATIONS_BURST, 5000);
    assert_int_equal(allowed, SESSION_ALL_INITIATIONS_BURST);
    for (int64_t t = 5001; t <= 15000; t++)   // ten seconds, one attempt each millisecond
        allowed += rate_limit_allow(&rl, SESSION_ALL_INITIATIONS_PER_S, SESSION_ALL_INITIATIONS_BURST, t);
    assert_int_equal(allowed, SESSION_ALL_INITIATIONS_BURST + 10 * SESSION_ALL_INITIATIONS_PER_S);
    assert_false(rate_limit_allow(&rl, 0, 1, 20000));
}

// A genuine handshake while a flood forged on alice's path keeps the responder under load and uses up
// the cookie replies: alice's own initiation gets none, but the next reply bob sends on her path (to a
// forged initiation) gives her the cookie; she sends a new initiation with mac2 at once, and the
// handshake completes.
static void test_cookie_round_trip(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    cookie_maker_t m;
    identity_t attacker = stranger();
    maker_for(&m, b, &attacker);
    uint8_t msg[CRYPTO_INITIATION_LEN];
    for (int round = 0; round < 2; round++) {   // 2 x LOAD in half a second: the flood goes on
        if (round)
            advance(w, 500);
        for (int i = 0; i < SESSION_LOAD_INITIATIONS; i++) {
            craft_initiation(&m, msg, w);
            deliver_bytes(w, a, b, msg, sizeof msg);
        }
        packet_batch_reset(b->nat);   // the cookie replies to the flood (lost)
    }
    assert_true(counter(b, "cookie_replies_limited") > 0);
    uint64_t dh_before = counter(b, "drop_auth");
    send_ip(w, a, b, 0xaa);
    deliver(w, a, b);
    assert_int_equal(counter(b, "handshakes_responded"), 0);
    assert_int_equal(b->nat->count, 0);   // no reply left for it
    advance(w, 200);
    craft_initiation(&m, msg, w);         // the flood goes on; its reply goes on alice's path
    deliver_bytes(w, a, b, msg, sizeof msg);
    assert_int_equal(b->nat->count, 1);
    assert_int_equal(batch_type(b->nat, 0), CRYPTO_MSG_COOKIE_REPLY);
    deliver(w, b, a);
    assert_int_equal(counter(a, "cookie_replies_in"), 1);
    assert_int_equal(a->nat->count, 1);   // the initiation again, now with mac2
    assert_int_equal(batch_type(a->nat, 0), CRYPTO_MSG_INITIATION);
    deliver(w, a, b);
    assert_int_equal(counter(b, "under_load"), 1);
    assert_int_equal(counter(b, "handshakes_responded"), 1);
    assert_int_equal(counter(b, "drop_auth"), dh_before);
    deliver(w, b, a);
    assert_int_equal(counter(a, "handshakes_completed"), 1);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 1);
    // a cookie reply nobody asked for (no initiation in flight, or a forged one) is dropped
    uint8_t fake[CRYPTO_COOKIE_REPLY_LEN];
    crypto_write_cookie_header(fake, 12345);
    randombytes_buf(fake + 8, sizeof fake - 8);
    deliver_bytes(w, b, a, fake, sizeof fake);
    assert_int_equal(counter(a, "drop_cookie_reply"), 1);
    assert_int_equal(a->nat->count, 0);
}


static void test_initiation_timestamp_increases_when_clock_steps_back(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    send_ip(w, a, b, 1);
    deliver(w, a, b);
    packet_batch_reset(b->nat);
    w->now.unix_ns -= (int64_t)3600 * 1000000000;   // wall clock stepped back an hour
    w->now.mono_ms += SESSION_REKEY_TIMEOUT_MS;
    node_tick(w, a);
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 1);
    assert_int_equal(counter(b, "drop_handshake_replay"), 0);
}

static void test_unknown_index_starts_rate_limited_handshake(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    uint8_t t[64] = {0};
    crypto_write_transport_header(t, 0xdeadbeef, 0);
    deliver_bytes(w, a, b, t, sizeof t);
    assert_int_equal(counter(b, "drop_unknown_index"), 1);
    assert_int_equal(b->nat->count, 1);
    assert_int_equal(batch_type(b->nat, 0), CRYPTO_MSG_INITIATION);
    // the handshake completes (nothing in flight any more)
    deliver(w, b, a);
    deliver(w, a, b);
    assert_int_equal(counter(b, "handshakes_completed"), 1);
    deliver(w, b, a);    // bob's keepalive
    assert_int_equal(b->nat->count, 0);
    // another unknown index 300 ms later: rate limited
    advance(w, 300);
    deliver_bytes(w, a, b, t, sizeof t);
    assert_int_equal(counter(b, "drop_unknown_index"), 2);
    assert_int_equal(b->nat->count, 0);
    // a second after the first: a new handshake
    advance(w, 700);
    deliver_bytes(w, a, b, t, sizeof t);
    assert_int_equal(b->nat->count, 1);
    packet_batch_reset(b->nat);
    // index 0 is never ours
    uint8_t zero_index[64] = {0};
    crypto_write_transport_header(zero_index, 0, 0);
    deliver_bytes(w, a, b, zero_index, sizeof zero_index);
    uint8_t resp0[CRYPTO_RESPONSE_LEN] = {0};
    crypto_write_response_header(resp0, 1, 0);
    deliver_bytes(w, a, b, resp0, sizeof resp0);
    assert_int_equal(counter(b, "drop_unknown_index"), 5);
    packet_batch_reset(b->nat);
    // from a stranger: counted, no handshake
    node_t stranger = {0};
    node_make_identity(&stranger, "10.100.0.9");
    advance(w, 2000);
    deliver_bytes(w, &stranger, b, t, sizeof t);
    assert_int_equal(counter(b, "drop_unknown_index"), 6);
    assert_int_equal(b->nat->count, 0);
}

static void test_handshake_identity_checks(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    node_t carol = {0};
    node_make_identity(&carol, "10.100.0.3");
    node_start(&carol, (const uint8_t[32]){1, 2, 3, 4, 5, 6, 7, 8});
    node_t *pb = b;
    node_members(&carol, &pb, 1);

    // carol is not a member of bob's mesh
    send_ip(w, &carol, b, 1);
    deliver(w, &carol, b);
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(counter(b, "drop_handshake_unknown_peer"), 1);

    // carol is a member, but her initiation arrives tagged as alice's: static key mismatch
    node_t *members[2] = {a, &carol};
    node_members(b, members, 2);
    advance(w, SESSION_REKEY_TIMEOUT_MS);
    node_tick(w, &carol);
    deliver(w, &carol, b);   // tagged carol: accepted
    assert_int_equal(b->nat->count, 1);
    packet_batch_reset(b->nat);
    advance(w, SESSION_REKEY_TIMEOUT_MS);
    node_tick(w, &carol);
    size_t len;
    uint8_t copy[256];
    const uint8_t *src_copy = batch_packet(carol.nat, 0, &len);
    memcpy(copy, src_copy, len);
    packet_batch_reset(carol.nat);
    deliver_bytes(w, a, b, copy, len);    // tagged alice
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(counter(b, "drop_handshake_unknown_peer"), 2);
    node_stop(&carol);
}

static void test_bad_source_address(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    uint8_t pkt[100];
    size_t len = make_ip(pkt, "10.100.0.77", ALICE_ADDR, 10, 0);
    outbound(w, b, a->identity.public_key, pkt, len);
    uint8_t v6[60] = {0x60};
    outbound(w, b, a->identity.public_key, v6, sizeof v6);
    deliver(w, b, a);
    assert_int_equal(a->dev->count, 0);
    assert_int_equal(counter(a, "drop_bad_source"), 2);
}

// ---- queue ----

static void test_queue_bounded_and_flushed(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    for (int i = 0; i < KEYRING_QUEUE_PACKETS + 5; i++)
        send_ip(w, a, b, (uint8_t)i);
    assert_int_equal(a->nat->count, 1);   // one initiation
    assert_int_equal(counter(a, "drop_queue_overflow"), 5);
    deliver(w, a, b);
    deliver(w, b, a);
    assert_int_equal(a->nat->count, KEYRING_QUEUE_PACKETS);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, KEYRING_QUEUE_PACKETS);
    size_t len;
    assert_int_equal(batch_packet(b->dev, 0, &len)[30], 5);   // the oldest were dropped
    uint8_t big[1600] = {0x45};
    outbound(w, a, b->identity.public_key, big, sizeof big);
    assert_int_equal(a->nat->count, 1);   // with a session, big packets go out
}

static void test_retry_and_give_up(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    send_ip(w, a, b, 1);
    send_ip(w, a, b, 2);
    assert_int_equal(a->nat->count, 1);
    packet_batch_reset(a->nat);
    int initiations = 1;
    for (int64_t t = 1000; t < SESSION_REKEY_ATTEMPT_MS; t += 1000) {
        advance(w, 1000);
        node_tick(w, a);
        initiations += (int)a->nat->count;
        packet_batch_reset(a->nat);
    }
    assert_int_equal(initiations, SESSION_REKEY_ATTEMPT_MS / SESSION_REKEY_TIMEOUT_MS);
    assert_int_equal(counter(a, "drop_handshake_timeout"), 0);
    advance(w, 1000);
    node_tick(w, a);
    assert_int_equal(a->nat->count, 0);
    assert_int_equal(counter(a, "drop_handshake_timeout"), 2);
    assert_int_equal(counter(a, "handshakes_failed"), 1);
    // the next packet starts over
    send_ip(w, a, b, 3);
    assert_int_equal(a->nat->count, 1);
    deliver(w, a, b);
    deliver(w, b, a);
    assert_int_equal(a->nat->count, 1);   // only packet 3
}

// ---- timers ----

static void test_rekey_after_time(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    advance(w, KEYRING_REKEY_AFTER_MS - 1000);
    send_ip(w, a, b, 1);
    send_ip(w, b, a, 1);
    assert_int_equal(a->nat->count, 1);
    assert_int_equal(b->nat->count, 1);
    packet_batch_reset(a->nat);
    packet_batch_reset(b->nat);
    advance(w, 1000);
    send_ip(w, a, b, 2);     // initiator: sent with the old session, then a new initiation
    assert_int_equal(a->nat->count, 2);
    assert_int_equal(batch_type(a->nat, 0), CRYPTO_MSG_TRANSPORT);
    assert_int_equal(batch_type(a->nat, 1), CRYPTO_MSG_INITIATION);
    send_ip(w, b, a, 2);     // responder: no rekey
    assert_int_equal(b->nat->count, 1);
    // finish the rekey; packets under the old session still decrypt (previous kept)
    size_t len;
    uint8_t old_b[256];
    const uint8_t *src_old_b = batch_packet(b->nat, 0, &len);
    memcpy(old_b, src_old_b, len);
    size_t old_len = len;
    packet_batch_reset(b->nat);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 1);
    deliver(w, b, a);        // response
    assert_int_equal(counter(a, "handshakes_completed"), 2);
    deliver_bytes(w, b, a, old_b, old_len);
    assert_int_equal(a->dev->count, 1);
    assert_int_equal(a->nat->count, 1);   // keepalive on the new session
    deliver(w, a, b);
    assert_int_equal(counter(b, "keepalives_in"), 1);
    assert_int_equal(counter(b, "handshakes_completed"), 2);
    send_ip(w, b, a, 3);
    deliver(w, b, a);
    assert_int_equal(a->dev->count, 2);
}

static void test_reject_after_time(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    send_ip(w, b, a, 1);
    size_t len;
    uint8_t late[256];
    const uint8_t *src_late = batch_packet(b->nat, 0, &len);
    memcpy(late, src_late, len);
    packet_batch_reset(b->nat);
    advance(w, KEYRING_REJECT_AFTER_MS);
    // bob (responder) may not send with it: queued, and he starts a handshake
    send_ip(w, b, a, 2);
    assert_int_equal(b->nat->count, 1);
    assert_int_equal(batch_type(b->nat, 0), CRYPTO_MSG_INITIATION);
    packet_batch_reset(b->nat);
    // alice may not receive with it
    deliver_bytes(w, b, a, late, len);
    assert_int_equal(a->dev->count, 0);
    assert_int_equal(counter(a, "drop_expired"), 1);
    // after a tick the keys are gone altogether
    node_tick(w, a);
    assert_int_equal(session_set_established(a->set), 0);
    assert_int_equal(counter(a, "sessions"), 0);
}

static void test_rekey_after_messages(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    (void)b;
    handshake(w);
    // no public way to send 2^60 packets: check the constant is below the hard limit
    assert_true(KEYRING_REKEY_AFTER_MESSAGES < TRANSPORT_REJECT_AFTER_MESSAGES);
    assert_true(KEYRING_REKEY_AFTER_MESSAGES > ((uint64_t)1 << 59));
    (void)a;
}

// ---- membership and restarts ----

static void test_removed_member_loses_session(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    node_members(a, NULL, 0);
    assert_int_equal(session_set_established(a->set), 0);
    assert_int_equal(session_set_member_count(a->set), 0);
    send_ip(w, a, b, 1);
    assert_int_equal(a->nat->count, 0);
    assert_int_equal(counter(a, "drop_no_peer"), 1);
    send_ip(w, b, a, 1);
    deliver(w, b, a);
    assert_int_equal(counter(a, "drop_unknown_index"), 1);
    assert_int_equal(a->nat->count, 0);   // not a member: no handshake
}

typedef struct {
    int reports, removed;
    session_state_t last_state;
    transport_cipher_t last_cipher;
} report_t;

static void on_report(void *ctx, const session_peer_status_t *st, bool removed)
{
    report_t *r = ctx;
    r->reports++;
    r->removed += removed;
    r->last_state = st->state;
    r->last_cipher = st->cipher;
}

// ---- transport cipher negotiation (docs/protocol.md "Transport cipher") ----

// The cipher of n's session with its only peer, as reported (asserted established).
static transport_cipher_t session_cipher(node_t *n)
{
    report_t r = {0};
    session_set_report(n->set, true, on_report, &r);
    assert_int_equal(r.reports, 1);
    assert_int_equal(r.last_state, SESSION_STATE_ESTABLISHED);
    return r.last_cipher;
}

static const uint8_t world_psk[32] = {1, 2, 3, 4, 5, 6, 7, 8};

// Restarts alice and bob with these cipher settings, members of each other again.
static void world_ciphers(world_t *w, transport_preference_t alice, bool alice_aes, transport_preference_t bob,
                          bool bob_aes)
{
    node_t *a = &w->alice, *b = &w->bob;
    node_stop(a);
    node_stop(b);
    a->cipher = alice;
    a->aes_ni = alice_aes;
    b->cipher = bob;
    b->aes_ni = bob_aes;
    node_start(a, world_psk);
    node_start(b, world_psk);
    node_members(a, &b, 1);
    node_members(b, &a, 1);
}

static void skip_without_aes(void)
{
    if (!transport_aes_available()) {
        print_message("this CPU has no AES-NI: skipped\n");
        skip();
    }
}

// Every combination, alice initiating: both ends agree on the cipher, and traffic flows both ways with it.
static void test_cipher_negotiation(void **state)
{
    world_t *w = *state;
    skip_without_aes();
    static const struct {
        const char *what;
        transport_preference_t alice;
        bool alice_aes;
        transport_preference_t bob;
        bool bob_aes;
        transport_cipher_t want;
    } cases[] = {
        {"both auto with AES-NI", TRANSPORT_PREFER_AUTO, true, TRANSPORT_PREFER_AUTO, true, TRANSPORT_AES256_GCM},
        {"both aes-256-gcm", TRANSPORT_PREFER_AES, true, TRANSPORT_PREFER_AES, true, TRANSPORT_AES256_GCM},
        {"initiator without AES-NI", TRANSPORT_PREFER_AUTO, false, TRANSPORT_PREFER_AUTO, true,
         TRANSPORT_CHACHA20_POLY1305},
        {"responder without AES-NI", TRANSPORT_PREFER_AUTO, true, TRANSPORT_PREFER_AUTO, false,
         TRANSPORT_CHACHA20_POLY1305},
        {"initiator set to chacha", TRANSPORT_PREFER_CHACHA, true, TRANSPORT_PREFER_AUTO, true,
         TRANSPORT_CHACHA20_POLY1305},
        {"responder set to chacha", TRANSPORT_PREFER_AUTO, true, TRANSPORT_PREFER_CHACHA, true,
         TRANSPORT_CHACHA20_POLY1305},
        {"aes-256-gcm with a responder without AES-NI", TRANSPORT_PREFER_AES, true, TRANSPORT_PREFER_AUTO, false,
         TRANSPORT_CHACHA20_POLY1305},
        {"aes-256-gcm with an initiator without AES-NI", TRANSPORT_PREFER_AUTO, false, TRANSPORT_PREFER_AES, true,
         TRANSPORT_CHACHA20_POLY1305},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s\n", cases[i].what);
        world_ciphers(w, cases[i].alice, cases[i].alice_aes, cases[i].bob, cases[i].bob_aes);
        node_t *a = &w->alice, *b = &w->bob;
        handshake(w);
        assert_int_equal(session_cipher(a), cases[i].want);
        assert_int_equal(session_cipher(b), cases[i].want);
        send_ip(w, b, a, 0xbb);
        deliver(w, b, a);
        assert_int_equal(a->dev->count, 1);
        assert_int_equal(counter(a, "drop_auth") + counter(b, "drop_auth"), 0);
        packet_batch_reset(a->dev);
        // the rekey agrees again
        advance(w, KEYRING_REKEY_AFTER_MS);
        send_ip(w, a, b, 0xbc);
        deliver(w, a, b);   // the packet (old session) and the initiation
        deliver(w, b, a);   // the response
        deliver(w, a, b);   // the confirmation (a keepalive)
        assert_int_equal(counter(a, "handshakes_completed"), 2);
        assert_int_equal(counter(b, "handshakes_completed"), 2);
        assert_int_equal(session_cipher(a), cases[i].want);
        assert_int_equal(session_cipher(b), cases[i].want);
    }
}

// A peer of the old format, built here from the bare Noise API the way weft did before the negotiation:
// plain timestamp, no label. It must interoperate with a node that has AES-NI, in ChaCha20-Poly1305.
typedef struct {
    noise_keypair_t s;
    uint8_t peer_x[32];
    cookie_maker_t maker;
    noise_handshake_t hs;
    transport_sender_t send;
    transport_receiver_t recv;
} old_peer_t;

static void old_peer_init(old_peer_t *o, const node_t *self, const node_t *peer)
{
    uint8_t x_public[32], x_private[32];
    assert_int_equal(identity_x25519(&self->identity, x_public, x_private), 0);
    assert_int_equal(noise_keypair_from_private(&o->s, x_private), 0);
    assert_int_equal(identity_peer_x25519(peer->identity.public_key, o->peer_x), 0);
    assert_int_equal(cookie_maker_init(&o->maker, o->peer_x, o->s.priv), 0);
}

// Decrypts one transport datagram with the old peer's ChaCha20-Poly1305 keys; returns the plaintext length.
static size_t old_peer_open(old_peer_t *o, const uint8_t *datagram, size_t len, uint8_t *out)
{
    crypto_datagram_t d;
    assert_int_equal(crypto_datagram_decode(datagram, len, &d), 0);
    assert_int_equal(d.type, CRYPTO_MSG_TRANSPORT);
    size_t out_len = 0;
    assert_int_equal(transport_decrypt(&o->recv, d.counter, d.body, d.body_len, out, &out_len), 0);
    return out_len;
}

static void test_cipher_old_format_initiator(void **state)
{
    world_t *w = *state;
    skip_without_aes();
    world_ciphers(w, TRANSPORT_PREFER_AUTO, true, TRANSPORT_PREFER_AES, true);
    node_t *a = &w->alice, *b = &w->bob;
    old_peer_t old = {0};
    old_peer_init(&old, a, b);   // alice, as an older weft
    uint8_t msg[CRYPTO_INITIATION_LEN], ts[CRYPTO_TAI64N_LEN];
    size_t noise_len = 0;
    assert_int_equal(noise_handshake_init(&old.hs, true, (const uint8_t *)SESSION_PROLOGUE, strlen(SESSION_PROLOGUE),
                                          &old.s, old.peer_x, world_psk), 0);
    crypto_tai64n(w->now.unix_ns, ts);
    assert_int_equal(noise_handshake_write(&old.hs, ts, sizeof ts, msg + CRYPTO_INITIATION_HEADER_LEN,
                                           sizeof msg - CRYPTO_INITIATION_HEADER_LEN - CRYPTO_MACS_LEN, &noise_len), 0);
    crypto_write_initiation_header(msg, 0x4242);
    assert_int_equal(cookie_add_macs(&old.maker, msg, sizeof msg, w->now.mono_ms), 0);
    deliver_bytes(w, a, b, msg, sizeof msg);
    assert_int_equal(b->nat->count, 1);   // bob's response, which the old code reads as it always did
    size_t len;
    const uint8_t *resp = batch_packet(b->nat, 0, &len);
    crypto_datagram_t d;
    assert_int_equal(crypto_datagram_decode(resp, len, &d), 0);
    assert_int_equal(d.type, CRYPTO_MSG_RESPONSE);
    uint8_t payload[16];
    size_t payload_len;
    assert_int_equal(noise_handshake_read(&old.hs, d.body, d.body_len, payload, sizeof payload, &payload_len), 0);
    assert_int_equal(noise_handshake_split(&old.hs, &old.send, &old.recv), 0);
    uint32_t bob_index = d.sender_index;
    packet_batch_reset(b->nat);

    // the old peer's first packet (ChaCha20-Poly1305) confirms the session
    uint8_t pkt[100], out[200];
    size_t plen = make_ip(pkt, ALICE_ADDR, BOB_ADDR, 40, 0x01);
    uint64_t c;
    assert_int_equal(transport_encrypt(&old.send, pkt, plen, out + CRYPTO_TRANSPORT_HEADER_LEN, &c), 0);
    crypto_write_transport_header(out, bob_index, c);
    deliver_bytes(w, a, b, out, CRYPTO_TRANSPORT_OVERHEAD + plen);
    assert_int_equal(b->dev->count, 1);
    assert_int_equal(session_cipher(b), TRANSPORT_CHACHA20_POLY1305);
    send_ip(w, b, a, 0x02);
    const uint8_t *reply = batch_packet(b->nat, 0, &len);
    assert_int_equal(old_peer_open(&old, reply, len, out), 60);
    assert_int_equal(out[30], 0x02);
    transport_sender_wipe(&old.send);
    transport_receiver_wipe(&old.recv);
}

static void test_cipher_old_format_responder(void **state)
{
    world_t *w = *state;
    skip_without_aes();
    world_ciphers(w, TRANSPORT_PREFER_AES, true, TRANSPORT_PREFER_AUTO, true);
    node_t *a = &w->alice, *b = &w->bob;
    old_peer_t old = {0};
    old_peer_init(&old, b, a);   // bob, as an older weft
    send_ip(w, a, b, 0x03);      // alice offers AES-256-GCM
    size_t len;
    const uint8_t *init = batch_packet(a->nat, 0, &len);
    crypto_datagram_t d;
    assert_int_equal(crypto_datagram_decode(init, len, &d), 0);
    assert_int_equal(d.type, CRYPTO_MSG_INITIATION);
    uint8_t payload[CRYPTO_TAI64N_LEN];
    size_t payload_len;
    assert_int_equal(noise_handshake_init(&old.hs, false, (const uint8_t *)SESSION_PROLOGUE, strlen(SESSION_PROLOGUE),
                                          &old.s, NULL, world_psk), 0);
    assert_int_equal(noise_handshake_read(&old.hs, d.body, d.body_len, payload, sizeof payload, &payload_len), 0);
    assert_int_equal(payload_len, CRYPTO_TAI64N_LEN);   // the offer hides in the timestamp: same size as ever
    uint32_t alice_index = d.sender_index;
    packet_batch_reset(a->nat);

    uint8_t msg[CRYPTO_RESPONSE_LEN];
    size_t noise_len = 0;
    assert_int_equal(noise_handshake_write(&old.hs, NULL, 0, msg + CRYPTO_RESPONSE_HEADER_LEN,
                                           sizeof msg - CRYPTO_RESPONSE_HEADER_LEN - CRYPTO_MACS_LEN, &noise_len), 0);
    assert_int_equal(noise_handshake_split(&old.hs, &old.send, &old.recv), 0);
    crypto_write_response_header(msg, 0x5151, alice_index);
    assert_int_equal(cookie_add_macs(&old.maker, msg, sizeof msg, w->now.mono_ms), 0);
    deliver_bytes(w, b, a, msg, sizeof msg);
    assert_int_equal(session_cipher(a), TRANSPORT_CHACHA20_POLY1305);
    assert_int_equal(counter(a, "drop_auth"), 0);
    assert_int_equal(a->nat->count, 1);   // the queued packet, which the old peer opens with ChaCha20-Poly1305
    uint8_t out[200];
    const uint8_t *sealed = batch_packet(a->nat, 0, &len);
    assert_int_equal(old_peer_open(&old, sealed, len, out), 60);
    assert_int_equal(out[30], 0x03);
    transport_sender_wipe(&old.send);
    transport_receiver_wipe(&old.recv);
}

// A response bound to the other cipher's transcript does not open: an attacker who rewrote the choice
// (or a responder that lied about it) gets no session. Here bob picks AES-256-GCM for an initiation that
// did not offer it (alice set to chacha): alice must refuse the response.
static void test_cipher_choice_is_authenticated(void **state)
{
    world_t *w = *state;
    skip_without_aes();
    world_ciphers(w, TRANSPORT_PREFER_CHACHA, true, TRANSPORT_PREFER_AUTO, true);
    node_t *a = &w->alice, *b = &w->bob;
    old_peer_t evil = {0};
    old_peer_init(&evil, b, a);   // bob's keys, but its own response
    send_ip(w, a, b, 0x04);
    size_t len;
    const uint8_t *init = batch_packet(a->nat, 0, &len);
    crypto_datagram_t d;
    assert_int_equal(crypto_datagram_decode(init, len, &d), 0);
    uint8_t payload[CRYPTO_TAI64N_LEN];
    size_t payload_len;
    assert_int_equal(noise_handshake_init(&evil.hs, false, (const uint8_t *)SESSION_PROLOGUE,
                                          strlen(SESSION_PROLOGUE), &evil.s, NULL, world_psk), 0);
    assert_int_equal(noise_handshake_read(&evil.hs, d.body, d.body_len, payload, sizeof payload, &payload_len), 0);
    assert_int_equal(payload[SESSION_OFFER_AES_BYTE] & SESSION_OFFER_AES_BIT, 0);   // no offer
    uint32_t alice_index = d.sender_index;
    packet_batch_reset(a->nat);
    assert_int_equal(noise_handshake_mix_hash(&evil.hs, (const uint8_t *)SESSION_AES_LABEL, strlen(SESSION_AES_LABEL)),
                     0);
    uint8_t msg[CRYPTO_RESPONSE_LEN];
    size_t noise_len = 0;
    assert_int_equal(noise_handshake_write(&evil.hs, NULL, 0, msg + CRYPTO_RESPONSE_HEADER_LEN,
                                           sizeof msg - CRYPTO_RESPONSE_HEADER_LEN - CRYPTO_MACS_LEN, &noise_len), 0);
    noise_handshake_wipe(&evil.hs);
    crypto_write_response_header(msg, 0x5151, alice_index);
    assert_int_equal(cookie_add_macs(&evil.maker, msg, sizeof msg, w->now.mono_ms), 0);
    deliver_bytes(w, b, a, msg, sizeof msg);
    assert_int_equal(counter(a, "drop_auth"), 1);
    assert_int_equal(session_set_established(a->set), 0);

    // and with alice offering, a ChaCha response is taken for ChaCha, never for AES (the genuine path)
    world_ciphers(w, TRANSPORT_PREFER_AUTO, true, TRANSPORT_PREFER_CHACHA, true);
    handshake(w);
    assert_int_equal(session_cipher(&w->alice), TRANSPORT_CHACHA20_POLY1305);
}

static void test_status_report(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice;
    report_t r = {0};
    session_set_report(a->set, false, on_report, &r);
    assert_int_equal(r.reports, 1);   // new member
    session_set_report(a->set, false, on_report, &r);
    assert_int_equal(r.reports, 1);   // unchanged
    handshake(w);
    session_set_report(a->set, false, on_report, &r);
    assert_int_equal(r.reports, 2);
    assert_int_equal(r.last_state, SESSION_STATE_ESTABLISHED);
    session_set_report(a->set, true, on_report, &r);
    assert_int_equal(r.reports, 3);
    node_members(a, NULL, 0);
    session_set_report(a->set, false, on_report, &r);
    assert_int_equal(r.removed, 1);
    assert_string_equal(session_state_name(SESSION_STATE_HANDSHAKING), "handshaking");
}

// n's crypto restarts: a new session table, same identity and network key, no sessions.
static void node_restart_crypto(node_t *n)
{
    session_set_destroy(&n->set);
    session_config_t cfg = {.max_packet = 1500, .psk = {1, 2, 3, 4, 5, 6, 7, 8}};
    uint8_t x_public[32];
    memcpy(cfg.local_id, n->identity.public_key, 32);
    identity_x25519(&n->identity, x_public, cfg.static_private);
    session_keys_t keys = {.install = node_install, .drop = node_drop, .ctx = n};
    n->set = session_set_new(&cfg, n->svc, &keys);
    assert_non_null(n->set);
}

// n's data plane restarts: a new keyring, no keys and no members until the next list.
static void node_restart_dataplane(node_t *n)
{
    keyring_destroy(&n->keys);
    n->keys = keyring_new(1500, n->svc);
    assert_non_null(n->keys);
    n->member_count = 0;
}

// After bob sent his initiation: the handshake completes and traffic flows both ways again.
static void handshake_again_and_talk(world_t *w)
{
    node_t *a = &w->alice, *b = &w->bob;
    deliver(w, b, a);    // initiation -> alice responds
    deliver(w, a, b);    // response -> bob completes, his keyring sends a keepalive
    deliver(w, b, a);    // which confirms alice's new session
    send_ip(w, a, b, 2);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 1);
    send_ip(w, b, a, 3);
    deliver(w, b, a);
    assert_int_equal(a->dev->count, 1);
}

static void test_peer_restart_recovers(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    // bob restarts, the whole node: same identity, no sessions, no keys
    node_restart_crypto(b);
    node_restart_dataplane(b);
    node_t *pa = a;
    node_members(b, &pa, 1);
    // alice still sends with the old session: bob starts a handshake
    send_ip(w, a, b, 1);
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 1);
    handshake_again_and_talk(w);
}

// bob's crypto restarts (a new session table, same identity), his data plane keeps its keys: traffic goes
// on with no handshake, and the new crypto learns the running session from the data plane's CURRENT.
static void test_crypto_restart_keeps_sessions(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    advance(w, 30000);
    node_restart_crypto(b);
    node_t *pa = a;
    node_session_members(b, &pa, 1);   // crypto's list only: the data plane kept its own
    uint64_t initiations = counter(a, "handshakes_initiated") + counter(b, "handshakes_initiated");
    send_ip(w, a, b, 7);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 1);
    packet_batch_reset(b->dev);
    send_ip(w, b, a, 8);
    deliver(w, b, a);
    assert_int_equal(a->dev->count, 1);
    assert_int_equal(counter(a, "handshakes_initiated") + counter(b, "handshakes_initiated"), initiations);
    // the new crypto does not know the session until the data plane says it again, with its age
    assert_int_equal(session_set_established(b->set), 0);
    keyring_peer_stats_t st;
    assert_true(keyring_peer_stats(b->keys, a->identity.public_key, w->now.mono_ms, &st));
    key_event_t ev = {.kind = KEY_EVENT_CURRENT, .cipher = st.cipher,
                      .age_ms = (uint64_t)(w->now.mono_ms - st.current_created_ms)};
    memcpy(ev.peer, a->identity.public_key, 32);
    session_set_key_event(b->set, &ev, &w->now, &b->io);
    assert_int_equal(session_set_established(b->set), 1);
    session_set_key_event(b->set, &ev, &w->now, &b->io);   // said again: nothing new
    assert_int_equal(counter(b, "handshakes_completed"), 2);   // the first run's one, and learning it
    // it expires when the keys would: REJECT_AFTER after they were made, not after the restart
    advance(w, SESSION_REJECT_AFTER_MS - 30000 + 1000);
    node_tick(w, b);
    assert_int_equal(session_set_established(b->set), 0);
}

// bob's data plane restarts (a new keyring: no keys), his crypto still thinks the session runs: the first
// packet either way asks for a handshake, and traffic flows again after it.
static void test_dataplane_restart_rekeys(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    node_restart_dataplane(b);
    node_t *pa = a;
    node_members(b, &pa, 1);
    assert_int_equal(session_set_established(b->set), 1);
    // alice sends on her session: bob's keyring does not know the index and asks for a handshake
    send_ip(w, a, b, 1);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 0);
    assert_int_equal(b->nat->count, 1);
    assert_int_equal(batch_type(b->nat, 0), CRYPTO_MSG_INITIATION);
    handshake_again_and_talk(w);
}

static void test_simultaneous_initiation(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    send_ip(w, a, b, 1);
    send_ip(w, b, a, 2);
    deliver(w, a, b);    // bob responds to alice
    deliver(w, b, a);    // alice gets bob's initiation + bob's response
    deliver(w, a, b);
    deliver(w, b, a);
    deliver(w, a, b);
    deliver(w, b, a);
    assert_int_equal(a->dev->count, 1);
    assert_int_equal(b->dev->count, 1);
    packet_batch_reset(a->dev);
    packet_batch_reset(b->dev);
    for (int i = 0; i < 3; i++) {
        send_ip(w, a, b, 10);
        send_ip(w, b, a, 11);
        deliver(w, a, b);
        deliver(w, b, a);
    }
    assert_int_equal(a->dev->count, 3);
    assert_int_equal(b->dev->count, 3);
}

// ---- membership: certificates in the handshake, revocations ----

#define NOW_S 1700000000ULL   // the worlds' wall clock (world_setup_psk)
static const uint8_t test_mesh[MESH_ID_LEN] = {0x4d, 0x45, 0x53, 0x48, 1, 2, 3};
static const uint8_t other_mesh[MESH_ID_LEN] = {0x4d, 0x45, 0x53, 0x48, 9, 9, 9};

typedef struct {
    const identity_t *signer;
    const uint8_t *mesh;
    const uint8_t *member;      // NULL: n's own key
    const char *addr;           // NULL: n's own address
    uint64_t issued, expires;
} cert_spec_t;

// Membership of mesh test_mesh, admin `admin`, with a certificate for n made from spec.
static session_config_t membership_for(const node_t *n, const identity_t *admin, const cert_spec_t *spec)
{
    session_config_t m = {.certificates = true};
    memcpy(m.mesh_id, test_mesh, MESH_ID_LEN);
    memcpy(m.admin_key, admin->public_key, 32);
    cert_t c = {0};
    memcpy(c.mesh_id, spec->mesh, MESH_ID_LEN);
    memcpy(c.member_key, spec->member ? spec->member : n->identity.public_key, 32);
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, spec->addr ? spec->addr : n->addr, &a), 1);
    c.address = ntohl(a.s_addr);
    c.prefix = 16;
    c.issued = spec->issued;
    c.expires = spec->expires;
    assert_int_equal(cert_sign(&c, spec->signer), 0);
    cert_encode(&c, m.certificate);
    return m;
}

static identity_t test_admin;

// alice and bob, members of test_mesh with valid certificates (bob's expires at NOW_S + bob_valid_s).
// aes: both nodes have AES-NI (when this CPU has it), so their sessions use AES-256-GCM
static int cert_world_setup_with(void **state, uint64_t bob_valid_s, bool aes)
{
    static const uint8_t psk[32] = {7, 7, 7};
    crypto_sign_keypair(test_admin.public_key, test_admin.secret_key);
    world_t *w = calloc(1, sizeof *w);
    node_make_identity(&w->alice, ALICE_ADDR);
    node_make_identity(&w->bob, BOB_ADDR);
    cert_spec_t ok = {&test_admin, test_mesh, NULL, NULL, NOW_S - 10, NOW_S + 3600};
    session_config_t ma = membership_for(&w->alice, &test_admin, &ok);
    ok.expires = NOW_S + bob_valid_s;
    session_config_t mb = membership_for(&w->bob, &test_admin, &ok);
    w->alice.aes_ni = w->bob.aes_ni = aes && transport_aes_available();
    world_clock = &w->now;
    node_start_member(&w->alice, psk, &ma);
    node_start_member(&w->bob, psk, &mb);
    node_t *a = &w->alice, *b = &w->bob;
    node_members(a, &b, 1);
    node_members(b, &a, 1);
    w->now = (session_time_t){.mono_ms = 1000, .unix_ns = (int64_t)NOW_S * 1000000000};
    *state = w;
    return 0;
}

static int cert_world_setup(void **state)
{
    return cert_world_setup_with(state, 3600, false);
}

static int cert_world_setup_aes(void **state)
{
    return cert_world_setup_with(state, 3600, true);
}

static uint64_t refused(node_t *n)
{
    return counter(n, "handshakes_refused");
}

static void test_cert_handshake(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    send_ip(w, a, b, 1);
    size_t len;
    batch_packet(a->nat, 0, &len);
    assert_int_equal(len, CRYPTO_INITIATION_CERT_LEN);
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 1);
    batch_packet(b->nat, 0, &len);
    assert_int_equal(len, CRYPTO_RESPONSE_CERT_LEN);
    deliver(w, b, a);
    deliver(w, a, b);
    assert_int_equal(b->dev->count, 1);
    assert_int_equal(session_set_established(a->set), 1);
    assert_int_equal(session_set_established(b->set), 1);
    assert_int_equal(refused(a) + refused(b), 0);
}

// The same with AES-256-GCM: the offer bit rides in the timestamp before the certificate, the choice in
// the transcript of the response that carries bob's certificate; sizes unchanged.
static void test_cert_handshake_aes(void **state)
{
    world_t *w = *state;
    skip_without_aes();
    test_cert_handshake(state);
    assert_int_equal(session_cipher(&w->alice), TRANSPORT_AES256_GCM);
    assert_int_equal(session_cipher(&w->bob), TRANSPORT_AES256_GCM);
}

// carol, listed by bob as a member, presents a bad certificate: bob refuses her initiation, and
// refuses her response to his.
static void check_refused_both_ways(world_t *w, node_t *carol)
{
    node_t *a = &w->alice, *b = &w->bob;
    node_t *members[2] = {a, carol};
    node_members(b, members, 2);
    node_members(carol, &b, 1);

    uint64_t before = refused(b);
    send_ip(w, carol, b, 1);
    assert_int_equal(carol->nat->count, 1);
    deliver(w, carol, b);
    assert_int_equal(b->nat->count, 0);                 // no response
    assert_int_equal(refused(b), before + 1);
    assert_int_equal(session_set_established(b->set), 0);

    send_ip(w, b, carol, 2);
    assert_int_equal(b->nat->count, 1);
    deliver(w, b, carol);
    if (carol->nat->count == 0)
        return;                                          // carol refused bob (she has no certificates)
    deliver(w, carol, b);
    assert_int_equal(refused(b), before + 2);
    assert_int_equal(b->nat->count, 0);                 // the queued packet stays queued
    assert_int_equal(session_set_established(b->set), 0);
    assert_int_equal(counter(b, "handshakes_completed"), 0);
}

static void test_cert_refusals(void **state)
{
    world_t *w = *state;
    identity_t stranger;
    crypto_sign_keypair(stranger.public_key, stranger.secret_key);
    const cert_spec_t bad[] = {
        {&stranger, test_mesh, NULL, NULL, NOW_S - 10, NOW_S + 3600},       // not signed by the admin
        {&test_admin, test_mesh, NULL, NULL, NOW_S - 3600, NOW_S - 1},      // expired a second ago
        {&test_admin, test_mesh, NULL, NULL, NOW_S - 3600, NOW_S},          // expires right now
        {&test_admin, other_mesh, NULL, NULL, NOW_S - 10, NOW_S + 3600},    // another mesh
        {&test_admin, test_mesh, w->alice.identity.public_key, NULL, NOW_S - 10, NOW_S + 3600},  // alice's
        {&test_admin, test_mesh, NULL, "10.100.0.99", NOW_S - 10, NOW_S + 3600},  // another address
        {&test_admin, test_mesh, NULL, NULL, NOW_S + CERT_CLOCK_SKEW + 60, NOW_S + 7200},  // not yet valid
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        node_t carol = {0};
        node_make_identity(&carol, "10.100.0.3");
        session_config_t m = membership_for(&carol, &test_admin, &bad[i]);
        node_start_member(&carol, (const uint8_t[32]){7, 7, 7}, &m);
        check_refused_both_ways(w, &carol);
        node_stop(&carol);
        advance(w, 10);
    }
    assert_int_equal(refused(&w->bob), 2 * (sizeof bad / sizeof bad[0]));

    // a valid certificate within the clock skew is accepted
    node_t dave = {0};
    node_make_identity(&dave, "10.100.0.4");
    cert_spec_t early = {&test_admin, test_mesh, NULL, NULL, NOW_S + CERT_CLOCK_SKEW - 60, NOW_S + 7200};
    session_config_t m = membership_for(&dave, &test_admin, &early);
    node_start_member(&dave, (const uint8_t[32]){7, 7, 7}, &m);
    node_t *members[2] = {&w->alice, &dave};
    node_members(&w->bob, members, 2);
    node_t *pb = &w->bob;
    node_members(&dave, &pb, 1);
    send_ip(w, &dave, &w->bob, 1);
    deliver(w, &dave, &w->bob);
    deliver(w, &w->bob, &dave);
    assert_int_equal(session_set_established(dave.set), 1);
    node_stop(&dave);
}

static void test_cert_against_node_without_certificates(void **state)
{
    world_t *w = *state;
    node_t *b = &w->bob;
    node_t legacy = {0};
    node_make_identity(&legacy, "10.100.0.5");
    node_start(&legacy, (const uint8_t[32]){7, 7, 7});
    // the legacy node presents no certificate: bob refuses it; it refuses bob's certificate
    check_refused_both_ways(w, &legacy);
    assert_int_equal(refused(&legacy), 1);
    assert_int_equal(legacy.nat->count, 0);
    assert_int_equal(session_set_established(b->set), 0);
    node_stop(&legacy);
}

static void test_revocation_cuts_off(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    send_ip(w, a, b, 1);
    packet_batch_t *kept = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);   // a transport packet alice sends after the revocation
    size_t len;
    const uint8_t *p = batch_packet(a->nat, 0, &len);
    packet_batch_add(kept, p, len, NULL);
    packet_batch_reset(a->nat);

    assert_true(session_set_revoke(b->set, a->identity.public_key));
    assert_false(session_set_revoke(b->set, a->identity.public_key));
    assert_true(session_set_is_revoked(b->set, a->identity.public_key));
    assert_int_equal(session_set_revoked_count(b->set), 1);
    assert_int_equal(session_set_established(b->set), 0);
    assert_int_equal(counter(b, "sessions"), 0);

    // alice's packets on the old session: nothing decrypted, no handshake started towards her
    p = batch_packet(kept, 0, &len);
    deliver_bytes(w, a, b, p, len);
    assert_int_equal(b->dev->count, 0);
    assert_int_equal(b->nat->count, 0);
    packet_batch_destroy(&kept);
    // bob sends nothing to her
    send_ip(w, b, a, 2);
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(counter(b, "drop_revoked"), 1);
    // her new initiations (she forgot her session) are refused before any Diffie-Hellman
    node_t *pb = b;
    node_members(a, NULL, 0);
    node_members(a, &pb, 1);
    send_ip(w, a, b, 3);
    assert_int_equal(a->nat->count, 1);
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(refused(b), 1);
    assert_int_equal(session_set_established(b->set), 0);
}

static void test_revoked_before_first_handshake(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    assert_true(session_set_revoke(b->set, a->identity.public_key));
    send_ip(w, a, b, 1);
    deliver(w, a, b);
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(refused(b), 1);
    send_ip(w, b, a, 1);
    assert_int_equal(b->nat->count, 0);
    assert_int_equal(counter(b, "drop_revoked"), 1);
}

static int cert_world_setup_short(void **state)
{
    return cert_world_setup_with(state, 100, false);   // bob's certificate expires 100 s after NOW_S
}

static void test_cert_expiry_closes_sessions(void **state)
{
    world_t *w = *state;
    node_t *a = &w->alice, *b = &w->bob;
    handshake(w);
    advance(w, 99 * 1000);
    node_tick(w, a);
    assert_int_equal(session_set_established(a->set), 1);
    advance(w, 1000);
    node_tick(w, a);
    assert_int_equal(session_set_established(a->set), 0);
    assert_int_equal(counter(a, "sessions_cert_expired"), 1);
    // bob still presents the expired certificate: alice refuses his response
    send_ip(w, a, b, 1);
    deliver(w, a, b);
    deliver(w, b, a);
    assert_int_equal(refused(a), 1);
    assert_int_equal(session_set_established(a->set), 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
#define T(f) cmocka_unit_test_setup_teardown(f, world_setup, world_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip_and_bounds),
        T(test_handshake_and_both_directions),
        cmocka_unit_test(test_no_psk_and_psk_mismatch),
        T(test_tampered_and_truncated),
        T(test_replayed_transport),
        T(test_replayed_initiation),
        T(test_mac1_wrong_and_right),
        T(test_rate_limit_and_load),
        T(test_cookie_round_trip),
        T(test_initiation_timestamp_increases_when_clock_steps_back),
        T(test_unknown_index_starts_rate_limited_handshake),
        T(test_handshake_identity_checks),
        T(test_bad_source_address),
        T(test_queue_bounded_and_flushed),
        T(test_retry_and_give_up),
        T(test_rekey_after_time),
        T(test_reject_after_time),
        T(test_rekey_after_messages),
        T(test_removed_member_loses_session),
        T(test_status_report),
        T(test_peer_restart_recovers),
        T(test_crypto_restart_keeps_sessions),
        T(test_dataplane_restart_rekeys),
        T(test_simultaneous_initiation),
        T(test_cipher_negotiation),
        T(test_cipher_old_format_initiator),
        T(test_cipher_old_format_responder),
        T(test_cipher_choice_is_authenticated),
#define C(f) cmocka_unit_test_setup_teardown(f, cert_world_setup, world_teardown)
        C(test_cert_handshake),
        cmocka_unit_test_setup_teardown(test_cert_handshake_aes, cert_world_setup_aes, world_teardown),
        C(test_cert_refusals),
        C(test_cert_against_node_without_certificates),
        C(test_revocation_cuts_off),
        C(test_revoked_before_first_handshake),
        cmocka_unit_test_setup_teardown(test_cert_expiry_closes_sessions, cert_world_setup_short, world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
