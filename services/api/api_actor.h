// api_actor.h — weft-api, the node's HTTP API (docs/api.md): a CZMQ actor that answers its control socket
// like every service and runs the HTTP server (http_server.h) on api.listen. Requests are answered on the
// server's connection threads from the services' control sockets and the node's Redis (lib/node_view.h),
// the same source as `weft status` and `weft peers`.
#ifndef WEFT_API_ACTOR_H
#define WEFT_API_ACTOR_H

#include <czmq.h>

// args is a service_t* (SVC_API).
void api_actor(zsock_t *pipe, void *args);

#endif
