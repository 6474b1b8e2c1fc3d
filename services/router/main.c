// main.c — weft-router: the process that runs router_actor (see router_actor.h).
#include "router_actor.h"
#include "service.h"

int main(int argc, char **argv)
{
    return service_main(argc, argv, SVC_ROUTER, "weft-router: routes overlay packets to the peer that owns the address",
                        router_actor);
}
