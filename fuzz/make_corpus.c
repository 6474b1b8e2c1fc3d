// make_corpus.c — writes the fuzz targets' seed inputs (fuzz/corpus/<name>/), a few small valid ones each,
// so that the fuzzers start past the outer checks. Run again after a .proto or a framing changes:
//
//   make fuzz_make_corpus && ./bin/fuzz_make_corpus <source>/fuzz/corpus
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cert.h"
#include "crypto_wire.h"
#include "invite.h"
#include "mesh_frame.h"
#include "hub.pb-c.h"
#include "hub_proto.h"
#include "node.pb-c.h"
#include "packet.pb-c.h"

static const char *root;

static void put(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    printf("%s (%zu bytes)\n", path, len);
}

static uint8_t buf[65536];

// ---------------------------------------------------------------- wire: framing of fuzz_wire.c

static void put_envelope(const char *name, const Weft__Envelope *env, const uint8_t *payload, size_t payload_len)
{
    size_t n = weft__envelope__get_packed_size(env);
    if (payload) {
        buf[0] = 1;     // two frames; then the envelope's length, little-endian
        buf[1] = (uint8_t)n;
        buf[2] = (uint8_t)(n >> 8);
        weft__envelope__pack(env, buf + 3);
        memcpy(buf + 3 + n, payload, payload_len);
        put("wire", name, buf, 3 + n + payload_len);
    } else {
        buf[0] = 0;     // one frame
        weft__envelope__pack(env, buf + 1);
        put("wire", name, buf, 1 + n);
    }
}

static uint8_t id_a[32], id_b[32], self_id[32];

static void make_wire(void)
{
    // a batch from device: two packets, no peers
    static const uint8_t packets[] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 100, 0, 1, 10, 100, 0, 2,
                                      0x45, 0, 0, 8, 1, 2, 3, 4};
    uint32_t lengths[2] = {20, 8};
    Weft__PacketBatch batch = WEFT__PACKET_BATCH__INIT;
    batch.n_lengths = 2;
    batch.lengths = lengths;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_PACKETS;
    env.packets = &batch;
    put_envelope("batch", &env, packets, sizeof packets);

    // a batch from router: the same packets for two peers
    ProtobufCBinaryData peers[2] = {{32, id_a}, {32, id_b}};
    uint32_t peer_index[2] = {1, 0};
    batch.n_peers = 2;
    batch.peers = peers;
    batch.n_peer_index = 2;
    batch.peer_index = peer_index;
    put_envelope("batch_peers", &env, packets, sizeof packets);

    // a PeerList from discovery
    Weft__Peer a = WEFT__PEER__INIT, b = WEFT__PEER__INIT;
    a.id = peers[0];
    a.name = "alpha";
    a.overlay_addr = "10.100.0.2";
    a.last_seen_ms = 1700000000000ULL;
    b.id = peers[1];
    b.name = "beta";
    b.overlay_addr = "10.100.0.3";
    Weft__Peer *members[2] = {&a, &b};
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.mesh = "home";
    list.n_peers = 2;
    list.peers = members;
    env = (Weft__Envelope)WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_PEERS;
    env.peers = &list;
    put_envelope("peer_list", &env, NULL, 0);

    // a Signal from nat to discovery, a status request and a status
    char *cand[1] = {"a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host"};
    Weft__Signal sig = WEFT__SIGNAL__INIT;
    sig.from = peers[0];
    sig.to = peers[1];
    sig.kind = WEFT__SIGNAL__KIND__OFFER;
    sig.ufrag = "abcd";
    sig.pwd = "abcdefghijklmnopqrstuv";
    sig.n_candidates = 1;
    sig.candidates = cand;
    env = (Weft__Envelope)WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_SIGNAL;
    env.signal = &sig;
    put_envelope("signal", &env, NULL, 0);

    Weft__StatusRequest req = WEFT__STATUS_REQUEST__INIT;
    req.verbose = 1;
    env = (Weft__Envelope)WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_STATUS_REQUEST;
    env.status_request = &req;
    put_envelope("status_request", &env, NULL, 0);

    Weft__Counter c = WEFT__COUNTER__INIT;
    c.name = "packets_in";
    c.value = 42;
    Weft__Counter *counters[1] = {&c};
    Weft__ServiceStatus st = WEFT__SERVICE_STATUS__INIT;
    st.service = "router";
    st.pid = 1234;
    st.uptime_ms = 5000;
    st.n_counters = 1;
    st.counters = counters;
    st.detail = "2 routes";
    env = (Weft__Envelope)WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_STATUS;
    env.status = &st;
    put_envelope("status", &env, NULL, 0);
}

