// device_actor.c — the weft-device actor: the TUN fd and the packet batches that cross it.
//   TUN -> read up to DEVICE_READ_BURST packets per wake-up -> PacketBatch(es) -> router inbox
//   device inbox (PacketBatch from the data plane) -> one write() per packet (offload: per merged run) -> TUN
// With device.offload the TUN has IFF_VNET_HDR and TSO/checksum offload: a read gives a virtio_net_hdr and
// a packet of up to 64 KiB, which segment.c splits (or finishes the checksum of) straight into the batch;
// on the way in, coalesce.c merges runs of consecutive TCP segments of one flow into one GSO super-packet
// (receive-side GRO) and every write carries a virtio_net_hdr (zeroed for packets written as they are).
// With device.mode tap the device is a TAP (Ethernet frames, no offload): ether.c strips and adds the
// Ethernet header and answers the kernel's ARP requests for the overlay's addresses.
// In tun mode device also lends its TUN fd to the data plane (weft-dataplane) on a unix socket (tun_lend.h): while it is lent device
// does not read the TUN (the data plane does, and writes it), and it reads again when that connection closes.
// Subnet routes: the router's MeshRoutes (inbox) name the accepted subnets of other members, which
// subnet_routes.c keeps as kernel routes on the device; an advertising node forwards (subnet_forward.c).
#include "device_actor.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "actor_loop.h"
#include "ether.h"
#include "log.h"
#include "route_table.h"
#include "segment.h"
#include "service.h"
#include "subnet_forward.h"
#include "subnet_routes.h"
#include "tun.h"
#include "tun_io.h"
#include "tun_lend.h"
#include "wire.h"

#define DEVICE_READ_BURST 64       // packets read per wake-up, sent as one batch
#define DEVICE_MAX_PACKET 65535    // largest IPv4 packet: a read never truncates

typedef struct {
    service_t *svc;
    tun_t *tun;
    zsock_t *inbox;
    zsock_t *control;
    zsock_t *router;               // PUSH to the router's inbox
    packet_batch_t *batch;         // packets read from TUN, on their way to the router
    size_t mtu;
    bool offload;                  // the TUN has IFF_VNET_HDR (reads and writes carry a virtio_net_hdr)
    tun_io_t *io;                  // tun mode: batched reads and writes, offloads (lib/tun_io.h)
    // counters (pointers into svc->counters, stable for the service's life)
    uint64_t *packets_in, *bytes_in, *batches_out, *packets_out, *bytes_out, *batches_in;
    uint64_t *drop_queue_full, *drop_bad_batch, *drop_bad_packet, *drop_too_big, *drop_write_error;
    uint64_t *drop_read_error, *drop_bad_message, *ignored_messages;
    uint64_t *gso_packets_in, *segments_out, *drop_bad_gso, *csum_completed;
    uint64_t *gro_packets_out, *gro_segments_in;
    bool tap;                       // a TAP device: frames in and out (ether.h)
    uint8_t mac[ETHER_ADDR_LEN];    // tap: the device's own MAC, the destination of frames we write
    uint32_t self_addr, net, mask;  // tap: our overlay address and prefix (host order), for ARP
    uint64_t *arp_replies, *drop_not_ipv4_frame;
    actor_loop_t *loop;             // the actor's loop: the TUN reader comes off it while the fd is lent
    tun_lend_t *lend;               // tun mode: the lending socket (NULL in tap mode, or if it cannot listen)
    char lend_tag[256];             // what the lent fd is (tun_lend.h)
    char detail[400];               // the status detail when the TUN is not lent
    uint64_t *tun_lends, *tun_takebacks, *tun_lend_refused;   // lent now: lends > takebacks
    bool lent;                      // the TUN is lent to the data plane now
    subnet_routes_t *subnets;       // kernel routes for other members' accepted subnets
    subnet_forward_t *forward;      // this node's advertised subnets: ip_forward, masquerade
    uint64_t *subnet_updates, *subnet_routes, *subnet_route_errors, *subnet_bad;
} device_t;



