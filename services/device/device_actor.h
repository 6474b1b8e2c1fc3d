// device_actor.h — the weft-device actor: owns the TUN device, pushes packets read from it to the router
// in batches, and writes the decrypted batches that the data plane pushes to its inbox back into it.
#ifndef WEFT_DEVICE_ACTOR_H
#define WEFT_DEVICE_ACTOR_H

#include <czmq.h>

// args is a service_t* (see lib/service.h)
void device_actor(zsock_t *pipe, void *args);

#endif
