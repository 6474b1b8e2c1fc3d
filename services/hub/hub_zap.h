// hub_zap.h — the hub's ZAP handler (ZeroMQ RFC 27) for CURVE connections, and its connection caps. It
// sets the connection's User-Id to the client's public key in Z85, which the hub then matches against a
// Register's node id (membership is the hub logic's business), and it refuses connections over the caps:
//   - at most max_per_address TCP connections from one peer address: one more is shut down at accept,
//     before any handshake, and refused by ZAP should it get that far;
//   - at most max_total connections at once (all addresses, those in their handshake included): one more
//     is shut down at accept too (ZAP refuses a handshake beyond it, should one get that far).
// It learns about connections from the ROUTER's socket monitor (accepted, disconnected), so one that goes
// away frees its place at once. (libzmq's monitor names no connection in its handshake events and ZAP names
// only the peer address, so open connections are what can be counted exactly.)
//
// CZMQ 4.2's zauth actor with CURVE_ALLOW_ANY answers with an empty User-Id (checked: zframe_meta
// "User-Id" is "" on the server side), so it cannot tell the hub who is talking; this small handler
// replaces it.
#ifndef WEFT_HUB_ZAP_H
#define WEFT_HUB_ZAP_H

#include <czmq.h>

typedef struct {
    int max_total;                  // connections at once, all addresses (not shut at accept)
    int max_per_address;            // connections from one peer address at once
    char monitor[128];              // inproc endpoint of the ROUTER's socket monitor ("" = no caps)
} hub_zap_options_t;

// A CZMQ actor: zactor_new(hub_zap_actor, &options) (options copied before it signals). Binds
// inproc://zeromq.zap.01 in CZMQ's context, so start it before the CURVE server socket accepts
// connections, and after zmq_socket_monitor() on that socket. Only one may run per process.
// Command "STATS" on the actor answers with a string "connections=N refused=N shut=N": connections open
// now (not shut at accept), handshakes ZAP refused and connections shut at accept so far.
void hub_zap_actor(zsock_t *pipe, void *args);

#endif