static void device_register_counters(device_t *self)
{
    service_t *svc = self->svc;
    self->packets_in = service_counter(svc, "packets_in");
    self->bytes_in = service_counter(svc, "bytes_in");
    self->batches_out = service_counter(svc, "batches_out");
    self->packets_out = service_counter(svc, "packets_out");
    self->bytes_out = service_counter(svc, "bytes_out");
    self->batches_in = service_counter(svc, "batches_in");
    self->drop_queue_full = service_counter(svc, "drop_queue_full");
    self->drop_bad_batch = service_counter(svc, "drop_bad_batch");
    self->drop_bad_packet = service_counter(svc, "drop_bad_packet");
    self->drop_too_big = service_counter(svc, "drop_too_big");
    self->drop_write_error = service_counter(svc, "drop_write_error");
    self->drop_read_error = service_counter(svc, "drop_read_error");
    self->drop_bad_message = service_counter(svc, "drop_bad_message");
    self->ignored_messages = service_counter(svc, "ignored_messages");
    self->gso_packets_in = service_counter(svc, "gso_packets_in");
    self->segments_out = service_counter(svc, "segments_out");
    self->drop_bad_gso = service_counter(svc, "drop_bad_gso");
    self->csum_completed = service_counter(svc, "csum_completed");
    self->gro_packets_out = service_counter(svc, "gro_packets_out");
    self->gro_segments_in = service_counter(svc, "gro_segments_in");
    self->arp_replies = service_counter(svc, "arp_replies");
    self->drop_not_ipv4_frame = service_counter(svc, "drop_not_ipv4_frame");
    self->tun_lends = service_counter(svc, "tun_lends");
    self->tun_takebacks = service_counter(svc, "tun_takebacks");
    self->tun_lend_refused = service_counter(svc, "tun_lend_refused");
    self->subnet_updates = service_counter(svc, "subnet_updates");
    self->subnet_routes = service_counter(svc, "subnet_routes");
    self->subnet_route_errors = service_counter(svc, "subnet_route_errors");
    self->subnet_bad = service_counter(svc, "subnet_bad");
}

// The status detail: the device, whether it is lent, and the subnet routes and forwarding when there are any.
static void device_show_detail(device_t *self)
{
    char subnets[200] = "", lent[40] = "";
    if (self->lent)
        snprintf(lent, sizeof lent, ", tun lent to the data plane");
    const char *error = self->subnets ? subnet_routes_error(self->subnets) : "";
    if (self->subnets && (subnet_routes_installed(self->subnets) || error[0]))
        snprintf(subnets, sizeof subnets, ", %zu subnet route(s)%s%.150s", subnet_routes_installed(self->subnets),
                 error[0] ? "; " : "", error);
    const char *fwd = self->forward ? subnet_forward_note(self->forward) : "";
    snprintf(self->svc->detail, sizeof self->svc->detail, "%s%s%s%s%s", self->detail, lent, subnets, fwd[0] ? ", " : "",
             fwd);
}

static void device_destroy(device_t **self_p)
{
    device_t *self = *self_p;
    if (!self)
        return;
    subnet_routes_destroy(&self->subnets);     // before the TUN: the routes are on it
    subnet_forward_destroy(&self->forward);
    zsock_destroy(&self->router);
    zsock_destroy(&self->control);
    zsock_destroy(&self->inbox);
    packet_batch_destroy(&self->batch);
    tun_lend_destroy(&self->lend);
    tun_io_destroy(&self->io);
    tun_destroy(&self->tun);
    free(self);
    *self_p = NULL;
}

// device.mode tap: a TAP device with device.mac (if set), no offload. Returns 0, or -1 with why filled.
static int device_open_tap(device_t *self, char *why, size_t why_len)
{
    const weft_config_t *cfg = &self->svc->config;
    char err[256] = "";
    struct in_addr addr;
    if (inet_pton(AF_INET, cfg->overlay_addr, &addr) != 1) {
        snprintf(why, why_len, "'%s' is not an IPv4 address", cfg->overlay_addr);
        return -1;
    }
    self->self_addr = ntohl(addr.s_addr);
    self->mask = cfg->overlay_prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> cfg->overlay_prefix);
    self->net = self->self_addr & self->mask;
    unsigned m[ETHER_ADDR_LEN];
    self->tun = tun_new_tap(cfg->device_name, err, sizeof err);
    if (self->tun && cfg->device_mac[0]) {  // the config checked the syntax: six pairs with ':'
        if (sscanf(cfg->device_mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
            snprintf(why, why_len, "device.mac '%s' is not a MAC address", cfg->device_mac);
            return -1;
        }
        for (int i = 0; i < ETHER_ADDR_LEN; i++)
            self->mac[i] = (uint8_t)m[i];
        if (tun_set_mac(self->tun, self->mac, err, sizeof err) < 0) {
            snprintf(why, why_len, "TAP device: %s", err);
            return -1;
        }
    }
    if (!self->tun || tun_configure(self->tun, cfg->overlay_addr, cfg->overlay_prefix, cfg->mtu, err, sizeof err) < 0 ||
        tun_get_mac(self->tun, self->mac, err, sizeof err) < 0) {
        snprintf(why, why_len, "TAP device: %s", err);
        return -1;
    }
    self->offload = false;
    if (cfg->device_offload)
        log_info("device.offload is not used with a TAP device");
    return 0;
}

