// nat_peers.c — the peer table and each peer's ICE state machine (actor thread only):
//   - PeerList in: add peers (the lower id offers at once; the higher one asks with RESTART if no offer
//     comes within a second), drop peers that left;
//   - Signals in: OFFER (controlled side: fresh agent, answer), ANSWER (controlling side: applied only to
//     the agent whose ufrag it answers), RESTART (controlling side: offer again, rate limited);
//   - agent events in: gathered (send OFFER/ANSWER), state, selected pair, refused remote candidates;
//   - timers: connect timeout and retries with back-off (1 s doubling to 30 s, reset when connected).
// A peer's agents in detail are nat_agent.c's; its trial agent (back from a relay) is nat_trial.c's.
#include "nat_peers.h"

#include <string.h>

#include "clock.h"
#include "log.h"
#include "nat_agent.h"
#include "nat_direct.h"
#include "nat_path.h"
#include "nat_resume.h"
#include "nat_signal.h"
#include "nat_trial.h"

nat_peer_t *nat_peer_find(nat_t *nat, const uint8_t id[WIRE_ID_LEN])
{
    for (size_t i = 0; i < nat->peer_count; i++)
        if (memcmp(nat->peers[i]->id, id, WIRE_ID_LEN) == 0)
            return nat->peers[i];
    return NULL;
}

static void update_summary(nat_t *nat)
{
    size_t connected = 0, relayed = 0;
    for (size_t i = 0; i < nat->peer_count; i++) {
        bool usable = nat_peer_usable(nat->peers[i]);
        connected += usable;
        relayed += usable && nat_peer_on_relay(nat->peers[i]);
    }
    *nat->count.peers_connected = connected;
    *nat->count.peers_relay = relayed;
    *nat->count.peers_direct = connected - relayed;
    snprintf(nat->svc->detail, sizeof nat->svc->detail, "%zu peers, %zu connected (%zu direct, %zu relayed)%s",
             nat->peer_count, connected, connected - relayed, relayed, nat->store ? "" : " (redis not reachable)");
}

// ---------------------------------------------------------------- agents

// Replaces the peer's agent by a fresh one and starts gathering (remote: the offer, controlled side).
// resume: the agent takes the peer's last description that connected instead (nat_resume.c): no servers,
// our old credentials and port, the peer's old description, no signal sent.
static int make_agent(nat_t *nat, nat_peer_t *peer, ice_remote_t *remote, bool resume, int64_t now)
{
    ice_remote_t *applied = remote ? ice_remote_copy(remote) : NULL;
    nat_agent_drop(peer);
    nat_trial_drop(peer);
    uint64_t serial = ++nat->next_serial;
    const ice_stun_server_t *stun = NULL;
    const ice_turn_server_t *turn = NULL;
    if (!resume)
        nat_servers_pick(&nat->servers, &nat->ice_settings, zclock_time() / 1000, &stun, &turn);
    peer->ice = ice_peer_new(nat->bridge, &nat->ice_settings, stun, turn, peer->id, peer->controlling, serial);
    if (!peer->ice) {
        ice_remote_destroy(&remote);
        ice_remote_destroy(&applied);
        return -1;
    }
    if (resume)
        ice_peer_resume_as(peer->ice, peer->resume.local_ufrag, peer->resume.local_pwd, peer->resume.local_port,
                           peer->resume.local_addr, peer->resume.remote_addr);
    peer->resuming = resume;
    peer->applied_remote = applied;
    peer->serial = serial;
    if (peer->attempts++ > 0)
        (*nat->count.ice_restarts)++;
    (*nat->count.agents_created)++;
    peer->attempt_ms = peer->last_attempt_ms = now;
    peer->retry_at_ms = 0;
    nat_peer_set_state(peer, PATH_GATHERING);
    ice_peer_start(peer->ice, remote);
    return 0;
}

static int new_agent(nat_t *nat, nat_peer_t *peer, ice_remote_t *remote, int64_t now)
{
    return make_agent(nat, peer, remote, false, now);
}

