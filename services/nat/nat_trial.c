// nat_trial.c — trial agents: from a relayed path back to a direct one (see nat_trial.h).
#include "nat_trial.h"

#include <string.h>

#include "clock.h"
#include "log.h"
#include "nat_agent.h"

static bool trials_allowed(const nat_t *nat)
{
    return nat->ice_settings.direct && !nat->ice_settings.relay_only;
}

void nat_trial_drop(nat_peer_t *peer)
{
    if (!peer->trial)
        return;
    nat_agent_retire(peer, &peer->trial);
    peer->trial_serial = 0;
    peer->trial_local_ufrag[0] = peer->trial_offer_ufrag[0] = '\0';
    peer->trial_answered = false;
}

// A trial agent: direct candidates only (no TURN), next to the current agent, which keeps carrying the
// traffic. Controlling side: offers it (trial OFFER); controlled side: `remote` is the trial offer.
void nat_trial_start(nat_t *nat, nat_peer_t *peer, ice_remote_t *remote, int64_t now)
{
    nat_trial_drop(peer);
    if (!trials_allowed(nat)) {
        ice_remote_destroy(&remote);
        return;
    }
    ice_stun_server_t storage;
    const ice_stun_server_t *stun =
        nat_servers_pick_stun_only(&nat->servers, &nat->ice_settings, zclock_time() / 1000, &storage);
    uint64_t serial = ++nat->next_serial;
    peer->trial = ice_peer_new(nat->bridge, &nat->ice_settings, stun, NULL, peer->id, peer->controlling, serial);
    if (!peer->trial) {
        ice_remote_destroy(&remote);
        return;
    }
    peer->trial_serial = serial;
    peer->trial_started_ms = now;
    (*nat->count.trials)++;
    (*nat->count.agents_created)++;
    ice_peer_start(peer->trial, remote);
}

static int64_t trial_gap(const nat_peer_t *peer, int64_t now)
{
    return now - peer->relay_since_ms < NAT_TRIAL_FAST_FOR_MS ? NAT_TRIAL_GAP_MS : NAT_TRIAL_GAP_LONG_MS;
}

// The trial connected: it becomes the peer's agent and the relayed one goes.
static void promote_trial(nat_t *nat, nat_peer_t *peer, const ice_event_t *ev)
{
    ice_peer_t *trial = peer->trial;
    uint64_t serial = peer->trial_serial;
    char local_ufrag[ICE_MAX_CRED_LEN + 1], offer_ufrag[ICE_MAX_CRED_LEN + 1];
    memcpy(local_ufrag, peer->trial_local_ufrag, sizeof local_ufrag);
    memcpy(offer_ufrag, peer->trial_offer_ufrag, sizeof offer_ufrag);
    peer->trial = NULL;     // not dropped: it is taken over
    peer->trial_serial = 0;
    peer->trial_local_ufrag[0] = peer->trial_offer_ufrag[0] = '\0';
    peer->trial_answered = false;
    char before[160];
    snprintf(before, sizeof before, "%s %s -> %s %s", peer->local_type, peer->local_addr, peer->remote_type,
             peer->remote_addr);
    nat_agent_drop(peer);
    peer->ice = trial;
    peer->serial = serial;
    memcpy(peer->local_ufrag, local_ufrag, sizeof local_ufrag);
    memcpy(peer->offer_ufrag, offer_ufrag, sizeof offer_ufrag);
    peer->answer_applied = peer->controlling;
    peer->attempts++;
    (*nat->count.trials_promoted)++;
    nat_peer_set_state(peer, ev->state == NICE_COMPONENT_STATE_READY ? PATH_READY : PATH_CONNECTED);
    nat_peer_take_pair(peer, ev);
    peer->connected_unix_ms = zclock_time();
    peer->usable_since_ms = clock_now_ms();
    peer->last_probe_ms = 0;
    peer->probe_unanswered_ms = 0;
    peer->relay_since_ms = 0;
    peer->next_trial_ms = 0;
    log_info("peer %.16s: a direct path works again: %s %s -> %s %s (was %s) after %lld ms of trial", peer->hex,
             peer->local_type, peer->local_addr, peer->remote_type, peer->remote_addr, before,
             (long long)(clock_now_ms() - peer->trial_started_ms));
}

