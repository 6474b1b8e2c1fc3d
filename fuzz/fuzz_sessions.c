// fuzz_sessions.c — see fuzz_sessions.h.
#include "fuzz_sessions.h"

#include <sodium.h>
#include <string.h>

void fuzz_sessions_init(fuzz_sessions_t *f, service_t *svc)
{
    if (sodium_init() < 0)
        __builtin_trap();
    crypto_sign_keypair(f->local.public_key, f->local.secret_key);
    crypto_sign_keypair(f->peer.public_key, f->peer.secret_key);
    const identity_t *local = &f->local, *peer = &f->peer;
    // crypto.cipher auto, as a node runs by default: an initiation offering AES-256-GCM gets it
    session_config_t cfg = {.max_packet = 1500, .cipher = TRANSPORT_PREFER_AUTO, .aes_ni = transport_aes_available()};
    uint8_t x_public[32], peer_id[32];
    memcpy(cfg.local_id, local->public_key, 32);
    memcpy(peer_id, peer->public_key, 32);
    if (identity_x25519(local, x_public, cfg.static_private) != 0)
        __builtin_trap();
    f->sessions = session_set_new(&cfg, svc);
    Weft__Peer member = WEFT__PEER__INIT;
    member.id.data = peer_id;
    member.id.len = 32;
    member.overlay_addr = "10.100.0.2";
    Weft__Peer *members[1] = {&member};
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.peers = members;
    list.n_peers = 1;
    f->to_nat = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    f->to_device = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    if (!f->sessions || !f->to_nat || !f->to_device)
        __builtin_trap();
    session_set_update_members(f->sessions, &list);
}
