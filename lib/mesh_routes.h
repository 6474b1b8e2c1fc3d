// mesh_routes.h — the distance-vector core of mesh routing (docs/routing.md): the mesh's members, the
// links to neighbours (members whose link is up), what each neighbour announced, the best route to every
// reachable member, and the announcements this node sends. It decodes and checks the neighbours'
// RouteAnnouncements (proto/node.proto) and builds its own, split into frames of at most MESH_ANNOUNCE_MAX
// bytes (lib/mesh_frame.h).
//
// No sockets, no clock, no Redis: every call gets the current monotonic time in ms, and announcements go
// out through a callback, so tests run several nodes against each other in one process. weft-router
// (services/router) feeds it the members, link states and received frames, sends the announcements and
// turns the best routes into the data plane's MeshRoutes.
#ifndef WEFT_MESH_ROUTES_H
#define WEFT_MESH_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_MAX_PREFIXES 8             // subnets one member advertises
#define MESH_MAX_ENTRIES 64             // entries in one announcement frame
#define MESH_MAX_PATH 16                // ids in one entry's path (so hops <= 15 in any announcement)
#define MESH_HOP_COST 100               // metric = latency_ms + MESH_HOP_COST * hops
#define MESH_HYSTERESIS_MIN 5           // a better route must win by more than max(this, metric / 10)

typedef struct {
    uint32_t max_hops;          // routing.max_hops: a route with more hops is not used (1 = direct only)
    bool split_horizon;         // poisoned reverse towards a route's own next hop
    bool relay;                 // connection.relay_via_peers: we announce routes through us; false: only ourselves
    int64_t route_timeout_ms;   // a learned route not announced again for this long is gone
} mesh_routes_config_t;

typedef enum {
    MESH_DROP_NONE = 0,
    MESH_DROP_MALFORMED,        // not a RouteAnnouncement, a dest not 32 bytes, a prefix not "a.b.c.d/len"
    MESH_DROP_OVERSIZED,        // longer than a frame, more than 64 entries, 16 path ids or 8 prefixes
    MESH_DROP_FORGED,           // an entry whose hops and path do not fit its announcer and destination
    MESH_DROP_LOOP,             // an entry whose path holds us (or an id twice)
    MESH_DROP_STALE,            // a seq older than the last one seen from the announcer
    MESH_DROP_NOT_NEIGHBOUR,    // from a member whose link is not up
    MESH_DROP_NOT_MEMBER,       // from (or an entry for) something not in the member list
    MESH_DROP_COUNT
} mesh_drop_t;

// "malformed", "oversized", "forged", "loop", "stale", "not_neighbour", "not_member" ("none" for NONE).
const char *mesh_drop_name(mesh_drop_t why);

typedef struct {
    uint8_t dest[32];
    uint8_t via[32];            // next hop; == dest for a direct route
    uint32_t hops;              // 1 = direct
    uint32_t latency_ms;        // summed link round trips
    uint32_t metric;            // latency_ms + 100 * hops
    int64_t changed_ms;         // when via/hops last changed (monotonic ms as given by the caller)
    int64_t refreshed_ms;       // last link report or announcement that confirmed it
    char prefixes[MESH_MAX_PREFIXES][20];   // subnets dest advertises (as announced; the router decides if they are accepted)
    size_t prefix_count;
} mesh_route_t;

typedef struct mesh_routes mesh_routes_t;

// NULL when out of memory (logged).
mesh_routes_t *mesh_routes_new(const uint8_t self_id[32], const mesh_routes_config_t *cfg);
void mesh_routes_destroy(mesh_routes_t **self);

// The mesh's members (discovery's PeerList; our own id in it is skipped): routes to or through anything
// else are refused; a member no longer listed loses its routes and link.
void mesh_routes_set_members(mesh_routes_t *self, const uint8_t (*ids)[32], size_t count, int64_t now_ms);
// Our own subnets (routing.advertise), carried in our own entry of every announcement. Invalid ones (not
// "a.b.c.d/len" without host bits) and those past MESH_MAX_PREFIXES are left out and logged. A change
// makes an update due (mesh_routes_changed).
void mesh_routes_set_own_prefixes(mesh_routes_t *self, const char (*prefixes)[256], size_t count);
// A link to a member (nat's LinkState): up with its round trip in ms, or down (its direct route and every
// route learned through it go at once). Ignored for a non-member.
void mesh_routes_link(mesh_routes_t *self, const uint8_t peer[32], bool up, uint32_t rtt_ms, int64_t now_ms);

// One announcement (the protobuf bytes AFTER the MESH_FRAME_ANNOUNCE byte) from neighbour `from` (the
// session it came in authenticates it). Returns MESH_DROP_NONE when used, else why the whole
// announcement was dropped. *bad_entries (may be NULL) gets how many single entries were refused
// (forged/loop/not member), *request (may be NULL) whether the announcer asked for an answer at once.
mesh_drop_t mesh_routes_receive(mesh_routes_t *self, const uint8_t from[32], const uint8_t *buf, size_t len,
                                int64_t now_ms, size_t *bad_entries, bool *request);
// Single entries refused since creation, by reason (indexed by mesh_drop_t: FORGED, LOOP, NOT_MEMBER),
// for the router's drop counters. MESH_DROP_COUNT values.
const uint64_t *mesh_routes_entry_drops(const mesh_routes_t *self);

// Expires routes not refreshed within route_timeout_ms, and forgets withdrawals announced long enough.
// Returns true if a best route changed.
bool mesh_routes_tick(mesh_routes_t *self, int64_t now_ms);
// Did a best route change (added, removed, other next hop or hops, other prefixes, or a metric moved by
// more than the hysteresis margin) or our own prefixes since the last clear? (a triggered update is due)
bool mesh_routes_changed(const mesh_routes_t *self);
void mesh_routes_clear_changed(mesh_routes_t *self);

// The announcement for neighbour `to`: one or more frames, each starting with the MESH_FRAME_ANNOUNCE
// byte and at most MESH_ANNOUNCE_MAX bytes, handed to emit(ctx, frame, len) (the buffer is reused after
// emit returns). seq: the caller's unix ms clock (increasing). request: ask `to` to answer at once.
void mesh_routes_announce(mesh_routes_t *self, const uint8_t to[32], uint64_t seq, bool request,
                          void (*emit)(void *ctx, const uint8_t *frame, size_t len), void *ctx);

// Neighbours: members whose link is up.
void mesh_routes_foreach_neighbour(const mesh_routes_t *self, void (*fn)(const uint8_t id[32], void *ctx), void *ctx);
// Every best route (one per reachable destination), in id order. fn must not change the table.
void mesh_routes_foreach(const mesh_routes_t *self, void (*fn)(const mesh_route_t *route, void *ctx), void *ctx);
// The best route to dest, or NULL. Valid until the next call that changes the table.
const mesh_route_t *mesh_routes_best(const mesh_routes_t *self, const uint8_t dest[32]);
size_t mesh_routes_count(const mesh_routes_t *self);

// A route saved before a restart (Redis): used as if learned at refreshed_ms, until it times out or a
// link or announcement replaces it (any route learned for dest, an announcement from via, via's link
// going down). Ignored if dest or via is not a member, it is longer than max_hops or already timed out,
// or hops and via do not agree (hops 1 <=> via == dest). Used for forwarding, never announced (its path
// is not known).
void mesh_routes_restore(mesh_routes_t *self, const mesh_route_t *route, int64_t now_ms);

#endif