// ---------------------------------------------------------------- signal: a Signal addressed to self_id

static void put_signal(const char *name, const Weft__Signal *sig)
{
    size_t n = weft__signal__pack(sig, buf);
    put("signal", name, buf, n);
}

static void make_signal(void)
{
    char *cands[3] = {
        "a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host",
        "a=candidate:2 1 udp 1694498815 203.0.113.7 41000 typ srflx raddr 192.168.1.10 rport 50000",
        "a=candidate:3 1 tcp 1015022079 fe80::1 9 typ host tcptype active",
    };
    Weft__Signal sig = WEFT__SIGNAL__INIT;
    sig.from.data = id_a;
    sig.from.len = 32;
    sig.to.data = self_id;
    sig.to.len = 32;
    sig.kind = WEFT__SIGNAL__KIND__OFFER;
    sig.ufrag = "Xy9+";
    sig.pwd = "abcdefghijklmnopqrst/+";
    sig.n_candidates = 3;
    sig.candidates = cands;
    put_signal("offer", &sig);
    sig.kind = WEFT__SIGNAL__KIND__ANSWER;
    sig.ufrag = "AbCd";
    sig.answers = "Xy9+";
    sig.n_candidates = 1;
    put_signal("answer", &sig);
    Weft__Signal restart = WEFT__SIGNAL__INIT;
    restart.from = sig.from;
    restart.to = sig.to;
    restart.kind = WEFT__SIGNAL__KIND__RESTART;
    restart.answers = "Xy9+";
    put_signal("restart", &restart);
}

// ---------------------------------------------------------------- hub_request

static void put_request(const char *name, const Weft__HubRequest *req)
{
    size_t n = weft__hub_request__pack(req, buf);
    put("hub_request", name, buf, n);
}

