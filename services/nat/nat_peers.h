// nat_peers.h — the peer table and each peer's ICE state machine (actor thread only): the PeerList adds
// and removes peers, Signals and agent events move each peer's path along, the tick runs connect timeouts,
// retries with back-off, path probes and trials. Datagrams for a peer without a usable path are held.
#ifndef WEFT_NAT_PEERS_H
#define WEFT_NAT_PEERS_H

#include <czmq.h>
#include <stdbool.h>

#include "nat.h"

nat_peer_t *nat_peer_find(nat_t *nat, const uint8_t id[WIRE_ID_LEN]);
// Keeps a copy of a datagram for a peer without a usable path (the oldest goes when full); false if
// it cannot be held (too long).
bool nat_peer_hold(nat_t *nat, nat_peer_t *peer, const uint8_t *data, size_t len, int64_t now_ms);
// A full snapshot of the other members (from discovery or Redis): adds, keeps, removes.
void nat_peers_update(nat_t *nat, const Weft__PeerList *list, const char *source);
void nat_peers_on_signal(nat_t *nat, const Weft__Signal *signal);
// One event message from the GLib thread.
void nat_peers_on_event(nat_t *nat, zmsg_t *msg);
// Timers: connect timeouts, retries, path probes and liveness, trials.
void nat_peers_tick(nat_t *nat, int64_t now_ms);
void nat_peers_destroy_all(nat_t *nat);

#endif
