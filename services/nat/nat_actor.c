// nat_actor.c — the weft-nat actor: its sockets (inbox, control, the GLib thread's event socket, PUSH to
// discovery), the main loop and its timers, the outbound datagram path (crypto -> peers' agents) and the
// Redis connection (peer list at start, path hashes).
#include "nat_actor.h"

#include <string.h>

#include "clock.h"
#include "glib_bridge.h"
#include "log.h"
#include "nat.h"

#define NAT_TICK_MS 100
#define NAT_REDIS_RETRY_MS 1000
#define NAT_INBOX_BURST 64        // messages read per wake-up before looking at other sockets

typedef struct {
    nat_t nat;
    zsock_t *inbox;
    zsock_t *control;
    zsock_t *events;                // PULL from the GLib thread
    zpoller_t *poller;
    int64_t next_tick_ms, next_redis_ms, next_paths_ms;
    bool redis_warned;
    uint64_t *drop_bad_message;
    // outbound run being assembled (no allocation per batch)
    NiceOutputMessage messages[WIRE_MAX_BATCH_PACKETS];
    GOutputVector vectors[WIRE_MAX_BATCH_PACKETS];
} nat_actor_t;

static void register_counters(nat_actor_t *self, service_t *svc)
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
    c->drop_not_weft = service_counter(svc, "drop_not_weft");
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

