// nat_actor.c — the weft-nat actor: its sockets (inbox, control, the GLib thread's event socket, PUSH to
// discovery, the data plane and router), the actor loop's handlers and timer, the outbound datagram path (the data
// plane -> peers' agents), the links reported to router
// and the Redis connection (peer list at start, path hashes).
//   inbox: PacketBatch (from the data plane: datagrams of peers without a direct path of its own, crypto's
//          handshakes among them; each tagged with its peer) -> the peer's ICE agent
//   inbox: PeerList (from discovery) -> the peer table (nat_peers.c)
//   inbox: Signal (from the hub, through discovery) -> the peer's ICE state machine
//   inbox: TurnCredentials (from discovery) -> the hub's TURN servers (nat_servers.c)
//   events (from the GLib thread): agent events -> the peer table
#include "nat_actor.h"

#include <string.h>

#include "actor_loop.h"
#include "clock.h"
#include "glib_bridge.h"
#include "log.h"
#include "nat.h"
#include "nat_agent.h"
#include "nat_direct.h"
#include "nat_path.h"
#include "nat_peers.h"
#include "nat_resume.h"
#include "store_link.h"

#define NAT_TICK_MS 100
#define NAT_INBOX_BURST 64        // messages read per wake-up before looking at other sockets

typedef struct {
    nat_t nat;
    zsock_t *inbox;
    zsock_t *control;
    zsock_t *events;                // PULL from the GLib thread
    store_link_t redis;             // when to try Redis again (nat.store is NULL until it answers)
    int64_t next_paths_ms;          // monotonic: next write of every path hash
    uint64_t *drop_bad_message;
    // outbound run being assembled (no allocation per batch)
    NiceOutputMessage messages[WIRE_MAX_BATCH_PACKETS];
    GOutputVector vectors[WIRE_MAX_BATCH_PACKETS];
} nat_actor_t;

static void nat_register_counters(nat_actor_t *self, service_t *svc)
{
    nat_counters_t *c = &self->nat.count;
    c->datagrams_out = service_counter(svc, "datagrams_out");
    c->datagrams_in = service_counter(svc, "datagrams_in");
    c->bytes_out = service_counter(svc, "bytes_out");
    c->bytes_in = service_counter(svc, "bytes_in");
    c->drop_no_path = service_counter(svc, "drop_no_path");
    c->drop_send_error = service_counter(svc, "drop_send_error");
    c->drop_bad_batch = service_counter(svc, "drop_bad_batch");
    c->drop_crypto_full = service_counter(svc, "drop_crypto_full");
    c->direct_handovers = service_counter(svc, "direct_handovers");
    c->drop_direct_out = service_counter(svc, "drop_direct_out");
    c->drop_not_weft = service_counter(svc, "drop_not_weft");
    c->drop_handshake_flood = service_counter(svc, "drop_handshake_flood");
    c->signals_out = service_counter(svc, "signals_out");
    c->signals_in = service_counter(svc, "signals_in");
    c->signals_stale = service_counter(svc, "signals_stale");
    c->signals_bad = service_counter(svc, "signals_bad");
    c->signals_unknown_peer = service_counter(svc, "signals_unknown_peer");
    c->drop_signal_out = service_counter(svc, "drop_signal_out");
    c->agents_created = service_counter(svc, "agents_created");
    c->ice_restarts = service_counter(svc, "ice_restarts");
    c->peers_connected = service_counter(svc, "peers_connected");
    c->peerlist_bad = service_counter(svc, "peerlist_bad");
    self->drop_bad_message = service_counter(svc, "drop_bad_message");
    c->held = service_counter(svc, "held_no_path");
    c->held_sent = service_counter(svc, "held_sent");
    c->peers_direct = service_counter(svc, "peers_direct");
    c->peers_relay = service_counter(svc, "peers_relay");
    c->paths_died = service_counter(svc, "paths_died");
    c->links_sent = service_counter(svc, "links_sent");
    c->links_dropped = service_counter(svc, "links_dropped");
    c->probes_sent = service_counter(svc, "probes_sent");
    c->trials = service_counter(svc, "trials");
    c->trials_promoted = service_counter(svc, "trials_promoted");
}

// ---------------------------------------------------------------- outbound datagrams

