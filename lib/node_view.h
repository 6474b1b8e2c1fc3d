// node_view.h — a node as seen from outside, for `weft status` / `weft peers` and the node HTTP API
// (services/api): the one place that gathers it and the one place that writes it as JSON, so the CLI and
// the API always say the same thing.
//
// Live service state comes from each service's control socket (StatusRequest -> ServiceStatus, asked of
// all services at once with one deadline); the peer table, per-peer path and session state and the routes
// come from the node's Redis (docs/state.md). Nothing here writes anywhere.
#ifndef WEFT_NODE_VIEW_H
#define WEFT_NODE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "identity.h"
#include "json.h"
#include "service.h"
#include "store.h"

typedef struct {
    char name[64];
    uint64_t value;
} node_counter_t;

// One service's answer on its control socket (up false: it did not answer in time).
typedef struct {
    const char *name;                              // service_name(id)
    bool up;
    uint32_t pid;
    uint64_t uptime_ms;
    char detail[512];
    unsigned restarts;                             // by `weft up`'s supervisor since it started (service_report.h)
    char last_error[512];                          // its log's last error line since then ("" none)
    size_t counter_count;
    node_counter_t counters[SERVICE_MAX_COUNTERS];
} node_service_t;

typedef struct {
    char id[ID_HEX_LEN];                           // "" when the identity file cannot be read
    char fingerprint[FINGERPRINT_LEN];
    char hub_state[64];                            // weft:hub state, "unknown" without Redis
    char hub_refused[256];                         // weft:hub refused: why the hub refuses this node ("" not)
    int supervisor_pid;                            // 0: no `weft up` running in this home
    int missing;                                   // services that did not answer
    node_service_t services[SVC_COUNT];
} node_status_t;

// One member of the mesh as this node sees it: the PeerList entry, nat's path, crypto's session.
typedef struct {
    char name[64];
    char id[ID_HEX_LEN];
    char fingerprint[FINGERPRINT_LEN];
    char overlay_addr[64];
    bool verified;                  // in weft:verified: its SAS was confirmed with `weft verify`
    // weft:path:<id> (nat); state "none" when nat has no path
    char path_state[32], connection[16], local_type[16], remote_type[16];
    char local_addr[80], remote_addr[80];
    char transport[8];              // the pair's transport: udp|tcp ("" no pair)
    uint64_t path_rx_bytes, path_tx_bytes, path_rx_packets, path_tx_packets, path_restarts;
    int64_t rtt_ms;                 // last probe round trip on the path, -1 unknown
    int64_t rtt_us;                 // the same in µs, -1 unknown (a nat from before rtt_us: rtt_ms * 1000)
    char server[96];                // the STUN/TURN server behind our candidate ("" for host)
    char last_error[512];           // why the last attempt or path ended, and server trouble ("" none)
    // weft:session:<id> (crypto); state "none" when there is no session
    char session_state[32];
    char cipher[24];                // the established session's transport cipher ("" without one)
    uint64_t handshakes, session_rx_bytes, session_tx_bytes;
    int64_t established_ms, last_handshake_ms;   // unix ms, 0 never
    // weft:route:<overlay addr> (router): the member our packets to it go through ("" direct or no route)
    char next_hop[ID_HEX_LEN];
    char next_hop_name[64];         // its name when it is in the peer table ("" otherwise)
    uint64_t route_hops, route_latency_ms;   // the route's hops and latency (0: no route, or not written)
} node_peer_t;

// One route of weft:route:<dest> (router; docs/state.md). A hash an older router wrote (peer, next_hop,
// hops, metric, updated_ms only) reads with 0 and "" for the rest, origin "member" and state "active".
typedef struct {
    char key[64];                   // the key's suffix as stored: "10.100.0.3" (member) or "192.168.50.0/24"
    char destination[64];           // the prefix: a member's address as "10.100.0.3/32"
    char peer[ID_HEX_LEN];          // the destination member, or the subnet's owner
    char peer_name[64];             // its name in the peer table ("" when it is not there)
    char next_hop[ID_HEX_LEN];      // the member packets go to first (== peer: direct)
    char next_hop_name[64];         // its name in the peer table ("" when it is not there)
    bool direct;                    // next_hop is the peer itself (or was not written)
    uint64_t hops, metric, latency_ms;
    int64_t updated_ms;             // unix ms when next_hop/hops last changed, 0 unknown
    int64_t refreshed_ms;           // unix ms of the last announcement or link report confirming it, 0 unknown
    int64_t age_s;                  // now - refreshed_ms (updated_ms without it) at collect time, -1 unknown
    char origin[8];                 // "member" or "subnet"
    char state[12];                 // "active", or "refused" (a subnet not allowed or not accepted)
    char why[256];                  // the refusal's reason ("" when active)
} node_route_t;

// Asks every service for its status (all at once; each gets at most timeout_ms) and reads the node's
// identity, supervisor pid file, hub state and each service's restarts and last error (service_report.h). `store` may be NULL (no Redis: hub_state "unknown").
void node_status_collect(const weft_config_t *cfg, store_t *store, int timeout_ms, node_status_t *out);

// The peer table with each peer's path and session. Returns the count (0 when none saved yet) and sets
// *peers (free() it; NULL when 0). Returns -1 if Redis failed.
int node_peers_collect(store_t *store, node_peer_t **peers);

// Every route in weft:routes (members first, then subnets, each by address), with the names of its peer
// and next hop from the peer table. Same return convention as node_peers_collect.
int node_routes_collect(store_t *store, node_route_t **routes);

// The JSON documents (docs/api.md lists their fields).
void node_status_json(const weft_config_t *cfg, const node_status_t *status, json_t *j);
void node_peers_json(const node_peer_t *peers, int count, json_t *j);
void node_routes_json(const node_route_t *routes, int count, json_t *j);
// A route's "via" in words: "direct", the next hop's name, or (not in the peer table) its id's first 16 hex.
void node_route_via(const node_route_t *route, char *out, size_t len);
// Every service's counters: {"services": {"device": {"up": true, "counters": {...}}, ...}}
void node_stats_json(const node_status_t *status, json_t *j);

#endif
