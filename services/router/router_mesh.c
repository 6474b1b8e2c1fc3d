// router_mesh.c — weft-router's half of mesh routing (docs/routing.md). lib/mesh_routes.c holds the
// protocol (candidates, best routes, checks of announcements, building ours); this file feeds it and
// carries its results:
//   LinkState (nat)                      -> mesh_routes_link; a link that comes up is announced to at once
//   CONTROL batch (data plane)           -> mesh_routes_receive (announcements opened from neighbours)
//   a best route changed, or every routing.announce_interval
//                                        -> our announcement to every neighbour (CONTROL batch to the data
//                                           plane, which seals it in the neighbour's session)
//   a best route changed, or every ROUTER_PUSH_MS
//                                        -> MeshRoutes to the data plane (next hops, accepted subnets) and
//                                           to device (the subnets' kernel routes), the routes to Redis
#include "router.h"

#include <string.h>

#include "clock.h"
#include "identity.h"
#include "log.h"
#include "mesh_frame.h"

static const char *drop_counter_names[MESH_DROP_COUNT] = {
    [MESH_DROP_MALFORMED] = "drop_announce_malformed",   [MESH_DROP_OVERSIZED] = "drop_announce_oversized",
    [MESH_DROP_FORGED] = "drop_announce_forged",         [MESH_DROP_LOOP] = "drop_announce_loop",
    [MESH_DROP_STALE] = "drop_announce_stale",           [MESH_DROP_NOT_NEIGHBOUR] = "drop_announce_not_neighbour",
    [MESH_DROP_NOT_MEMBER] = "drop_announce_not_member",
};

static uint64_t dummy_counter;

void router_mesh_register_counters(router_t *self)
{
    service_t *svc = self->svc;
    self->routes_direct = service_counter(svc, "routes_direct");
    self->routes_relayed = service_counter(svc, "routes_relayed");
    self->routes_subnet = service_counter(svc, "routes_subnet");
    self->routes_refused = service_counter(svc, "routes_refused");
    self->links_in = service_counter(svc, "links_in");
    self->announcements_in = service_counter(svc, "announcements_in");
    self->announcements_out = service_counter(svc, "announcements_out");
    self->drop_announce_queue_full = service_counter(svc, "drop_announce_queue_full");
    self->mesh_routes_out = service_counter(svc, "mesh_routes_out");
    for (int i = 0; i < MESH_DROP_COUNT; i++)
        self->drop_announce[i] = drop_counter_names[i] ? service_counter(svc, drop_counter_names[i]) : &dummy_counter;
}

int router_mesh_init(router_t *self, char *why, size_t why_len)
{
    const weft_config_t *cfg = &self->svc->config;
    mesh_routes_config_t mc = {
        .max_hops = (uint32_t)cfg->routing_max_hops,
        .split_horizon = cfg->routing_split_horizon,
        .relay = cfg->connection_relay_via_peers,
        .route_timeout_ms = (int64_t)cfg->routing_route_timeout * 1000,
    };
    self->mesh = mesh_routes_new(self->local_id, &mc);
    if (!self->mesh) {
        snprintf(why, why_len, "out of memory for the mesh route table");
        return -1;
    }
    mesh_routes_set_own_prefixes(self->mesh, cfg->routing_advertise, (size_t)cfg->routing_advertise_count);
    self->announce_out = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__CONTROL);
    if (!self->announce_out) {
        snprintf(why, why_len, "out of memory for the announcement batch");
        return -1;
    }
    self->update_due = true;
    return 0;
}

// ---- announcements out ----

static void send_announcements(router_t *self)
{
    size_t count = self->announce_out->count;
    if (count == 0)
        return;
    if (packet_batch_send(self->announce_out, self->dataplane) < 0) {
        *self->drop_announce_queue_full += count;
        return;
    }
    *self->announcements_out += count;
}

typedef struct {
    router_t *self;
    const uint8_t *to;
} emit_ctx_t;

static void emit_frame(void *arg, const uint8_t *frame, size_t len)
{
    emit_ctx_t *ctx = arg;
    if (!packet_batch_fits(ctx->self->announce_out, len, ctx->to))
        send_announcements(ctx->self);
    packet_batch_add(ctx->self->announce_out, frame, len, ctx->to);
}

