// ice_peer.c — one libnice agent per peer: creation, gathering, remote candidates, the callbacks libnice
// makes on the GLib thread (turned into events for the actor, received datagrams into the inbound batch),
// and teardown. See ice_peer.h for who may call what from which thread.
#include "ice_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdatomic.h>
#include <string.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "identity.h"
#include "log.h"
#include "path_probe.h"
#include "udp_guard.h"
#include "udp_steer.h"
#include "wire.h"

#define ICE_COMPONENT 1
// libnice reads one datagram per call; a batch of 256 arriving at once needs room in the socket buffer
#define ICE_SOCKET_BUFFER (4 * 1024 * 1024)

struct ice_peer {
    glib_bridge_t *bridge;
    NiceAgent *agent;           // set at creation, read-only afterwards
    guint stream_id;
    uint8_t peer[32];
    char peer_hex[ID_HEX_LEN];
    uint64_t serial;
    // GLib thread only
    bool gathered;
    ice_remote_t *pending_remote;   // applied once gathering is done
    ice_settings_t settings;        // the overlay to keep out of ICE, relay policy
    // the one STUN and one TURN server this agent was given (nat_servers.c picks them)
    bool has_stun, has_turn;
    ice_stun_server_t stun;
    ice_turn_server_t turn;
    uint64_t probe_token;           // our pings carry it; a pong without it is not ours
    rate_limit_t handshakes;        // handshake datagrams passed to crypto (glib_bridge_deliver)
    char resume_local[64], resume_remote[64];   // the pair to select at once ("": none), ice_peer_resume_as
    unsigned resume_port;                       // the earlier agent's port, which our host candidates take
    // written by the GLib thread, read by the actor
    _Atomic uint64_t rx_bytes, rx_packets;
    _Atomic int64_t last_rx_ms;     // monotonic ms of the last pong to our own ping (0: none yet)
    _Atomic int64_t rtt_us;         // last measured round trip in µs (-1: none yet)
};

// ---------------------------------------------------------------- remote descriptions

ice_remote_t *ice_remote_new(const char *ufrag, const char *pwd, char *const *candidates, size_t count)
{
    ice_remote_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ufrag = strdup(ufrag);
    self->pwd = strdup(pwd);
    self->candidates = calloc(count ? count : 1, sizeof(char *));
    bool ok = self->ufrag && self->pwd && self->candidates;
    for (size_t i = 0; ok && i < count; i++) {
        self->candidates[i] = strdup(candidates[i]);
        ok = self->candidates[i] != NULL;
        self->candidate_count = i + 1;
    }
    if (!ok)
        ice_remote_destroy(&self);
    return self;
}

ice_remote_t *ice_remote_copy(const ice_remote_t *remote)
{
    return ice_remote_new(remote->ufrag, remote->pwd, remote->candidates, remote->candidate_count);
}

void ice_remote_destroy(ice_remote_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ice_remote_t *self = *self_p;
    for (size_t i = 0; i < self->candidate_count; i++)
        free(self->candidates[i]);
    free(self->candidates);
    free(self->ufrag);
    if (self->pwd) {
        memset(self->pwd, 0, strlen(self->pwd));
        free(self->pwd);
    }
    free(self);
    *self_p = NULL;
}

// ---------------------------------------------------------------- events to the actor

static void event_init(const ice_peer_t *self, ice_event_t *ev, ice_event_type_t type)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->serial = self->serial;
    memcpy(ev->peer, self->peer, 32);
}

static gboolean post_from_glib(gpointer data)
{
    ice_peer_t *self = ((void **)data)[0];
    zmsg_t *msg = ((void **)data)[1];
    glib_bridge_post(self->bridge, &msg);
    free(data);
    return G_SOURCE_REMOVE;
}

