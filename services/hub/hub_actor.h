// hub_actor.h — the hub's actor: the CURVE ROUTER that nodes' discovery services register with, the
// membership logic on top of members.h, signal relaying, and the once-a-second expiry sweep.
#ifndef WEFT_HUB_ACTOR_H
#define WEFT_HUB_ACTOR_H

#include <czmq.h>

#include "config.h"
#include "service.h"
#include "store.h"
#include "turn_creds.h"

typedef struct {
    char listen[CONFIG_STR];    // ROUTER endpoint, e.g. tcp://*:7400
    int member_timeout;         // seconds a member lives without a heartbeat
    zcert_t *cert;              // the hub's CURVE certificate (not owned)
    store_t *store;             // connected Redis (not owned)
    service_t *stats;           // counters and detail (not owned)
    turn_creds_config_t turn;   // hub.turn_*: TURN credentials handed to members (turn_creds.h)
    int stun_port;              // hub.stun_port: UDP port of the hub's STUN server (hub_stun.h), 0 = none
    // admission (docs/membership.md, "Hub admission"); 0 = the default
    bool open_meshes;           // hub.open_meshes / --open: admit Register into plain-name meshes
    int max_connections;        // hub.max_connections: connections at once, all addresses
    int max_connections_per_address;
    int handshake_timeout;      // seconds (ZMQ_HANDSHAKE_IVL)
    int create_per_key, create_per_address;        // CreateMesh per hour
    int register_per_key, register_per_address;    // new address bindings in open meshes per hour
} hub_options_t;

// args is a hub_options_t*. Signals 0 on the pipe when listening; on a set-up error it logs, sends
// "FATAL" on the pipe and waits for $TERM.
void hub_actor(zsock_t *pipe, void *args);

typedef struct hub hub_t;

// The request handler, apart from sockets: the fuzz target and tests drive it directly.
// `send` delivers one reply frame to a routing id; `user_id` is the connection's CURVE key (Z85) or "";
// `peer` the connection's peer address ("" when unknown), for the per-address quotas.
typedef void (hub_send_fn)(void *ctx, const uint8_t *routing_id, size_t routing_len, const uint8_t *data,
                           size_t len);
hub_t *hub_new(const hub_options_t *options, hub_send_fn *send, void *send_ctx);
void hub_destroy(hub_t **self);
// The UDP port the hub's STUN server answers on (0: none), told to members in every PeerList.
void hub_set_stun_port(hub_t *self, int port);
void hub_handle_request(hub_t *self, const uint8_t *routing_id, size_t routing_len, const char *user_id,
                        const char *peer, const uint8_t *data, size_t len);
// Removes expired members and tells the rest of their mesh. Called every second.
void hub_sweep(hub_t *self);

#endif
