// route_store.h — the route table's copy in Redis, so a restarted router starts with its routes:
//   weft:route:<a.b.c.d>  hash: peer (hex id), next_hop (hex id), hops, metric, updated_ms
//   weft:routes           set of the addresses (a.b.c.d) that have a weft:route:<addr> hash
#ifndef WEFT_ROUTER_ROUTE_STORE_H
#define WEFT_ROUTER_ROUTE_STORE_H

#include "route_table.h"
#include "store.h"

// Writes one route (hash, then set member). Returns 0 or -1.
int route_store_save(store_t *store, const route_t *route);
// Removes one route (set member, then hash). Returns 0 or -1.
int route_store_delete(store_t *store, uint32_t addr);
// Adds every valid stored route to table; invalid entries are logged and deleted. Returns routes loaded or -1.
int route_store_load(store_t *store, route_table_t *table);
// Makes Redis hold exactly the routes of table. Returns 0 or -1.
int route_store_sync(store_t *store, const route_table_t *table);

#endif