// libnice emits signals in the thread that releases the agent's lock; if that ever is the actor's (while
// sending), hand the event to the GLib thread, which alone owns the event socket.
static void post_event(ice_peer_t *self, zmsg_t *msg)
{
    if (g_main_context_is_owner(glib_bridge_context(self->bridge))) {
        glib_bridge_post(self->bridge, &msg);
        return;
    }
    void **data = malloc(2 * sizeof(void *));
    if (!data) {
        zmsg_destroy(&msg);
        return;
    }
    data[0] = self;
    data[1] = msg;
    glib_bridge_invoke(self->bridge, post_from_glib, data);
}

static void post_plain_event(ice_peer_t *self, const ice_event_t *ev)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, ev, sizeof *ev);
    post_event(self, msg);
}

static const char *candidate_type_name(NiceCandidateType type)
{
    switch (type) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    default: return "unknown";
    }
}

static void describe_candidate(const NiceCandidate *cand, char type[8], char addr[64])
{
    snprintf(type, 8, "%s", candidate_type_name(cand->type));
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(&cand->addr, ip);
    unsigned port = nice_address_get_port(&cand->addr);
    if (nice_address_ip_version(&cand->addr) == 6)
        snprintf(addr, 64, "[%s]:%u", ip, port);
    else
        snprintf(addr, 64, "%s:%u", ip, port);
}

static void fill_pair(ice_event_t *ev, const NiceCandidate *local, const NiceCandidate *remote)
{
    if (!local || !remote)
        return;
    ev->has_pair = true;
    snprintf(ev->transport, sizeof ev->transport, "%s", local->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp");
    describe_candidate(local, ev->local_type, ev->local_addr);
    describe_candidate(remote, ev->remote_type, ev->remote_addr);
    if (local->type == NICE_CANDIDATE_TYPE_HOST)
        ev->local_port = nice_address_get_port(&local->addr);
    else if (local->type != NICE_CANDIDATE_TYPE_RELAYED)
        ev->local_port = nice_address_get_port(&local->base_addr);
}

// ---------------------------------------------------------------- libnice callbacks (GLib thread)

static void set_buffer(int fd, int force_option, int option, int size)
{
    // the FORCE variants pass net.core.[rw]mem_max when we have CAP_NET_ADMIN
    if (setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, option, &size, sizeof size);
}

// Gives the selected pair's socket large send and receive buffers.
static void enlarge_socket_buffers(ice_peer_t *self)
{
    GSocket *socket = nice_agent_get_selected_socket(self->agent, self->stream_id, ICE_COMPONENT);
    if (!socket)
        return;
    int fd = g_socket_get_fd(socket);
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, ICE_SOCKET_BUFFER);
    set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, ICE_SOCKET_BUFFER);
    g_object_unref(socket);
}

// Offers every up, non-loopback interface address except the overlay's own (the TUN device and the
// overlay prefix): libnice would otherwise find them itself and could pick a path through the overlay.
static void add_local_addresses(ice_peer_t *self, const ice_settings_t *settings)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) {
        log_warn("peer %.16s: cannot list local addresses: %s", self->peer_hex, strerror(errno));
        return;
    }
    int added = 0;
    for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
            continue;
        if (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6)
            continue;
        if (strcmp(ifa->ifa_name, settings->overlay_device) == 0)
            continue;
        NiceAddress addr;
        nice_address_init(&addr);
        nice_address_set_from_sockaddr(&addr, ifa->ifa_addr);
        char text[NICE_ADDRESS_STRING_LEN];
        nice_address_to_string(&addr, text);
        if (ice_settings_in_overlay(settings, text))
            continue;
        if (nice_agent_add_local_address(self->agent, &addr))
            added++;
    }
    freeifaddrs(list);
    if (!added)
        log_warn("peer %.16s: no local address outside the overlay to offer", self->peer_hex);
}

// The candidate in list whose address reads `addr` (describe_candidate), or NULL.
static NiceCandidate *candidate_at(GSList *list, const char *addr)
{
    for (GSList *it = list; it; it = it->next) {
        char type[8], text[64];
        describe_candidate(it->data, type, text);
        if (strcmp(text, addr) == 0)
            return it->data;
    }
    return NULL;
}