static void make_hub_request(void)
{
    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = "home";
    reg.id.data = id_a;
    reg.id.len = 32;
    reg.name = "alpha";
    reg.overlay_addr = "10.100.0.2";
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req.register_ = &reg;
    put_request("register", &req);

    Weft__Leave leave = WEFT__LEAVE__INIT;
    leave.mesh = "home";
    leave.id = reg.id;
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE;
    req.leave = &leave;
    put_request("leave", &req);

    char *cand[1] = {"a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host"};
    Weft__Signal sig = WEFT__SIGNAL__INIT;
    sig.from = reg.id;
    sig.to.data = id_b;
    sig.to.len = 32;
    sig.kind = WEFT__SIGNAL__KIND__OFFER;
    sig.ufrag = "abcd";
    sig.pwd = "abcdefghijklmnopqrstuv";
    sig.n_candidates = 1;
    sig.candidates = cand;
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_SIGNAL;
    req.signal = &sig;
    put_request("signal", &req);

    // regression: the same Signal with a field numbered 0 written as 80 00 (hub_proto.c refuses it)
    uint8_t inner[1024];
    size_t n = weft__signal__pack(&sig, inner);
    inner[n++] = 0x80, inner[n++] = 0x00, inner[n++] = 0x00;
    size_t at = 0;
    buf[at++] = 0x1a;   // field 3 (signal), length-delimited
    for (size_t v = n; ; v >>= 7) {
        buf[at++] = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
        if (v < 0x80)
            break;
    }
    memcpy(buf + at, inner, n);
    put("hub_request", "signal_field_zero", buf, at + n);

    // membership requests (services/hub/hub_mesh.c); the invite and revocation bytes inside are only the
    // right size here: fuzz_invite and fuzz_cert seed real ones
    uint8_t mesh_id[16], nonce[16], blob[256];
    memset(mesh_id, 0x3c, sizeof mesh_id);
    memset(nonce, 0x4e, sizeof nonce);
    memset(blob, 0x5a, sizeof blob);
    Weft__CreateMesh create = WEFT__CREATE_MESH__INIT;
    create.name = "office";
    create.cidr = "10.100.0.0/16";
    create.psk_present = 1;
    create.ttl_s = 300;
    create.admin_key = reg.id;
    create.member_name = "alpha";
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_CREATE_MESH;
    req.create_mesh = &create;
    put_request("create_mesh", &req);

    Weft__RegisterInvite invite = WEFT__REGISTER_INVITE__INIT;
    invite.mesh_id.data = mesh_id;
    invite.mesh_id.len = 16;
    invite.nonce.data = nonce;
    invite.nonce.len = 16;
    invite.max_uses = 3;
    invite.expires = 1800086400;
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER_INVITE;
    req.register_invite = &invite;
    put_request("register_invite", &req);

    Weft__Join join = WEFT__JOIN__INIT;
    join.invite.data = blob;
    join.invite.len = 200;
    join.name = "beta";
    join.key.data = id_b;
    join.key.len = 32;
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_JOIN;
    req.join = &join;
    put_request("join", &req);

    Weft__CertIssued issued = WEFT__CERT_ISSUED__INIT;
    issued.request_id = 42;
    issued.cert.data = blob;
    issued.cert.len = HUB_CERT_LEN;
    issued.sealed_psk.data = blob;
    issued.sealed_psk.len = HUB_SEALED_PSK_LEN;
    issued.error = "";
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_CERT_ISSUED;
    req.cert_issued = &issued;
    put_request("cert_issued", &req);

    Weft__Kick kick = WEFT__KICK__INIT;
    kick.mesh_id = invite.mesh_id;
    kick.revocation.data = blob;
    kick.revocation.len = HUB_REVOCATION_LEN;
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_KICK;
    req.kick = &kick;
    put_request("kick", &req);

    Weft__LeaveMesh leave_mesh = WEFT__LEAVE_MESH__INIT;
    leave_mesh.mesh_id = invite.mesh_id;
    leave_mesh.key = join.key;
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE_MESH;
    req.leave_mesh = &leave_mesh;
    put_request("leave_mesh", &req);

    Weft__ListMembers list_members = WEFT__LIST_MEMBERS__INIT;
    list_members.mesh_id = invite.mesh_id;
    list_members.key = join.key;
    req = (Weft__HubRequest)WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_LIST_MEMBERS;
    req.list_members = &list_members;
    put_request("list_members", &req);
}

// ---------------------------------------------------------------- crypto_datagram: the right shapes

static void make_crypto_datagram(void)
{
    memset(buf, 0xa5, CRYPTO_INITIATION_LEN);
    crypto_write_initiation_header(buf, 0x01020304);
    put("crypto_datagram", "initiation", buf, CRYPTO_INITIATION_LEN);
    memset(buf, 0x5a, CRYPTO_RESPONSE_LEN);
    crypto_write_response_header(buf, 0x05060708, 0x01020304);
    put("crypto_datagram", "response", buf, CRYPTO_RESPONSE_LEN);
    memset(buf, 0x33, CRYPTO_TRANSPORT_OVERHEAD + 20);
    crypto_write_transport_header(buf, 0x01020304, 7);
    put("crypto_datagram", "transport", buf, CRYPTO_TRANSPORT_OVERHEAD + 20);
    put("crypto_datagram", "transport_keepalive", buf, CRYPTO_TRANSPORT_OVERHEAD);
    // fuzz_cookie_reply: a mode byte (0: as given, 1: XORed into a genuine reply), then the reply
    memset(buf, 0, 1 + CRYPTO_COOKIE_REPLY_LEN);
    crypto_write_cookie_header(buf + 1, 0x01020304);
    put("cookie_reply", "raw", buf, 1 + CRYPTO_COOKIE_REPLY_LEN);
    buf[0] = 2;   // raw, aimed at the initiation in flight
    put("cookie_reply", "raw_pending", buf, 1 + CRYPTO_COOKIE_REPLY_LEN);
    memset(buf, 0, 1 + CRYPTO_COOKIE_REPLY_LEN);
    buf[0] = 1;
    put("cookie_reply", "genuine", buf, 1 + CRYPTO_COOKIE_REPLY_LEN);
}

