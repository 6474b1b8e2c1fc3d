// nat_agent.c — one peer's ICE agents: path state, selected pair, retiring agents, descriptions in and
// out (see nat_agent.h). Actor thread only.
#include "nat_agent.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nat_signal.h"

const char *nat_path_state_name(path_state_t state)
{
    switch (state) {
    case PATH_GATHERING: return "gathering";
    case PATH_CONNECTING: return "connecting";
    case PATH_CONNECTED: return "connected";
    case PATH_READY: return "ready";
    case PATH_FAILED: return "failed";
    case PATH_WAITING:
    default: return "connecting";
    }
}

bool nat_peer_usable(const nat_peer_t *peer)
{
    return peer->ice && (peer->state == PATH_CONNECTED || peer->state == PATH_READY);
}

bool nat_peer_on_relay(const nat_peer_t *peer)
{
    return strcmp(peer->local_type, "relay") == 0 || strcmp(peer->remote_type, "relay") == 0;
}

void nat_peer_set_state(nat_peer_t *peer, path_state_t state)
{
    if (peer->state != state)
        peer->dirty = true;
    peer->state = state;
}

// Destroys one of the peer's agents, keeping what it received in the peer's totals.
void nat_agent_retire(nat_peer_t *peer, ice_peer_t **agent)
{
    uint64_t bytes, packets;
    ice_peer_rx(*agent, &bytes, &packets);
    peer->rx_bytes_before += bytes;
    peer->rx_packets_before += packets;
    ice_peer_destroy(agent);
}

void nat_agent_drop(nat_peer_t *peer)
{
    if (!peer->ice)
        return;
    nat_agent_retire(peer, &peer->ice);
    if (peer->controlling && peer->local_ufrag[0]) {
        memcpy(peer->old_ufrags[peer->old_ufrag_next], peer->local_ufrag, sizeof peer->local_ufrag);
        peer->old_ufrag_next = (peer->old_ufrag_next + 1) % NAT_OLD_UFRAGS;
    }
    peer->serial = 0;
    peer->local_ufrag[0] = '\0';
    memset(peer->local_pwd, 0, sizeof peer->local_pwd);
    ice_remote_destroy(&peer->applied_remote);
    peer->resuming = false;
    peer->offer_ufrag[0] = '\0';
    peer->answer_applied = false;
    peer->local_type[0] = peer->remote_type[0] = '\0';
    peer->local_addr[0] = peer->remote_addr[0] = '\0';
    peer->transport[0] = '\0';
    peer->server[0] = '\0';
    peer->probe_unanswered_ms = 0;
    peer->rtt_us = -1;
    peer->dirty = true;
}

void nat_peer_take_pair(nat_peer_t *peer, const ice_event_t *ev)
{
    if (!ev->has_pair)
        return;
    const char *server = "";
    if (strcmp(ev->local_type, "relay") == 0)
        server = ice_peer_turn_name(peer->ice);
    else if (strcmp(ev->local_type, "srflx") == 0)
        server = ice_peer_stun_name(peer->ice)[0] ? ice_peer_stun_name(peer->ice) : ice_peer_turn_name(peer->ice);
    snprintf(peer->server, sizeof peer->server, "%s", server);
    memcpy(peer->local_type, ev->local_type, sizeof peer->local_type);
    memcpy(peer->remote_type, ev->remote_type, sizeof peer->remote_type);
    memcpy(peer->local_addr, ev->local_addr, sizeof peer->local_addr);
    memcpy(peer->remote_addr, ev->remote_addr, sizeof peer->remote_addr);
    memcpy(peer->transport, ev->transport, sizeof peer->transport);
    peer->transport[sizeof peer->transport - 1] = '\0';
    peer->local_type[sizeof peer->local_type - 1] = peer->remote_type[sizeof peer->remote_type - 1] = '\0';
    peer->local_addr[sizeof peer->local_addr - 1] = peer->remote_addr[sizeof peer->remote_addr - 1] = '\0';
    peer->dirty = true;
}

void nat_send_description(nat_t *nat, nat_peer_t *peer, nat_gathered_t *g, bool trial)
{
    Weft__Signal__Kind kind = peer->controlling ? WEFT__SIGNAL__KIND__OFFER : WEFT__SIGNAL__KIND__ANSWER;
    const char *answers = peer->controlling ? NULL : trial ? peer->trial_offer_ufrag : peer->offer_ufrag;
    if (nat_signal_send(nat->discovery, kind, nat->self_id, peer->id, g->ufrag, g->pwd, g->cands, g->count, answers,
                        trial) == 0) {
        (*nat->count.signals_out)++;
        log_info("peer %.16s: sent %s%s %s with %zu candidates", peer->hex, trial ? "trial " : "",
                 nat_signal_kind_name(kind), g->ufrag, g->count);
    } else {
        (*nat->count.drop_signal_out)++;
        log_warn("peer %.16s: discovery's inbox is full; %s not sent", peer->hex, nat_signal_kind_name(kind));
    }
}

// The candidate lines of an OFFER/ANSWER that parse; NULL (counted, logged) when it had some but none do.
ice_remote_t *nat_remote_from_signal(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s)
{
    char *good[ICE_MAX_CANDIDATES];
    size_t bad = 0, count = nat_signal_good_candidates(s, good, &bad);
    if (bad) {
        (*nat->count.signals_bad)++;
        log_warn("peer %.16s: %s has %zu malformed candidate lines (of %zu)%s", peer->hex,
                 nat_signal_kind_name(s->kind), bad, s->n_candidates, count ? "; using the others" : "; dropped");
        if (!count)
            return NULL;
    }
    return ice_remote_new(s->ufrag, s->pwd, good, count);
}

int nat_gathered_pop(nat_gathered_t *g, zmsg_t *msg)
{
    g->ufrag = zmsg_popstr(msg);
    g->pwd = zmsg_popstr(msg);
    g->count = 0;
    while (g->count < ICE_MAX_CANDIDATES && (g->cands[g->count] = zmsg_popstr(msg)) != NULL)
        g->count++;
    return g->ufrag && g->pwd ? 0 : -1;
}

void nat_gathered_free(nat_gathered_t *g)
{
    for (size_t i = 0; i < g->count; i++)
        free(g->cands[i]);
    g->count = 0;
    free(g->ufrag);
    g->ufrag = NULL;
    if (g->pwd) {
        memset(g->pwd, 0, strlen(g->pwd));
        free(g->pwd);
        g->pwd = NULL;
    }
}