// Opens and configures the TUN device. Returns 0, or -1 with why filled.
static int device_open_tun(device_t *self, char *why, size_t why_len)
{
    const weft_config_t *cfg = &self->svc->config;
    if (!cfg->overlay_addr[0]) {
        snprintf(why, why_len, "no overlay address: set mesh.address in weft.yaml");
        return -1;
    }
    char err[256];
    self->tap = strcmp(cfg->device_mode, "tap") == 0;
    if (self->tap)
        return device_open_tap(self, why, why_len);
    self->tun = tun_new(cfg->device_name, cfg->device_offload, err, sizeof err);
    if (!self->tun || tun_configure(self->tun, cfg->overlay_addr, cfg->overlay_prefix, cfg->mtu, err, sizeof err) < 0) {
        snprintf(why, why_len, "TUN device: %s", err);
        return -1;
    }
    self->offload = tun_offload(self->tun);
    if (cfg->device_offload && !self->offload)
        log_warn("TUN offload unavailable, running without it: %s", tun_offload_note(self->tun));
    snprintf(self->lend_tag, sizeof self->lend_tag, "tun %s vnet_hdr=%d offload=%s mtu=%d", tun_name(self->tun),
             self->offload ? SEGMENT_VNET_HDR_LEN : 0, self->offload ? "csum,tso4,tso6" : "none", cfg->mtu);
    self->lend = tun_lend_new(cfg->device_tun, err, sizeof err);
    if (!self->lend)   // nothing borrows it yet: device works as before, without lending
        log_warn("cannot lend the TUN device (endpoints.device_tun): %s", err);
    return 0;
}

// The hub's IPv4 address from hub.endpoint ("tcp://10.0.0.1:7400"), host order; 0 for a name.
static uint32_t hub_address(const char *endpoint)
{
    const char *host = strncmp(endpoint, "tcp://", 6) == 0 ? endpoint + 6 : endpoint;
    char text[64];
    snprintf(text, sizeof text, "%s", host);
    char *colon = strrchr(text, ':');
    if (colon)
        *colon = '\0';
    uint32_t addr = 0;
    return ipv4_from_text(text, &addr) == 0 ? addr : 0;
}

