// nat_direct.c — handing direct paths to the data plane (see nat_direct.h).
#include "nat_direct.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "nat_agent.h"
#include "wire.h"

static void send_direct_path(nat_t *nat, const uint8_t *peer_id, const char *local, const char *remote, bool withdraw,
                             bool withdraw_all)
{
    Weft__DirectPath path = WEFT__DIRECT_PATH__INIT;
    if (peer_id) {
        path.peer.data = (uint8_t *)peer_id;
        path.peer.len = WIRE_ID_LEN;
    }
    path.local = (char *)(local ? local : "");
    path.remote = (char *)(remote ? remote : "");
    path.withdraw = withdraw;
    path.withdraw_all = withdraw_all;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_DIRECT_PATH;
    env.direct_path = &path;
    if (wire_send(nat->dataplane, &env, NULL, 0, true) != 0) {
        (*nat->count.drop_direct_out)++;
        if (log_worth_repeating(*nat->count.drop_direct_out))
            log_warn("cannot tell the data plane about a direct path (its inbox is full or gone): %llu so far",
                     (unsigned long long)*nat->count.drop_direct_out);
    }
}

void nat_direct_withdraw_all(nat_t *nat)
{
    send_direct_path(nat, NULL, NULL, NULL, true, true);
}

void nat_direct_forget(nat_t *nat, nat_peer_t *peer)
{
    if (!peer->direct)
        return;
    peer->direct = false;
    send_direct_path(nat, peer->id, NULL, NULL, true, false);
}

// The pair the data plane may use: usable, UDP, neither end relayed.
static bool direct_pair(const nat_peer_t *peer)
{
    return peer->ice && nat_peer_usable(peer) && !nat_peer_on_relay(peer) && strcmp(peer->transport, "udp") == 0 &&
           peer->local_addr[0] && peer->remote_addr[0];
}

// Hands the peer's selected pair (named pair) to the data plane. Returns true when it has it now.
static bool hand_over(nat_t *nat, nat_peer_t *peer, const char *pair)
{
    if (peer->direct_refused && strcmp(pair, peer->direct_pair) == 0)
        return false;   // this pair's socket could not be shared: it stays on nat's path
    snprintf(peer->direct_pair, sizeof peer->direct_pair, "%s", pair);
    char err[200];
    peer->direct_refused = ice_peer_share_selected_socket(peer->ice, peer->direct_local, sizeof peer->direct_local,
                                                          err, sizeof err) != 0;
    if (peer->direct_refused) {
        log_warn("peer %.16s: the direct pair %s -> %s stays on nat's path: %s", peer->hex, peer->local_addr,
                 peer->remote_addr, err);
        return false;
    }
    snprintf(peer->direct_remote, sizeof peer->direct_remote, "%s", peer->remote_addr);
    peer->direct = true;
    (*nat->count.direct_handovers)++;
    log_info("peer %.16s: direct pair %s -> %s handed to the data plane (socket %s)", peer->hex, peer->local_addr,
             peer->remote_addr, peer->direct_local);
    send_direct_path(nat, peer->id, peer->direct_local, peer->direct_remote, false, false);
    return true;
}

void nat_direct_sync(nat_t *nat, int64_t now_ms)
{
    bool refresh = now_ms >= nat->next_direct_ms;
    if (refresh)
        nat->next_direct_ms = now_ms + NAT_DIRECT_REFRESH_MS;
    for (size_t i = 0; i < nat->peer_count; i++) {
        nat_peer_t *peer = nat->peers[i];
        char pair[sizeof peer->direct_pair];
        snprintf(pair, sizeof pair, "%s %s", peer->local_addr, peer->remote_addr);
        bool want = direct_pair(peer);
        if (want && peer->direct && strcmp(pair, peer->direct_pair) == 0) {
            if (refresh)
                send_direct_path(nat, peer->id, peer->direct_local, peer->direct_remote, false, false);
            continue;
        }
        if (want && hand_over(nat, peer, pair))
            continue;
        if (peer->direct) {     // gone, changed, failed, relayed, or a new pair that could not be shared
            peer->direct = false;
            log_info("peer %.16s: direct pair (socket %s -> %s) withdrawn from the data plane", peer->hex, peer->direct_local,
                     peer->direct_remote);
            send_direct_path(nat, peer->id, NULL, NULL, true, false);
        }
    }
}
