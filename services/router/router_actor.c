// router_actor.c — the weft-router actor: the route table, its Redis copy, and the outbound packet path
//   router inbox: PacketBatch (from device, no peers) -> IPv4 destination -> route -> batch tagged with
//                 next hop -> dataplane inbox
//   router inbox: PeerList (from discovery) -> one direct route per peer; gone peers lose their route
// Broadcast and multicast destinations (255.255.255.255, 224.0.0.0/4, the overlay prefix's broadcast
// address) have no route: with routing.broadcast each such packet goes to every peer, else it is dropped.
#include "router_actor.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "actor_loop.h"
#include "clock.h"
#include "log.h"
#include "route_store.h"
#include "route_table.h"
#include "service.h"
#include "store.h"
#include "store_link.h"
#include "wire.h"

#define ROUTER_TICK_MS 1000    // Redis reconnect / resync interval

typedef struct {
    service_t *svc;
    route_table_t *routes;
    zsock_t *inbox;
    zsock_t *control;
    zsock_t *dataplane;             // PUSH to the data plane's inbox
    packet_batch_t *out;            // packets tagged with their next hop, on their way to the data plane (which seals them)
    uint32_t self_addr;             // our own overlay address (host order), 0 if none
    uint32_t overlay_broadcast;     // the overlay prefix's broadcast address (host order), 0 if none
    bool broadcast;                 // routing.broadcast: copy broadcast/multicast packets to every peer
    store_t *store;                 // NULL until Redis answers
    store_link_t redis;             // when to try Redis again while store is NULL
    bool store_dirty;               // a Redis write failed: resync every route on the next tick
    bool have_live_peers;           // a PeerList came in on the inbox: memory is newer than Redis
    uint64_t *packets_routed, *drop_no_route, *drop_malformed, *drop_not_ipv4, *drop_queue_full;
    uint64_t *drop_bad_batch, *drop_bad_message, *routes_count, *peer_lists, *bad_peers, *ignored_messages;
    uint64_t *broadcast_packets, *broadcast_copies;
} router_t;


static void router_register_counters(router_t *self)
{
    service_t *svc = self->svc;
    self->packets_routed = service_counter(svc, "packets_routed");
    self->drop_no_route = service_counter(svc, "drop_no_route");
    self->broadcast_packets = service_counter(svc, "broadcast_packets");
    self->broadcast_copies = service_counter(svc, "broadcast_copies");
    self->drop_malformed = service_counter(svc, "drop_malformed");
    self->drop_not_ipv4 = service_counter(svc, "drop_not_ipv4");
    self->drop_queue_full = service_counter(svc, "drop_queue_full");
    self->drop_bad_batch = service_counter(svc, "drop_bad_batch");
    self->routes_count = service_counter(svc, "routes");
    self->peer_lists = service_counter(svc, "peer_lists");
    self->bad_peers = service_counter(svc, "bad_peers");
    self->drop_bad_message = service_counter(svc, "drop_bad_message");
    self->ignored_messages = service_counter(svc, "ignored_messages");
}

static void router_update_status(router_t *self)
{
    size_t n = route_table_size(self->routes);
    *self->routes_count = n;
    snprintf(self->svc->detail, sizeof self->svc->detail, "%zu routes%s", n,
             self->store ? (self->store_dirty ? " (redis out of date)" : "") : " (redis unreachable)");
}

// ---- Redis ----

// A route changed in memory: mirror it in Redis (or mark Redis for a full resync).
static void router_store_save(router_t *self, const route_t *route)
{
    if (self->store && !self->store_dirty && route_store_save(self->store, route) < 0)
        self->store_dirty = true;
}

static void router_store_delete(router_t *self, uint32_t addr)
{
    if (self->store && !self->store_dirty && route_store_delete(self->store, addr) < 0)
        self->store_dirty = true;
}

static void router_apply_peer_list(router_t *self, const Weft__PeerList *list, const char *source);

