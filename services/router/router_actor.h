// router_actor.h — the weft-router actor: owns the route table (overlay address -> peer), builds it from
// the PeerList discovery pushes, keeps it in Redis, and tags each packet read from TUN with its next hop.
#ifndef WEFT_ROUTER_ACTOR_H
#define WEFT_ROUTER_ACTOR_H

#include <czmq.h>

// args is a service_t* (see lib/service.h)
void router_actor(zsock_t *pipe, void *args);

#endif
