// hub_zap.h — the hub's ZAP handler (ZeroMQ RFC 27) for CURVE connections. It lets any client with a
// valid CURVE handshake in (membership is the hub logic's business) and sets the connection's User-Id
// to the client's public key in Z85, which the hub then matches against a Register's node id.
//
// CZMQ 4.2's zauth actor with CURVE_ALLOW_ANY answers with an empty User-Id (checked: zframe_meta
// "User-Id" is "" on the server side), so it cannot tell the hub who is talking; this small handler
// replaces it.
#ifndef WEFT_HUB_ZAP_H
#define WEFT_HUB_ZAP_H

#include <czmq.h>

// A CZMQ actor: zactor_new(hub_zap_actor, NULL). Binds inproc://zeromq.zap.01 in CZMQ's context, so
// start it before the CURVE server socket accepts connections. Only one may run per process.
void hub_zap_actor(zsock_t *pipe, void *args);

#endif