static void announce_to(router_t *self, const uint8_t to[ROUTE_ID_LEN], bool request)
{
    emit_ctx_t ctx = {self, to};
    mesh_routes_announce(self->mesh, to, (uint64_t)zclock_time(), request, emit_frame, &ctx);
}

static void announce_one(const uint8_t id[32], void *arg)
{
    announce_to(arg, id, false);
}

static void announce_all(router_t *self)
{
    mesh_routes_foreach_neighbour(self->mesh, announce_one, self);
    send_announcements(self);
}

// ---- links and announcements in ----

void router_mesh_on_link(router_t *self, const Weft__LinkState *link)
{
    (*self->links_in)++;
    if (link->peer.len != ROUTE_ID_LEN)
        return;
    router_member_t *m = zhashx_lookup(self->members, link->peer.data);
    if (!m)
        return;   // not (yet) a member: the next PeerList or LinkState tells
    uint32_t rtt_ms = link->up ? (link->rtt_us + 999) / 1000 : 0;
    mesh_routes_link(self->mesh, m->id, link->up, rtt_ms, clock_now_ms());
    if (link->up && !m->link_up) {   // a new neighbour: tell it our routes and ask for its own at once
        log_info("link to %.64s up (rtt %u ms%s)", m->name, rtt_ms, link->relayed ? ", through TURN" : "");
        announce_to(self, m->id, true);
        send_announcements(self);
    } else if (!link->up && m->link_up) {
        log_info("link to %.64s down", m->name);
    }
    m->link_up = link->up;
    if (mesh_routes_changed(self->mesh))
        self->update_due = true;
}