// "ip:port" or "[ip6]:port" (describe_candidate) into addr. Returns false when it is not one.
static bool parse_address(const char *text, NiceAddress *addr)
{
    char ip[64];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof ip)
        return false;
    snprintf(ip, sizeof ip, "%.*s", (int)(colon - text), text);
    if (ip[0] == '[' && ip[strlen(ip) - 1] == ']') {
        memmove(ip, ip + 1, strlen(ip));
        ip[strlen(ip) - 1] = '\0';
    }
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    nice_address_init(addr);
    if (!nice_address_set_from_string(addr, ip) || !end || *end || port == 0 || port > 65535)
        return false;
    nice_address_set_port(addr, (guint)port);
    return true;
}

// The address the kernel would send from to reach `to` (a connected UDP socket's own address; no datagram
// is sent). Returns false when there is no route.
static bool route_source(const NiceAddress *to, NiceAddress *from)
{
    struct sockaddr_storage ss;
    nice_address_copy_to_sockaddr(to, (struct sockaddr *)&ss);
    socklen_t len = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0;
    len = sizeof ss;
    ok = ok && getsockname(fd, (struct sockaddr *)&ss, &len) == 0;
    if (fd >= 0)
        close(fd);
    if (ok)
        nice_address_set_from_sockaddr(from, (struct sockaddr *)&ss);
    return ok;
}

// The resumed pair's local side when the earlier agent's was a reflexive candidate (srflx, prflx, a
// gateway mapping): a resumed agent gathers host candidates only, but its host socket on the earlier
// port is that candidate's base. The UDP host candidate on `port` in the family of `remote`; of several
// (one per interface), the one the kernel routes to `remote` from.
static NiceCandidate *host_on_port(GSList *locals, unsigned port, const NiceAddress *remote)
{
    NiceAddress source;
    bool routed = route_source(remote, &source);
    NiceCandidate *found = NULL;
    for (GSList *it = locals; it; it = it->next) {
        NiceCandidate *cand = it->data;
        if (cand->type != NICE_CANDIDATE_TYPE_HOST || cand->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
            nice_address_get_port(&cand->addr) != port ||
            nice_address_ip_version(&cand->addr) != nice_address_ip_version(remote))
            continue;
        if (routed && nice_address_equal_no_port(&cand->addr, &source))
            return cand;
        if (!found)
            found = cand;
    }
    return found;
}

// Adds the earlier pair's remote address as a remote candidate when the saved description lacks it (the
// peer's agent learned ours from its checks: a peer-reflexive address, behind a NAT that maps per
// destination). libnice takes no prflx remote candidate from the application: it goes in as srflx, which
// it is (the peer's address as its NAT shows it to us). Returns it as the agent now has it, or NULL.
static NiceCandidate *add_resumed_remote(ice_peer_t *self, const NiceAddress *addr)
{
    NiceCandidate *cand = nice_candidate_new(NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE);
    cand->stream_id = self->stream_id;
    cand->component_id = ICE_COMPONENT;
    cand->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    cand->addr = *addr;
    cand->base_addr = *addr;
    cand->priority = (100u << 24) | (65535u << 8) | (256u - ICE_COMPONENT);   // RFC 5245 4.1.2.1, as srflx
    snprintf(cand->foundation, sizeof cand->foundation, "resumed");   // unique: set_selected_pair goes by it
    GSList one = {.data = cand, .next = NULL};
    int added = nice_agent_set_remote_candidates(self->agent, self->stream_id, ICE_COMPONENT, &one);
    nice_candidate_free(cand);
    if (added != 1)
        return NULL;
    GSList *remotes = nice_agent_get_remote_candidates(self->agent, self->stream_id, ICE_COMPONENT);
    NiceCandidate *found = candidate_at(remotes, self->resume_remote);
    found = found ? nice_candidate_copy(found) : NULL;
    g_slist_free_full(remotes, (GDestroyNotify)nice_candidate_free);
    return found;
}

