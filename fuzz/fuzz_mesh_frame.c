// fuzz_mesh_frame.c — libFuzzer target for mesh frames on the data plane: the forward header's parser
// (lib/mesh_frame.c) and the keyring's sorting of a session's plaintext (services/dataplane/keyring.c).
//
// The node of fuzz_sessions.h (this node, one member "peer" at 10.100.0.2) and, in the same process, the
// peer's own crypto session table and keyring: one real Noise handshake between them is run once, then
// each input is sealed by the peer's keyring in that session and opened by ours. Input:
//   [flags][subnet count, then count x (addr, mask: 4 + 4 bytes, network order) when flags & 2][plaintext]
// flags & 1: the mesh callback is set (else mesh frames are dropped); flags & 2: the peer's subnets are
// set (else cleared). Whatever comes in must be sorted as keyring.h says, checked against a model here:
//   - a mesh frame (first byte 0x01 or 0x02) reaches the callback once, from the peer, its bytes intact,
//     and not the TUN; without a callback it is counted drop_mesh_frame;
//   - anything else reaches the TUN, intact, exactly when it is IPv4 from the peer's overlay address or
//     from one of its first KEYRING_MAX_SUBNETS subnets; else it is counted drop_bad_source.
// A forward frame the parser takes points inside the frame, with dst != src and the rest as datagram;
// taken from the raw input, writing its header again gives back the same bytes.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_mesh_frame && ./bin/fuzz_mesh_frame fuzz/corpus/mesh_frame
#include <arpa/inet.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto_wire.h"
#include "fuzz_sessions.h"
#include "mesh_frame.h"

#define MAX_PLAIN 1400                 // below the keyring's max_packet and a batch's room
#define PEER_OVERLAY 0x0a640002u       // fuzz_sessions.c's member
#define LOCAL_OVERLAY 0x0a640001u

static fuzz_sessions_t f;              // this node: its keyring opens what the peer seals
static service_t svc, peer_svc;

// The peer's half: a session table and a keyring of its own, with this node as its member.
static struct {
    session_set_t *sessions;
    keyring_t *keys;
    packet_batch_t *to_wire, *to_tun;
    session_io_t io;
    keyring_io_t kio;
} p;

static const session_time_t now = {.mono_ms = 1000, .unix_ns = 1700000000000000000LL};

// What the mesh callback saw during one input.
static int mesh_calls;
static uint8_t mesh_seen[MAX_PLAIN];
static size_t mesh_seen_len;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static int peer_install(void *ctx, const keyring_keypair_t *kp)
{
    (void)ctx;
    keyring_install(p.keys, kp, now.mono_ms, &p.kio);
    return 0;
}

static void peer_drop(void *ctx, const uint8_t peer[32], bool keys, bool queue)
{
    (void)ctx;
    if (keys)
        keyring_drop_keys(p.keys, peer, queue, NULL);
    else if (queue)
        keyring_drop_queue(p.keys, peer, NULL);
}

static void peer_key_event(const uint8_t peer[32], key_event_kind_t kind, transport_cipher_t cipher)
{
    key_event_t ev = {.kind = kind, .cipher = cipher};
    memcpy(ev.peer, peer, 32);
    session_set_key_event(p.sessions, &ev, &now, &p.io);
}

static void peer_want(void *ctx, const uint8_t peer[32], key_event_kind_t why)
{
    (void)ctx;
    peer_key_event(peer, why, TRANSPORT_CHACHA20_POLY1305);
}

static void peer_established(void *ctx, const uint8_t peer[32], transport_cipher_t cipher)
{
    (void)ctx;
    peer_key_event(peer, KEY_EVENT_ESTABLISHED, cipher);
}

