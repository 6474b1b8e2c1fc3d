// weft_poke.c — sends garbage to a ZeroMQ endpoint, for the bad-input tests: random frames, random
// bytes that are almost envelopes, and well-formed envelopes carrying nonsense (batches whose lengths
// lie, random packets, peer ids of the wrong size, signals full of junk).
//
//   weft-poke --endpoint EP --type push|req|dealer [--curve-server-key KEY] [--count N] [--seed S]
//
// Prints how many messages it sent (and, for req, how many got an answer). Exit 0 unless it could not
// connect; whether the target survived is for the test to check.
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.pb-c.h"
#include "hub_key.h"
#include "node.pb-c.h"

static unsigned seed = 1;
static unsigned rnd(unsigned n) { return n ? (unsigned)rand_r(&seed) % n : 0; }

static void random_bytes(uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)rand_r(&seed);
}

// One message of one of several kinds; returns it as a zmsg.
static zmsg_t *make_garbage(void)
{
    zmsg_t *msg = zmsg_new();
    uint8_t buf[4096];
    uint8_t id[40];
    random_bytes(id, sizeof id);
    switch (rnd(6)) {
    case 0: {  // random frames
        unsigned frames = 1 + rnd(3);
        for (unsigned f = 0; f < frames; f++) {
            size_t n = rnd(1500);
            random_bytes(buf, n);
            zmsg_addmem(msg, buf, n);
        }
        break;
    }
    case 1: {  // a batch whose lengths do not add up, or random packets that do
        uint32_t lengths[8];
        size_t total = 0, count = 1 + rnd(8);
        for (size_t i = 0; i < count; i++) {
            lengths[i] = rnd(300);
            total += lengths[i];
        }
        bool lie = rnd(2);
        ProtobufCBinaryData peers[1] = {{rnd(2) ? 32 : rnd(40), id}};
        uint32_t index[8] = {0};
        for (size_t i = 0; i < count; i++)
            index[i] = rnd(3) ? 0 : rnd(5);
        Weft__PacketBatch hdr = WEFT__PACKET_BATCH__INIT;
        hdr.n_lengths = count;
        hdr.lengths = lengths;
        if (rnd(2)) {
            hdr.n_peers = 1;
            hdr.peers = peers;
            hdr.n_peer_index = count;
            hdr.peer_index = index;
        }
        Weft__Envelope env = WEFT__ENVELOPE__INIT;
        env.body_case = WEFT__ENVELOPE__BODY_PACKETS;
        env.packets = &hdr;
        size_t n = weft__envelope__pack(&env, buf);
        zmsg_addmem(msg, buf, n);
        size_t payload = lie ? rnd(2000) : total;
        uint8_t *p = malloc(payload + 1);
        random_bytes(p, payload);
        if (payload && rnd(2))
            p[0] = (uint8_t)(rnd(2) ? 0x45 : (rnd(2) ? 1 : 4));  // looks like IPv4 / a handshake / transport
        zmsg_addmem(msg, p, payload);
        free(p);
        break;
    }
    case 2: {  // a signal with junk
        char junk[64];
        for (size_t i = 0; i < sizeof junk - 1; i++)
            junk[i] = (char)(32 + rnd(90));
        junk[sizeof junk - 1] = '\0';
        char *cands[] = {junk, "a=candidate:x y z", "a=candidate:1 1 UDP 1 999.1.1.1 99999 typ host"};
        Weft__Signal sig = WEFT__SIGNAL__INIT;
        sig.from.data = id;
        sig.from.len = rnd(2) ? 32 : rnd(40);
        sig.to.data = id;
        sig.to.len = rnd(2) ? 32 : rnd(40);
        sig.kind = rnd(4);
        sig.ufrag = junk;
        sig.pwd = junk;
        sig.n_candidates = 3;
        sig.candidates = cands;
        Weft__Envelope env = WEFT__ENVELOPE__INIT;
        env.body_case = WEFT__ENVELOPE__BODY_SIGNAL;
        env.signal = &sig;
        size_t n = weft__envelope__pack(&env, buf);
        zmsg_addmem(msg, buf, n);
        break;
    }
    case 3: {  // a peer list with bad entries
        Weft__Peer p1 = WEFT__PEER__INIT, p2 = WEFT__PEER__INIT;
        p1.id.data = id;
        p1.id.len = rnd(2) ? 32 : 7;
        p1.overlay_addr = rnd(2) ? "10.100.300.1" : "not an address";
        p1.name = "x";
        p2.id.data = id + 1;
        p2.id.len = 32;
        p2.overlay_addr = "255.255.255.255";
        Weft__Peer *peers[] = {&p1, &p2};
        Weft__PeerList list = WEFT__PEER_LIST__INIT;
        list.n_peers = 2;
        list.peers = peers;
        Weft__Envelope env = WEFT__ENVELOPE__INIT;
        env.body_case = WEFT__ENVELOPE__BODY_PEERS;
        env.peers = &list;
        size_t n = weft__envelope__pack(&env, buf);
        zmsg_addmem(msg, buf, n);
        break;
    }
    case 4: {  // a hub request that is almost right
        Weft__Register reg = WEFT__REGISTER__INIT;
        reg.mesh = rnd(2) ? "default" : "bad mesh name!";
        reg.id.data = id;
        reg.id.len = rnd(2) ? 32 : 3;
        reg.overlay_addr = rnd(2) ? "10.100.0.99" : "junk";
        reg.name = "poke";
        Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
        req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
        req.register_ = &reg;
        size_t n = weft__hub_request__pack(&req, buf);
        zmsg_addmem(msg, buf, n);
        break;
    }
    default: {  // an envelope prefix with random bytes after it
        size_t n = 1 + rnd(200);
        random_bytes(buf, n);
        buf[0] = (uint8_t)((1 + rnd(5)) << 3 | 2);
        zmsg_addmem(msg, buf, n);
        if (rnd(2))
            zmsg_addmem(msg, buf, rnd(n));
        break;
    }
    }
    return msg;
}