// A resumed agent: select the earlier agent's pair (ice_peer_resume_as) now that both sides are known, at
// once, whether or not the peer's agent sends a check first. A reflexive local candidate becomes the host
// candidate it was based on, and a remote address the saved description lacks is added.
static void select_resumed_pair(ice_peer_t *self)
{
    GSList *locals = nice_agent_get_local_candidates(self->agent, self->stream_id, ICE_COMPONENT);
    GSList *remotes = nice_agent_get_remote_candidates(self->agent, self->stream_id, ICE_COMPONENT);
    NiceAddress remote_addr;
    bool remote_ok = parse_address(self->resume_remote, &remote_addr);
    NiceCandidate *local = candidate_at(locals, self->resume_local);
    NiceCandidate *remote = candidate_at(remotes, self->resume_remote), *added = NULL;
    char local_note[96] = "", remote_note[48] = "";
    if (!local && remote_ok && (local = host_on_port(locals, self->resume_port, &remote_addr)) != NULL) {
        char type[8], text[64];
        describe_candidate(local, type, text);
        snprintf(local_note, sizeof local_note, " (from host %s, the base of %s)", text, self->resume_local);
    }
    if (!remote && remote_ok && (remote = added = add_resumed_remote(self, &remote_addr)) != NULL)
        snprintf(remote_note, sizeof remote_note, " (added as a remote candidate)");
    if (local && remote &&
        nice_agent_set_selected_pair(self->agent, self->stream_id, ICE_COMPONENT, local->foundation, remote->foundation))
        log_info("peer %.16s: selected the resumed pair %s%s -> %s%s", self->peer_hex, self->resume_local, local_note,
                 self->resume_remote, remote_note);
    else
        log_warn("peer %.16s: cannot select the resumed pair %s -> %s (%s); checks decide", self->peer_hex,
                 self->resume_local, self->resume_remote, !remote_ok ? "not an address"
                 : !local ? "no such local candidate" : !remote ? "libnice refused the remote address"
                 : "libnice refused it");
    if (added)
        nice_candidate_free(added);
    g_slist_free_full(locals, (GDestroyNotify)nice_candidate_free);
    g_slist_free_full(remotes, (GDestroyNotify)nice_candidate_free);
}

static void apply_remote(ice_peer_t *self, ice_remote_t *remote)
{
    int bad = 0;
    if (!nice_agent_set_remote_credentials(self->agent, self->stream_id, remote->ufrag, remote->pwd))
        bad++;
    GSList *list = NULL;
    for (size_t i = 0; i < remote->candidate_count; i++) {
        NiceCandidate *cand = nice_agent_parse_remote_candidate_sdp(self->agent, self->stream_id,
                                                                    remote->candidates[i]);
        if (cand) {
            char text[NICE_ADDRESS_STRING_LEN];
            nice_address_to_string(&cand->addr, text);
            if (ice_settings_in_overlay(&self->settings, text)) {  // a path through the overlay: skip
                nice_candidate_free(cand);
                continue;
            }
        }
        if (!cand || cand->component_id != ICE_COMPONENT) {
            if (cand)
                nice_candidate_free(cand);
            bad++;
            continue;
        }
        list = g_slist_prepend(list, cand);
    }
    if (list && nice_agent_set_remote_candidates(self->agent, self->stream_id, ICE_COMPONENT, list) < 0)
        bad += (int)g_slist_length(list);
    g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
    if (bad) {
        log_warn("peer %.16s: libnice refused %d of %zu remote candidates (or the credentials)",
                 self->peer_hex, bad, remote->candidate_count);
        ice_event_t ev;
        event_init(self, &ev, ICE_EVENT_BAD_REMOTE);
        ev.bad_candidates = bad;
        post_plain_event(self, &ev);
    }
    ice_remote_destroy(&remote);
    if (self->resume_local[0])
        select_resumed_pair(self);
}