// This node's mesh callback: any frame handed over is a mesh frame from the peer; the parser's view of
// a forward frame stays inside it. The frame may be changed (a hop decrements its ttl).
static void on_mesh(void *ctx, const uint8_t peer[32], uint8_t *frame, size_t len)
{
    (void)ctx;
    check(memcmp(peer, f.peer.public_key, 32) == 0 && mesh_frame_is_mesh(frame, len) && len <= MAX_PLAIN);
    mesh_calls++;
    memcpy(mesh_seen, frame, len);
    mesh_seen_len = len;
    mesh_forward_t fwd;
    if (mesh_forward_parse(frame, len, &fwd) == 0) {
        check(frame[0] == MESH_FRAME_FORWARD && fwd.dst == frame + 4 && fwd.src == frame + 4 + MESH_NODE_ID_LEN);
        check(fwd.datagram == frame + MESH_FORWARD_HEADER_LEN && fwd.datagram_len == len - MESH_FORWARD_HEADER_LEN);
        check(fwd.datagram_len > 0 && memcmp(fwd.dst, fwd.src, MESH_NODE_ID_LEN) != 0);
        frame[1]--;
    }
}

// Every datagram in batch to `to`: this node (through fuzz_sessions) or the peer (as nat sorts them).
static void deliver(packet_batch_t *batch, bool to_peer)
{
    size_t offset = 0;
    for (size_t k = 0; k < batch->count; offset += batch->lengths[k], k++) {
        const uint8_t *d = batch->data + offset;
        size_t len = batch->lengths[k];
        if (!to_peer) {
            fuzz_sessions_receive(&f, d, len, &now);
            continue;
        }
        crypto_datagram_t dg;
        if (crypto_datagram_decode(d, len, &dg) == 0 && dg.type == CRYPTO_MSG_TRANSPORT)
            keyring_inbound(p.keys, dg.receiver_index, dg.counter, dg.body, dg.body_len, f.local.public_key,
                            now.mono_ms, &p.kio);
        else
            session_set_inbound(p.sessions, d, len, f.local.public_key, &now, &p.io);
    }
    packet_batch_reset(batch);
}

// An IPv4 header (20 bytes) from src into pkt.
static void ipv4_from(uint8_t pkt[20], uint32_t src)
{
    memset(pkt, 0, 20);
    pkt[0] = 0x45;
    uint32_t be = htonl(src);
    memcpy(pkt + 12, &be, 4);
}

// The peer's table and keyring, then one handshake: the peer sends a packet, which asks for a session.
static void init(void)
{
    fuzz_sessions_init(&f, &svc);
    f.kio.mesh = on_mesh;
    session_config_t cfg = {.max_packet = 1500, .cipher = TRANSPORT_PREFER_AUTO, .aes_ni = transport_aes_available()};
    uint8_t x_public[32], local_id[32];
    memcpy(cfg.local_id, f.peer.public_key, 32);
    memcpy(local_id, f.local.public_key, 32);
    if (identity_x25519(&f.peer, x_public, cfg.static_private) != 0)
        abort();
    session_keys_t keys = {.install = peer_install, .drop = peer_drop};
    p.sessions = session_set_new(&cfg, &peer_svc, &keys);
    p.keys = keyring_new(cfg.max_packet, &peer_svc);
    p.to_wire = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    p.to_tun = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    check(p.sessions && p.keys && p.to_wire && p.to_tun);
    p.io = (session_io_t){.to_wire = p.to_wire};
    p.kio = (keyring_io_t){.to_wire = p.to_wire, .to_tun = p.to_tun, .want = peer_want, .established = peer_established};
    Weft__Peer member = WEFT__PEER__INIT;
    member.id.data = local_id;
    member.id.len = 32;
    member.overlay_addr = "10.100.0.1";
    Weft__Peer *members[1] = {&member};
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.peers = members;
    list.n_peers = 1;
    session_set_update_members(p.sessions, &list);
    check(keyring_add_peer(p.keys, local_id, htonl(LOCAL_OVERLAY)) == 0);

    uint8_t first[20];
    ipv4_from(first, PEER_OVERLAY);
    keyring_outbound(p.keys, first, sizeof first, local_id, now.mono_ms, &p.kio);   // queued; an initiation
    for (int round = 0; round < 4 && (p.to_wire->count || f.to_wire->count); round++) {
        deliver(p.to_wire, false);
        deliver(f.to_wire, true);
    }
    keyring_peer_stats_t st;
    check(keyring_peer_stats(f.keys, f.peer.public_key, now.mono_ms, &st) && st.established);
    check(f.to_device->count == 1 && memcmp(f.to_device->data, first, sizeof first) == 0);
    packet_batch_reset(f.to_device);
}

