// main.c — weft-api: the node's HTTP API as its own process (docs/api.md).
#include "api_actor.h"
#include "service.h"

int main(int argc, char **argv)
{
    return service_main(argc, argv, SVC_API,
                        "weft node HTTP API: status, peers, routes, network, stats and Prometheus /metrics on "
                        "api.listen (default 127.0.0.1:7401)",
                        api_actor);
}
