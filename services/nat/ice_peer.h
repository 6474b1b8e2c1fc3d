// ice_peer.h — one libnice agent for one peer: one stream with one component, driven by the GLib thread.
//
// Ownership: the actor creates an ice_peer (the NiceAgent is made on the actor thread, which emits no
// signal), decides when it is destroyed, and sends datagrams on it (nice_agent_send_* is thread-safe).
// Every other libnice call (gathering, remote candidates, teardown) runs on the GLib thread through
// glib_bridge_invoke, and what the agent reports comes back to the actor as ice_event messages.
#ifndef WEFT_NAT_ICE_PEER_H
#define WEFT_NAT_ICE_PEER_H

#include <czmq.h>
#include <nice/agent.h>
#include <stdbool.h>
#include <stdint.h>

#include "glib_bridge.h"
#include "ice_settings.h"

#define ICE_MAX_CANDIDATES 32       // per Signal, each way
#define ICE_MAX_CANDIDATE_LEN 512   // one SDP line
#define ICE_MAX_CRED_LEN 256        // ufrag and pwd (RFC 5245: at most 256 characters)

typedef enum {
    ICE_EVENT_GATHERED = 1,   // frames: event, ufrag, pwd, candidate lines...
    ICE_EVENT_STATE,          // component state changed (pair filled when connected/ready)
    ICE_EVENT_PAIR,           // selected pair changed
    ICE_EVENT_BAD_REMOTE,     // remote candidates libnice refused (bad_candidates of them)
} ice_event_type_t;

// The first frame of every event message (a struct: both ends are in this process).
typedef struct {
    ice_event_type_t type;
    uint64_t serial;            // which agent: events of a destroyed agent are recognised and ignored
    uint8_t peer[32];
    int state;                  // NiceComponentState, for ICE_EVENT_STATE
    int bad_candidates;         // for ICE_EVENT_BAD_REMOTE
    bool has_relay, has_srflx;  // for ICE_EVENT_GATHERED: what the STUN/TURN servers gave
    bool has_pair;
    char local_type[8], remote_type[8];     // host|srflx|prflx|relay
    char local_addr[64], remote_addr[64];   // "ip:port"
    char transport[4];          // the pair's transport: udp|tcp (ICE-TCP)
    unsigned local_port;        // the local socket's port of the pair (0 for a relayed local candidate)
} ice_event_t;

// The other side's credentials and candidate lines (already length-checked by the caller).
typedef struct {
    char *ufrag;
    char *pwd;
    char **candidates;
    size_t candidate_count;
} ice_remote_t;

ice_remote_t *ice_remote_new(const char *ufrag, const char *pwd, char *const *candidates, size_t count);
void ice_remote_destroy(ice_remote_t **self);
// A copy of remote (NULL when out of memory).
ice_remote_t *ice_remote_copy(const ice_remote_t *remote);

typedef struct ice_peer ice_peer_t;

// Creates the agent (actor thread) with at most one STUN and one TURN server (NULL: none; copied).
// Returns NULL (logged) on failure.
ice_peer_t *ice_peer_new(glib_bridge_t *bridge, const ice_settings_t *settings, const ice_stun_server_t *stun,
                         const ice_turn_server_t *turn, const uint8_t peer[32], bool controlling, uint64_t serial);
// Before ice_peer_start: this agent takes the ufrag and pwd of an earlier agent and binds its host
// candidates to that agent's port, so a peer that still holds the earlier agent (and its description)
// accepts it: how a restarted nat resumes a path without signalling (nat_resume.c). Once the remote
// candidates are set, the earlier agent's pair (local_addr, remote_addr: "ip:port" as in ice_event_t) is
// selected at once, without checks: the peer's agent already has it selected, and would not nominate it
// again for a controlled side. A reflexive local_addr is taken by the host candidate on `port` (its base),
// and a remote_addr the description lacks (a prflx) is added as a remote candidate. Whether it carries
// traffic, nat's probes tell (path_probe.h).
void ice_peer_resume_as(ice_peer_t *self, const char *ufrag, const char *pwd, unsigned port, const char *local_addr,
                        const char *remote_addr);
// Starts gathering; `remote` (owned from now on, may be NULL) is applied when gathering is done.
void ice_peer_start(ice_peer_t *self, ice_remote_t *remote);
// Applies the other side's credentials and candidates (owned from now on).
void ice_peer_set_remote(ice_peer_t *self, ice_remote_t *remote);
// Tears the agent down on the GLib thread; *self_p is NULL at once and must not be used again.
void ice_peer_destroy(ice_peer_t **self_p);

// Sends datagrams on the selected pair (actor thread). Returns how many were sent, or -1.
int ice_peer_send(ice_peer_t *self, const NiceOutputMessage *messages, unsigned count);
// Lets a socket bound beside the selected pair's share its port (lib/udp_steer.h), so the data plane can send and
// receive on the pair itself, puts the kernel filter of lib/udp_guard.h on it (junk is dropped before
// libnice wakes up), and says the address that socket is bound to ("ip:port" or "[ip6]:port";
// for a server-reflexive candidate this is its base, not the mapped address). Returns 0, or -1 with err
// filled (no selected socket: a relayed or TCP pair).
int ice_peer_share_selected_socket(ice_peer_t *self, char *bound, size_t bound_len, char *err, size_t err_len);
// Bytes and datagrams received by this agent so far.
void ice_peer_rx(ice_peer_t *self, uint64_t *bytes, uint64_t *packets);
// Monotonic ms of the last datagram (data or probe) from the peer on this agent; 0 if none yet.
int64_t ice_peer_last_rx_ms(ice_peer_t *self);
// The last round trip measured by a probe, in ms; -1 if none yet.
int64_t ice_peer_rtt_us(ice_peer_t *self);
// Sends a ping (path_probe.h) on the selected pair (actor thread). Returns 0 or -1.
int ice_peer_send_probe(ice_peer_t *self, int64_t now_ms);
// The servers this agent was given ("" when none): "host:port" as configured.
const char *ice_peer_turn_name(const ice_peer_t *self);
const char *ice_peer_stun_name(const ice_peer_t *self);

#endif