static void send_batch(nat_actor_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
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
        log_warn("dropped a batch of %zu datagrams without peers (crypto must tag each with its peer)", hdr->n_lengths);
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

// ---------------------------------------------------------------- inbox

static void handle_message(nat_actor_t *self, Weft__Envelope *env, zframe_t *payload)
{
    switch (env->body_case) {
    case WEFT__ENVELOPE__BODY_PACKETS:
        send_batch(self, env->packets, payload);
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

static void drain_inbox(nat_actor_t *self)
{
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
}

static void drain_events(nat_actor_t *self)
{
    while (zsock_events(self->events) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(self->events);
        if (!msg)
            break;
        nat_peers_on_event(&self->nat, msg);
        zmsg_destroy(&msg);
    }
}

static void answer_control(nat_actor_t *self)
{
    glib_bridge_stats_t stats;
    glib_bridge_stats(self->nat.bridge, &stats);
    *self->nat.count.datagrams_in = stats.datagrams_in;
    *self->nat.count.bytes_in = stats.bytes_in;
    *self->nat.count.drop_crypto_full = stats.drop_crypto_full;
    *self->nat.count.drop_not_weft = stats.drop_not_weft;
    service_handle_control(self->nat.svc, self->control);
}

// ---------------------------------------------------------------- Redis

static void try_redis(nat_actor_t *self)
{
    nat_t *nat = &self->nat;
    char url[CONFIG_STR], err[256];
    config_redis_url(&nat->svc->config, url, sizeof url);
    nat->store = store_connect(url, err, sizeof err);
    if (!nat->store) {
        if (!self->redis_warned)
            log_warn("%s; retrying every second", err);
        self->redis_warned = true;
        return;
    }
    log_info("redis: connected to %s", url);
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

static void write_paths(nat_actor_t *self, bool all)
{
    nat_t *nat = &self->nat;
    if (all)
        write_resumes(nat);
    for (size_t i = 0; i < nat->peer_count; i++)
        if ((all || nat->peers[i]->dirty) && nat_path_write(nat, nat->peers[i]) != 0) {
            // Redis is down: try again on the next 2 s pass, not once per peer and loop turn
            for (size_t j = 0; j < nat->peer_count; j++)
                nat->peers[j]->dirty = false;
            return;
        }
}

static void run_timers(nat_actor_t *self)
{
    int64_t now = clock_now_ms();
    if (!self->nat.store && now >= self->next_redis_ms) {
        self->next_redis_ms = now + NAT_REDIS_RETRY_MS;
        try_redis(self);
    }
    if (now >= self->next_tick_ms) {
        self->next_tick_ms = now + NAT_TICK_MS;
        nat_peers_tick(&self->nat, now);
    }
    bool all = now >= self->next_paths_ms;
    if (all)
        self->next_paths_ms = now + NAT_PATH_WRITE_MS;
    write_paths(self, all);
}

// ---------------------------------------------------------------- set-up and loop

static int load_identity(nat_t *nat)
{
    identity_t id;
    char err[256];
    if (identity_load(nat->svc->config.identity_file, &id, err, sizeof err) != 0) {
        log_error("cannot load this node's identity: %s", err);
        return -1;
    }
    memcpy(nat->self_id, id.public_key, WIRE_ID_LEN);
    identity_wipe(&id);
    id_to_hex(nat->self_id, nat->self_hex);
    return 0;
}

static const char *setup(nat_actor_t *self, service_t *svc)
{
    nat_t *nat = &self->nat;
    nat->svc = svc;
    register_counters(self, svc);
    snprintf(svc->detail, sizeof svc->detail, "starting");
    if (load_identity(nat) != 0)
        return "no identity";
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
    if (!self->inbox || !self->control || !nat->discovery)
        return "cannot open the inbox, control or discovery sockets";
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "inproc://weft-nat-events-%p", (void *)self);
    self->events = zsock_new(ZMQ_PULL);
    if (!self->events)
        return "cannot create the event socket";
    zsock_set_rcvhwm(self->events, 0);
    if (zsock_bind(self->events, "%s", endpoint) < 0)
        return "cannot bind the event socket";
    nat->bridge = glib_bridge_new(svc, endpoint);
    if (!nat->bridge)
        return "cannot start the GLib thread";
    log_info("node %.16s; connect timeout %d s", nat->self_hex, svc->config.connect_timeout);
    return NULL;
}

static void teardown(nat_actor_t *self)
{
    nat_peers_destroy_all(&self->nat);          // agents are torn down on the GLib thread...
    glib_bridge_destroy(&self->nat.bridge);     // ...which finishes every queued command before it stops
    portmap_destroy(&self->nat.portmap);        // deletes our mappings on the gateway (also on SIGTERM)
    predict_destroy(&self->nat.predict);
    nat_servers_stop(&self->nat.servers);
    zpoller_destroy(&self->poller);
    zsock_destroy(&self->events);
    zsock_destroy(&self->inbox);
    zsock_destroy(&self->control);
    zsock_destroy(&self->nat.discovery);
    store_destroy(&self->nat.store);
}

static void run(nat_actor_t *self, zsock_t *pipe)
{
    while (true) {
        int64_t wait = self->next_tick_ms - clock_now_ms();
        zsock_t *which = zpoller_wait(self->poller, wait < 0 ? 0 : wait > NAT_TICK_MS ? NAT_TICK_MS : (int)wait);
        if (which == pipe) {
            if (service_pipe_terminated(pipe))
                break;
        } else if (which == self->inbox) {
            drain_inbox(self);
        } else if (which == self->control) {
            answer_control(self);
        } else if (which && which == nat_servers_probe_socket(&self->nat.servers)) {
            nat_servers_on_probe(&self->nat.servers, &self->nat.ice_settings);
        } else if (!which && zpoller_terminated(self->poller)) {
            break;
        }
        drain_events(self);
        run_timers(self);
    }
}

void nat_actor(zsock_t *pipe, void *args)
{
    nat_actor_t *self = calloc(1, sizeof *self);
    if (!self) {
        service_actor_fail(pipe, "out of memory");
        return;
    }
    for (size_t i = 0; i < WIRE_MAX_BATCH_PACKETS; i++) {
        self->messages[i].buffers = &self->vectors[i];
        self->messages[i].n_buffers = 1;
    }
    const char *failure = setup(self, args);
    if (!failure) {
        self->poller = zpoller_new(pipe, self->inbox, self->control, self->events, NULL);
        if (!self->poller)
            failure = "cannot create the poller";
        else if (nat_servers_probe_socket(&self->nat.servers))
            zpoller_add(self->poller, nat_servers_probe_socket(&self->nat.servers));
    }
    if (failure) {
        teardown(self);
        free(self);
        service_actor_fail(pipe, failure);
        return;
    }
    // know the peers before the first datagram from crypto is read, so it can be held, not dropped
    try_redis(self);
    zsock_signal(pipe, 0);
    run(self, pipe);
    teardown(self);
    free(self);
}
