// route_table.h — a route table: overlay IPv4 address -> the peer that owns it and the next hop to reach
// it. An open-addressing hash table keyed by the address (lookups on the packet path allocate nothing),
// plus the IPv4 header check run on every packet read from TUN. The router's table (services/router), and
// crypto's copy of the direct routes for the packets it reads from TUN itself.
//
// Fields are ready for mesh routing: today every route is direct (next_hop == peer, hops 1, metric 1).
#ifndef WEFT_ROUTE_TABLE_H
#define WEFT_ROUTE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_ID_LEN 32

typedef struct {
    uint32_t addr;                      // overlay IPv4 address, host byte order
    uint8_t peer[ROUTE_ID_LEN];         // node id that owns the address
    uint8_t next_hop[ROUTE_ID_LEN];     // node id to send to (== peer for a direct route)
    uint32_t hops;                      // 1 = direct
    uint32_t metric;                    // lower is better; 1 for now (latency + hops later)
    uint64_t updated_ms;                // unix ms of the last change
} route_t;

typedef struct route_table route_table_t;

typedef enum { ROUTE_UNCHANGED = 0, ROUTE_ADDED, ROUTE_REPLACED } route_put_result_t;

route_table_t *route_table_new(void);
void route_table_destroy(route_table_t **self);

// Adds or replaces the route for route->addr. Returns ROUTE_ADDED, ROUTE_REPLACED, ROUTE_UNCHANGED (same
// peer, next hop, hops and metric: the stored updated_ms is kept), or -1 (out of memory).
int route_table_put(route_table_t *self, const route_t *route);
// Removes the route for addr. Returns 0, or -1 if there was none.
int route_table_remove(route_table_t *self, uint32_t addr);
// The route for addr, or NULL. The pointer is valid until the table next changes.
const route_t *route_table_lookup(const route_table_t *self, uint32_t addr);
size_t route_table_size(const route_table_t *self);
// Calls fn for every route, in no particular order. fn must not change the table.
void route_table_foreach(const route_table_t *self, void (*fn)(const route_t *route, void *arg), void *arg);
// True when both routes send the same way (peer, next hop, hops, metric); updated_ms is ignored.
bool route_same_path(const route_t *a, const route_t *b);

// ---- IPv4 ----
typedef enum {
    IPV4_OK = 0,
    IPV4_NOT_IPV4,      // an IPv6 packet
    IPV4_MALFORMED      // too short, bad version, bad header length, total length beyond the packet
} ipv4_check_t;

// Checks the IPv4 header of pkt (len bytes): version 4, ihl >= 5, ihl*4 <= total length <= len.
// On IPV4_OK fills *dst (host byte order) and *total_len (the packet's own length; trailing bytes past it
// are not part of the packet).
ipv4_check_t ipv4_parse(const uint8_t *pkt, size_t len, uint32_t *dst, size_t *total_len);
// Multicast (224.0.0.0/4) or the limited broadcast 255.255.255.255 (host byte order).
bool ipv4_is_multicast_or_broadcast(uint32_t addr);
// "a.b.c.d" <-> host byte order. ipv4_from_text returns 0 or -1.
int ipv4_from_text(const char *text, uint32_t *addr);
void ipv4_to_text(uint32_t addr, char out[16]);
// "a.b.c.d/len" (len 0..32; the address must have no bits past len, as 192.168.50.0/24) -> host-order
// network address and length. Returns 0 or -1.
int ipv4_prefix_from_text(const char *text, uint32_t *addr, int *len);
// The netmask of a prefix length (0..32), host order.
uint32_t ipv4_prefix_mask(int len);

#endif
