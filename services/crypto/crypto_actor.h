// crypto_actor.h — the weft-crypto actor: sockets, timers and Redis status around the session table.
#ifndef WEFT_CRYPTO_ACTOR_H
#define WEFT_CRYPTO_ACTOR_H

#include <czmq.h>

#include "service.h"

// args: a service_t* (SVC_CRYPTO).
void crypto_actor(zsock_t *pipe, void *args);

#endif