static void on_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
    ice_peer_t *self = data;
    if (stream_id != self->stream_id)
        return;
    self->gathered = true;
    gchar *ufrag = NULL, *pwd = NULL;
    if (!nice_agent_get_local_credentials(agent, stream_id, &ufrag, &pwd)) {
        log_error("peer %.16s: the agent has no local credentials", self->peer_hex);
        return;
    }
    ice_event_t ev;
    event_init(self, &ev, ICE_EVENT_GATHERED);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, &ev, sizeof ev);
    zmsg_addstr(msg, ufrag);
    zmsg_addstr(msg, pwd);
    memset(pwd, 0, strlen(pwd));
    g_free(ufrag);
    g_free(pwd);
    GSList *locals = nice_agent_get_local_candidates(agent, stream_id, ICE_COMPONENT);
    for (GSList *it = locals; it; it = it->next) {
        const NiceCandidate *cand = it->data;
        if (cand->type == NICE_CANDIDATE_TYPE_RELAYED)
            ev.has_relay = true;
        if (cand->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE)
            ev.has_srflx = true;
    }
    zframe_t *head = zmsg_first(msg);   // the flags are known only now
    memcpy(zframe_data(head), &ev, sizeof ev);
    int added = 0;
    for (GSList *it = locals; it && added < ICE_MAX_CANDIDATES; it = it->next) {
        gchar *sdp = nice_agent_generate_local_candidate_sdp(agent, it->data);
        if (sdp && strlen(sdp) < ICE_MAX_CANDIDATE_LEN) {
            zmsg_addstr(msg, sdp);
            added++;
        }
        g_free(sdp);
    }
    g_slist_free_full(locals, (GDestroyNotify)nice_candidate_free);
    log_debug("peer %.16s: gathered %d candidates", self->peer_hex, added);
    post_event(self, msg);
    if (self->pending_remote) {
        ice_remote_t *remote = self->pending_remote;
        self->pending_remote = NULL;
        apply_remote(self, remote);
    }
}

static void on_state_changed(NiceAgent *agent, guint stream_id, guint component_id, guint state, gpointer data)
{
    ice_peer_t *self = data;
    if (stream_id != self->stream_id || component_id != ICE_COMPONENT)
        return;
    ice_event_t ev;
    event_init(self, &ev, ICE_EVENT_STATE);
    ev.state = (int)state;
    if (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) {
        NiceCandidate *local = NULL, *remote = NULL;
        if (nice_agent_get_selected_pair(agent, stream_id, component_id, &local, &remote))
            fill_pair(&ev, local, remote);
        enlarge_socket_buffers(self);
    }
    post_plain_event(self, &ev);
}

static void on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *local,
                             NiceCandidate *remote, gpointer data)
{
    (void)agent;
    ice_peer_t *self = data;
    if (stream_id != self->stream_id || component_id != ICE_COMPONENT)
        return;
    ice_event_t ev;
    event_init(self, &ev, ICE_EVENT_PAIR);
    fill_pair(&ev, local, remote);
    enlarge_socket_buffers(self);
    post_plain_event(self, &ev);
}

// A probe from the peer's nat: a ping is answered at once with a pong; our own pong gives the RTT.
static void on_probe(ice_peer_t *self, const uint8_t *buf, size_t len, int64_t now)
{
    path_probe_t probe;
    if (!path_probe_decode(buf, len, &probe))
        return;
    if (probe.type == PATH_PROBE_PING) {
        uint8_t out[PATH_PROBE_LEN];
        probe.type = PATH_PROBE_PONG;
        path_probe_encode(&probe, out);
        nice_agent_send(self->agent, self->stream_id, ICE_COMPONENT, sizeof out, (const gchar *)out);
    } else if (probe.token == self->probe_token) {
        int64_t rtt_us = g_get_monotonic_time() - probe.sent_us;   // our pings carry GLib's µs clock
        if (rtt_us < 0 || rtt_us >= 60 * G_USEC_PER_SEC)
            return;
        atomic_store_explicit(&self->rtt_us, rtt_us, memory_order_relaxed);
        // only an answer to our own ping proves the path alive: anyone can send a datagram to our port
        atomic_store_explicit(&self->last_rx_ms, now, memory_order_relaxed);
    }
}

