// portmap.h — port mappings on the local gateway (UPnP-IGD through libminiupnpc, NAT-PMP through libnatpmp),
// so a peer can reach our ICE host candidates from outside. Owns a worker thread (a zactor), the gateway
// it found (discovered once, in the background, and cached; looked for again every minute while none
// answers) and every mapping it made:
//   - a mapping is asked for each UDP IPv4 host candidate on the gateway's LAN, right after gathering;
//   - renewed at half its lease;
//   - deleted once the agent's socket is closed (checked every few seconds: nothing holds the port),
//     and all of them when the portmap is destroyed (weft-nat's shutdown, also on SIGTERM);
//   - UPnP mappings a killed weft-nat left behind (description "weft", this host, port not held) are
//     deleted when the gateway is found.
// Only the worker talks to the gateway; the actor thread waits at most PORTMAP_WAIT_MS for an answer, and
// not at all while no gateway is known - except that while the first discovery (just after start) is
// still running, gathering results wait for it, at most PORTMAP_FIRST_WAIT_MS, so the first offer after
// a start already carries the mapping.
#ifndef WEFT_NAT_PORTMAP_H
#define WEFT_NAT_PORTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTMAP_WAIT_MS 500          // the actor waits this long for one mapping, at most
#define PORTMAP_PMP_MS 1000          // a NAT-PMP request is retried for this long, at most
// Finding the gateway: NAT-PMP's public address request, then an SSDP search (ssdp.c) that returns with
// the first answer. The first time (the first offer waits for it) briefly, as a LAN gateway answers within
// milliseconds; later searches (nobody waits) longer, for slow gateways.
#define PORTMAP_FIRST_PMP_MS 250
#define PORTMAP_FIRST_SSDP_MS 300
#define PORTMAP_PMP_DISCOVER_MS 1000
#define PORTMAP_SSDP_MS 2000
#define PORTMAP_FIRST_WAIT_MS 800    // the first gathering waits this long, at most, for the first discovery
#define PORTMAP_REDISCOVER_MS 60000  // no gateway: look again after this
#ifndef PORTMAP_LEASE_S                // (a test build may ask for short leases)
#define PORTMAP_LEASE_S 600          // lease asked for; renewed at half of what the gateway grants
#endif
#define PORTMAP_CHECK_MS 3000        // how often the worker looks for mappings whose socket is gone
#define PORTMAP_MAX 64               // mappings at once
#define PORTMAP_DESCRIPTION "weft"   // UPnP description of our mappings (leftovers are found by it)

typedef struct portmap portmap_t;

// Starts the worker, which begins looking for a gateway at once. Returns NULL (logged) on failure.
portmap_t *portmap_new(void);
// Deletes every mapping on the gateway (bounded by the timeouts above) and stops the worker.
void portmap_destroy(portmap_t **self_p);

// True once a gateway answered (UPnP-IGD or NAT-PMP).
bool portmap_ready(portmap_t *self);

// For each UDP IPv4 host candidate among lines[0..count) that the gateway serves, asks for a mapping and
// appends a srflx line (mapped address, raddr/rport = the host candidate) at lines[count...], up to `max`
// lines in all. Lines are malloc'd (free them like the others). Returns how many were appended. NULL
// self, or no gateway yet: appends nothing, at once.
size_t portmap_add_candidates(portmap_t *self, char **lines, size_t count, size_t max);

#endif
