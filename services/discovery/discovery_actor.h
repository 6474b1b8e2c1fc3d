// discovery_actor.h — the node's agent toward the hub: registers and heartbeats over CURVE, hands the
// mesh's member list to router, crypto and nat (and Redis), and relays nat's ICE signals through the hub.
#ifndef WEFT_DISCOVERY_ACTOR_H
#define WEFT_DISCOVERY_ACTOR_H

#include <czmq.h>

// args is a service_t* (SVC_DISCOVERY).
void discovery_actor(zsock_t *pipe, void *args);

#endif