// Creates the device: TUN, sockets, batch. Returns NULL with why filled.
static device_t *device_new(service_t *svc, char *why, size_t why_len)
{
    device_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    self->svc = svc;
    self->mtu = (size_t)svc->config.mtu;
    device_register_counters(self);
    if (device_open_tun(self, why, why_len) < 0) {
        device_destroy(&self);
        return NULL;
    }
    self->batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    if (!self->tap && !(self->io = tun_io_new(tun_fd(self->tun), tun_name(self->tun), self->offload, self->mtu))) {
        snprintf(why, why_len, "out of memory");
        device_destroy(&self);
        return NULL;
    }
    self->inbox = service_bind_inbox(svc);
    self->control = service_bind_control(svc);
    self->router = service_connect_inbox(svc, SVC_ROUTER);
    if (!self->batch || !self->inbox || !self->control || !self->router) {
        snprintf(why, why_len, "cannot set up the batch or sockets (see above)");
        device_destroy(&self);
        return NULL;
    }
    const weft_config_t *cfg = &svc->config;
    if (self->tap)
        snprintf(self->detail, sizeof self->detail, "tap %s %s/%d mtu %d mac %02x:%02x:%02x:%02x:%02x:%02x",
                 tun_name(self->tun), cfg->overlay_addr, cfg->overlay_prefix, cfg->mtu, self->mac[0], self->mac[1],
                 self->mac[2], self->mac[3], self->mac[4], self->mac[5]);
    else
        snprintf(self->detail, sizeof self->detail, "tun %s %s/%d mtu %d offload %s", tun_name(self->tun),
                 cfg->overlay_addr, cfg->overlay_prefix, cfg->mtu, self->offload ? "csum+tso" : "off");
    subnet_t own[CONFIG_MAX_SERVERS];
    size_t n_own = 0;
    for (int i = 0; i < cfg->routing_advertise_count && n_own < CONFIG_MAX_SERVERS; i++)
        if (ipv4_prefix_from_text(cfg->routing_advertise[i], &own[n_own].net, &own[n_own].len) == 0)
            n_own++;
    self->subnets = subnet_routes_new(tun_name(self->tun), own, n_own, hub_address(cfg->hub_endpoint));
    self->forward = subnet_forward_new(cfg, tun_name(self->tun));
    if (!self->subnets || !self->forward) {
        snprintf(why, why_len, "out of memory");
        device_destroy(&self);
        return NULL;
    }
    device_show_detail(self);
    return self;
}

// The router's routes: keep the kernel routes of the accepted subnets in step (errors shown, never fatal).
static void device_on_mesh_routes(device_t *self, const Weft__MeshRoutes *routes)
{
    (*self->subnet_updates)++;
    *self->subnet_route_errors += (uint64_t)subnet_routes_sync(self->subnets, routes);
    *self->subnet_routes = subnet_routes_installed(self->subnets);
    *self->subnet_bad = subnet_routes_bad(self->subnets);
    device_show_detail(self);
}

// Pushes the batch read so far to the router; a full queue drops it (counted).
static void device_flush_to_router(device_t *self)
{
    size_t count = self->batch->count;
    if (count == 0)
        return;
    if (packet_batch_send(self->batch, self->router) < 0) {
        *self->drop_queue_full += count;
        if (log_worth_repeating(*self->drop_queue_full))
            log_warn("router inbox full: dropped %zu packets (%llu so far)", count,
                     (unsigned long long)*self->drop_queue_full);
        return;
    }
    (*self->batches_out)++;
}

// tap: one read from the TAP device. Bytes read, 0 when drained (or interrupted), -1 on error (counted).
static ssize_t device_tap_read(device_t *self, uint8_t *buf, size_t cap)
{
    ssize_t n = read(tun_fd(self->tun), buf, cap);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        (*self->drop_read_error)++;
        if (log_worth_repeating(*self->drop_read_error))
            log_warn("read from %s failed: %s", tun_name(self->tun), strerror(errno));
        return -1;
    }
    return n;
}

// tap: turns the frame in buf (n bytes) into the IPv4 packet it carries, moved to the start of buf.
// Returns the packet's length, or 0 when the frame carried none (ARP, answered here; anything else,
// dropped and counted).
static ssize_t device_frame_to_packet(device_t *self, uint8_t *buf, size_t n)
{
    uint8_t reply[ETHER_ARP_FRAME_LEN];
    switch (ether_classify(buf, n)) {
    case ETHER_IPV4:
        if (n > ETHER_HEADER_LEN) {
            memmove(buf, buf + ETHER_HEADER_LEN, n - ETHER_HEADER_LEN);
            return (ssize_t)(n - ETHER_HEADER_LEN);
        }
        break;
    case ETHER_ARP:
        if (ether_arp_reply(buf, n, self->self_addr, self->net, self->mask, reply) == 0)
            return 0;   // not a question for a peer's address: nothing to say
        if (write(tun_fd(self->tun), reply, sizeof reply) == (ssize_t)sizeof reply)
            (*self->arp_replies)++;
        else
            (*self->drop_write_error)++;
        return 0;
    default:
        break;
    }
    (*self->drop_not_ipv4_frame)++;
    return 0;
}

