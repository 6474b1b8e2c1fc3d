// subnet_routes.h — the kernel routes for the subnets other members advertise (docs/routing.md, "Subnet
// routes"): the router sends device the accepted ones (MeshRoutes.subnets: routing.accept_routes on, allowed
// by the mesh admin) and device keeps one route `PREFIX dev <weft device>` for each, added and removed by
// ioctl (SIOCADDRT / SIOCDELRT, as tun.c sets the address), and removes them all at exit.
// A route the kernel already has for a prefix (EEXIST: left by a device that restarted, or someone else's)
// is taken as installed. A subnet that overlaps a network of this host's own interfaces (other than the
// weft device) or holds the hub's address is refused: routing it into the mesh would cut this host off its
// own LAN or the hub (and with it the mesh). Failures and refusals are kept for the status line and never
// stop anything.
#ifndef WEFT_DEVICE_SUBNET_ROUTES_H
#define WEFT_DEVICE_SUBNET_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.pb-c.h"

#define SUBNET_ROUTES_MAX 256      // subnets installed at once; more are ignored (counted)

typedef struct {
    uint32_t net;                  // host order
    int len;
} subnet_t;

typedef struct subnet_routes subnet_routes_t;

// For device `ifname`. own: the node's own routing.advertise (never routed into the mesh here). hub_addr:
// the hub's IPv4 address (host order; 0 when the endpoint is a name), kept out of every subnet.
subnet_routes_t *subnet_routes_new(const char *ifname, const subnet_t *own, size_t n_own, uint32_t hub_addr);
// Removes every route it installed.
void subnet_routes_destroy(subnet_routes_t **self);

// The subnets a MeshRoutes asks for, into out (at most max): each a valid prefix with no host bits, not one of
// own, not 0.0.0.0/0, without duplicates. *bad counts the entries dropped (malformed, own, default,
// duplicates, over max). Returns the count.
size_t subnet_routes_wanted(const Weft__MeshRoutes *routes, const subnet_t *own, size_t n_own, subnet_t *out,
                            size_t max, size_t *bad);

// Do a and b share an address (one holds the other)?
bool subnet_overlaps(const subnet_t *a, const subnet_t *b);
// Why s must not be routed into the mesh from this host: 1 (why filled: the interface and network it
// overlaps, or the hub's address it holds), 0 it may.
int subnet_routes_conflict(const subnet_routes_t *self, const subnet_t *s, char *why, size_t why_len);

// Makes the kernel's routes match routes->subnets: adds the new ones, removes those no longer in it.
// Returns the number of failures this time (each logged).
int subnet_routes_sync(subnet_routes_t *self, const Weft__MeshRoutes *routes);

// Installed now, failed or refused (conflict) on the last sync, and entries dropped as bad (total).
size_t subnet_routes_installed(const subnet_routes_t *self);
size_t subnet_routes_failed(const subnet_routes_t *self);
size_t subnet_routes_refused(const subnet_routes_t *self);
uint64_t subnet_routes_bad(const subnet_routes_t *self);
// The last failure ("" none), for the status line.
const char *subnet_routes_error(const subnet_routes_t *self);

#endif
