// router_actor.c — the weft-router actor: sockets, the actor loop, the member list and the packets device
// hands it (when the TUN is not lent to the data plane). Mesh routing is in router_mesh.c.
//   inbox: PeerList (from discovery)   -> the members: overlay address -> member, the mesh's member set
//   inbox: LinkState (from nat)        -> router_mesh.c
//   inbox: CONTROL batch (data plane)  -> announcements from neighbours, router_mesh.c
//   inbox: PacketBatch (from device or the data plane, no peers) -> IPv4 destination -> the member that
//          owns it (or the subnet behind it) -> batch tagged with that member -> the data plane, which
//          seals it and sends it directly or through a mesh hop
// Broadcast and multicast destinations (255.255.255.255, 224.0.0.0/4, the overlay prefix's broadcast
// address) have no route: with routing.broadcast each such packet goes to every member, else it is dropped.
#include "router_actor.h"

#include <string.h>

#include "actor_loop.h"
#include "clock.h"
#include "id_table.h"
#include "identity.h"
#include "log.h"
#include "router.h"

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
    router_mesh_register_counters(self);
}

// ---- members ----

static void member_free(void **item)
{
    free(*item);
    *item = NULL;
}

// Checks one listed peer. Returns its address, or 0 (counted, logged) for an unusable peer.
static uint32_t member_address(router_t *self, const Weft__Peer *peer)
{
    const char *why = NULL;
    uint32_t addr = 0;
    if (!peer || peer->id.len != ROUTE_ID_LEN || !peer->id.data)
        why = "id is not 32 bytes";
    else if (memcmp(peer->id.data, self->local_id, ROUTE_ID_LEN) == 0)
        return 0;   // ourselves
    else if (ipv4_from_text(peer->overlay_addr, &addr) < 0)
        why = "overlay address is not IPv4";
    else if (addr == 0 || ipv4_is_multicast_or_broadcast(addr))
        why = "overlay address is not a host address";
    else if (addr == self->self_addr)
        why = "overlay address is ours";
    if (!why)
        return addr;
    (*self->bad_peers)++;
    if (log_worth_repeating(*self->bad_peers))
        log_warn("ignoring peer '%.64s' (%.40s): %s", peer && peer->name ? peer->name : "",
                 peer && peer->overlay_addr ? peer->overlay_addr : "", why);
    return 0;
}

// The member table and the address table from a PeerList; members gone are forgotten (and their routes).
static void router_apply_peer_list(router_t *self, const Weft__PeerList *list, const char *source)
{
    route_table_t *routes = route_table_new();
    if (!routes) {
        log_error("out of memory applying a peer list from %s", source);
        return;
    }
    for (router_member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members))
        m->listed = false;
    for (size_t i = 0; i < list->n_peers; i++) {
        const Weft__Peer *p = list->peers[i];
        uint32_t addr = member_address(self, p);
        if (!addr)
            continue;
        if (route_table_lookup(routes, addr)) {
            (*self->bad_peers)++;
            log_warn("two peers claim %s; keeping the first", p->overlay_addr);
            continue;
        }
        router_member_t *m = zhashx_lookup(self->members, p->id.data);
        if (!m && (m = calloc(1, sizeof *m)) != NULL) {
            memcpy(m->id, p->id.data, ROUTE_ID_LEN);
            zhashx_insert(self->members, m->id, m);
        }
        if (!m)
            continue;
        m->listed = true;
        m->addr = addr;
        snprintf(m->name, sizeof m->name, "%s", p->name ? p->name : "");
        m->allowed_count = 0;
        for (size_t k = 0; k < p->n_allowed_routes && m->allowed_count < ROUTER_MAX_ALLOWED; k++) {
            uint32_t a;
            int len;
            if (ipv4_prefix_from_text(p->allowed_routes[k], &a, &len) == 0)
                snprintf(m->allowed[m->allowed_count++], sizeof m->allowed[0], "%s", p->allowed_routes[k]);
        }
        route_t r = {.addr = addr, .hops = 1, .metric = 1, .updated_ms = (uint64_t)zclock_time()};
        memcpy(r.peer, m->id, ROUTE_ID_LEN);
        memcpy(r.next_hop, m->id, ROUTE_ID_LEN);
        route_table_put(routes, &r);
    }
    zlistx_t *gone = zlistx_new();
    for (router_member_t *m = zhashx_first(self->members); m && gone; m = zhashx_next(self->members))
        if (!m->listed)
            zlistx_add_end(gone, m->id);
    for (uint8_t *id = gone ? zlistx_first(gone) : NULL; id; id = zlistx_next(gone))
        zhashx_delete(self->members, id);
    zlistx_destroy(&gone);
    route_table_destroy(&self->routes);
    self->routes = routes;
    router_mesh_members_changed(self);
}

