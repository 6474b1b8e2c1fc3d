// nat_agent.h — one peer's ICE agents as the actor thread sees them: the path state and whether it is
// usable or relayed, the selected pair, retiring an agent (keeping its traffic in the peer's totals), and
// the description (OFFER/ANSWER) a gathered agent sends to the peer and the one a Signal brings back.
// Used by the peer table (nat_peers.c), the trial agents (nat_trial.c) and the path hashes (nat_path.c).
#ifndef WEFT_NAT_AGENT_H
#define WEFT_NAT_AGENT_H

#include <czmq.h>
#include <stdbool.h>

#include "nat.h"

// "gathering", "connecting", ... as `weft peers` shows it.
const char *nat_path_state_name(path_state_t state);
bool nat_peer_usable(const nat_peer_t *peer);      // has an agent in CONNECTED or READY
bool nat_peer_on_relay(const nat_peer_t *peer);    // the selected pair has a relayed end
// Sets the path state; a change marks weft:path:<id> for writing.
void nat_peer_set_state(nat_peer_t *peer, path_state_t state);
// Keeps the selected pair an agent event names (for weft:path and the server it went through).
void nat_peer_take_pair(nat_peer_t *peer, const ice_event_t *ev);

// Destroys one of the peer's agents (its current one or its trial), adding what it received to the peer's totals.
void nat_agent_retire(nat_peer_t *peer, ice_peer_t **agent);
// Retires the peer's current agent and forgets what belonged to it (credentials, offer, pair).
void nat_agent_drop(nat_peer_t *peer);

// What a GATHERED event carries after its header: our ufrag and pwd and the candidate lines (malloc'd).
typedef struct {
    char *ufrag, *pwd;
    char *cands[ICE_MAX_CANDIDATES];
    size_t count;
} nat_gathered_t;
// Pops them from the event message. Returns 0, or -1 when ufrag or pwd is missing (free it all the same).
int nat_gathered_pop(nat_gathered_t *g, zmsg_t *msg);
// Frees the lines and wipes the pwd.
void nat_gathered_free(nat_gathered_t *g);

// Sends our description to the peer through discovery: an OFFER if we control, else the ANSWER to the
// offer (or trial offer) the agent was made for. Counted; logged when discovery's inbox is full.
void nat_send_description(nat_t *nat, nat_peer_t *peer, nat_gathered_t *g, bool trial);
// The peer's description in an OFFER/ANSWER from its candidate lines that parse; NULL (counted, logged)
// when it had some but none do.
ice_remote_t *nat_remote_from_signal(nat_t *nat, nat_peer_t *peer, const Weft__Signal *s);

#endif