static void on_receive(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf, gpointer data)
{
    (void)agent;
    (void)stream_id;
    (void)component_id;
    ice_peer_t *self = data;
    int64_t now = clock_now_ms();   // the actor's clock too (liveness, RTT)
    atomic_fetch_add_explicit(&self->rx_bytes, len, memory_order_relaxed);
    atomic_fetch_add_explicit(&self->rx_packets, 1, memory_order_relaxed);
    if (path_probe_is_probe_type((const uint8_t *)buf, len)) {
        on_probe(self, (const uint8_t *)buf, len, now);
        return;
    }
    glib_bridge_deliver(self->bridge, self->peer, buf, len, &self->handshakes);
}

// ---------------------------------------------------------------- commands (run on the GLib thread)

typedef struct {
    ice_peer_t *self;
    ice_remote_t *remote;
} remote_command_t;

static gboolean start_on_glib(gpointer data)
{
    remote_command_t *cmd = data;
    ice_peer_t *self = cmd->self;
    self->pending_remote = cmd->remote;
    free(cmd);
    nice_agent_attach_recv(self->agent, self->stream_id, ICE_COMPONENT, glib_bridge_context(self->bridge),
                           on_receive, self);
    if (!nice_agent_gather_candidates(self->agent, self->stream_id)) {
        log_warn("peer %.16s: gathering failed (no usable local address?)", self->peer_hex);
        ice_event_t ev;
        event_init(self, &ev, ICE_EVENT_STATE);
        ev.state = NICE_COMPONENT_STATE_FAILED;
        post_plain_event(self, &ev);
    }
    return G_SOURCE_REMOVE;
}

static gboolean set_remote_on_glib(gpointer data)
{
    remote_command_t *cmd = data;
    ice_peer_t *self = cmd->self;
    ice_remote_t *remote = cmd->remote;
    free(cmd);
    if (!self->gathered) {
        ice_remote_destroy(&self->pending_remote);
        self->pending_remote = remote;
    } else {
        apply_remote(self, remote);
    }
    return G_SOURCE_REMOVE;
}

static gboolean destroy_on_glib(gpointer data)
{
    ice_peer_t *self = data;
    g_signal_handlers_disconnect_by_data(self->agent, self);
    nice_agent_attach_recv(self->agent, self->stream_id, ICE_COMPONENT, glib_bridge_context(self->bridge), NULL, NULL);
    // Not nice_agent_close_async, though it would release a TURN allocation on the server at once: in
    // libnice 0.1.21 it stalled every agent's traffic for about 2 s (measured in test_nat_relay.sh: a
    // 2.1 s ping gap at each switch). The server drops the allocation when its lifetime (coturn: 600 s)
    // runs out; libnice logs "We still have alive TURN refreshes" here.
    nice_agent_remove_stream(self->agent, self->stream_id);
    g_object_unref(self->agent);
    ice_remote_destroy(&self->pending_remote);
    memset(self->turn.pass, 0, sizeof self->turn.pass);
    free(self);
    return G_SOURCE_REMOVE;
}

static void invoke_with_remote(ice_peer_t *self, GSourceFunc func, ice_remote_t *remote)
{
    remote_command_t *cmd = malloc(sizeof *cmd);
    if (!cmd) {
        ice_remote_destroy(&remote);
        return;
    }
    cmd->self = self;
    cmd->remote = remote;
    glib_bridge_invoke(self->bridge, func, cmd);
}

