// service_id.h — the services of a node: their ids, in start order, and their names ("device", ...).
// The names are also the endpoint and log file names (<run>/device.inbox, endpoints.device).
#ifndef WEFT_SERVICE_ID_H
#define WEFT_SERVICE_ID_H

// The services of a node, in start order.
typedef enum {
    SVC_DEVICE = 0,
    SVC_ROUTER,
    SVC_CRYPTO,
    SVC_DATAPLANE,                  // weft-dataplane: the per-packet work (TUN, keys, direct UDP paths)
    SVC_NAT,
    SVC_DISCOVERY,
    SVC_API,                        // weft-api: the node's HTTP API (no inbox; control socket only)
    SVC_COUNT
} service_id_t;

const char *service_name(service_id_t id);        // "device", ...
int service_from_name(const char *name);          // -1 if unknown

#endif
