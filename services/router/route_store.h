// route_store.h — the router's routes in Redis, what `weft routes`, `weft peers` and the API read and what
// a restarted router resumes from (docs/state.md):
//   weft:routes           set of the destinations that have a weft:route:<dest> hash
//   weft:route:<dest>     hash; <dest> is a member's overlay address ("10.100.0.3") or a subnet
//                         ("192.168.50.0/24"): peer, next_hop (hex ids; next_hop == peer for a direct route),
//                         hops, metric, latency_ms, updated_ms, refreshed_ms, expires_ms (unix ms), origin
//                         (member|subnet), state (active|refused), why
#ifndef WEFT_ROUTER_ROUTE_STORE_H
#define WEFT_ROUTER_ROUTE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "route_table.h"
#include "store.h"

typedef struct {
    char dest[24];                  // "10.100.0.3" or "192.168.50.0/24"
    uint8_t peer[ROUTE_ID_LEN];     // the member, or the subnet's owner
    uint8_t next_hop[ROUTE_ID_LEN];
    uint32_t hops, metric, latency_ms;
    uint64_t updated_ms, refreshed_ms, expires_ms;   // unix ms
    bool subnet;
    bool refused;                   // a subnet this node does not use
    char why[96];                   // why it was refused
} route_view_t;

// Makes Redis hold exactly these routes (the set, then each hash rewritten). Returns 0 or -1.
int route_store_sync(store_t *store, const route_view_t *views, size_t count);
// Every stored route; unusable entries are logged and deleted. Returns the count (*views malloc'd, NULL
// when 0) or -1 when Redis failed.
int route_store_load(store_t *store, route_view_t **views);

#endif
