// fuzz_sessions.c — see fuzz_sessions.h.
#include "fuzz_sessions.h"

#include <sodium.h>
#include <string.h>

#include "crypto_wire.h"

// session_keys_t: the keyring, as the data plane's actor takes a Keypair and a KeysDrop.
static int install(void *ctx, const keyring_keypair_t *kp)
{
    fuzz_sessions_t *f = ctx;
    keyring_install(f->keys, kp, f->now.mono_ms, &f->kio);
    return 0;
}

static void drop(void *ctx, const uint8_t peer[32], bool keys, bool queue)
{
    fuzz_sessions_t *f = ctx;
    if (keys)
        keyring_drop_keys(f->keys, peer, queue, NULL);
    else if (queue)
        keyring_drop_queue(f->keys, peer, NULL);
}

// keyring_io_t callbacks: key events to the session table, as crypto's actor takes a KeyEvent.
static void key_event(fuzz_sessions_t *f, const uint8_t peer[32], key_event_kind_t kind, transport_cipher_t cipher)
{
    key_event_t ev = {.kind = kind, .cipher = cipher};
    memcpy(ev.peer, peer, 32);
    session_set_key_event(f->sessions, &ev, &f->now, &f->io);
}

static void want(void *ctx, const uint8_t peer[32], key_event_kind_t why)
{
    key_event(ctx, peer, why, TRANSPORT_CHACHA20_POLY1305);
}

static void established(void *ctx, const uint8_t peer[32], transport_cipher_t cipher)
{
    key_event(ctx, peer, KEY_EVENT_ESTABLISHED, cipher);
}

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
    session_keys_t keys = {.install = install, .drop = drop, .ctx = f};
    f->sessions = session_set_new(&cfg, svc, &keys);
    f->keys = keyring_new(cfg.max_packet, svc);
    Weft__Peer member = WEFT__PEER__INIT;
    member.id.data = peer_id;
    member.id.len = 32;
    member.overlay_addr = "10.100.0.2";
    Weft__Peer *members[1] = {&member};
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.peers = members;
    list.n_peers = 1;
    f->to_wire = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    f->to_device = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    if (!f->sessions || !f->keys || !f->to_wire || !f->to_device)
        __builtin_trap();
    f->io = (session_io_t){.to_wire = f->to_wire};
    f->kio = (keyring_io_t){.to_wire = f->to_wire, .to_tun = f->to_device, .want = want, .established = established,
                            .ctx = f};
    session_set_update_members(f->sessions, &list);
    if (keyring_add_peer(f->keys, peer_id, htonl(0x0a640002)) != 0)
        __builtin_trap();
}

void fuzz_sessions_receive(fuzz_sessions_t *f, const uint8_t *datagram, size_t len, const session_time_t *now)
{
    f->now = *now;
    crypto_datagram_t d;
    if (crypto_datagram_decode(datagram, len, &d) == 0 && d.type == CRYPTO_MSG_TRANSPORT)
        keyring_inbound(f->keys, d.receiver_index, d.counter, d.body, d.body_len, f->peer.public_key, now->mono_ms,
                        &f->kio);
    else
        session_set_inbound(f->sessions, datagram, len, f->peer.public_key, now, &f->io);
}

void fuzz_sessions_send(fuzz_sessions_t *f, const uint8_t *packet, size_t len, const session_time_t *now)
{
    f->now = *now;
    keyring_outbound(f->keys, packet, len, f->peer.public_key, now->mono_ms, &f->kio);
}

void fuzz_sessions_tick(fuzz_sessions_t *f, const session_time_t *now)
{
    f->now = *now;
    keyring_tick(f->keys, now->mono_ms);
    session_set_tick(f->sessions, now, &f->io);
}
