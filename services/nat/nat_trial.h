// nat_trial.h — back from a relay to a direct path: while a peer's path is relayed and direct paths are
// allowed, a trial agent with direct candidates only runs next to the current one (which keeps carrying
// the traffic); one that connects takes over. The controlling side starts a trial every NAT_TRIAL_GAP_MS
// for the first NAT_TRIAL_FAST_FOR_MS on the relay, then every NAT_TRIAL_GAP_LONG_MS; each gets NAT_TRIAL_MS.
// Trial OFFER/ANSWER are Signals with `trial` set. Actor thread only.
#ifndef WEFT_NAT_TRIAL_H
#define WEFT_NAT_TRIAL_H

#include <czmq.h>

#include "nat.h"

// A trial agent for the peer (controlling: remote NULL, it offers; controlled: remote is the trial offer,
// taken). Replaces an earlier trial. Nothing happens when trials are not allowed (relay only, no direct).
void nat_trial_start(nat_t *nat, nat_peer_t *peer, ice_remote_t *remote, int64_t now);
// Retires the peer's trial agent, if any.
void nat_trial_drop(nat_peer_t *peer);
// A trial OFFER (controlled side) or trial ANSWER (controlling side) from the peer.
void nat_trial_on_offer(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s);
void nat_trial_on_answer(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s);
// An event of the peer's trial agent (msg: the rest of the event message).
void nat_trial_on_event(nat_t *nat, nat_peer_t *peer, const ice_event_t *ev, zmsg_t *msg);
// Starts a due trial (controlling side, relayed path), drops one that took too long.
void nat_trial_tick(nat_t *nat, nat_peer_t *peer, int64_t now);

#endif