// tap: reads one frame's packet into the batch. Returns 1 when a frame was read, 0 when drained, -1 on error.
static int device_tap_read_one(device_t *self)
{
    uint8_t *slot = packet_batch_reserve(self->batch, DEVICE_MAX_PACKET);
    if (!slot) {
        device_flush_to_router(self);
        slot = packet_batch_reserve(self->batch, DEVICE_MAX_PACKET);
        if (!slot)
            return -1;
    }
    ssize_t n = device_tap_read(self, slot, DEVICE_MAX_PACKET);
    if (n <= 0)
        return (int)n;
    if ((n = device_frame_to_packet(self, slot, (size_t)n)) == 0)
        return 1;   // a frame that carries no packet (answered ARP, or dropped): nothing to commit
    packet_batch_commit(self->batch, (size_t)n, NULL);
    (*self->packets_in)++;
    *self->bytes_in += (uint64_t)n;
    return 1;
}

// tun_io_flush_fn: a batch filled while reading.
static void device_batch_full(void *ctx, packet_batch_t *batch)
{
    (void)batch;
    device_flush_to_router(ctx);
}

// Brings the counters kept by tun_io into the service's counters (tun mode).
static void device_sync_counters(device_t *self)
{
    if (!self->io)
        return;
    const tun_io_stats_t *st = tun_io_stats(self->io);
    *self->packets_in = st->packets_in;
    *self->bytes_in = st->bytes_in;
    *self->gso_packets_in = st->gso_packets_in;
    *self->segments_out = st->segments_out;
    *self->csum_completed = st->csum_completed;
    *self->drop_bad_gso = st->drop_bad_gso;
    *self->drop_read_error = st->drop_read_error;
    *self->packets_out = st->packets_out;
    *self->bytes_out = st->bytes_out;
    *self->gro_packets_out = st->gro_packets_out;
    *self->gro_segments_in = st->gro_segments_in;
    *self->drop_bad_packet = st->drop_bad_packet;
    *self->drop_too_big = st->drop_too_big;
    *self->drop_write_error = st->drop_write_error;
}

// TUN is readable: read up to DEVICE_READ_BURST times (with offload: super-packets, cut into segments),
// send what was read as one batch (or more, when the segments of super-packets fill one).
static void device_on_tun_readable(device_t *self)
{
    for (int i = 0; i < DEVICE_READ_BURST; i++)
        if ((self->io ? tun_io_read(self->io, self->batch, device_batch_full, self) : device_tap_read_one(self)) <= 0)
            break;
    device_flush_to_router(self);
    device_sync_counters(self);
}

// tap: writes one packet from the data plane as an Ethernet frame to our device, from the sender's made-up MAC.
static void device_tap_write(device_t *self, const uint8_t *pkt, size_t len)
{
    if (len < 20) {
        (*self->drop_bad_packet)++;
        return;
    }
    if (len > self->mtu) {
        (*self->drop_too_big)++;
        if (log_worth_repeating(*self->drop_too_big))
            log_warn("dropped a %zu-byte packet bigger than the MTU %zu (peers must use the same device.mtu)",
                     len, self->mtu);
        return;
    }
    uint8_t header[ETHER_HEADER_LEN];
    ether_header_for_ipv4(pkt, self->mac, header);
    struct iovec iov[2] = {{header, sizeof header}, {(void *)pkt, len}};
    if (writev(tun_fd(self->tun), iov, 2) != (ssize_t)(sizeof header + len)) {
        (*self->drop_write_error)++;
        if (log_worth_repeating(*self->drop_write_error))
            log_warn("write of a %zu-byte frame to %s failed: %s (%llu so far)", len, tun_name(self->tun),
                     strerror(errno), (unsigned long long)*self->drop_write_error);
        return;
    }
    (*self->packets_out)++;
    *self->bytes_out += len;
}

