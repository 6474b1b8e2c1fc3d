// main.c — weft-dataplane: the per-packet work of the node (TUN, transport keys, direct UDP paths).
#include "dataplane_actor.h"

int main(int argc, char **argv)
{
    return service_main(argc, argv, SVC_DATAPLANE,
                        "weft-dataplane: seals and opens every packet with the keys crypto hands it", dataplane_actor);
}
