// main.c — weft-discovery: one of the node's seven services (see discovery_actor.c).
#include <signal.h>

#include "discovery_actor.h"
#include "service.h"

int main(int argc, char **argv)
{
    // hiredis writes to its socket with write(): a Redis that restarts must not kill us with SIGPIPE
    signal(SIGPIPE, SIG_IGN);
    return service_main(argc, argv, SVC_DISCOVERY, "weft discovery service: registers with the hub, "
                        "publishes the mesh's members and relays ICE signals", discovery_actor);
}