// Sends `count` datagrams (already in self->vectors) to one peer.
static void send_run(nat_actor_t *self, const uint8_t *peer_id, size_t count)
{
    nat_t *nat = &self->nat;
    nat_peer_t *peer = peer_id ? nat_peer_find(nat, peer_id) : NULL;
    if (!peer || !nat_peer_usable(peer)) {
        int64_t now = clock_now_ms();
        for (size_t i = 0; i < count; i++)
            if (!peer || !nat_peer_hold(nat, peer, self->vectors[i].buffer, self->vectors[i].size, now))
                (*nat->count.drop_no_path)++;
        return;
    }
    int sent = ice_peer_send(peer->ice, self->messages, (unsigned)count);
    size_t ok = sent > 0 ? (size_t)sent : 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < ok; i++)
        bytes += self->vectors[i].size;
    *nat->count.datagrams_out += ok;
    *nat->count.bytes_out += bytes;
    *nat->count.drop_send_error += count - ok;
    peer->tx_packets += ok;
    peer->tx_bytes += bytes;
    if (ok)
        peer->last_tx_ms = clock_now_ms();
}

// A batch from the data plane: each run of datagrams for one peer goes to its agent in one call.
static void send_datagrams(nat_actor_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
{
    packet_view_t view;
    char why[160];
    if (packet_view_init(&view, hdr, payload, why, sizeof why) != 0) {
        (*self->nat.count.drop_bad_batch)++;
        log_warn("dropped a packet batch: %s", why);
        return;
    }
    if (hdr->n_lengths && !hdr->n_peer_index) {
        (*self->nat.count.drop_bad_batch)++;
        log_warn("dropped a batch of %zu datagrams without peers (every sender must tag each with its peer)", hdr->n_lengths);
        return;
    }
    if (hdr->direction != WEFT__PACKET_BATCH__DIRECTION__OUTBOUND) {
        (*self->nat.count.drop_bad_batch)++;
        log_warn("dropped a batch of %zu datagrams not marked outbound (direction %d)", hdr->n_lengths,
                 (int)hdr->direction);
        return;
    }
    const uint8_t *pkt, *peer, *run_peer = NULL;
    size_t len, run = 0;
    while (packet_view_next(&view, &pkt, &len, &peer)) {
        if (run && (peer != run_peer || run == WIRE_MAX_BATCH_PACKETS)) {
            send_run(self, run_peer, run);
            run = 0;
        }
        run_peer = peer;
        self->vectors[run].buffer = pkt;
        self->vectors[run].size = len;
        run++;
    }
    if (run)
        send_run(self, run_peer, run);
}

// ---------------------------------------------------------------- inbox and events

static void handle_message(nat_actor_t *self, Weft__Envelope *env, zframe_t *payload)
{
    switch (env->body_case) {
    case WEFT__ENVELOPE__BODY_PACKETS:
        send_datagrams(self, env->packets, payload);
        break;
    case WEFT__ENVELOPE__BODY_PEERS:
        self->nat.have_peer_list = true;
        nat_servers_take_hub_stun(&self->nat.servers, &self->nat.ice_settings, self->nat.svc->config.hub_endpoint,
                                  env->peers->hub_stun_port);
        nat_peers_update(&self->nat, env->peers, "PeerList from discovery");
        break;
    case WEFT__ENVELOPE__BODY_SIGNAL:
        nat_peers_on_signal(&self->nat, env->signal);
        break;
    case WEFT__ENVELOPE__BODY_TURN_CREDENTIALS:
        nat_servers_take_hub_turn(&self->nat.servers, &self->nat.ice_settings, env->turn_credentials);
        break;
    default:
        (*self->drop_bad_message)++;
        log_warn("dropped an inbox message of type %d (want PacketBatch, PeerList or Signal)", (int)env->body_case);
        break;
    }
}

static int on_inbox(void *arg)
{
    nat_actor_t *self = arg;
    for (int i = 0; i < NAT_INBOX_BURST && (zsock_events(self->inbox) & ZMQ_POLLIN); i++) {
        zframe_t *payload = NULL;
        Weft__Envelope *env = wire_recv(self->inbox, &payload);
        if (!env) {
            (*self->drop_bad_message)++;
            continue;
        }
        handle_message(self, env, payload);
        zframe_destroy(&payload);
        weft__envelope__free_unpacked(env, NULL);
    }
    return 0;
}

static int on_events(void *arg)
{
    nat_actor_t *self = arg;
    while (zsock_events(self->events) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(self->events);
        if (!msg)
            break;
        nat_peers_on_event(&self->nat, msg);
        zmsg_destroy(&msg);
    }
    return 0;
}

static int on_probe(void *arg)
{
    nat_actor_t *self = arg;
    nat_servers_on_probe(&self->nat.servers, &self->nat.ice_settings);
    return 0;
}

// Before a status answer: the GLib thread's counters.
static int before_status(void *arg)
{
    nat_actor_t *self = arg;
    glib_bridge_stats_t stats;
    glib_bridge_stats(self->nat.bridge, &stats);
    *self->nat.count.datagrams_in = stats.datagrams_in;
    *self->nat.count.bytes_in = stats.bytes_in;
    *self->nat.count.drop_crypto_full = stats.drop_crypto_full;
    *self->nat.count.drop_not_weft = stats.drop_not_weft;
    *self->nat.count.drop_handshake_flood = stats.drop_handshake_flood;
    return 0;
}

// ---------------------------------------------------------------- Redis

// Connects to Redis if we are not and the back-off allows; when it answers, the peer list it holds (if
// discovery has not sent one yet) and every path hash written again.
static void connect_redis(nat_actor_t *self)
{
    nat_t *nat = &self->nat;
    if (store_link_connect(&self->redis, &nat->store) != STORE_LINK_NEW)
        return;
    if (!nat->have_peer_list) {
        Weft__PeerList *list = store_load_peers(nat->store);
        if (list) {
            log_info("redis: %zu peers from weft:peers", list->n_peers);
            nat_peers_update(nat, list, "weft:peers in Redis");
            weft__peer_list__free_unpacked(list, NULL);
        }
    }
    for (size_t i = 0; i < nat->peer_count; i++)
        nat->peers[i]->dirty = true;
}

// Every 2 s: weft:remote:<id> of each path that is up over a description we can resume (nat_resume.c)
static void write_resumes(nat_t *nat)
{
    for (size_t i = 0; i < nat->peer_count; i++) {
        const nat_peer_t *peer = nat->peers[i];
        if (nat_peer_usable(peer) && peer->resume.remote && strcmp(peer->resume.local_ufrag, peer->local_ufrag) == 0 &&
            nat_resume_write(nat, peer) != 0)
            return;
    }
}

// Each peer's path as a link of the mesh, to router: the ones that changed on every tick, all of them
// every NAT_PATH_WRITE_MS (a restarted router learns its links within that). Before write_paths, which
// clears the dirty marks.
static void send_links(nat_actor_t *self, bool all)
{
    nat_t *nat = &self->nat;
    for (size_t i = 0; i < nat->peer_count; i++) {
        nat_peer_t *peer = nat->peers[i];
        if (!all && !peer->dirty)
            continue;
        bool up = nat_peer_usable(peer);
        Weft__LinkState link = WEFT__LINK_STATE__INIT;
        link.peer = (ProtobufCBinaryData){WIRE_ID_LEN, peer->id};
        link.up = up;
        link.rtt_us = up && peer->rtt_us > 0 ? (uint32_t)(peer->rtt_us > UINT32_MAX ? UINT32_MAX : peer->rtt_us) : 0;
        link.relayed = up && nat_peer_on_relay(peer);
        Weft__Envelope env = WEFT__ENVELOPE__INIT;
        env.body_case = WEFT__ENVELOPE__BODY_LINK_STATE;
        env.link_state = &link;
        if (wire_send(nat->router, &env, NULL, 0, true) != 0)
            (*nat->count.links_dropped)++;
        else
            (*nat->count.links_sent)++;
    }
}

static void write_paths(nat_actor_t *self, bool all)
{
    nat_t *nat = &self->nat;
    if (all)
        write_resumes(nat);
    for (size_t i = 0; i < nat->peer_count; i++)
        if ((all || nat->peers[i]->dirty) && nat_path_write(nat, nat->peers[i]) != 0) {
            // Redis is down: try again on the next 2 s pass, not once per peer and tick
            for (size_t j = 0; j < nat->peer_count; j++)
                nat->peers[j]->dirty = false;
            return;
        }
}

// Every NAT_TICK_MS: Redis, the peers' timers, the path hashes that changed (all of them every 2 s).
static int on_tick(void *arg)
{
    nat_actor_t *self = arg;
    int64_t now = clock_now_ms();
    connect_redis(self);
    nat_peers_tick(&self->nat, now);
    nat_direct_sync(&self->nat, now);
    bool all = now >= self->next_paths_ms;
    if (all)
        self->next_paths_ms = now + NAT_PATH_WRITE_MS;
    send_links(self, all);
    write_paths(self, all);
    return 0;
}

// ---------------------------------------------------------------- life cycle

static int load_identity(nat_t *nat, char *why, size_t why_len)
{
    if (identity_load_id(nat->svc->config.identity_file, nat->self_id, why, why_len) != 0)
        return -1;
    id_to_hex(nat->self_id, nat->self_hex);
    return 0;
}

static void nat_destroy(nat_actor_t **self_p)
{
    nat_actor_t *self = *self_p;
    if (!self)
        return;
    nat_peers_destroy_all(&self->nat);          // agents are torn down on the GLib thread...
    glib_bridge_destroy(&self->nat.bridge);     // ...which finishes every queued command before it stops
    portmap_destroy(&self->nat.portmap);        // deletes our mappings on the gateway (also on SIGTERM)
    predict_destroy(&self->nat.predict);
    nat_servers_stop(&self->nat.servers);
    zsock_destroy(&self->events);
    zsock_destroy(&self->inbox);
    zsock_destroy(&self->control);
    zsock_destroy(&self->nat.discovery);
    zsock_destroy(&self->nat.dataplane);
    zsock_destroy(&self->nat.router);
    store_destroy(&self->nat.store);
    free(self);
    *self_p = NULL;
}

// The actor's state, sockets, GLib thread and probes. Returns NULL with why filled.
static nat_actor_t *nat_new(service_t *svc, char *why, size_t why_len)
{
    nat_actor_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < WIRE_MAX_BATCH_PACKETS; i++) {
        self->messages[i].buffers = &self->vectors[i];
        self->messages[i].n_buffers = 1;
    }
    nat_t *nat = &self->nat;
    nat->svc = svc;
    nat_register_counters(self, svc);
    snprintf(svc->detail, sizeof svc->detail, "starting");
    char url[CONFIG_STR];
    config_redis_url(&svc->config, url, sizeof url);
    store_link_init(&self->redis, url);
    if (load_identity(nat, why, why_len) != 0) {
        nat_destroy(&self);
        return NULL;
    }
    ice_settings_from_config(&nat->ice_settings, &svc->config);
    // mapped and predicted candidates are direct paths: not when only relayed paths are wanted
    bool direct = svc->config.connection_direct && strcmp(svc->config.connection_relay, "only") != 0;
    if (direct && svc->config.port_mapping)
        nat->portmap = portmap_new();
    if (direct && svc->config.port_prediction)
        nat->predict = predict_new(svc->config.stun_servers, svc->config.stun_server_count);
    nat_servers_start(&nat->servers, &nat->ice_settings);
    self->inbox = service_bind_inbox(svc);
    self->control = service_bind_control(svc);
    nat->discovery = service_connect_inbox(svc, SVC_DISCOVERY);
    nat->dataplane = service_connect_inbox(svc, SVC_DATAPLANE);
    nat->router = service_connect_inbox(svc, SVC_ROUTER);
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "inproc://weft-nat-events-%p", (void *)self);
    self->events = zsock_new(ZMQ_PULL);
    if (!self->inbox || !self->control || !nat->discovery || !nat->dataplane || !nat->router || !self->events) {
        snprintf(why, why_len, "cannot open the inbox, control, discovery, dataplane, router or event sockets");
        nat_destroy(&self);
        return NULL;
    }
    zsock_set_rcvhwm(self->events, 0);
    if (zsock_bind(self->events, "%s", endpoint) < 0 || !(nat->bridge = glib_bridge_new(svc, endpoint))) {
        snprintf(why, why_len, "cannot bind the event socket or start the GLib thread");
        nat_destroy(&self);
        return NULL;
    }
    nat_direct_withdraw_all(nat);   // before any agent binds a port an earlier nat's path used
    log_info("node %.16s; connect timeout %d s", nat->self_hex, svc->config.connect_timeout);
    return self;
}

void nat_actor(zsock_t *pipe, void *args)
{
    service_t *svc = args;
    char why[512];
    nat_actor_t *self = nat_new(svc, why, sizeof why);
    if (!self) {
        service_actor_fail(pipe, why);
        return;
    }
    // know the peers before the first datagram from the data plane is read, so it can be held, not dropped
    connect_redis(self);
    zsock_t *probe = nat_servers_probe_socket(&self->nat.servers);
    actor_loop_t *loop = actor_loop_new(pipe, svc, self->control, self);
    if (!loop || actor_loop_on_socket(loop, self->inbox, on_inbox) != 0 ||
        actor_loop_on_socket(loop, self->events, on_events) != 0 ||
        (probe && actor_loop_on_socket(loop, probe, on_probe) != 0) || actor_loop_every(loop, NAT_TICK_MS, on_tick) != 0) {
        actor_loop_destroy(&loop);
        nat_destroy(&self);
        service_actor_fail(pipe, "cannot set up the actor loop");
        return;
    }
    actor_loop_before_status(loop, before_status);
    zsock_signal(pipe, 0);
    actor_loop_run(loop);
    actor_loop_destroy(&loop);
    nat_destroy(&self);
}
