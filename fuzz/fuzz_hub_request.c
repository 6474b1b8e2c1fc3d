// fuzz_hub_request.c — libFuzzer target: arbitrary bytes as one hub request frame through the hub's
// decoder and validator (hub_request_parse), then, for what passes, the same reply packing the hub
// does (a PeerList built from the Register, the Signal relayed as a HubReply, an error reply), and the
// decoders the hub runs on membership requests (the invite in a Join, the revocation in a Kick, the
// certificate in a CertIssued, relayed as a JoinReply).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "hub_proto.h"
#include "invite.h"

static void pack_and_check(const Weft__HubReply *reply)
{
    size_t len = 0;
    uint8_t *buf = hub_reply_pack(reply, &len);
    if (!buf)
        return;
    Weft__HubReply *back = weft__hub_reply__unpack(NULL, len, buf);
    if (!back)
        abort();  // what we pack must decode
    weft__hub_reply__free_unpacked(back, NULL);
    free(buf);
}

static void relay(const Weft__HubRequest *req)
{
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    if (req->body_case == WEFT__HUB_REQUEST__BODY_REGISTER) {
        Weft__Peer peer = WEFT__PEER__INIT;
        peer.id = req->register_->id;
        peer.name = req->register_->name;
        peer.overlay_addr = req->register_->overlay_addr;
        Weft__Peer *peers[1] = {&peer};
        Weft__PeerList list = WEFT__PEER_LIST__INIT;
        list.mesh = req->register_->mesh;
        list.n_peers = 1;
        list.peers = peers;
        reply.body_case = WEFT__HUB_REPLY__BODY_PEERS;
        reply.peers = &list;
        pack_and_check(&reply);
    } else if (req->body_case == WEFT__HUB_REQUEST__BODY_SIGNAL) {
        reply.body_case = WEFT__HUB_REPLY__BODY_SIGNAL;
        reply.signal = req->signal;
        pack_and_check(&reply);
    } else if (req->body_case == WEFT__HUB_REQUEST__BODY_JOIN) {
        // the hub decodes the invite inside a Join (hub_mesh.c)
        invite_t inv;
        char err[200];
        invite_unpack(req->join->invite.data, req->join->invite.len, &inv, err, sizeof err);
    } else if (req->body_case == WEFT__HUB_REQUEST__BODY_KICK) {
        revocation_t rev;
        char err[200];
        revocation_decode(req->kick->revocation.data, req->kick->revocation.len, &rev, err, sizeof err);
    } else if (req->body_case == WEFT__HUB_REQUEST__BODY_CERT_ISSUED) {
        // relayed to the joiner as a JoinReply
        Weft__JoinReply jr = WEFT__JOIN_REPLY__INIT;
        jr.cert = req->cert_issued->cert;
        jr.sealed_psk = req->cert_issued->sealed_psk;
        jr.name = "mesh";
        jr.cidr = "10.100.0.0/16";
        jr.address = "10.100.0.2";
        reply.body_case = WEFT__HUB_REPLY__BODY_JOIN_REPLY;
        reply.join_reply = &jr;
        pack_and_check(&reply);
        cert_t cert;
        char err[200];
        cert_decode(req->cert_issued->cert.data, req->cert_issued->cert.len, &cert, err, sizeof err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[160];
    Weft__HubRequest *req = hub_request_parse(data, size, why, sizeof why);
    if (!req) {
        size_t len = 0;
        free(hub_error_pack(WEFT__HUB_ERROR__CODE__BAD_REQUEST, why, &len));
        return 0;
    }
    relay(req);
    weft__hub_request__free_unpacked(req, NULL);
    return 0;
}
