// nat_servers.h — which STUN and TURN server the next agent uses, and what went wrong with the others
// (actor thread). Servers are tried in the configured order:
//   - STUN: stun_probe.c asks all of them at start (and again after a failed attempt, at most every
//     30 s); agents use the first that answered well. Until a probe answered, agents get no STUN server
//     (a TURN server gives the server-reflexive candidate too).
//   - TURN (the hub's, while their credentials last, then nat.turn_servers): an agent whose gathering
//     brought no relay candidate from its server marks that server bad and the next agent uses the next
//     one (round robin; libnice does not say why an allocation failed, see the note in nat_servers.c).
// The servers' status line ("STUN server a unreachable, using b") goes to weft:path:<id> as last_error
// when the peer has no error of its own.
#ifndef WEFT_NAT_SERVERS_H
#define WEFT_NAT_SERVERS_H

#include <czmq.h>
#include <stdbool.h>

#include "ice_settings.h"
#include "node.pb-c.h"

#define NAT_SERVERS_STATUS 256
#define NAT_STUN_REPROBE_MS 30000

typedef struct {
    zactor_t *stun_probe;           // the probe thread: STUN probes and TURN probes (NULL if it failed)
    bool stun_probing;
    int stun_index;                 // first server that answered, -1: none (yet)
    int64_t stun_next_probe_ms;     // monotonic: a failed attempt may probe again from then on
    int turn_index;                 // into ice_settings_turn_list()
    int turn_failed_in_row;         // gatherings without a relay candidate since the last one with
    bool hub_expired_said;          // the hub's credentials expired and that was logged
    bool turn_probing;              // a TURN probe (turn_probe.c) is under way on the probe thread
    char turn_reason[200];          // why turn_bad failed: a first guess, then what the probe found
    char turn_next[ICE_SERVER_NAME + 64];   // "trying #2 ..." / "using #2 ..."
    char turn_bad[ICE_SERVER_NAME + 64];   // the last TURN server that gave no relay candidate: "#n host:port (user u)"
    char stun_status[NAT_SERVERS_STATUS];
    char turn_status[NAT_SERVERS_STATUS];
    char status[NAT_SERVERS_STATUS * 2 + 4];   // both, for weft:path
} nat_servers_t;

struct nat;
// Starts the STUN probe thread (when STUN servers are configured) and asks it for a first probe.
int nat_servers_start(nat_servers_t *self, const ice_settings_t *settings);
void nat_servers_stop(nat_servers_t *self);
// The probe thread's socket, for the actor's poller (NULL when there is none).
zsock_t *nat_servers_probe_socket(nat_servers_t *self);
// Reads a probe result from the probe thread.
void nat_servers_on_probe(nat_servers_t *self, const ice_settings_t *settings);
// The servers for a new agent (NULL: none). The pointers are into settings. While the TURN server works it
// is the agent's only server (it gives the server-reflexive candidate too): libnice 0.1.21 with both a
// STUN and a TURN server on one component takes about 2 s to gather (docs: nat-and-ice-facts), alone
// about 40 ms. STUN is added when no TURN server is configured or every one failed in a row.
void nat_servers_pick(nat_servers_t *self, const ice_settings_t *settings, int64_t now_unix,
                      const ice_stun_server_t **stun, const ice_turn_server_t **turn);
// The STUN server for a trial agent (no relay): the probed STUN server, else the current TURN server
// used as a STUN server (UDP), written to *storage. NULL: none.
const ice_stun_server_t *nat_servers_pick_stun_only(nat_servers_t *self, const ice_settings_t *settings,
                                                    int64_t now_unix, ice_stun_server_t *storage);
// An agent that was given TURN server `turn_name` ("" none) finished gathering.
void nat_servers_on_gathered(nat_servers_t *self, const ice_settings_t *settings, int64_t now_unix,
                             const char *turn_name, bool has_relay);
// An attempt failed (no path): maybe the servers changed since the last probe.
void nat_servers_on_failure(nat_servers_t *self, int64_t now_ms);
// Notes (log, status) when the hub's TURN credentials have expired (the hub was out of reach too long).
void nat_servers_check_expiry(nat_servers_t *self, const ice_settings_t *settings, int64_t now_unix);
// The hub's STUN server (PeerList.hub_stun_port on the host of hub_endpoint), when nat.stun_servers has
// none: becomes the agents' STUN server at once and is probed. Returns 1 when taken (or dropped, port 0),
// 0 when nothing changed, -1 when unusable (logged).
int nat_servers_take_hub_stun(nat_servers_t *self, ice_settings_t *settings, const char *hub_endpoint,
                              unsigned port);
// TurnCredentials from the hub (via discovery): replaces settings->hub_turn when they are new. Returns
// 1 when taken, 0 when the same as before, -1 when unusable (logged).
int nat_servers_take_hub_turn(nat_servers_t *self, ice_settings_t *settings, const Weft__TurnCredentials *creds);

#endif