// Redis just answered for the first time: reload what it holds unless the inbox already told us newer.
static void router_on_store_connected(router_t *self)
{
    if (self->have_live_peers) {
        self->store_dirty = true;   // memory is newer: write it over Redis on this tick
        return;
    }
    int loaded = route_store_load(self->store, self->routes);
    if (loaded < 0)
        log_warn("redis: could not load the saved routes");
    else
        log_info("loaded %d routes from redis", loaded);
    Weft__PeerList *peers = store_load_peers(self->store);
    if (peers) {
        router_apply_peer_list(self, peers, "redis weft:peers");
        weft__peer_list__free_unpacked(peers, NULL);
    }
}

// Once a second: connect to Redis if we are not (and the back-off allows), or rewrite every route if a write was lost or Redis
// restarted (it may have come back without them).
static void router_tick(router_t *self)
{
    if (store_link_connect(&self->redis, &self->store) == STORE_LINK_NEW)
        router_on_store_connected(self);
    if (self->store && store_restarted(self->store))
        self->store_dirty = true;   // Redis restarted or lost a write: its routes may be gone
    if (self->store && self->store_dirty && route_store_sync(self->store, self->routes) == 0) {
        self->store_dirty = false;
        log_info("redis: routes resynchronised (%zu)", route_table_size(self->routes));
    }
    router_update_status(self);
}

// ---- peer lists ----

// The direct route for one listed peer. Returns 0, or -1 (counted, logged) for an unusable peer.
static int route_for_peer(router_t *self, const Weft__Peer *peer, route_t *route)
{
    const char *why = NULL;
    memset(route, 0, sizeof *route);
    if (!peer || peer->id.len != ROUTE_ID_LEN || !peer->id.data)
        why = "id is not 32 bytes";
    else if (ipv4_from_text(peer->overlay_addr, &route->addr) < 0)
        why = "overlay address is not IPv4";
    else if (route->addr == 0 || ipv4_is_multicast_or_broadcast(route->addr))
        why = "overlay address is not a host address";
    else if (route->addr == self->self_addr)
        why = "overlay address is ours";
    if (why) {
        (*self->bad_peers)++;
        if (log_worth_repeating(*self->bad_peers))
            log_warn("ignoring peer '%.64s' (%.40s): %s", peer && peer->name ? peer->name : "",
                     peer && peer->overlay_addr ? peer->overlay_addr : "", why);
        return -1;
    }
    memcpy(route->peer, peer->id.data, ROUTE_ID_LEN);
    memcpy(route->next_hop, peer->id.data, ROUTE_ID_LEN);
    route->hops = 1;
    route->metric = 1;
    route->updated_ms = (uint64_t)zclock_time();
    return 0;
}

// The direct routes the list asks for. NULL if out of memory.
static route_table_t *routes_from_peer_list(router_t *self, const Weft__PeerList *list)
{
    route_table_t *wanted = route_table_new();
    for (size_t i = 0; wanted && i < list->n_peers; i++) {
        route_t route;
        if (route_for_peer(self, list->peers[i], &route) < 0)
            continue;
        if (route_table_lookup(wanted, route.addr)) {
            (*self->bad_peers)++;
            log_warn("two peers claim %s; keeping the first", list->peers[i]->overlay_addr);
            continue;
        }
        if (route_table_put(wanted, &route) < 0)
            route_table_destroy(&wanted);
    }
    return wanted;
}

typedef struct {
    const route_table_t *wanted;
    uint32_t *stale;
    size_t stale_count;
} stale_ctx_t;

static void collect_stale(const route_t *route, void *arg)
{
    stale_ctx_t *ctx = arg;
    if (!route_table_lookup(ctx->wanted, route->addr))
        ctx->stale[ctx->stale_count++] = route->addr;
}