// Right after nat started: the path that was up before, without the hub, if Redis still has it. While
// the data plane still holds the old port (it lets go when it reads our withdraw_all, a few ms after we start),
// the resume waits for it on the tick, at most NAT_RESUME_PORT_WAIT_MS (retry() goes on with it).
static bool resume_agent(nat_t *nat, nat_peer_t *peer, int64_t now)
{
    if (!nat_resume_load(nat, peer))
        return false;
    if (nat_resume_port_busy(peer)) {
        if (!peer->resume_wait_until_ms)
            peer->resume_wait_until_ms = now + NAT_RESUME_PORT_WAIT_MS;
        if (now < peer->resume_wait_until_ms) {
            peer->retry_at_ms = now + 1;   // the next tick
            return true;
        }
        log_info("peer %.16s: port %u of the last run is still taken after %d ms; resuming anyway", peer->hex,
                 peer->resume.local_port, NAT_RESUME_PORT_WAIT_MS);
    }
    peer->resume_wait_until_ms = 0;
    ice_remote_t *remote = ice_remote_copy(peer->resume.remote);
    if (!remote || make_agent(nat, peer, remote, true, now) != 0)
        return false;
    log_info("peer %.16s: resuming the path of the last run (ufrag %s, port %u, %zu remote candidates)", peer->hex,
             peer->resume.local_ufrag, peer->resume.local_port, peer->resume.remote->candidate_count);
    return true;
}

static void schedule_retry(nat_peer_t *peer, int64_t now)
{
    peer->retry_at_ms = now + peer->backoff_ms;
    peer->backoff_ms = peer->backoff_ms * 2 > NAT_BACKOFF_MAX_MS ? NAT_BACKOFF_MAX_MS : peer->backoff_ms * 2;
}

// The current attempt is over without a path: drop the agent, retry after the back-off.
static void attempt_failed(nat_t *nat, nat_peer_t *peer, const char *why, int64_t now)
{
    log_info("peer %.16s: no path (%s); retrying in %d ms", peer->hex, why, peer->backoff_ms);
    snprintf(peer->last_error, sizeof peer->last_error, "%s", why);
    nat_servers_on_failure(&nat->servers, now);
    if (!peer->controlling)
        snprintf(peer->failed_offer, sizeof peer->failed_offer, "%s", peer->offer_ufrag);
    nat_agent_drop(peer);
    nat_trial_drop(peer);
    nat_peer_set_state(peer, PATH_FAILED);
    schedule_retry(peer, now);
}

static void send_restart(nat_t *nat, nat_peer_t *peer, const char *answers)
{
    if (nat_signal_send(nat->discovery, WEFT__SIGNAL__KIND__RESTART, nat->self_id, peer->id, NULL, NULL, NULL, 0,
                        answers, false) == 0) {
        (*nat->count.signals_out)++;
        log_info("peer %.16s: sent RESTART", peer->hex);
    } else {
        (*nat->count.drop_signal_out)++;
        log_warn("peer %.16s: discovery's inbox is full; RESTART not sent", peer->hex);
    }
}

static void retry(nat_t *nat, nat_peer_t *peer, int64_t now);

// ---------------------------------------------------------------- peer table

static nat_peer_t *peer_add(nat_t *nat, const uint8_t id[WIRE_ID_LEN], int64_t now)
{
    if (nat->peer_count == nat->peer_cap) {
        size_t cap = nat->peer_cap ? nat->peer_cap * 2 : 16;
        nat_peer_t **grown = realloc(nat->peers, cap * sizeof *grown);
        if (!grown)
            return NULL;
        nat->peers = grown;
        nat->peer_cap = cap;
    }
    nat_peer_t *peer = calloc(1, sizeof *peer);
    if (!peer)
        return NULL;
    memcpy(peer->id, id, WIRE_ID_LEN);
    id_to_hex(id, peer->hex);
    peer->controlling = memcmp(nat->self_id, id, WIRE_ID_LEN) < 0;
    peer->backoff_ms = NAT_BACKOFF_MIN_MS;
    peer->rtt_us = -1;
    peer->state = PATH_WAITING;
    peer->dirty = true;
    nat->peers[nat->peer_count++] = peer;
    log_info("peer %.16s: new (%s)", peer->hex, peer->controlling ? "we offer" : "it offers");
    if (!nat->have_peer_list && resume_agent(nat, peer, now))
        ;   // this nat just started: NAT_RESUME_MS to resume, then signalling
    else if (peer->controlling)
        new_agent(nat, peer, NULL, now);
    else
        peer->retry_at_ms = now + NAT_BACKOFF_MIN_MS;   // RESTART if no offer comes by then
    return peer;
}

