// hub_client.h — a node's connection to a hub: a ZeroMQ DEALER that authenticates with CURVE under the
// node's identity (its X25519 form, so the hub knows the node by its key), HubRequests packed one to a
// frame, HubReplies decoded from one-frame messages.
//
// Two users: the CLI asks one question and waits for the answer (hub_client_call); weft-discovery keeps
// the connection for its whole life, polls hub_client_socket() in its actor loop and sends and receives
// with hub_client_send / hub_client_recv.
#ifndef WEFT_HUB_CLIENT_H
#define WEFT_HUB_CLIENT_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "hub.pb-c.h"
#include "identity.h"

#define HUB_CLIENT_MAX_REPLY (1 << 20)  // a PeerList of a big mesh; anything larger drops the connection

typedef struct {
    int linger_ms;   // how long closing waits for queued requests to go out
    bool immediate;  // sends fail at once while not connected, instead of queueing (ZMQ_IMMEDIATE)
    int sndhwm;      // at most this many queued requests; 0 keeps libzmq's default
    const char *monitor;  // an inproc:// endpoint the socket's events go to (zmq_socket_monitor), from
                          // before it connects: connect a PAIR there first (`weft up`'s hub key check)
} hub_client_opts_t;

typedef struct hub_client hub_client_t;

// Connects to endpoint ("tcp://host:port") expecting the hub's public key hub_key (64 hex, or the old
// 40-character Z85: hub_key.h). opts NULL: for one request and its answer (linger 200 ms). Returns NULL
// with err.
hub_client_t *hub_client_new(const char *endpoint, const char *hub_key, const identity_t *id,
                             const hub_client_opts_t *opts, char *err, size_t err_len);
void hub_client_destroy(hub_client_t **self);
// The socket, for a poller: readable when hub_client_recv has a message.
zsock_t *hub_client_socket(hub_client_t *self);

// Sends one request (flags: 0 or ZMQ_DONTWAIT). Returns 0, or -1 (not connected with immediate, queue full).
int hub_client_send(hub_client_t *self, const Weft__HubRequest *req, int flags);
// The same for a request packed earlier (weft__hub_request__pack).
int hub_client_send_packed(hub_client_t *self, const uint8_t *data, size_t size, int flags);
// Receives one message. Returns its HubReply (free with weft__hub_reply__free_unpacked), or NULL when
// there was none or it was not a one-frame HubReply with a body (*frames, if not NULL, says how many
// frames it had: 0 when nothing was received).
Weft__HubReply *hub_client_recv(hub_client_t *self, size_t *frames);

// Sends req and waits up to timeout_ms for its answer, skipping what the hub pushes unasked (PeerList,
// Signal). Returns the reply (a HubError is a reply too) or NULL with err ("no answer from the hub ...").
Weft__HubReply *hub_client_call(hub_client_t *self, const Weft__HubRequest *req, int timeout_ms, char *err,
                                size_t err_len);

#endif