// Removes the routes `wanted` does not hold. Returns how many, or -1 if out of memory.
static int router_remove_stale(router_t *self, const route_table_t *wanted)
{
    size_t n = route_table_size(self->routes);
    stale_ctx_t ctx = {wanted, calloc(n ? n : 1, sizeof(uint32_t)), 0};
    if (!ctx.stale)
        return -1;
    route_table_foreach(self->routes, collect_stale, &ctx);
    for (size_t i = 0; i < ctx.stale_count; i++) {
        route_table_remove(self->routes, ctx.stale[i]);
        router_store_delete(self, ctx.stale[i]);
    }
    free(ctx.stale);
    return (int)ctx.stale_count;
}

typedef struct {
    router_t *router;
    int changed;
} merge_ctx_t;

static void merge_route(const route_t *route, void *arg)
{
    merge_ctx_t *ctx = arg;
    int rc = route_table_put(ctx->router->routes, route);
    if (rc < 0) {
        log_error("out of memory adding a route");
        return;
    }
    if (rc != ROUTE_UNCHANGED) {
        ctx->changed++;
        router_store_save(ctx->router, route_table_lookup(ctx->router->routes, route->addr));
    }
}

// Makes the direct routes match the list; writes only what changed to Redis.
static void router_apply_peer_list(router_t *self, const Weft__PeerList *list, const char *source)
{
    route_table_t *wanted = routes_from_peer_list(self, list);
    if (!wanted) {
        log_error("out of memory applying a peer list from %s", source);
        return;
    }
    int removed = router_remove_stale(self, wanted);
    merge_ctx_t ctx = {self, 0};
    route_table_foreach(wanted, merge_route, &ctx);
    route_table_destroy(&wanted);
    if (removed != 0 || ctx.changed)
        log_info("peer list from %s: %zu peers, %d routes added or changed, %d removed, %zu routes", source,
                 list->n_peers, ctx.changed, removed, route_table_size(self->routes));
    router_update_status(self);
}

// ---- packets ----

// Sends the outgoing batch to the data plane; counts what was routed or dropped.
static void router_flush(router_t *self)
{
    size_t count = self->out->count;
    if (count == 0)
        return;
    if (packet_batch_send(self->out, self->dataplane) < 0) {
        *self->drop_queue_full += count;
        if (log_worth_repeating(*self->drop_queue_full))
            log_warn("dataplane inbox full: dropped %zu packets (%llu so far)", count,
                     (unsigned long long)*self->drop_queue_full);
        return;
    }
    *self->packets_routed += count;
}

// One copy of a broadcast/multicast packet to the next hop of one route (route_table_foreach callback).
typedef struct {
    router_t *self;
    const uint8_t *pkt;
    size_t len;
} flood_ctx_t;

static void flood_one(const route_t *route, void *arg)
{
    flood_ctx_t *ctx = arg;
    router_t *self = ctx->self;
    if (!packet_batch_fits(self->out, ctx->len, route->next_hop))
        router_flush(self);
    if (packet_batch_add(self->out, ctx->pkt, ctx->len, route->next_hop) == 0)
        (*self->broadcast_copies)++;
}

static void router_route_packet(router_t *self, const uint8_t *pkt, size_t len)
{
    uint32_t dst;
    size_t total;
    switch (ipv4_parse(pkt, len, &dst, &total)) {
    case IPV4_NOT_IPV4: (*self->drop_not_ipv4)++; return;
    case IPV4_MALFORMED: (*self->drop_malformed)++; return;
    case IPV4_OK: break;
    }
    bool to_all = ipv4_is_multicast_or_broadcast(dst) || (self->overlay_broadcast && dst == self->overlay_broadcast);
    if (to_all && self->broadcast) {  // one copy per route: every peer owns one address
        flood_ctx_t ctx = {self, pkt, total};
        (*self->broadcast_packets)++;
        route_table_foreach(self->routes, flood_one, &ctx);
        return;
    }
    const route_t *route = to_all ? NULL : route_table_lookup(self->routes, dst);
    if (!route) {
        (*self->drop_no_route)++;
        return;
    }
    if (!packet_batch_fits(self->out, total, route->next_hop))
        router_flush(self);
    if (packet_batch_add(self->out, pkt, total, route->next_hop) < 0)
        (*self->drop_malformed)++;   // larger than a whole batch: cannot be an IPv4 packet
}