static zsock_t *open_socket(int type, const char *endpoint, const char *server_key, zcert_t *cert)
{
    zsock_t *sock = zsock_new(type);
    zsock_set_linger(sock, 0);
    zsock_set_rcvtimeo(sock, 1000);
    zsock_set_sndtimeo(sock, 1000);
    if (server_key) {
        uint8_t key[32];
        char why[256];
        if (hub_key_parse(server_key, key, why, sizeof why) != 0) {   // 64 hex, or the old Z85
            fprintf(stderr, "weft-poke: --key: %s\n", why);
            zsock_destroy(&sock);
            return NULL;
        }
        zcert_apply(cert, sock);
        zsock_set_curve_serverkey_bin(sock, key);
    }
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        zsock_destroy(&sock);
        return NULL;
    }
    return sock;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *type_name = "push", *server_key = NULL;
    int count = 200;
    static struct option options[] = {{"endpoint", required_argument, 0, 'e'}, {"type", required_argument, 0, 't'},
                                      {"curve-server-key", required_argument, 0, 'k'},
                                      {"count", required_argument, 0, 'c'},    {"seed", required_argument, 0, 's'},
                                      {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'e': endpoint = optarg; break;
        case 't': type_name = optarg; break;
        case 'k': server_key = optarg; break;
        case 'c': count = atoi(optarg); break;
        case 's': seed = (unsigned)atoi(optarg); break;
        default:
            fprintf(stderr, "usage: weft-poke --endpoint EP --type push|req|dealer [--curve-server-key KEY] "
                            "[--count N] [--seed S]\n");
            return 2;
        }
    }
    int type = streq(type_name, "req") ? ZMQ_REQ : streq(type_name, "dealer") ? ZMQ_DEALER : ZMQ_PUSH;
    if (!endpoint) {
        fprintf(stderr, "weft-poke: --endpoint is required\n");
        return 2;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    zcert_t *cert = zcert_new();
    zsock_t *sock = open_socket(type, endpoint, server_key, cert);
    if (!sock) {
        fprintf(stderr, "weft-poke: cannot connect to %s\n", endpoint);
        return 1;
    }
    int sent = 0, answered = 0;
    for (int i = 0; i < count; i++) {
        zmsg_t *msg = make_garbage();
        if (zmsg_send(&msg, sock) == 0)
            sent++;
        zmsg_destroy(&msg);
        if (type == ZMQ_REQ) {
            zmsg_t *reply = zmsg_recv(sock);
            if (reply) {
                answered++;
                zmsg_destroy(&reply);
            } else {  // a REQ that got no answer is stuck: start a fresh one
                zsock_destroy(&sock);
                sock = open_socket(type, endpoint, server_key, cert);
                if (!sock)
                    break;
            }
        } else if (type == ZMQ_DEALER) {
            zmsg_t *reply = NULL;
            zpoller_t *p = zpoller_new(sock, NULL);
            if (zpoller_wait(p, 0))
                reply = zmsg_recv(sock);
            if (reply) {
                answered++;
                zmsg_destroy(&reply);
            }
            zpoller_destroy(&p);
        }
    }
    zclock_sleep(200);  // let queued messages leave before linger 0 drops them
    printf("sent %d answered %d\n", sent, answered);
    zsock_destroy(&sock);
    zcert_destroy(&cert);
    return 0;
}
