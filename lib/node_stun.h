// node_stun.h — which STUN servers a node asks: nat.stun_servers, else the hub's own STUN server (the
// host of hub.endpoint and the UDP port the hub tells in every PeerList, hub_stun_port, which discovery
// keeps in weft:peers). weft-nat's agents, `weft network` and GET /api/v1/network all take it from here.
#ifndef WEFT_NODE_STUN_H
#define WEFT_NODE_STUN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "store.h"

#define NODE_STUN_HUB_DEFAULT_PORT 3478   // hub.stun_port's default: assumed until the hub has said

typedef struct {
    char servers[CONFIG_MAX_SERVERS][CONFIG_STR];   // "host:port", in the order to try
    int count;
    bool from_hub;          // the one server is the hub's
    bool hub_port_known;    // from_hub: its port is the one the hub told (weft:peers), not the default
    char why[CONFIG_STR + 128];   // count 0: why there is none
} node_stun_t;

// "HOST:PORT" of the hub's STUN server: HOST from hub_endpoint ("tcp://HOST:PORT"). Returns 0, or -1 with
// why filled when the endpoint is not tcp:// or has no host.
int node_stun_hub_address(const char *hub_endpoint, unsigned port, char *out, size_t out_len, char *why,
                          size_t why_len);

// The port the hub last told this node (weft:peers): > 0 that port, 0 the hub runs none, -1 not known
// (no store, or no member list yet).
int node_stun_hub_port(store_t *store);

// Fills out with the servers a probe uses: nat.stun_servers when there are any, else the hub's at the
// port in weft:peers (store may be NULL) or NODE_STUN_HUB_DEFAULT_PORT. Returns out->count (0: see why).
int node_stun_servers(const weft_config_t *cfg, store_t *store, node_stun_t *out);

#endif