// ---------------------------------------------------------------- membership: fuzz_cert.c, fuzz_invite.c

static void make_membership(void)
{
    identity_t admin;
    uint8_t seed[32];
    memset(seed, 0x42, sizeof seed);   // fixed keys: the seeds are the same on every run
    crypto_sign_seed_keypair(admin.public_key, admin.secret_key, seed);
    cert_t c = {0};
    memset(c.mesh_id, 0x6d, sizeof c.mesh_id);
    memset(c.member_key, 0xaa, sizeof c.member_key);
    c.address = 0x0a640002;
    c.prefix = 16;
    c.issued = 1800000000;
    c.expires = 1800086400;
    cert_sign(&c, &admin);
    uint8_t cert[CERT_LEN];
    cert_encode(&c, cert);
    put("cert", "certificate", cert, sizeof cert);
    char hex[CERT_HEX_LEN];
    cert_to_hex(&c, hex);
    put("cert", "certificate_hex", (const uint8_t *)hex, strlen(hex));
    revocation_t r = {0};
    memcpy(r.mesh_id, c.mesh_id, sizeof r.mesh_id);
    memcpy(r.member_key, c.member_key, sizeof r.member_key);
    r.revoked_at = 1800000100;
    revocation_sign(&r, &admin);
    uint8_t rev[REVOCATION_LEN];
    revocation_encode(&r, rev);
    put("cert", "revocation", rev, sizeof rev);

    invite_t inv = {0};
    memcpy(inv.mesh_id, c.mesh_id, sizeof inv.mesh_id);
    snprintf(inv.mesh_name, sizeof inv.mesh_name, "home");
    inv.hub_count = 2;
    snprintf(inv.hubs[0], sizeof inv.hubs[0], "tcp://192.0.2.10:7400");
    snprintf(inv.hubs[1], sizeof inv.hubs[1], "tcp://hub.example.net:7400");
    memset(inv.hub_key, 0x77, sizeof inv.hub_key);
    inv.expires = 1800086400;
    inv.max_uses = 5;
    memset(inv.nonce, 0x4e, sizeof inv.nonce);
    char err[256], code[INVITE_MAX_CODE];
    uint8_t bytes[INVITE_MAX_BYTES];
    if (invite_sign(&inv, &admin, err, sizeof err) != 0 || invite_encode(&inv, code, sizeof code, err, sizeof err) != 0) {
        fprintf(stderr, "invite: %s\n", err);
        exit(1);
    }
    int n = invite_pack(&inv, bytes, sizeof bytes, err, sizeof err);
    put("invite", "code", (const uint8_t *)code, strlen(code));
    put("invite", "binary", bytes, (size_t)n);
    identity_wipe(&admin);
}

// ---------------------------------------------------------------- route_announce: fuzz_route_announce.c
// From id_a (0xaa) to self_id (0x11); members 0xbb, 0xcc, 0xdd too. A path id is an id's first 8 bytes.

static void put_announce(const char *name, const Weft__RouteAnnouncement *a)
{
    size_t n = weft__route_announcement__pack(a, buf);
    put("route_announce", name, buf, n);
}

