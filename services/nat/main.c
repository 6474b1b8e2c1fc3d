// main.c — weft-nat: runs nat_actor as a process.
#include "nat_actor.h"
#include "service.h"

int main(int argc, char **argv)
{
    return service_main(argc, argv, SVC_NAT, "ICE paths to every peer (libnice): sends and receives the encrypted datagrams",
                        nat_actor);
}
