// router.h — weft-router's state, owned by the actor thread. Types and the functions the two files share:
//   router_actor.c  sockets, the actor loop, the member list, packets from device (TUN not lent)
//   router_mesh.c   mesh routing (docs/routing.md): links from nat, announcements in and out through the
//                   data plane, the best routes (lib/mesh_routes.h) handed to the data plane and device as
//                   MeshRoutes, subnets accepted or refused, and the routes' copy in Redis (route_store.h)
#ifndef WEFT_ROUTER_H
#define WEFT_ROUTER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "mesh_routes.h"
#include "route_store.h"
#include "route_table.h"
#include "service.h"
#include "store.h"
#include "store_link.h"
#include "wire.h"

#define ROUTER_TICK_MS 1000         // Redis, route expiry, periodic announcements
#define ROUTER_FAST_TICK_MS 100     // triggered updates are sent at most this often
#define ROUTER_PUSH_MS 2000         // MeshRoutes said again to the data plane and device this often (a restarted
                                    // data plane relays again within it)
#define ROUTER_SAVE_MS 10000        // and the routes rewritten in Redis this often (at once on a change)
#define ROUTER_MAX_ALLOWED 8        // subnets the admin allows one member (Peer.allowed_routes) kept

// A member as router knows it: from the PeerList.
typedef struct {
    uint8_t id[ROUTE_ID_LEN];
    char name[64];
    uint32_t addr;                                  // overlay address, host order
    char allowed[ROUTER_MAX_ALLOWED][20];           // subnets the mesh admin lets it advertise
    size_t allowed_count;
    bool link_up;                                   // nat's last LinkState
    bool listed;                                    // in the list being applied
} router_member_t;

// An accepted subnet: packets to it go to its owner.
typedef struct {
    uint32_t addr, mask;                            // host order
    uint8_t owner[ROUTE_ID_LEN];
} router_subnet_t;

#define ROUTER_MAX_SUBNETS 64

typedef struct {
    service_t *svc;
    uint8_t local_id[ROUTE_ID_LEN];
    route_table_t *routes;          // overlay address -> member (next_hop = the member: the data plane relays)
    zhashx_t *members;              // id -> router_member_t*
    mesh_routes_t *mesh;
    router_subnet_t subnets[ROUTER_MAX_SUBNETS];    // accepted, longest first
    size_t subnet_count;
    zsock_t *inbox, *control;
    zsock_t *dataplane;             // PUSH to the data plane's inbox: packets, announcements, MeshRoutes
    zsock_t *device;                // PUSH to device's inbox: MeshRoutes (kernel routes of the subnets)
    packet_batch_t *out;            // packets tagged with their member, on their way to the data plane
    packet_batch_t *announce_out;   // announcements (CONTROL) tagged with the neighbour they go to
    uint32_t self_addr;             // our own overlay address (host order), 0 if none
    uint32_t overlay_broadcast;     // the overlay prefix's broadcast address (host order), 0 if none
    bool broadcast;                 // routing.broadcast: copy broadcast/multicast packets to every member
    bool update_due;                // a best route changed: announce, push and save on the fast tick
    int64_t next_announce_ms, next_push_ms, next_save_ms;
    store_t *store;                 // NULL until Redis answers
    store_link_t redis;
    bool store_dirty;               // the routes in Redis are out of date
    bool have_live_peers;           // a PeerList came in on the inbox: memory is newer than Redis
    bool restored;                  // the routes saved before a restart were given to the mesh table
    uint64_t *packets_routed, *drop_no_route, *drop_malformed, *drop_not_ipv4, *drop_queue_full;
    uint64_t *drop_bad_batch, *drop_bad_message, *routes_count, *peer_lists, *bad_peers, *ignored_messages;
    uint64_t *broadcast_packets, *broadcast_copies;
    uint64_t *routes_direct, *routes_relayed, *routes_subnet, *routes_refused, *links_in, *announcements_in;
    uint64_t *announcements_out, *drop_announce[MESH_DROP_COUNT], *drop_announce_queue_full, *mesh_routes_out;
    uint64_t frame_drops[MESH_DROP_COUNT];   // whole announcements dropped, by reason
} router_t;

// router_mesh.c
int router_mesh_init(router_t *self, char *why, size_t why_len);
void router_mesh_register_counters(router_t *self);
void router_mesh_members_changed(router_t *self);                   // after the member table changed
void router_mesh_on_link(router_t *self, const Weft__LinkState *link);
void router_mesh_on_frames(router_t *self, const Weft__PacketBatch *hdr, zframe_t *payload);
void router_mesh_fast_tick(router_t *self);
void router_mesh_tick(router_t *self);                               // once a second, after Redis
void router_mesh_on_store_connected(router_t *self);
// The member behind the longest accepted subnet holding dst (host order), or NULL.
const uint8_t *router_subnet_owner(const router_t *self, uint32_t dst);

#endif