static void peer_remove(nat_t *nat, size_t index)
{
    nat_peer_t *peer = nat->peers[index];
    log_info("peer %.16s: left the mesh", peer->hex);
    nat_direct_forget(nat, peer);
    nat_agent_drop(peer);
    nat_trial_drop(peer);
    nat_path_delete(nat, peer);
    nat_resume_forget(nat, peer, true);
    free(peer);
    nat->peers[index] = nat->peers[--nat->peer_count];
}

void nat_peers_update(nat_t *nat, const Weft__PeerList *list, const char *source)
{
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < nat->peer_count; i++)
        nat->peers[i]->listed = false;
    for (size_t i = 0; i < list->n_peers; i++) {
        const Weft__Peer *entry = list->peers[i];
        if (!entry || entry->id.len != WIRE_ID_LEN) {
            (*nat->count.peerlist_bad)++;
            log_warn("%s: peer entry %zu has a %zu-byte id (want 32); skipped", source, i, entry ? entry->id.len : 0);
            continue;
        }
        if (memcmp(entry->id.data, nat->self_id, WIRE_ID_LEN) == 0)
            continue;
        nat_peer_t *peer = nat_peer_find(nat, entry->id.data);
        if (!peer)
            peer = peer_add(nat, entry->id.data, now);
        if (peer)
            peer->listed = true;
    }
    for (size_t i = nat->peer_count; i-- > 0;)
        if (!nat->peers[i]->listed)
            peer_remove(nat, i);
    update_summary(nat);
}

void nat_peers_destroy_all(nat_t *nat)
{
    for (size_t i = 0; i < nat->peer_count; i++) {
        nat_agent_drop(nat->peers[i]);
        nat_trial_drop(nat->peers[i]);
        nat_resume_forget(nat, nat->peers[i], false);
        free(nat->peers[i]);
    }
    free(nat->peers);
    nat->peers = NULL;
    nat->peer_count = nat->peer_cap = 0;
}

// ---------------------------------------------------------------- signals

static void on_offer(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s)
{
    if (peer->ice && strcmp(peer->offer_ufrag, s->ufrag) == 0) {
        (*nat->count.signals_stale)++;
        log_debug("peer %.16s: duplicate OFFER %s ignored", peer->hex, s->ufrag);
        return;
    }
    ice_remote_t *remote = nat_remote_from_signal(nat, peer, s);
    if (!remote)
        return;
    if (new_agent(nat, peer, remote, clock_now_ms()) != 0) {
        log_error("peer %.16s: cannot create an agent to answer", peer->hex);
        return;
    }
    snprintf(peer->offer_ufrag, sizeof peer->offer_ufrag, "%s", s->ufrag);
    log_info("peer %.16s: OFFER %s with %zu candidates; answering", peer->hex, s->ufrag, s->n_candidates);
}

static void on_answer(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s)
{
    if (!peer->ice || peer->answer_applied || strcmp(s->answers, peer->local_ufrag) != 0) {
        (*nat->count.signals_stale)++;
        log_info("peer %.16s: stale ANSWER for %s ignored (current offer %s)", peer->hex, s->answers,
                 peer->local_ufrag[0] ? peer->local_ufrag : "none");
        return;
    }
    ice_remote_t *remote = nat_remote_from_signal(nat, peer, s);
    if (!remote)
        return;
    ice_remote_destroy(&peer->applied_remote);
    peer->applied_remote = ice_remote_copy(remote);
    ice_peer_set_remote(peer->ice, remote);
    peer->answer_applied = true;
    log_info("peer %.16s: ANSWER %s with %zu candidates", peer->hex, s->ufrag, s->n_candidates);
}

static bool is_old_offer(const nat_peer_t *peer, const char *ufrag)
{
    for (size_t i = 0; i < NAT_OLD_UFRAGS; i++)
        if (strcmp(peer->old_ufrags[i], ufrag) == 0)
            return true;
    return false;
}