static void device_on_batch(device_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
{
    packet_view_t view;
    char why[160];
    if (packet_view_init(&view, hdr, payload, why, sizeof why) < 0) {
        (*self->drop_bad_batch)++;
        if (log_worth_repeating(*self->drop_bad_batch))
            log_warn("dropped a malformed packet batch: %s", why);
        return;
    }
    (*self->batches_in)++;
    const uint8_t *pkt, *peer;
    size_t len;
    while (packet_view_next(&view, &pkt, &len, &peer)) {
        if (self->io)
            tun_io_write(self->io, pkt, len);
        else
            device_tap_write(self, pkt, len);
    }
    if (self->io)   // before payload (which the pending packets point into) is destroyed
        tun_io_write_end(self->io);
    device_sync_counters(self);
}

static void device_on_inbox(device_t *self)
{
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(self->inbox, &payload);
    if (!env) {
        (*self->drop_bad_message)++;   // wire_recv logged why
        return;
    }
    if (env->body_case == WEFT__ENVELOPE__BODY_PACKETS)
        device_on_batch(self, env->packets, payload);
    else if (env->body_case == WEFT__ENVELOPE__BODY_MESH_ROUTES && env->mesh_routes)
        device_on_mesh_routes(self, env->mesh_routes);
    else
        (*self->ignored_messages)++;
    zframe_destroy(&payload);
    weft__envelope__free_unpacked(env, NULL);
}

// the actor loop's handlers
static int on_tun(void *arg)
{
    device_t *self = arg;
    if (self->lend && tun_lend_is_lent(self->lend))
        return 0;   // the data plane reads it (a wake-up from before the reader came off the loop)
    device_on_tun_readable(self);
    return 0;
}

// The TUN is lent (lent) or back (!lent): the reader comes off the loop or goes back on, counted and shown.
static int device_set_lent(device_t *self, bool lent)
{
    if (lent) {
        actor_loop_forget_fd(self->loop, tun_fd(self->tun));
        (*self->tun_lends)++;
        self->lent = true;
        device_show_detail(self);
        log_info("TUN %s lent to the data plane: device stops reading it", tun_name(self->tun));
        return 0;
    }
    (*self->tun_takebacks)++;
    self->lent = false;
    device_show_detail(self);
    log_info("TUN %s taken back: device reads it again", tun_name(self->tun));
    if (actor_loop_on_fd(self->loop, tun_fd(self->tun), on_tun) != 0)
        return -1;   // logged; the loop ends and the supervisor restarts device
    device_on_tun_readable(self);   // whatever queued while nobody read
    return 0;
}

static int on_lend_client(void *arg)
{
    device_t *self = arg;
    int client = tun_lend_client_fd(self->lend);
    bool was_lent = false;
    switch (tun_lend_on_client(self->lend, tun_fd(self->tun), self->lend_tag, &was_lent)) {
    case TUN_LEND_LENT:
        return device_set_lent(self, true);
    case TUN_LEND_ENDED:
        actor_loop_forget_fd(self->loop, client);
        return was_lent ? device_set_lent(self, false) : 0;
    case TUN_LEND_NOTHING:
        break;
    }
    return 0;
}

static int on_lend_listen(void *arg)
{
    device_t *self = arg;
    bool refused = false;
    int client = tun_lend_accept(self->lend, &refused);
    if (refused) {
        (*self->tun_lend_refused)++;
        if (log_worth_repeating(*self->tun_lend_refused))
            log_warn("TUN lending: refused a second client (%llu so far)", (unsigned long long)*self->tun_lend_refused);
    }
    if (client >= 0 && actor_loop_on_fd(self->loop, client, on_lend_client) != 0)
        tun_lend_drop(self->lend);   // cannot watch it (logged): end it, nothing was lent yet
    return 0;
}

static int before_status(void *self)
{
    device_sync_counters(self);
    return 0;
}

static int on_inbox(void *self)
{
    device_on_inbox(self);
    return 0;
}

void device_actor(zsock_t *pipe, void *args)
{
    service_t *svc = args;
    char why[512];
    device_t *self = device_new(svc, why, sizeof why);
    if (!self) {
        service_actor_fail(pipe, why);
        return;
    }
    actor_loop_t *loop = actor_loop_new(pipe, svc, self->control, self);
    self->loop = loop;
    if (!loop || actor_loop_on_fd(loop, tun_fd(self->tun), on_tun) != 0 ||
        actor_loop_on_socket(loop, self->inbox, on_inbox) != 0 ||
        (self->lend && actor_loop_on_fd(loop, tun_lend_listen_fd(self->lend), on_lend_listen) != 0)) {
        actor_loop_destroy(&loop);
        device_destroy(&self);
        service_actor_fail(pipe, "cannot set up the actor loop");
        return;
    }
    actor_loop_before_status(loop, before_status);
    log_info("%s", svc->detail);
    zsock_signal(pipe, 0);
    actor_loop_run(loop);
    actor_loop_destroy(&loop);
    device_destroy(&self);
}