void router_mesh_on_frames(router_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
{
    packet_view_t view;
    char why[160];
    if (packet_view_init(&view, hdr, payload, why, sizeof why) < 0) {
        (*self->drop_bad_batch)++;
        return;
    }
    int64_t now = clock_now_ms();
    const uint8_t *frame, *from;
    size_t len;
    while (packet_view_next(&view, &frame, &len, &from)) {
        (*self->announcements_in)++;
        if (!from || len < 1 || frame[0] != MESH_FRAME_ANNOUNCE) {
            self->frame_drops[MESH_DROP_MALFORMED]++;
            continue;
        }
        bool request = false;
        mesh_drop_t rc = mesh_routes_receive(self->mesh, from, frame + 1, len - 1, now, NULL, &request);
        if (rc != MESH_DROP_NONE) {
            self->frame_drops[rc]++;
            if (log_worth_repeating(self->frame_drops[rc])) {
                char hex[ID_HEX_LEN];
                id_to_hex(from, hex);
                log_warn("dropped an announcement from %.16s: %s", hex, mesh_drop_name(rc));
            }
            continue;
        }
        if (request)
            announce_to(self, from, false);
    }
    send_announcements(self);
    // whole announcements dropped, and single entries the table refused, under one counter per reason
    const uint64_t *entry_drops = mesh_routes_entry_drops(self->mesh);
    for (int i = 1; i < MESH_DROP_COUNT; i++)
        *self->drop_announce[i] = self->frame_drops[i] + entry_drops[i];
    if (mesh_routes_changed(self->mesh))
        self->update_due = true;
}

// ---- subnets ----

const uint8_t *router_subnet_owner(const router_t *self, uint32_t dst)
{
    for (size_t i = 0; i < self->subnet_count; i++)   // longest prefix first
        if ((dst & self->subnets[i].mask) == self->subnets[i].addr)
            return self->subnets[i].owner;
    return NULL;
}

// Whether we use a subnet dest's route advertises; why not in why.
static bool subnet_accepted(const router_t *self, const router_member_t *owner, const char *prefix, char *why,
                            size_t why_len)
{
    if (!self->svc->config.routing_accept_routes) {
        snprintf(why, why_len, "routing.accept_routes is false on this node");
        return false;
    }
    uint32_t addr, overlay;
    int len, overlay_len = self->svc->config.overlay_prefix;
    if (ipv4_prefix_from_text(prefix, &addr, &len) == 0 && ipv4_from_text(self->svc->config.overlay_addr, &overlay) == 0 &&
        overlay_len >= 0 && overlay_len <= 32) {
        int shorter = len < overlay_len ? len : overlay_len;   // two prefixes overlap when they agree on the shorter
        if (((addr ^ overlay) & ipv4_prefix_mask(shorter)) == 0) {
            snprintf(why, why_len, "it overlaps the mesh's own addresses: its member could send as any of them");
            return false;
        }
    }
    for (size_t i = 0; owner && i < owner->allowed_count; i++)
        if (strcmp(owner->allowed[i], prefix) == 0)
            return true;
    snprintf(why, why_len, "the mesh admin has not allowed %s to advertise it (weft mesh routes allow)",
             owner ? owner->name : "its owner");
    return false;
}

// ---- the best routes: to the data plane, device and Redis ----

typedef struct {
    router_t *self;
    Weft__MeshRoutes *msg;
    route_view_t *views;
    size_t view_count, view_cap, route_cap;
    int64_t now_mono;
    uint64_t now_unix;
    size_t direct, relayed, subnets, refused;
} collect_ctx_t;

static route_view_t *add_view(collect_ctx_t *ctx)
{
    if (ctx->view_count == ctx->view_cap) {
        size_t cap = ctx->view_cap ? ctx->view_cap * 2 : 16;
        route_view_t *grown = realloc(ctx->views, cap * sizeof *grown);
        if (!grown)
            return NULL;
        ctx->views = grown;
        ctx->view_cap = cap;
    }
    route_view_t *v = &ctx->views[ctx->view_count++];
    memset(v, 0, sizeof *v);
    return v;
}

static uint64_t to_unix(const collect_ctx_t *ctx, int64_t mono_ms)
{
    int64_t ago = ctx->now_mono - mono_ms;
    return ago > 0 && (uint64_t)ago < ctx->now_unix ? ctx->now_unix - (uint64_t)ago : ctx->now_unix;
}

static void collect_route(const mesh_route_t *r, void *arg)
{
    collect_ctx_t *ctx = arg;
    router_t *self = ctx->self;
    router_member_t *m = zhashx_lookup(self->members, r->dest);
    if (!m)
        return;
    bool direct = memcmp(r->via, r->dest, ROUTE_ID_LEN) == 0;
    direct ? ctx->direct++ : ctx->relayed++;
    if (ctx->msg->n_routes < ctx->route_cap) {
        Weft__MeshRoute *mr = malloc(sizeof *mr);
        if (mr) {
            weft__mesh_route__init(mr);
            mr->dest = (ProtobufCBinaryData){ROUTE_ID_LEN, (uint8_t *)r->dest};
            mr->via = (ProtobufCBinaryData){ROUTE_ID_LEN, (uint8_t *)r->via};
            mr->hops = r->hops;
            ctx->msg->routes[ctx->msg->n_routes++] = mr;
        }
    }
    route_view_t *v = add_view(ctx);
    if (v) {
        ipv4_to_text(m->addr, v->dest);
        memcpy(v->peer, r->dest, ROUTE_ID_LEN);
        memcpy(v->next_hop, r->via, ROUTE_ID_LEN);
        v->hops = r->hops;
        v->metric = r->metric;
        v->latency_ms = r->latency_ms;
        v->updated_ms = to_unix(ctx, r->changed_ms);
        v->refreshed_ms = to_unix(ctx, r->refreshed_ms);
        v->expires_ms = direct ? 0 : v->refreshed_ms + (uint64_t)self->svc->config.routing_route_timeout * 1000;
    }
    for (size_t i = 0; i < r->prefix_count; i++) {
        uint32_t addr;
        int plen;
        if (ipv4_prefix_from_text(r->prefixes[i], &addr, &plen) != 0)
            continue;
        route_view_t *sv = add_view(ctx);
        if (!sv)
            break;
        snprintf(sv->dest, sizeof sv->dest, "%s", r->prefixes[i]);
        memcpy(sv->peer, r->dest, ROUTE_ID_LEN);
        memcpy(sv->next_hop, r->via, ROUTE_ID_LEN);
        sv->hops = r->hops;
        sv->metric = r->metric;
        sv->latency_ms = r->latency_ms;
        sv->updated_ms = v ? v->updated_ms : ctx->now_unix;
        sv->refreshed_ms = v ? v->refreshed_ms : ctx->now_unix;
        sv->expires_ms = v ? v->expires_ms : 0;
        sv->subnet = true;
        sv->refused = !subnet_accepted(self, m, r->prefixes[i], sv->why, sizeof sv->why);
        if (sv->refused) {
            ctx->refused++;
            continue;
        }
        if (self->subnet_count < ROUTER_MAX_SUBNETS) {
            router_subnet_t *sn = &self->subnets[self->subnet_count++];
            sn->addr = addr;
            sn->mask = ipv4_prefix_mask(plen);
            memcpy(sn->owner, r->dest, ROUTE_ID_LEN);
            ctx->subnets++;
        }
    }
}

static int subnet_longer_first(const void *a, const void *b)
{
    const router_subnet_t *x = a, *y = b;
    return x->mask == y->mask ? 0 : x->mask > y->mask ? -1 : 1;
}

static void send_mesh_routes(router_t *self, zsock_t *to, Weft__MeshRoutes *msg)
{
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_MESH_ROUTES;
    env.mesh_routes = msg;
    if (wire_send(to, &env, NULL, 0, true) == 0)
        (*self->mesh_routes_out)++;
}

// The best routes now: the subnets accepted, MeshRoutes to the data plane and device, the view in Redis.
static void push_routes(router_t *self, bool save)
{
    size_t n = mesh_routes_count(self->mesh);
    Weft__MeshRoutes msg = WEFT__MESH_ROUTES__INIT;
    msg.routes = calloc(n ? n : 1, sizeof *msg.routes);
    if (!msg.routes) {
        log_error("out of memory for MeshRoutes");
        return;
    }
    collect_ctx_t ctx = {.self = self, .msg = &msg, .route_cap = n, .now_mono = clock_now_ms(), .now_unix = (uint64_t)zclock_time()};
    self->subnet_count = 0;
    mesh_routes_foreach(self->mesh, collect_route, &ctx);
    qsort(self->subnets, self->subnet_count, sizeof self->subnets[0], subnet_longer_first);
    Weft__SubnetRoute subnet_msgs[ROUTER_MAX_SUBNETS], *subnet_ptrs[ROUTER_MAX_SUBNETS];
    char texts[ROUTER_MAX_SUBNETS][20];
    for (size_t i = 0; i < self->subnet_count; i++) {
        weft__subnet_route__init(&subnet_msgs[i]);
        char addr[16];
        ipv4_to_text(self->subnets[i].addr, addr);
        snprintf(texts[i], sizeof texts[i], "%s/%d", addr, __builtin_popcount(self->subnets[i].mask));
        subnet_msgs[i].prefix = texts[i];
        subnet_msgs[i].owner = (ProtobufCBinaryData){ROUTE_ID_LEN, self->subnets[i].owner};
        subnet_ptrs[i] = &subnet_msgs[i];
    }
    msg.subnets = subnet_ptrs;
    msg.n_subnets = self->subnet_count;
    msg.max_hops = (uint32_t)self->svc->config.routing_max_hops;
    msg.relay = self->svc->config.connection_relay_via_peers;
    send_mesh_routes(self, self->dataplane, &msg);
    send_mesh_routes(self, self->device, &msg);
    for (size_t i = 0; i < msg.n_routes; i++)
        free(msg.routes[i]);
    free(msg.routes);
    *self->routes_direct = ctx.direct;
    *self->routes_relayed = ctx.relayed;
    *self->routes_subnet = ctx.subnets;
    *self->routes_refused = ctx.refused;
    *self->routes_count = ctx.direct + ctx.relayed + ctx.subnets;
    snprintf(self->svc->detail, sizeof self->svc->detail, "%zu routes (%zu direct, %zu relayed, %zu subnets%s)%s",
             ctx.direct + ctx.relayed + ctx.subnets, ctx.direct, ctx.relayed, ctx.subnets,
             ctx.refused ? ", some refused" : "",
             self->store ? (self->store_dirty ? " (redis out of date)" : "") : " (redis unreachable)");
    if (save || self->store_dirty) {
        self->store_dirty = !self->store || route_store_sync(self->store, ctx.views, ctx.view_count) != 0;
        if (self->store_dirty && self->store)
            store_link_lost(&self->redis, &self->store, "routes");
    }
    free(ctx.views);
}

void router_mesh_members_changed(router_t *self)
{
    size_t n = zhashx_size(self->members), i = 0;
    uint8_t (*ids)[32] = calloc(n ? n : 1, 32);
    if (!ids) {
        log_error("out of memory for the member ids");
        return;
    }
    for (router_member_t *m = zhashx_first(self->members); m && i < n; m = zhashx_next(self->members))
        memcpy(ids[i++], m->id, 32);
    mesh_routes_set_members(self->mesh, (const uint8_t(*)[32])ids, i, clock_now_ms());
    free(ids);
    self->update_due = true;   // also for a changed allow list: subnets are decided again
}

// ---- timers ----

// Every ROUTER_FAST_TICK_MS: a triggered update when a best route changed.
void router_mesh_fast_tick(router_t *self)
{
    if (!self->update_due && !mesh_routes_changed(self->mesh))
        return;
    self->update_due = false;
    mesh_routes_clear_changed(self->mesh);
    announce_all(self);
    push_routes(self, true);
    self->next_push_ms = clock_now_ms() + ROUTER_PUSH_MS;
}

// Once a second: expiry, the periodic announcements, MeshRoutes said again.
void router_mesh_tick(router_t *self)
{
    int64_t now = clock_now_ms();
    if (mesh_routes_tick(self->mesh, now))
        self->update_due = true;
    if (now >= self->next_announce_ms) {
        self->next_announce_ms = now + (int64_t)self->svc->config.routing_announce_interval * 1000;
        announce_all(self);
    }
    if (now >= self->next_push_ms) {   // a restarted data plane or device learns the routes again
        self->next_push_ms = now + ROUTER_PUSH_MS;
        bool save = now >= self->next_save_ms;   // the routes' ages in Redis, less often
        if (save)
            self->next_save_ms = now + ROUTER_SAVE_MS;
        push_routes(self, save);
    }
}

// Redis answered: routes saved before a restart are used until neighbours say otherwise.
void router_mesh_on_store_connected(router_t *self)
{
    if (self->restored) {   // Redis came back after a loss: write what we know over it
        self->store_dirty = true;
        return;
    }
    self->restored = true;
    route_view_t *views = NULL;
    int n = route_store_load(self->store, &views);
    int64_t now_mono = clock_now_ms();
    uint64_t now_unix = (uint64_t)zclock_time();
    int used = 0;
    for (int i = 0; i < n; i++) {
        const route_view_t *v = &views[i];
        if (v->subnet)
            continue;
        mesh_route_t r;
        memset(&r, 0, sizeof r);
        memcpy(r.dest, v->peer, ROUTE_ID_LEN);
        memcpy(r.via, v->next_hop, ROUTE_ID_LEN);
        r.hops = v->hops;
        r.latency_ms = v->latency_ms;
        r.metric = v->metric;
        uint64_t ago = now_unix > v->refreshed_ms ? now_unix - v->refreshed_ms : 0;
        r.refreshed_ms = r.changed_ms = now_mono - (int64_t)ago;
        for (int k = 0; k < n && r.prefix_count < MESH_MAX_PREFIXES; k++)
            if (views[k].subnet && memcmp(views[k].peer, v->peer, ROUTE_ID_LEN) == 0)
                snprintf(r.prefixes[r.prefix_count++], sizeof r.prefixes[0], "%s", views[k].dest);
        mesh_routes_restore(self->mesh, &r, now_mono);
        used += mesh_routes_best(self->mesh, r.dest) != NULL;
    }
    free(views);
    if (n > 0)
        log_info("redis: %d saved routes, %d used until the neighbours announce again", n, used);
    self->update_due = true;
}