// RESTART `answers` names the offer whose agent failed on the other side (empty: it has none). One of our
// earlier offers means the failure is already being dealt with; ours now, none or unknown: offer again.
static void on_restart(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s)
{
    if (s->answers[0] && strcmp(s->answers, peer->local_ufrag) != 0 && is_old_offer(peer, s->answers)) {
        (*nat->count.signals_stale)++;
        log_info("peer %.16s: stale RESTART (for offer %s) ignored", peer->hex, s->answers);
        return;
    }
    int64_t now = clock_now_ms();
    int64_t when = peer->last_attempt_ms + NAT_BACKOFF_MIN_MS;   // never more than one offer a second
    if (when < now)
        when = now;
    log_info("peer %.16s: RESTART; offering again in %lld ms", peer->hex, (long long)(when - now));
    if (when == now)
        retry(nat, peer, now);
    else if (!peer->retry_at_ms || when < peer->retry_at_ms)
        peer->retry_at_ms = when;
}

void nat_peers_on_signal(nat_t *nat, const Weft__Signal *s)
{
    char why[160];
    if (nat_signal_check(s, nat->self_id, why, sizeof why) != 0) {
        (*nat->count.signals_bad)++;
        log_warn("dropped a Signal: %s", why);
        return;
    }
    nat_peer_t *peer = nat_peer_find(nat, s->from.data);
    if (!peer) {
        (*nat->count.signals_unknown_peer)++;
        char hex[ID_HEX_LEN];
        id_to_hex(s->from.data, hex);
        log_info("dropped a %s from %.16s, not a known peer", nat_signal_kind_name(s->kind), hex);
        return;
    }
    bool wants_controlling = s->kind != WEFT__SIGNAL__KIND__OFFER;   // OFFERs go to the controlled side
    if (peer->controlling != wants_controlling) {
        (*nat->count.signals_bad)++;
        log_warn("peer %.16s: dropped a %s: wrong ICE role", peer->hex, nat_signal_kind_name(s->kind));
        return;
    }
    (*nat->count.signals_in)++;
    switch (s->kind) {
    case WEFT__SIGNAL__KIND__OFFER: s->trial ? nat_trial_on_offer(nat, peer, s) : on_offer(nat, peer, s); break;
    case WEFT__SIGNAL__KIND__ANSWER: s->trial ? nat_trial_on_answer(nat, peer, s) : on_answer(nat, peer, s); break;
    case WEFT__SIGNAL__KIND__RESTART: on_restart(nat, peer, s); break;
    default: break;
    }
    update_summary(nat);
}

// ---------------------------------------------------------------- agent events

static void on_gathered(nat_t *nat, nat_peer_t *peer, const ice_event_t *ev, zmsg_t *msg)
{
    nat_gathered_t g;
    if (nat_gathered_pop(&g, msg) == 0) {
        if (!peer->resuming)
            nat_servers_on_gathered(&nat->servers, &nat->ice_settings, zclock_time() / 1000,
                                    ice_peer_turn_name(peer->ice), ev->has_relay);
        snprintf(peer->local_ufrag, sizeof peer->local_ufrag, "%s", g.ufrag);
        snprintf(peer->local_pwd, sizeof peer->local_pwd, "%s", g.pwd);
        if (peer->state == PATH_GATHERING)
            nat_peer_set_state(peer, PATH_CONNECTING);
        if (!peer->resuming) {   // a resumed agent's description is the one the peer has
            // extra candidates: a gateway mapping of our host ports, predicted ports of a sequential NAT
            g.count += portmap_add_candidates(nat->portmap, g.cands, g.count, ICE_MAX_CANDIDATES);
            g.count += predict_add_candidates(nat->predict, g.cands, g.count, ICE_MAX_CANDIDATES);
            nat_send_description(nat, peer, &g, false);
        }
    }
    nat_gathered_free(&g);
}

bool nat_peer_hold(nat_t *nat, nat_peer_t *peer, const uint8_t *data, size_t len, int64_t now_ms)
{
    nat_hold_t *h = &peer->held;
    if (len > NAT_HOLD_BYTES)
        return false;
    if (h->count == NAT_HOLD_MAX) {  // drop the oldest
        memmove(h->data[0], h->data[1], sizeof h->data[0] * (NAT_HOLD_MAX - 1));
        memmove(&h->len[0], &h->len[1], sizeof h->len[0] * (NAT_HOLD_MAX - 1));
        memmove(&h->at_ms[0], &h->at_ms[1], sizeof h->at_ms[0] * (NAT_HOLD_MAX - 1));
        h->count--;
        (*nat->count.drop_no_path)++;
    }
    memcpy(h->data[h->count], data, len);
    h->len[h->count] = (uint16_t)len;
    h->at_ms[h->count] = now_ms;
    h->count++;
    (*nat->count.held)++;
    return true;
}

