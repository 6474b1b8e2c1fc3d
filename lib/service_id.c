// service_id.c — see service_id.h.
#include "service_id.h"

#include <string.h>

static const char *service_names[SVC_COUNT] = {"device", "router", "crypto", "dataplane", "nat", "discovery", "api"};

const char *service_name(service_id_t id)
{
    return (id >= 0 && id < SVC_COUNT) ? service_names[id] : "?";
}

int service_from_name(const char *name)
{
    for (int i = 0; i < SVC_COUNT; i++)
        if (name && strcmp(name, service_names[i]) == 0)
            return i;
    return -1;
}

