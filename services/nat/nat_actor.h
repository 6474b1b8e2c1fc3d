// nat_actor.h — the weft-nat actor: ICE paths to every peer (libnice), signalling through discovery,
// datagrams between crypto and the peers. args is a service_t*.
#ifndef WEFT_NAT_ACTOR_H
#define WEFT_NAT_ACTOR_H

#include <czmq.h>

void nat_actor(zsock_t *pipe, void *args);

#endif
