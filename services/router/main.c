// main.c — weft-router: the process that runs router_actor (see router_actor.h).
#include <signal.h>

#include "router_actor.h"
#include "service.h"

int main(int argc, char **argv)
{
    // hiredis writes to the Redis socket with write(): a Redis that died must be an error, not SIGPIPE
    signal(SIGPIPE, SIG_IGN);
    return service_main(argc, argv, SVC_ROUTER, "weft-router: routes overlay packets to the peer that owns the address",
                        router_actor);
}
