// main.c — weft-device: the process that runs device_actor (see device_actor.h).
#include "device_actor.h"
#include "service.h"

int main(int argc, char **argv)
{
    return service_main(argc, argv, SVC_DEVICE, "weft-device: the node's TUN device (reads and writes overlay IP packets)",
                        device_actor);
}