static uint64_t count(const char *name)
{
    return *service_counter(&svc, name);
}

// The model of the source check: IPv4, from the overlay address or a subnet.
static bool source_ok(const uint8_t *plain, size_t len, const uint32_t *addrs, const uint32_t *masks, size_t n)
{
    if (len < 20 || plain[0] >> 4 != 4)
        return false;
    uint32_t src;
    memcpy(&src, plain + 12, 4);
    if (src == htonl(PEER_OVERLAY))
        return true;
    for (size_t i = 0; i < n && i < KEYRING_MAX_SUBNETS; i++)
        if ((src & masks[i]) == (addrs[i] & masks[i]))
            return true;
    return false;
}

// A forward frame in the raw input: its header written again is the same bytes.
static void parse_raw(const uint8_t *data, size_t size)
{
    mesh_forward_t fwd;
    if (mesh_forward_parse(data, size, &fwd) != 0)
        return;
    uint8_t header[MESH_FORWARD_HEADER_LEN];
    mesh_forward_header(header, fwd.ttl, fwd.dst, fwd.src);
    check(memcmp(header, data, sizeof header) == 0 && fwd.datagram == data + sizeof header &&
          fwd.datagram_len == size - sizeof header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!p.keys)
        init();
    parse_raw(data, size);
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++, size--;
    uint32_t addrs[KEYRING_MAX_SUBNETS + 2], masks[KEYRING_MAX_SUBNETS + 2];
    size_t n = 0;
    if (flags & 2) {
        if (size < 1)
            return 0;
        size_t want = data[0] % (KEYRING_MAX_SUBNETS + 3);
        data++, size--;
        for (; n < want && size >= 8; n++, data += 8, size -= 8) {
            memcpy(&addrs[n], data, 4);
            memcpy(&masks[n], data + 4, 4);
        }
    }
    keyring_set_subnets(f.keys, f.peer.public_key, addrs, masks, n);
    f.kio.mesh = flags & 1 ? on_mesh : NULL;
    size_t len = size < MAX_PLAIN ? size : MAX_PLAIN;
    uint8_t plain[MAX_PLAIN];
    memcpy(plain, data, len);   // the input itself stays unwritten

    uint64_t mesh_in = count("mesh_frames_in"), mesh_drop = count("drop_mesh_frame"),
             bad_source = count("drop_bad_source"), keepalives = count("keepalives_in");
    mesh_calls = 0;
    keyring_outbound(p.keys, plain, len, f.local.public_key, now.mono_ms, &p.kio);
    check(p.to_wire->count == (len ? 1u : 0u));
    deliver(p.to_wire, false);

    if (len == 0) {
        check(f.to_device->count == 0 && mesh_calls == 0 && count("keepalives_in") == keepalives);
    } else if (mesh_frame_is_mesh(plain, len)) {
        check(f.to_device->count == 0 && count("drop_bad_source") == bad_source);
        if (flags & 1)
            check(mesh_calls == 1 && mesh_seen_len == len && memcmp(mesh_seen, plain, len) == 0 &&
                  count("mesh_frames_in") == mesh_in + 1 && count("drop_mesh_frame") == mesh_drop);
        else
            check(mesh_calls == 0 && count("drop_mesh_frame") == mesh_drop + 1 && count("mesh_frames_in") == mesh_in);
    } else {
        check(mesh_calls == 0 && count("mesh_frames_in") == mesh_in && count("drop_mesh_frame") == mesh_drop);
        if (source_ok(plain, len, addrs, masks, n))
            check(f.to_device->count == 1 && f.to_device->lengths[0] == len && memcmp(f.to_device->data, plain, len) == 0 &&
                  count("drop_bad_source") == bad_source);
        else
            check(f.to_device->count == 0 && count("drop_bad_source") == bad_source + 1);
    }
    packet_batch_reset(f.to_device);
    packet_batch_reset(f.to_wire);
    return 0;
}