// ---- Redis ----

// Redis just answered for the first time: the member list and the routes saved before a restart,
// unless the inbox already told us newer.
static void router_on_store_connected(router_t *self)
{
    if (!self->have_live_peers) {
        Weft__PeerList *peers = store_load_peers(self->store);
        if (peers) {
            router_apply_peer_list(self, peers, "redis weft:peers");
            weft__peer_list__free_unpacked(peers, NULL);
        }
    }
    router_mesh_on_store_connected(self);
}

static void router_tick(router_t *self)
{
    if (store_link_connect(&self->redis, &self->store) == STORE_LINK_NEW)
        router_on_store_connected(self);
    if (self->store && store_restarted(self->store))
        self->store_dirty = true;   // Redis restarted or lost a write: its routes may be gone
    router_mesh_tick(self);
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

static void add_packet(router_t *self, const uint8_t *pkt, size_t len, const uint8_t *member)
{
    if (!packet_batch_fits(self->out, len, member))
        router_flush(self);
    if (packet_batch_add(self->out, pkt, len, member) < 0)
        (*self->drop_malformed)++;   // larger than a whole batch: cannot be an IPv4 packet
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
    if (to_all && self->broadcast) {  // one copy per member
        (*self->broadcast_packets)++;
        for (router_member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members)) {
            add_packet(self, pkt, total, m->id);
            (*self->broadcast_copies)++;
        }
        return;
    }
    const route_t *route = to_all ? NULL : route_table_lookup(self->routes, dst);
    const uint8_t *member = route ? route->peer : to_all ? NULL : router_subnet_owner(self, dst);
    if (!member) {
        (*self->drop_no_route)++;
        return;
    }
    add_packet(self, pkt, total, member);
}

static void router_on_batch(router_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
{
    if (hdr->direction == WEFT__PACKET_BATCH__DIRECTION__CONTROL) {
        router_mesh_on_frames(self, hdr, payload);
        return;
    }
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
    } else if (env->body_case == WEFT__ENVELOPE__BODY_LINK_STATE) {
        router_mesh_on_link(self, env->link_state);
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
    zsock_destroy(&self->device);
    zsock_destroy(&self->control);
    zsock_destroy(&self->inbox);
    packet_batch_destroy(&self->out);
    packet_batch_destroy(&self->announce_out);
    route_table_destroy(&self->routes);
    zhashx_destroy(&self->members);
    mesh_routes_destroy(&self->mesh);
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
    if (identity_load_id(svc->config.identity_file, self->local_id, why, why_len) != 0 || router_mesh_init(self, why, why_len) != 0) {
        router_destroy(&self);
        return NULL;
    }
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
    self->members = id_table_new();
    if (self->members)
        zhashx_set_destructor(self->members, member_free);
    self->out = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->inbox = service_bind_inbox(svc);
    self->control = service_bind_control(svc);
    self->dataplane = service_connect_inbox(svc, SVC_DATAPLANE);
    self->device = service_connect_inbox(svc, SVC_DEVICE);
    if (!self->routes || !self->members || !self->out || !self->inbox || !self->control || !self->dataplane ||
        !self->device) {
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

static int on_fast_tick(void *self)
{
    router_mesh_fast_tick(self);
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
    router_tick(self);   // first Redis attempt: reload the members and the saved routes
    actor_loop_t *loop = actor_loop_new(pipe, svc, self->control, self);
    if (!loop || actor_loop_on_socket(loop, self->inbox, on_inbox) != 0 ||
        actor_loop_every(loop, ROUTER_TICK_MS, on_tick) != 0 ||
        actor_loop_every(loop, ROUTER_FAST_TICK_MS, on_fast_tick) != 0) {
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