// The path just came up: send what waited for it, unless it waited too long.
static void send_held(nat_t *nat, nat_peer_t *peer)
{
    nat_hold_t *h = &peer->held;
    NiceOutputMessage messages[NAT_HOLD_MAX];
    GOutputVector vectors[NAT_HOLD_MAX];
    unsigned n = 0;
    int64_t now = clock_now_ms();
    for (unsigned i = 0; i < h->count; i++) {
        if (now - h->at_ms[i] > NAT_HOLD_MS) {
            (*nat->count.drop_no_path)++;
            continue;
        }
        vectors[n] = (GOutputVector){h->data[i], h->len[i]};
        messages[n] = (NiceOutputMessage){&vectors[n], 1};
        n++;
    }
    h->count = 0;
    int sent = n ? ice_peer_send(peer->ice, messages, n) : 0;
    if (sent > 0) {
        *nat->count.held_sent += (uint64_t)sent;
        peer->tx_packets += (uint64_t)sent;
    }
}

static void on_state(nat_t *nat, nat_peer_t *peer, const ice_event_t *ev)
{
    bool was_usable = nat_peer_usable(peer);
    switch (ev->state) {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
        nat_peer_set_state(peer, ev->state == NICE_COMPONENT_STATE_READY ? PATH_READY : PATH_CONNECTED);
        nat_peer_take_pair(peer, ev);
        if (!was_usable) {
            peer->connected_unix_ms = zclock_time();
            peer->usable_since_ms = clock_now_ms();
            peer->last_probe_ms = 0;            // probe at once: the first RTT
            peer->probe_unanswered_ms = 0;
            peer->last_error[0] = '\0';
            peer->backoff_ms = NAT_BACKOFF_MIN_MS;
            peer->retry_at_ms = 0;
            log_info("peer %.16s: %s in %lld ms, %s %s -> %s %s", peer->hex, peer->resuming ? "resumed" : "connected",
                     (long long)(clock_now_ms() - peer->attempt_ms), peer->local_type, peer->local_addr,
                     peer->remote_type, peer->remote_addr);
            peer->resuming = false;
            nat_resume_keep(peer, ev->has_pair ? ev->local_port : 0);
            send_held(nat, peer);
        }
        break;
    case NICE_COMPONENT_STATE_FAILED:
        attempt_failed(nat, peer, was_usable ? "the path died (ICE keepalive failed)" : "ICE failed: no candidate pair works",
                       clock_now_ms());
        break;
    case NICE_COMPONENT_STATE_CONNECTING:
        if (was_usable || peer->state == PATH_GATHERING)
            nat_peer_set_state(peer, PATH_CONNECTING);
        break;
    default:
        break;
    }
}

void nat_peers_on_event(nat_t *nat, zmsg_t *msg)
{
    zframe_t *head = zmsg_pop(msg);
    if (!head || zframe_size(head) != sizeof(ice_event_t)) {
        log_error("internal: malformed event from the GLib thread");
        zframe_destroy(&head);
        return;
    }
    ice_event_t ev;
    memcpy(&ev, zframe_data(head), sizeof ev);
    zframe_destroy(&head);
    nat_peer_t *peer = nat_peer_find(nat, ev.peer);
    if (peer && peer->trial && peer->trial_serial == ev.serial) {
        nat_trial_on_event(nat, peer, &ev, msg);
        update_summary(nat);
        return;
    }
    if (!peer || !peer->ice || peer->serial != ev.serial)
        return;   // an agent already replaced or destroyed
    switch (ev.type) {
    case ICE_EVENT_GATHERED: on_gathered(nat, peer, &ev, msg); break;
    case ICE_EVENT_STATE: on_state(nat, peer, &ev); break;
    case ICE_EVENT_PAIR: nat_peer_take_pair(peer, &ev); break;
    case ICE_EVENT_BAD_REMOTE: (*nat->count.signals_bad)++; break;
    }
    update_summary(nat);
}