static void router_on_batch(router_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
{
    packet_view_t view;
    char why[160];
    if (packet_view_init(&view, hdr, payload, why, sizeof why) < 0) {
        (*self->drop_bad_batch)++;
        if (log_worth_repeating(*self->drop_bad_batch))
            log_warn("dropped a malformed packet batch: %s", why);
        return;
    }
    const uint8_t *pkt, *peer;
    size_t len;
    while (packet_view_next(&view, &pkt, &len, &peer))
        router_route_packet(self, pkt, len);
    router_flush(self);
}

static void router_on_inbox(router_t *self)
{
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(self->inbox, &payload);
    if (!env) {
        (*self->drop_bad_message)++;   // wire_recv logged why
        return;
    }
    if (env->body_case == WEFT__ENVELOPE__BODY_PACKETS) {
        router_on_batch(self, env->packets, payload);
    } else if (env->body_case == WEFT__ENVELOPE__BODY_PEERS) {
        (*self->peer_lists)++;
        self->have_live_peers = true;
        router_apply_peer_list(self, env->peers, "discovery");
    } else {
        (*self->ignored_messages)++;
    }
    zframe_destroy(&payload);
    weft__envelope__free_unpacked(env, NULL);
}

// ---- life cycle ----

static void router_destroy(router_t **self_p)
{
    router_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->dataplane);
    zsock_destroy(&self->control);
    zsock_destroy(&self->inbox);
    packet_batch_destroy(&self->out);
    route_table_destroy(&self->routes);
    store_destroy(&self->store);
    free(self);
    *self_p = NULL;
}

static router_t *router_new(service_t *svc, char *why, size_t why_len)
{
    router_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    self->svc = svc;
    router_register_counters(self);
    if (svc->config.overlay_addr[0] && ipv4_from_text(svc->config.overlay_addr, &self->self_addr) < 0)
        self->self_addr = 0;
    int prefix = svc->config.overlay_prefix;
    if (self->self_addr && prefix >= 1 && prefix <= 30)   // /31 and /32 have no broadcast address
        self->overlay_broadcast = self->self_addr | (0xffffffffu >> prefix);
    self->broadcast = svc->config.routing_broadcast;
    char url[CONFIG_STR];
    config_redis_url(&svc->config, url, sizeof url);
    store_link_init(&self->redis, url);
    self->routes = route_table_new();
    self->out = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->inbox = service_bind_inbox(svc);
    self->control = service_bind_control(svc);
    self->dataplane = service_connect_inbox(svc, SVC_DATAPLANE);
    if (!self->routes || !self->out || !self->inbox || !self->control || !self->dataplane) {
        snprintf(why, why_len, "cannot set up the route table, batch or sockets (see above)");
        router_destroy(&self);
        return NULL;
    }
    return self;
}

// the actor loop's handlers
static int on_inbox(void *self)
{
    router_on_inbox(self);
    return 0;
}

static int on_tick(void *self)
{
    router_tick(self);
    return 0;
}

void router_actor(zsock_t *pipe, void *args)
{
    service_t *svc = args;
    char why[512];
    router_t *self = router_new(svc, why, sizeof why);
    if (!self) {
        service_actor_fail(pipe, why);
        return;
    }
    router_tick(self);   // first Redis attempt: reload saved routes and peers
    actor_loop_t *loop = actor_loop_new(pipe, svc, self->control, self);
    if (!loop || actor_loop_on_socket(loop, self->inbox, on_inbox) != 0 ||
        actor_loop_every(loop, ROUTER_TICK_MS, on_tick) != 0) {
        actor_loop_destroy(&loop);
        router_destroy(&self);
        service_actor_fail(pipe, "cannot set up the actor loop");
        return;
    }
    zsock_signal(pipe, 0);
    log_info("%s", svc->detail);
    actor_loop_run(loop);
    actor_loop_destroy(&loop);
    router_destroy(&self);
}