// A trial OFFER (controlled side): a trial agent next to the current one; the current one stays.
void nat_trial_on_offer(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s)
{
    if (peer->trial && strcmp(peer->trial_offer_ufrag, s->ufrag) == 0) {
        (*nat->count.signals_stale)++;
        return;
    }
    ice_remote_t *remote = nat_remote_from_signal(nat, peer, s);
    if (!remote)
        return;
    nat_trial_start(nat, peer, remote, clock_now_ms());
    if (peer->trial)
        snprintf(peer->trial_offer_ufrag, sizeof peer->trial_offer_ufrag, "%s", s->ufrag);
    log_info("peer %.16s: trial OFFER %s (direct candidates only); answering", peer->hex, s->ufrag);
}

void nat_trial_on_answer(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s)
{
    if (!peer->trial || peer->trial_answered || strcmp(s->answers, peer->trial_local_ufrag) != 0) {
        (*nat->count.signals_stale)++;
        log_debug("peer %.16s: stale trial ANSWER for %s ignored", peer->hex, s->answers);
        return;
    }
    ice_remote_t *remote = nat_remote_from_signal(nat, peer, s);
    if (!remote)
        return;
    ice_peer_set_remote(peer->trial, remote);
    peer->trial_answered = true;
}

void nat_trial_on_event(nat_t *nat, nat_peer_t *peer, const ice_event_t *ev, zmsg_t *msg)
{
    int64_t now = clock_now_ms();
    if (ev->type == ICE_EVENT_GATHERED) {
        nat_gathered_t g;
        if (nat_gathered_pop(&g, msg) == 0) {
            snprintf(peer->trial_local_ufrag, sizeof peer->trial_local_ufrag, "%s", g.ufrag);
            nat_send_description(nat, peer, &g, true);
        }
        nat_gathered_free(&g);
    } else if (ev->type == ICE_EVENT_STATE) {
        if (ev->state == NICE_COMPONENT_STATE_CONNECTED || ev->state == NICE_COMPONENT_STATE_READY) {
            if (strcmp(ev->local_type, "relay") != 0 && strcmp(ev->remote_type, "relay") != 0)
                promote_trial(nat, peer, ev);
        } else if (ev->state == NICE_COMPONENT_STATE_FAILED) {
            log_debug("peer %.16s: trial failed: still no direct path", peer->hex);
            nat_trial_drop(peer);
            peer->next_trial_ms = peer->controlling ? now + trial_gap(peer, now) : 0;
        }
    } else if (ev->type == ICE_EVENT_BAD_REMOTE) {
        (*nat->count.signals_bad)++;
    }
}

// Timers of trials: the controlling side starts one while the path is relayed; any side drops one that
// did not connect in time.
void nat_trial_tick(nat_t *nat, nat_peer_t *peer, int64_t now)
{
    bool relayed = nat_peer_usable(peer) && nat_peer_on_relay(peer);
    if (relayed && !peer->relay_since_ms) {
        peer->relay_since_ms = now;
        peer->next_trial_ms = now + NAT_TRIAL_GAP_MS;
    } else if (!relayed) {
        peer->relay_since_ms = 0;
    }
    int64_t limit = NAT_TRIAL_MS + (peer->controlling ? 0 : 1000);   // the controlled side waits for the other
    if (peer->trial && now - peer->trial_started_ms >= limit) {
        nat_trial_drop(peer);
        peer->next_trial_ms = now + trial_gap(peer, now);
    }
    if (peer->controlling && relayed && !peer->trial && trials_allowed(nat) && peer->next_trial_ms &&
        now >= peer->next_trial_ms)
        nat_trial_start(nat, peer, NULL, now);
}
