// api.h — what the node API's parts share: the request counters (updated from the HTTP threads, copied into
// the service's counters by the actor) and the handler entry points. Internal to services/api.
#ifndef WEFT_API_H
#define WEFT_API_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "http_server.h"
#include "service.h"

typedef struct {
    service_t *svc;                 // the service: its counters get the atomics below before a status answer
    const weft_config_t *config;    // the node's configuration (read-only once the server runs)
    atomic_uint_fast64_t requests, responses_2xx, responses_4xx, responses_5xx, not_found, bad_method;
    atomic_uint_fast64_t network_probes;
    struct {                        // the service's counters they are copied into, registered at start
        uint64_t *requests, *responses_2xx, *responses_4xx, *responses_5xx, *not_found, *bad_method;
        uint64_t *network_probes;
    } published;
} api_t;

// The HTTP handler: routes one request (api_handlers.c).
void api_handle(void *ctx, const http_request_t *req, http_response_t *res);

// GET /metrics: the Prometheus text exposition (api_metrics.c). Returns 0, or -1 (res filled with an error).
int api_metrics(api_t *api, http_response_t *res);

// GET /api/v1/network: local addresses, and the NAT probe's results when there is one (api_network.c).
void api_network(api_t *api, http_response_t *res);

#endif