static void make_route_announce(void)
{
    static uint8_t id_c[32], id_d[32];
    memset(id_c, 0xcc, 32);
    memset(id_d, 0xdd, 32);
    const uint64_t A = 0xaaaaaaaaaaaaaaaaull, B = 0xbbbbbbbbbbbbbbbbull, C = 0xccccccccccccccccull,
                   SELF = 0x1111111111111111ull;
    uint64_t p_self[] = {A}, p_b[] = {A, B}, p_c[] = {A, B, C}, p_loop[] = {A, SELF, C};
    char *own_prefixes[] = {"192.168.50.0/24", "10.20.0.0/16"};
    char *c_prefixes[] = {"172.16.0.0/12"};
    Weft__RouteEntry own = WEFT__ROUTE_ENTRY__INIT, b = WEFT__ROUTE_ENTRY__INIT, c = WEFT__ROUTE_ENTRY__INIT,
                     d = WEFT__ROUTE_ENTRY__INIT;
    own.dest = (ProtobufCBinaryData){32, id_a};
    own.path = p_self;
    own.n_path = 1;
    own.prefixes = own_prefixes;
    own.n_prefixes = 2;
    b.dest = (ProtobufCBinaryData){32, id_b};
    b.hops = 1;
    b.latency_ms = 12;
    b.path = p_b;
    b.n_path = 2;
    c.dest = (ProtobufCBinaryData){32, id_c};
    c.hops = 2;
    c.latency_ms = 30;
    c.path = p_c;
    c.n_path = 3;
    c.prefixes = c_prefixes;
    c.n_prefixes = 1;
    d.dest = (ProtobufCBinaryData){32, id_d};
    d.unreachable = 1;
    Weft__RouteEntry *entries[] = {&own, &b, &c, &d};
    Weft__RouteAnnouncement a = WEFT__ROUTE_ANNOUNCEMENT__INIT;
    a.seq = 1800000000000ull;
    a.relay = 1;
    a.routes = entries;
    a.n_routes = 4;
    put_announce("full", &a);
    a.more = 1;
    a.request = 1;
    put_announce("more_request", &a);
    a.more = 0;
    a.request = 0;
    a.relay = 0;
    put_announce("no_relay", &a);
    c.path = p_loop;
    a.relay = 1;
    put_announce("loop", &a);
}

// ---------------------------------------------------------------- mesh_frame: fuzz_mesh_frame.c
// [flags: 1 mesh callback, 2 subnets][subnet count, (addr, mask) x count when flags & 2][plaintext]

static size_t ipv4_from(uint8_t *out, const char *src)
{
    memset(out, 0, 28);
    out[0] = 0x45;
    out[3] = 28;
    unsigned a, b, c, d;
    sscanf(src, "%u.%u.%u.%u", &a, &b, &c, &d);
    out[12] = (uint8_t)a, out[13] = (uint8_t)b, out[14] = (uint8_t)c, out[15] = (uint8_t)d;
    return 28;
}

static void make_mesh_frame(void)
{
    uint8_t dst[MESH_NODE_ID_LEN], src[MESH_NODE_ID_LEN];
    memset(dst, 0xcc, sizeof dst);
    memset(src, 0xaa, sizeof src);
    buf[0] = 1;
    mesh_forward_header(buf + 1, 8, dst, src);
    memset(buf + 1 + MESH_FORWARD_HEADER_LEN, 0x45, 40);
    put("mesh_frame", "forward", buf, 1 + MESH_FORWARD_HEADER_LEN + 40);
    buf[0] = 0;
    put("mesh_frame", "forward_no_callback", buf, 1 + MESH_FORWARD_HEADER_LEN + 40);
    buf[0] = 1;
    buf[1] = MESH_FRAME_ANNOUNCE;
    put("mesh_frame", "announce", buf, 1 + 1 + 30);
    buf[0] = 1;
    put("mesh_frame", "overlay", buf, 1 + ipv4_from(buf + 1, "10.100.0.2"));
    // subnets 192.168.50.0/24 and 10.20.0.0/16; a packet from each, and one from outside
    const uint8_t subnets[] = {2, 192, 168, 50, 0, 255, 255, 255, 0, 10, 20, 0, 0, 255, 255, 0, 0};
    buf[0] = 3;
    memcpy(buf + 1, subnets, sizeof subnets);
    size_t at = 1 + sizeof subnets;
    put("mesh_frame", "subnet_in", buf, at + ipv4_from(buf + at, "192.168.50.7"));
    put("mesh_frame", "subnet_in2", buf, at + ipv4_from(buf + at, "10.20.3.4"));
    put("mesh_frame", "subnet_out", buf, at + ipv4_from(buf + at, "192.168.51.7"));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fuzz/corpus directory>\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    memset(self_id, 0x11, 32);  // fuzz_signal.c's node id
    memset(id_a, 0xaa, 32);
    memset(id_b, 0xbb, 32);
    make_wire();
    make_signal();
    make_hub_request();
    make_crypto_datagram();
    make_membership();
    make_route_announce();
    make_mesh_frame();
    return 0;
}