// ---------------------------------------------------------------- timers

static void retry(nat_t *nat, nat_peer_t *peer, int64_t now)
{
    peer->retry_at_ms = 0;
    if (peer->resume_wait_until_ms && !peer->ice && resume_agent(nat, peer, now))
        return;   // resumed, or still waiting for the port
    peer->resume_wait_until_ms = 0;
    if (peer->controlling) {
        log_info("peer %.16s: offering again", peer->hex);
        if (new_agent(nat, peer, NULL, now) != 0)
            schedule_retry(peer, now);
    } else if (!peer->ice) {
        send_restart(nat, peer, peer->failed_offer);
        schedule_retry(peer, now);   // and again, later, until an offer comes
    }
}

// Probes a connected path (path_probe.h): for its RTT, to keep NAT bindings at nat.keepalive, and
// quickly while we send but hear nothing. A path silent for NAT_DEAD_MS after the first unanswered
// probe is dead: ICE starts again at once (the relay is among the candidates, so a cut direct path
// moves to it).
static void check_liveness(nat_t *nat, nat_peer_t *peer, int64_t now)
{
    int64_t rx = ice_peer_last_rx_ms(peer->ice);
    int64_t heard = rx > peer->usable_since_ms ? rx : peer->usable_since_ms;
    int64_t rtt = ice_peer_rtt_us(peer->ice);
    if (rtt != peer->rtt_us) {
        peer->rtt_us = rtt;
        peer->dirty = true;
    }
    if (peer->probe_unanswered_ms && rx >= peer->probe_unanswered_ms)
        peer->probe_unanswered_ms = 0;   // something came back
    bool keepalive_due = now - peer->last_probe_ms >= (int64_t)nat->svc->config.keepalive_interval * 1000;
    // a path handed to the data plane carries traffic nat does not see: it is probed as if nat sent on it
    bool sending = peer->last_tx_ms > heard || peer->direct;
    bool suspect = now - heard >= NAT_SUSPECT_MS && (sending || peer->probe_unanswered_ms);
    if (keepalive_due || (suspect && now - peer->last_probe_ms >= NAT_PROBE_MS)) {
        if (ice_peer_send_probe(peer->ice, now) == 0) {
            (*nat->count.probes_sent)++;
            if (!peer->probe_unanswered_ms)
                peer->probe_unanswered_ms = now;
        }
        peer->last_probe_ms = now;
    }
    if (peer->probe_unanswered_ms && now - peer->probe_unanswered_ms >= NAT_DEAD_MS && now - heard >= NAT_DEAD_MS) {
        char why[160];
        snprintf(why, sizeof why, "the path died: nothing from the peer for %lld ms (%s %s -> %s %s)",
                 (long long)(now - heard), peer->local_type, peer->local_addr, peer->remote_type, peer->remote_addr);
        (*nat->count.paths_died)++;
        attempt_failed(nat, peer, why, now);
        peer->retry_at_ms = now;        // no back-off for a path that worked: start again now
    }
}

void nat_peers_tick(nat_t *nat, int64_t now)
{
    nat_servers_check_expiry(&nat->servers, &nat->ice_settings, zclock_time() / 1000);
    int64_t timeout_ms = (int64_t)nat->svc->config.connect_timeout * 1000;
    for (size_t i = 0; i < nat->peer_count; i++) {
        nat_peer_t *peer = nat->peers[i];
        bool trying = peer->state == PATH_GATHERING || peer->state == PATH_CONNECTING;
        if (peer->ice && trying && now - peer->attempt_ms >= timeout_ms)
            attempt_failed(nat, peer, "connect timeout", now);
        if (peer->ice && peer->resuming && trying && now - peer->attempt_ms >= NAT_RESUME_MS) {
            attempt_failed(nat, peer, "the last run's path did not resume", now);
            peer->retry_at_ms = now;    // offer (or ask for an offer) at once
        }
        if (nat_peer_usable(peer))
            check_liveness(nat, peer, now);
        nat_trial_tick(nat, peer, now);
        if (peer->retry_at_ms && now >= peer->retry_at_ms)
            retry(nat, peer, now);
    }
    update_summary(nat);
}
