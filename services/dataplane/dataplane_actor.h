// dataplane_actor.h — the weft-dataplane actor: the node's per-packet work (docs/architecture.md, "Data
// plane"). It holds the transport keys crypto hands it (keyring.h), borrows the TUN from device
// (tun_borrow.h), sends and receives on the direct UDP paths nat hands it (direct_path.h), and seals and
// opens every packet; relayed peers' datagrams go through nat.
#ifndef WEFT_DATAPLANE_ACTOR_H
#define WEFT_DATAPLANE_ACTOR_H

#include <czmq.h>

#include "service.h"

// zactor body; args is the service_t.
void dataplane_actor(zsock_t *pipe, void *args);

#endif