// ---------------------------------------------------------------- actor-side API

static void configure_servers(ice_peer_t *self)
{
    if (self->has_stun)
        g_object_set(self->agent, "stun-server", self->stun.ip, "stun-server-port", self->stun.port, NULL);
    if (self->has_turn &&
        !nice_agent_set_relay_info(self->agent, self->stream_id, ICE_COMPONENT, self->turn.ip, self->turn.port,
                                   self->turn.user, self->turn.pass,
                                   self->turn.tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP))
        log_warn("peer %.16s: libnice refused the TURN server %s", self->peer_hex, self->turn.name);
}

ice_peer_t *ice_peer_new(glib_bridge_t *bridge, const ice_settings_t *settings, const ice_stun_server_t *stun,
                         const ice_turn_server_t *turn, const uint8_t peer[32], bool controlling, uint64_t serial)
{
    ice_peer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->bridge = bridge;
    memcpy(self->peer, peer, 32);
    id_to_hex(peer, self->peer_hex);
    self->serial = serial;
    self->agent = nice_agent_new(glib_bridge_context(bridge), NICE_COMPATIBILITY_RFC5245);
    if (!self->agent) {
        log_error("peer %.16s: cannot create a libnice agent", self->peer_hex);
        free(self);
        return NULL;
    }
    // stun-max-retransmissions 3 (200+400+800+1600 ms): a STUN/TURN server or a candidate pair that does
    // not answer is given up after about 3 s instead of libnice's default of about 25 s, so a dead server
    // does not hold back gathering (and the offer) for long; nat_servers.c then moves to the next one.
    g_object_set(self->agent, "controlling-mode", controlling ? TRUE : FALSE, "keepalive-conncheck", TRUE,
                 "ice-tcp", settings->ice_tcp ? TRUE : FALSE, "force-relay", settings->relay_only ? TRUE : FALSE,
                 "stun-max-retransmissions", 3, "upnp", FALSE, NULL);
    self->stream_id = nice_agent_add_stream(self->agent, 1);
    if (self->stream_id == 0) {
        log_error("peer %.16s: libnice cannot add a stream", self->peer_hex);
        g_object_unref(self->agent);
        free(self);
        return NULL;
    }
    self->settings = *settings;
    memset(self->settings.turn, 0, sizeof self->settings.turn);        // no copies of passwords beyond
    memset(self->settings.hub_turn, 0, sizeof self->settings.hub_turn);   // the one this agent uses
    self->has_stun = stun != NULL;
    if (stun)
        self->stun = *stun;
    self->has_turn = turn != NULL && settings->relay_allowed;
    if (self->has_turn)
        self->turn = *turn;
    randombytes_buf(&self->probe_token, sizeof self->probe_token);
    atomic_store(&self->rtt_us, -1);
    configure_servers(self);
    add_local_addresses(self, settings);
    g_signal_connect(self->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), self);
    g_signal_connect(self->agent, "component-state-changed", G_CALLBACK(on_state_changed), self);
    g_signal_connect(self->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), self);
    return self;
}

void ice_peer_resume_as(ice_peer_t *self, const char *ufrag, const char *pwd, unsigned port, const char *local_addr,
                        const char *remote_addr)
{
    snprintf(self->resume_local, sizeof self->resume_local, "%s", local_addr);
    snprintf(self->resume_remote, sizeof self->resume_remote, "%s", remote_addr);
    self->resume_port = port;
    // the agent has not started: no GLib callback can run yet, as in ice_peer_new
    if (!nice_agent_set_local_credentials(self->agent, self->stream_id, ufrag, pwd))
        log_warn("peer %.16s: libnice refused the earlier agent's credentials", self->peer_hex);
    if (port > 0 && port <= 65535)
        nice_agent_set_port_range(self->agent, self->stream_id, ICE_COMPONENT, port, port);
}

void ice_peer_start(ice_peer_t *self, ice_remote_t *remote)
{
    invoke_with_remote(self, start_on_glib, remote);
}

void ice_peer_set_remote(ice_peer_t *self, ice_remote_t *remote)
{
    invoke_with_remote(self, set_remote_on_glib, remote);
}

void ice_peer_destroy(ice_peer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ice_peer_t *self = *self_p;
    *self_p = NULL;
    glib_bridge_invoke(self->bridge, destroy_on_glib, self);
}

int ice_peer_send(ice_peer_t *self, const NiceOutputMessage *messages, unsigned count)
{
    GError *error = NULL;
    gint sent = nice_agent_send_messages_nonblocking(self->agent, self->stream_id, ICE_COMPONENT, messages, count,
                                                     NULL, &error);
    if (error) {
        if (sent < 0)
            log_debug("peer %.16s: send failed: %s", self->peer_hex, error->message);
        g_error_free(error);
    }
    return sent;
}

void ice_peer_rx(ice_peer_t *self, uint64_t *bytes, uint64_t *packets)
{
    *bytes = atomic_load_explicit(&self->rx_bytes, memory_order_relaxed);
    *packets = atomic_load_explicit(&self->rx_packets, memory_order_relaxed);
}

int64_t ice_peer_last_rx_ms(ice_peer_t *self)
{
    return atomic_load_explicit(&self->last_rx_ms, memory_order_relaxed);
}

int64_t ice_peer_rtt_us(ice_peer_t *self)
{
    return atomic_load_explicit(&self->rtt_us, memory_order_relaxed);
}

int ice_peer_send_probe(ice_peer_t *self, int64_t now_ms)
{
    (void)now_ms;   // the probe carries the µs clock (GLib's monotonic time), for sub-ms round trips
    path_probe_t probe = {.type = PATH_PROBE_PING, .token = self->probe_token, .sent_us = g_get_monotonic_time()};
    uint8_t out[PATH_PROBE_LEN];
    path_probe_encode(&probe, out);
    GOutputVector vector = {out, sizeof out};
    NiceOutputMessage message = {&vector, 1};
    return ice_peer_send(self, &message, 1) == 1 ? 0 : -1;
}

int ice_peer_share_selected_socket(ice_peer_t *self, char *bound, size_t bound_len, char *err, size_t err_len)
{
    GSocket *socket = nice_agent_get_selected_socket(self->agent, self->stream_id, ICE_COMPONENT);
    if (!socket) {
        snprintf(err, err_len, "libnice has no socket of its own for the selected pair (relayed or TCP)");
        return -1;
    }
    int fd = g_socket_get_fd(socket);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    int rc = -1;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, err_len, "cannot read the selected socket's address: %s", strerror(errno));
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(bound, bound_len, "%s:%u", ip, ntohs(in->sin_port));
        rc = 0;
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        if (in6->sin6_scope_id)   // link-local: crypto binds and sends on this interface
            snprintf(bound, bound_len, "[%s%%%u]:%u", ip, (unsigned)in6->sin6_scope_id, ntohs(in6->sin6_port));
        else
            snprintf(bound, bound_len, "[%s]:%u", ip, ntohs(in6->sin6_port));
        rc = 0;
    } else {
        snprintf(err, err_len, "the selected socket is not an IP socket (family %d)", (int)ss.ss_family);
    }
    if (rc == 0)
        rc = udp_steer_share(fd, err, err_len);
    char guard_err[160];
    if (rc == 0 && udp_guard_attach(fd, guard_err, sizeof guard_err) != 0)   // not fatal: nat checks again
        log_warn("peer %.16s: %s; junk sent to the path's port reaches nat", self->peer_hex, guard_err);
    g_object_unref(socket);
    return rc;
}

const char *ice_peer_turn_name(const ice_peer_t *self)
{
    return self->has_turn ? self->turn.name : "";
}

const char *ice_peer_stun_name(const ice_peer_t *self)
{
    return self->has_stun ? self->stun.name : "";
}
