// dataplane_actor.c — the weft-dataplane actor. Owns the sockets (inbox, control, PUSH to nat, crypto,
// router and device), the keyring (the transport keys crypto hands over, keyring.h), the borrowed TUN
// (tun_borrow.h), the direct paths (direct_path.h), the members' overlay routes (from discovery's
// PeerList, or Redis at start), the 1 s tick and the traffic fields of weft:session:<hex id> in Redis.
//
//   TUN read -> route lookup -> keyring seal -> direct path (sendmmsg, GSO), a mesh hop, or nat
//   direct path (recvmmsg, GRO) or nat -> keyring open, replay, source check -> TUN write
//
// Mesh routing (docs/routing.md): router tells where each member's datagrams go (MeshRoutes). A datagram
// sealed for a member reached through another one is wrapped in a forward frame (lib/mesh_frame.h) and
// sealed again for that next hop; a forward frame opened from a neighbour is either ours (its datagram is
// opened as if it came from its source) or sealed on for the next hop, which never reads the datagram.
// Announcements between routers ride in the sessions the same way (CONTROL batches to and from router).
//
// The inbox carries: plaintext packets from router (OUTBOUND: what the TUN gave device, or what this
// actor could not route itself), transport datagrams from nat (INBOUND, type 4), keys from crypto
// (Keypair, KeysDrop), direct paths from nat (DirectPath) and the member list from discovery. Handshake
// datagrams that arrive on a direct path go on to crypto; what the keys need (a handshake, a confirmed
// session) goes to crypto as KeyEvents. Without the TUN (dataplane.tun off, a TAP device, or not lent
// yet) opened packets go to device and packets come from router, as before the data plane existed.
//
// Restarts (docs/architecture.md): keys are never stored, so a restarted data plane has none; its first
// packet to or from a peer asks crypto for a handshake (WANT_SESSION, WANT_UNKNOWN_INDEX). nat says every
// direct path again within 2 s, and device lends the TUN again. A restarted crypto leaves the keys here
// running; every DATAPLANE_REFRESH_MS the current sessions are said again so it learns them.
#include "dataplane_actor.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>

#include "actor_loop.h"
#include "clock.h"
#include "tun_borrow.h"
#include "crypto_wire.h"
#include "datagram.h"
#include "direct_path.h"
#include "id_table.h"
#include "identity.h"
#include "key_msg.h"
#include "keyring.h"
#include "log.h"
#include "mesh_frame.h"
#include "route_table.h"
#include "store.h"
#include "store_link.h"
#include "wire.h"

#define TICK_MS 1000
#define DATAPLANE_REFRESH_MS 5000      // current sessions said again to crypto this often
#define DATAPLANE_WANT_EVERY_MS 200    // a member's handshake asked for at most this often
#define STATUS_REFRESH_MS 60000        // rewrite every traffic field at least this often
#define STATUS_TTL_S 300
#define TUN_READ_BURST 64
#define MAX_SUBNETS 64                 // accepted subnets (routing.advertise of every member) kept
// the largest plaintext the keyring seals: a forward frame around a transport datagram of a full packet
#define FRAME_OVERHEAD (MESH_FORWARD_HEADER_LEN + DATAGRAM_TRANSPORT_MIN_LEN)

// Where a member's datagrams go (router's MeshRoutes): via == dest for a direct route.
typedef struct {
    uint8_t dest[WIRE_ID_LEN];
    uint8_t via[WIRE_ID_LEN];
} hop_t;

typedef struct {
    uint32_t addr, mask;               // host byte order
    uint8_t owner[WIRE_ID_LEN];
} subnet_t;

// A member as the data plane knows it: what was last written of its traffic, when crypto was last asked
// for a handshake with it.
typedef struct {
    uint8_t id[WIRE_ID_LEN];
    bool listed;                       // in the peer list being applied
    int64_t wanted_ms;                 // the last WANT_* sent for it (0: none)
    uint64_t reported_rx, reported_tx; // packets, as last written to Redis
} member_t;

typedef struct {
    service_t *svc;
    zsock_t *inbox, *control, *to_nat, *to_crypto, *to_router, *to_device;
    actor_loop_t *loop;
    keyring_t *keys;
    keyring_io_t io;
    packet_batch_t *nat_batch;      // sealed datagrams (OUTBOUND): to direct paths, the rest to nat
    packet_batch_t *rest_batch;     // what of nat_batch has no direct path
    packet_batch_t *device_batch;   // opened packets (INBOUND) for device when the TUN is not borrowed
    packet_batch_t *crypto_batch;   // handshake datagrams from direct paths (INBOUND) for crypto
    packet_batch_t *tun_batch;      // packets read from the TUN
    packet_batch_t *router_batch;   // packets for router: broadcast, multicast, no member route, not IPv4
    packet_batch_t *relay_batch;    // forward frames sealed for the next hop (OUTBOUND)
    packet_batch_t *control_batch;  // announcements opened from neighbours (CONTROL), for router
    keyring_io_t relay_io;          // io, but sealing into relay_batch (while nat_batch is being sent)
    zhashx_t *hops;                 // member id -> hop_t (MeshRoutes); NULL entries: no mesh route
    size_t relayed_count;           // hops whose via is not their dest
    subnet_t subnets[MAX_SUBNETS];  // accepted subnets behind members, longest prefix first
    size_t subnet_count;
    uint8_t max_ttl;                // routing.max_hops: a forward frame's first TTL
    bool relay;                     // connection.relay_via_peers: forward frames for others
    int mesh_depth;                 // > 0 while a datagram from a forward frame is being opened
    uint8_t frame[65536 + FRAME_OVERHEAD];   // a forward frame being built, or a datagram taken out of one
    direct_paths_t *direct;         // NULL: dataplane.direct off
    tun_borrow_t *tun;              // NULL: dataplane.tun off or a TAP device
    route_table_t *routes;          // overlay address -> member, from the PeerList
    zhashx_t *members;              // id -> member_t*
    uint8_t local_id[WIRE_ID_LEN];
    int64_t now_ms;                 // of the wake-up being handled
    int64_t next_refresh_ms, next_full_report_ms;
    store_t *store;
    store_link_t redis;
    bool members_known;
    uint64_t *packets_in, *datagrams_in, *packets_out, *datagrams_out, *batches_in, *drop_bad_batch;
    uint64_t *drop_untagged, *drop_not_transport, *drop_nat_queue_full, *drop_device_queue_full;
    uint64_t *drop_crypto_queue_full, *drop_router_queue_full, *tun_packets_in, *tun_to_router;
    uint64_t *handshakes_to_crypto, *keypairs_in, *keys_drops_in, *key_events_out, *wants_held;
    uint64_t *drop_bad_message, *drop_unexpected_message, *drop_key_event, *drop_revoked, *drop_handshake_timeout;
    uint64_t *forwarded_packets, *forwarded_bytes, *relayed_out_packets, *relayed_in_packets, *drop_forward_ttl;
    uint64_t *drop_forward_loop, *drop_forward_no_route, *drop_forward_refused, *drop_forward_bad;
    uint64_t *announcements_in, *announcements_out, *drop_control_queue_full, *handshakes_from_crypto, *mesh_routes_in;
} dataplane_t;

// ---- output ----

static void send_wire(dataplane_t *self, packet_batch_t *batch, bool may_relay);

// The next hop of a member reached through another one (router's MeshRoutes), or NULL: direct, or no
// mesh route (nat then decides: its path, or it holds the datagram while one is built).
static const uint8_t *relay_via(const dataplane_t *self, const uint8_t peer[WIRE_ID_LEN])
{
    if (!self->relayed_count)
        return NULL;
    const hop_t *hop = zhashx_lookup(self->hops, peer);
    return hop && memcmp(hop->via, hop->dest, WIRE_ID_LEN) != 0 ? hop->via : NULL;
}

// One of our datagrams for dst, wrapped in a forward frame and sealed for the next hop into relay_batch.
static void relay_out(dataplane_t *self, const uint8_t *datagram, size_t len, const uint8_t dst[WIRE_ID_LEN],
                      const uint8_t via[WIRE_ID_LEN])
{
    if (len > sizeof self->frame - MESH_FORWARD_HEADER_LEN) {
        (*self->drop_forward_bad)++;
        return;
    }
    mesh_forward_header(self->frame, self->max_ttl, dst, self->local_id);
    memcpy(self->frame + MESH_FORWARD_HEADER_LEN, datagram, len);
    keyring_outbound(self->keys, self->frame, MESH_FORWARD_HEADER_LEN + len, via, self->now_ms, &self->relay_io);
    (*self->relayed_out_packets)++;
}

typedef enum { OUT_NAT, OUT_DIRECT, OUT_RELAY } out_way_t;

// Sends a batch of sealed datagrams: each peer's on its direct path (one sendmmsg per peer), through its
// mesh hop (may_relay; a hop's own datagrams never are) or, for the rest, through nat.
static void send_wire(dataplane_t *self, packet_batch_t *batch, bool may_relay)
{
    out_way_t way[WIRE_MAX_BATCH_PEERS];
    bool split = false;
    bool any_direct = self->direct && direct_paths_count(self->direct);
    for (size_t p = 0; p < batch->peer_count; p++) {
        way[p] = may_relay && relay_via(self, batch->peers[p])        ? OUT_RELAY
                 : any_direct && direct_paths_has(self->direct, batch->peers[p]) ? OUT_DIRECT
                                                                               : OUT_NAT;
        split |= way[p] != OUT_NAT;
    }
    if (!split) {
        packet_batch_send_counted(batch, self->to_nat, self->datagrams_out, self->drop_nat_queue_full);
        return;
    }
    struct iovec iov[WIRE_MAX_BATCH_PACKETS];
    for (size_t p = 0; p < batch->peer_count; p++) {
        if (way[p] == OUT_NAT)
            continue;
        const uint8_t *via = way[p] == OUT_RELAY ? relay_via(self, batch->peers[p]) : NULL;
        size_t n = 0, offset = 0;
        for (size_t k = 0; k < batch->count; offset += batch->lengths[k], k++) {
            if (batch->peer_index[k] != p)
                continue;
            if (via)
                relay_out(self, batch->data + offset, batch->lengths[k], batch->peers[p], via);
            else
                iov[n++] = (struct iovec){batch->data + offset, batch->lengths[k]};
        }
        if (n)
            *self->datagrams_out += direct_paths_send(self->direct, batch->peers[p], iov, n);
    }
    size_t offset = 0;
    for (size_t k = 0; k < batch->count; offset += batch->lengths[k], k++)
        if (way[batch->peer_index[k]] == OUT_NAT)
            packet_batch_add(self->rest_batch, batch->data + offset, batch->lengths[k],
                             batch->peers[batch->peer_index[k]]);
    packet_batch_reset(batch);
    packet_batch_send_counted(self->rest_batch, self->to_nat, self->datagrams_out, self->drop_nat_queue_full);
}

// One output batch: sealed datagrams leave on their direct paths, through a mesh hop or through nat;
// opened packets are written to the borrowed TUN, or go to device.
static void send_output(dataplane_t *self, packet_batch_t *batch)
{
    if (batch == self->nat_batch || batch == self->relay_batch) {
        send_wire(self, batch, batch == self->nat_batch);
        return;
    }
    tun_io_t *tun = self->tun ? tun_borrow_io(self->tun) : NULL;
    if (tun) {
        size_t offset = 0;
        for (size_t k = 0; k < batch->count; offset += batch->lengths[k], k++)
            tun_io_write(tun, batch->data + offset, batch->lengths[k]);
        tun_io_write_end(tun);   // before the batch's bytes are reused
        *self->packets_out += batch->count;
        packet_batch_reset(batch);
        return;
    }
    packet_batch_send_counted(batch, self->to_device, self->packets_out, self->drop_device_queue_full);
}

// keyring_io_t.flush: one of the keyring's batches (nat_batch, relay_batch, device_batch) filled up.
static void on_batch_full(void *ctx, packet_batch_t *batch)
{
    send_output(ctx, batch);
}

static void send_batches(dataplane_t *self)
{
    send_output(self, self->nat_batch);
    send_output(self, self->relay_batch);   // what relaying nat_batch's datagrams sealed for the hops
    send_output(self, self->device_batch);
    packet_batch_send_counted(self->crypto_batch, self->to_crypto, NULL, self->drop_crypto_queue_full);
    packet_batch_send_counted(self->control_batch, self->to_router, self->announcements_in,
                              self->drop_control_queue_full);
}

static void send_key_event(dataplane_t *self, const key_event_t *ev)
{
    if (key_msg_send_event(self->to_crypto, ev) != 0)
        (*self->drop_key_event)++;
    else
        (*self->key_events_out)++;
}

// keyring_io_t.want: a peer needs a handshake; crypto decides (one in flight, revoked...). The keyring
// asks on every packet that waits or every one sent on an old session: crypto hears it at most every
// DATAPLANE_WANT_EVERY_MS per member.
static void on_want(void *ctx, const uint8_t peer[WIRE_ID_LEN], key_event_kind_t why)
{
    dataplane_t *self = ctx;
    member_t *m = zhashx_lookup(self->members, peer);
    if (m && m->wanted_ms && self->now_ms - m->wanted_ms < DATAPLANE_WANT_EVERY_MS && self->now_ms >= m->wanted_ms) {
        (*self->wants_held)++;
        return;
    }
    if (m)
        m->wanted_ms = self->now_ms;
    key_event_t ev = {.kind = why};
    memcpy(ev.peer, peer, WIRE_ID_LEN);
    send_key_event(self, &ev);
}

// keyring_io_t.established: a keypair became current.
static void on_established(void *ctx, const uint8_t peer[WIRE_ID_LEN], transport_cipher_t cipher)
{
    key_event_t ev = {.kind = KEY_EVENT_ESTABLISHED, .cipher = cipher};
    memcpy(ev.peer, peer, WIRE_ID_LEN);
    send_key_event(ctx, &ev);
}

static void update_detail(dataplane_t *self)
{
    size_t paths = self->direct ? direct_paths_count(self->direct) : 0;
    snprintf(self->svc->detail, sizeof self->svc->detail, "%zu members, %zu direct path%s, %s",
             zhashx_size(self->members), paths, paths == 1 ? "" : "s",
             !self->tun ? "TUN not borrowed (off)" : tun_borrow_io(self->tun) ? "TUN borrowed" : "TUN not borrowed yet");
}

// ---- one datagram or packet ----

// A transport datagram from peer (from nat or a direct path): opened into device_batch.
static void open_datagram(dataplane_t *self, const uint8_t *datagram, size_t len, const uint8_t peer[WIRE_ID_LEN])
{
    crypto_datagram_t d;
    (*self->datagrams_in)++;
    if (crypto_datagram_decode(datagram, len, &d) != 0 || d.type != CRYPTO_MSG_TRANSPORT) {
        (*self->drop_not_transport)++;
        return;
    }
    keyring_inbound(self->keys, d.receiver_index, d.counter, d.body, d.body_len, peer, self->now_ms, &self->io);
}

// direct_datagram_fn: a weft datagram from a direct path's peer end (direct_path.c checked its source and
// limited handshakes): transport opened here, handshakes on to crypto.
static void on_direct_datagram(void *ctx, const uint8_t peer[32], const uint8_t *datagram, size_t len)
{
    dataplane_t *self = ctx;
    if (len && datagram[0] == CRYPTO_MSG_TRANSPORT) {
        open_datagram(self, datagram, len, peer);
        return;
    }
    if (!packet_batch_fits(self->crypto_batch, len, peer))
        packet_batch_send_counted(self->crypto_batch, self->to_crypto, NULL, self->drop_crypto_queue_full);
    if (packet_batch_add(self->crypto_batch, datagram, len, peer) == 0)
        (*self->handshakes_to_crypto)++;
}

// A forward frame from neighbour `from` whose destination is us: its datagram is opened as if it had come
// from its source (a transport datagram of our session with it, or a handshake message for crypto).
static void forwarded_to_us(dataplane_t *self, const mesh_forward_t *fw)
{
    if (!keyring_has_peer(self->keys, fw->src) || self->mesh_depth > 0) {
        (*self->drop_forward_bad)++;   // not a member, or a frame inside a frame
        return;
    }
    (*self->relayed_in_packets)++;
    uint8_t src[WIRE_ID_LEN];
    memcpy(src, fw->src, WIRE_ID_LEN);
    size_t len = fw->datagram_len;
    memcpy(self->frame, fw->datagram, len);   // off to_tun's free space, where the keyring opens into
    if (self->frame[0] == CRYPTO_MSG_TRANSPORT) {
        self->mesh_depth++;
        open_datagram(self, self->frame, len, src);
        self->mesh_depth--;
        return;
    }
    if (!packet_batch_fits(self->crypto_batch, len, src))
        packet_batch_send_counted(self->crypto_batch, self->to_crypto, NULL, self->drop_crypto_queue_full);
    if (packet_batch_add(self->crypto_batch, self->frame, len, src) == 0)
        (*self->handshakes_to_crypto)++;
}

// A forward frame for someone else: sealed on, in place with its TTL one less, for the next hop towards
// its destination. Ciphertext of the source's session with the destination: never opened here.
static void forward_on(dataplane_t *self, const uint8_t from[WIRE_ID_LEN], uint8_t *frame, size_t len,
                       const mesh_forward_t *fw)
{
    const hop_t *hop = self->hops ? zhashx_lookup(self->hops, fw->dst) : NULL;
    if (!self->relay || self->mesh_depth > 0) {
        (*self->drop_forward_refused)++;
        return;
    }
    if (fw->ttl <= 1) {
        (*self->drop_forward_ttl)++;
        return;
    }
    if (!hop) {
        (*self->drop_forward_no_route)++;
        return;
    }
    if (memcmp(hop->via, from, WIRE_ID_LEN) == 0 || memcmp(fw->src, self->local_id, WIRE_ID_LEN) == 0) {
        (*self->drop_forward_loop)++;   // back where it came from, or our own datagram come round
        return;
    }
    frame[1] = (uint8_t)(fw->ttl - 1);
    keyring_outbound(self->keys, frame, len, hop->via, self->now_ms, &self->relay_io);
    (*self->forwarded_packets)++;
    *self->forwarded_bytes += len;
}

// keyring_io_t.mesh: a mesh frame opened from neighbour `from`.
static void on_mesh_frame(void *ctx, const uint8_t from[WIRE_ID_LEN], uint8_t *frame, size_t len)
{
    dataplane_t *self = ctx;
    if (frame[0] == MESH_FRAME_ANNOUNCE) {
        if (self->mesh_depth > 0) {   // only a neighbour announces, in its own session
            (*self->drop_forward_bad)++;
            return;
        }
        if (!packet_batch_fits(self->control_batch, len, from))
            packet_batch_send_counted(self->control_batch, self->to_router, self->announcements_in,
                                      self->drop_control_queue_full);
        packet_batch_add(self->control_batch, frame, len, from);
        return;
    }
    mesh_forward_t fw;
    if (mesh_forward_parse(frame, len, &fw) != 0) {
        (*self->drop_forward_bad)++;
        return;
    }
    if (memcmp(fw.dst, self->local_id, WIRE_ID_LEN) == 0)
        forwarded_to_us(self, &fw);
    else
        forward_on(self, from, frame, len, &fw);
}

static int handle_direct(void *arg)
{
    dataplane_t *self = arg;
    self->now_ms = clock_now_ms();
    direct_paths_receive(self->direct, on_direct_datagram, self);
    send_batches(self);
    return 0;
}

// The member behind the longest accepted subnet holding dst (host order), or NULL.
static const uint8_t *subnet_owner(const dataplane_t *self, uint32_t dst)
{
    for (size_t i = 0; i < self->subnet_count; i++)   // sorted longest prefix first
        if ((dst & self->subnets[i].mask) == self->subnets[i].addr)
            return self->subnets[i].owner;
    return NULL;
}

// Packets read from the TUN: a member's (or a subnet's behind it) go to its keys (sealed into nat_batch,
// which leaves on the direct path, through a mesh hop or through nat); the rest goes to router, which
// decides as for device.
static void route_tun_batch(dataplane_t *self)
{
    packet_batch_t *b = self->tun_batch;
    size_t offset = 0;
    for (size_t k = 0; k < b->count; offset += b->lengths[k], k++) {
        const uint8_t *pkt = b->data + offset;
        size_t len = b->lengths[k], total = 0;
        uint32_t dst = 0;
        const route_t *route = NULL;
        (*self->tun_packets_in)++;
        const uint8_t *owner = NULL;
        if (self->routes && ipv4_parse(pkt, len, &dst, &total) == IPV4_OK && !ipv4_is_multicast_or_broadcast(dst)) {
            route = route_table_lookup(self->routes, dst);
            owner = route ? route->peer : subnet_owner(self, dst);
        }
        if (owner) {
            keyring_outbound(self->keys, pkt, total, owner, self->now_ms, &self->io);
            continue;
        }
        (*self->tun_to_router)++;
        if (!packet_batch_fits(self->router_batch, len, NULL))
            packet_batch_send_counted(self->router_batch, self->to_router, NULL, self->drop_router_queue_full);
        packet_batch_add(self->router_batch, pkt, len, NULL);
    }
    packet_batch_reset(b);
}

// tun_io_flush_fn: the packets read so far filled the batch.
static void on_tun_batch_full(void *ctx, packet_batch_t *batch)
{
    (void)batch;
    route_tun_batch(ctx);
}

static int on_tun_read(void *arg)
{
    dataplane_t *self = arg;
    tun_io_t *tun = tun_borrow_io(self->tun);
    if (!tun)
        return 0;
    self->now_ms = clock_now_ms();
    for (int i = 0; i < TUN_READ_BURST; i++)
        if (tun_io_read(tun, self->tun_batch, on_tun_batch_full, self) <= 0)
            break;
    route_tun_batch(self);
    packet_batch_send_counted(self->router_batch, self->to_router, NULL, self->drop_router_queue_full);
    send_batches(self);
    return 0;
}

// device answered our request for the TUN, or its end of the connection closed.
static int on_tun_answer(void *arg)
{
    dataplane_t *self = arg;
    int conn, old_tun;
    int tun = tun_borrow_on_answer(self->tun, &conn, &old_tun);
    if (tun >= 0)
        return actor_loop_on_fd(self->loop, tun, on_tun_read);
    actor_loop_forget_fd(self->loop, conn);
    if (old_tun >= 0)
        actor_loop_forget_fd(self->loop, old_tun);
    return 0;
}

// ---- inbox ----

static void handle_packets(dataplane_t *self, const Weft__PacketBatch *hdr, zframe_t *payload)
{
    packet_view_t view;
    char why[160];
    (*self->batches_in)++;
    if (packet_view_init(&view, hdr, payload, why, sizeof why) != 0) {
        (*self->drop_bad_batch)++;
        log_warn("dropped a packet batch: %s", why);
        return;
    }
    // the sender says which way its batch goes; the bytes never decide it (a datagram from the wire can
    // look like an IP packet, and must never be sealed and sent on as one)
    Weft__PacketBatch__Direction dir = hdr->direction;
    if (dir != WEFT__PACKET_BATCH__DIRECTION__OUTBOUND && dir != WEFT__PACKET_BATCH__DIRECTION__INBOUND &&
        dir != WEFT__PACKET_BATCH__DIRECTION__SEALED && dir != WEFT__PACKET_BATCH__DIRECTION__CONTROL) {
        (*self->drop_bad_batch)++;
        if (log_worth_repeating(*self->drop_bad_batch))
            log_warn("dropped a packet batch without a direction (%d)", (int)hdr->direction);
        return;
    }
    self->now_ms = clock_now_ms();
    const uint8_t *pkt, *peer;
    size_t len;
    while (packet_view_next(&view, &pkt, &len, &peer)) {
        if (!peer || len == 0) {
            (*self->drop_untagged)++;
        } else if (dir == WEFT__PACKET_BATCH__DIRECTION__OUTBOUND) {   // plaintext IP packets from router
            (*self->packets_in)++;
            keyring_outbound(self->keys, pkt, len, peer, self->now_ms, &self->io);
        } else if (dir == WEFT__PACKET_BATCH__DIRECTION__INBOUND) {    // transport datagrams, through nat
            open_datagram(self, pkt, len, peer);
        } else if (dir == WEFT__PACKET_BATCH__DIRECTION__SEALED) {     // crypto's handshake datagrams
            uint8_t *out = packet_batch_room(self->nat_batch, len, peer, on_batch_full, self);
            if (out) {
                memcpy(out, pkt, len);
                packet_batch_commit(self->nat_batch, len, peer);
                (*self->handshakes_from_crypto)++;
            }
        } else if (pkt[0] == MESH_FRAME_ANNOUNCE) {   // CONTROL: router's announcement for a neighbour
            keyring_outbound(self->keys, pkt, len, peer, self->now_ms, &self->io);
            (*self->announcements_out)++;
        } else {
            (*self->drop_bad_batch)++;
        }
    }
}

// A Keypair from crypto: installed, or refused (counted by the keyring: keypairs_refused; crypto
// handshakes again). The keys are wiped here and in the envelope (key_msg_wipe, by the caller).
static void handle_keypair(dataplane_t *self, const Weft__Keypair *msg)
{
    keyring_keypair_t kp;
    char why[160];
    (*self->keypairs_in)++;
    int rc = key_msg_read_keypair(msg, &kp, why, sizeof why);
    if (rc != 0 && log_worth_repeating(++*self->drop_bad_message))
        log_warn("%s", why);
    else if (rc == 0)
        rc = keyring_install(self->keys, &kp, self->now_ms, &self->io);
    if (rc != 0 && msg->peer.len == WIRE_ID_LEN) {
        key_event_t ev = {.kind = KEY_EVENT_REFUSED};
        memcpy(ev.peer, msg->peer.data, WIRE_ID_LEN);
        send_key_event(self, &ev);
    }
    sodium_memzero(&kp, sizeof kp);
}

static void handle_keys_drop(dataplane_t *self, const Weft__KeysDrop *msg)
{
    (*self->keys_drops_in)++;
    if (msg->peer.len != WIRE_ID_LEN) {
        (*self->drop_bad_message)++;
        return;
    }
    // keys and queue: the member was revoked; the queue alone: its handshake gave up
    if (msg->keys)
        keyring_drop_keys(self->keys, msg->peer.data, msg->queue, msg->queue ? self->drop_revoked : NULL);
    else if (msg->queue)
        keyring_drop_queue(self->keys, msg->peer.data, self->drop_handshake_timeout);
}

static void member_free(void **item)
{
    free(*item);
    *item = NULL;
}

// The member list: the keyring's peers (with the overlay source each must send from) and the overlay
// routes of packets read from the TUN. Members no longer listed lose their keys and queue.
static void apply_members(dataplane_t *self, const Weft__PeerList *list, const char *source)
{
    route_table_t *routes = route_table_new();
    for (member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members))
        m->listed = false;
    for (size_t i = 0; i < list->n_peers; i++) {
        const Weft__Peer *p = list->peers[i];
        route_t r = {.hops = 1, .metric = 1};
        if (!p || p->id.len != WIRE_ID_LEN || !p->overlay_addr || ipv4_from_text(p->overlay_addr, &r.addr) != 0 ||
            memcmp(p->id.data, self->local_id, WIRE_ID_LEN) == 0)
            continue;
        member_t *m = zhashx_lookup(self->members, p->id.data);
        if (!m && (m = calloc(1, sizeof *m)) != NULL) {
            memcpy(m->id, p->id.data, WIRE_ID_LEN);
            zhashx_insert(self->members, m->id, m);
        }
        if (!m || keyring_add_peer(self->keys, m->id, htonl(r.addr)) != 0)
            continue;   // out of memory: logged by the keyring, tried again with the next list
        m->listed = true;
        memcpy(r.peer, p->id.data, ROUTE_ID_LEN);
        memcpy(r.next_hop, p->id.data, ROUTE_ID_LEN);
        if (routes)
            route_table_put(routes, &r);
    }
    zlistx_t *gone = zlistx_new();
    for (member_t *m = zhashx_first(self->members); m && gone; m = zhashx_next(self->members))
        if (!m->listed)
            zlistx_add_end(gone, m);
    for (member_t *m = gone ? zlistx_first(gone) : NULL; m; m = zlistx_next(gone)) {
        keyring_remove_peer(self->keys, m->id);
        zhashx_delete(self->members, m->id);
    }
    zlistx_destroy(&gone);
    route_table_destroy(&self->routes);
    self->routes = routes;
    if (!routes)
        log_warn("out of memory for the route table: packets read from TUN go through router");
    if (!self->members_known)
        log_info("%zu members (peer list from %s)", zhashx_size(self->members), source);
    self->members_known = true;
}

static int subnet_longer_first(const void *a, const void *b)
{
    const subnet_t *x = a, *y = b;
    return x->mask == y->mask ? 0 : x->mask > y->mask ? -1 : 1;   // a longer prefix has the larger mask
}

// router's MeshRoutes: the next hop of each member, the accepted subnets behind members (also the
// sources their packets may carry), the TTL of our forward frames and whether we forward for others.
static void apply_mesh_routes(dataplane_t *self, const Weft__MeshRoutes *msg)
{
    (*self->mesh_routes_in)++;
    zhashx_purge(self->hops);
    self->relayed_count = 0;
    for (size_t i = 0; i < msg->n_routes; i++) {
        const Weft__MeshRoute *r = msg->routes[i];
        if (!r || r->dest.len != WIRE_ID_LEN || r->via.len != WIRE_ID_LEN) {
            (*self->drop_bad_message)++;
            continue;
        }
        hop_t *hop = malloc(sizeof *hop);
        if (!hop)
            break;
        memcpy(hop->dest, r->dest.data, WIRE_ID_LEN);
        memcpy(hop->via, r->via.data, WIRE_ID_LEN);
        zhashx_update(self->hops, hop->dest, hop);
    }
    for (hop_t *hop = zhashx_first(self->hops); hop; hop = zhashx_next(self->hops))
        self->relayed_count += memcmp(hop->via, hop->dest, WIRE_ID_LEN) != 0;
    // subnets: the owners' source check first cleared, then set from the accepted list
    for (size_t i = 0; i < self->subnet_count; i++)
        keyring_set_subnets(self->keys, self->subnets[i].owner, NULL, NULL, 0);
    self->subnet_count = 0;
    for (size_t i = 0; i < msg->n_subnets && self->subnet_count < MAX_SUBNETS; i++) {
        const Weft__SubnetRoute *r = msg->subnets[i];
        uint32_t addr;
        int plen;
        if (!r || r->owner.len != WIRE_ID_LEN || ipv4_prefix_from_text(r->prefix, &addr, &plen) != 0) {
            (*self->drop_bad_message)++;
            continue;
        }
        subnet_t *sn = &self->subnets[self->subnet_count++];
        sn->addr = addr;
        sn->mask = ipv4_prefix_mask(plen);
        memcpy(sn->owner, r->owner.data, WIRE_ID_LEN);
    }
    qsort(self->subnets, self->subnet_count, sizeof self->subnets[0], subnet_longer_first);
    for (size_t i = 0; i < self->subnet_count; i++) {
        uint32_t addrs[KEYRING_MAX_SUBNETS], masks[KEYRING_MAX_SUBNETS];
        size_t n = 0;
        for (size_t j = 0; j < self->subnet_count && n < KEYRING_MAX_SUBNETS; j++)
            if (memcmp(self->subnets[j].owner, self->subnets[i].owner, WIRE_ID_LEN) == 0) {
                addrs[n] = htonl(self->subnets[j].addr);
                masks[n++] = htonl(self->subnets[j].mask);
            }
        keyring_set_subnets(self->keys, self->subnets[i].owner, addrs, masks, n);
    }
    self->max_ttl = msg->max_hops > 0 && msg->max_hops <= 255 ? (uint8_t)msg->max_hops : self->max_ttl;
    self->relay = msg->relay;
}

static int handle_inbox(void *arg)
{
    dataplane_t *self = arg;
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(self->inbox, &payload);
    if (!env) {
        (*self->drop_bad_message)++;
        return 0;
    }
    self->now_ms = clock_now_ms();
    switch (env->body_case) {
    case WEFT__ENVELOPE__BODY_PACKETS: handle_packets(self, env->packets, payload); break;
    case WEFT__ENVELOPE__BODY_KEYPAIR: handle_keypair(self, env->keypair); break;
    case WEFT__ENVELOPE__BODY_KEYS_DROP: handle_keys_drop(self, env->keys_drop); break;
    case WEFT__ENVELOPE__BODY_PEERS: apply_members(self, env->peers, "discovery"); break;
    case WEFT__ENVELOPE__BODY_MESH_ROUTES: apply_mesh_routes(self, env->mesh_routes); break;
    case WEFT__ENVELOPE__BODY_DIRECT_PATH:
        if (self->direct)   // else dataplane.direct is off: everything goes through nat
            direct_paths_apply(self->direct, env->direct_path, clock_now_ms());
        break;
    default: (*self->drop_unexpected_message)++; break;
    }
    send_batches(self);
    key_msg_wipe(env);
    zframe_destroy(&payload);
    weft__envelope__free_unpacked(env, NULL);
    return 0;
}

// ---- Redis: member list at start, traffic figures ----

static bool store_ready(dataplane_t *self)
{
    if (self->store && store_restarted(self->store))
        self->next_full_report_ms = 0;   // Redis came back, maybe without our fields
    store_link_state_t link = store_link_connect(&self->redis, &self->store);
    if (link != STORE_LINK_NEW)
        return link == STORE_LINK_UP;
    self->next_full_report_ms = 0;
    if (!self->members_known) {
        Weft__PeerList *list = store_load_peers(self->store);
        if (list) {
            apply_members(self, list, "redis");
            weft__peer_list__free_unpacked(list, NULL);
        }
    }
    return true;
}

// A peer's sealed and opened packets, and what went on its direct paths, in its session hash beside
// crypto's fields (weft:session:<hex id>): `weft peers`, the API and /metrics read them (lib/node_view.c).
static void write_traffic(dataplane_t *self, member_t *m, bool all)
{
    keyring_peer_stats_t st;
    if (!self->store || !keyring_peer_stats(self->keys, m->id, self->now_ms, &st) ||
        (!all && st.rx_packets == m->reported_rx && st.tx_packets == m->reported_tx))
        return;
    char hex[ID_HEX_LEN];
    id_to_hex(m->id, hex);
    if (store_exec(self->store, "HSET weft:session:%s rx_packets %llu tx_packets %llu rx_bytes %llu tx_bytes %llu",
                   hex, (unsigned long long)st.rx_packets, (unsigned long long)st.tx_packets,
                   (unsigned long long)st.rx_bytes, (unsigned long long)st.tx_bytes) != 0 ||
        store_exec(self->store, "EXPIRE weft:session:%s %d", hex, STATUS_TTL_S) != 0) {
        store_link_lost(&self->redis, &self->store, "session traffic");
        return;
    }
    m->reported_rx = st.rx_packets;
    m->reported_tx = st.tx_packets;
}

static void write_direct_totals(void *ctx, const uint8_t peer[32], const direct_totals_t *t)
{
    dataplane_t *self = ctx;
    if (!self->store)
        return;
    char hex[ID_HEX_LEN];
    id_to_hex(peer, hex);
    if (store_exec(self->store,
                   "HSET weft:session:%s direct_rx_bytes %llu direct_tx_bytes %llu direct_rx_packets %llu "
                   "direct_tx_packets %llu",
                   hex, (unsigned long long)t->rx_bytes, (unsigned long long)t->tx_bytes,
                   (unsigned long long)t->rx_packets, (unsigned long long)t->tx_packets) != 0 ||
        store_exec(self->store, "EXPIRE weft:session:%s %d", hex, STATUS_TTL_S) != 0)
        store_link_lost(&self->redis, &self->store, "direct path totals");
}

static void report_status(dataplane_t *self)
{
    if (!store_ready(self))
        return;
    bool all = self->now_ms >= self->next_full_report_ms;
    if (all)
        self->next_full_report_ms = self->now_ms + STATUS_REFRESH_MS;
    for (member_t *m = zhashx_first(self->members); m && self->store; m = zhashx_next(self->members))
        write_traffic(self, m, all);
    if (self->direct && self->store)
        direct_paths_report(self->direct, all, write_direct_totals, self);
}

// Every DATAPLANE_REFRESH_MS: each current session said again to crypto, with its age.
static void refresh_sessions(dataplane_t *self)
{
    if (self->now_ms < self->next_refresh_ms)
        return;
    self->next_refresh_ms = self->now_ms + DATAPLANE_REFRESH_MS;
    for (member_t *m = zhashx_first(self->members); m; m = zhashx_next(self->members)) {
        keyring_peer_stats_t st;
        if (!keyring_peer_stats(self->keys, m->id, self->now_ms, &st) || !st.established)
            continue;
        key_event_t ev = {.kind = KEY_EVENT_CURRENT, .cipher = st.cipher,
                          .age_ms = (uint64_t)(self->now_ms - st.current_created_ms)};
        memcpy(ev.peer, m->id, WIRE_ID_LEN);
        send_key_event(self, &ev);
    }
}

// Once a second: key expiry, direct path expiry, asking device for the TUN, the sessions said again,
// the traffic figures.
static int tick(void *arg)
{
    dataplane_t *self = arg;
    self->now_ms = clock_now_ms();
    keyring_tick(self->keys, self->now_ms);
    if (self->direct)
        direct_paths_tick(self->direct, self->now_ms);
    int asking = self->tun ? tun_borrow_ask(self->tun, self->now_ms) : -1;
    if (asking >= 0 && actor_loop_on_fd(self->loop, asking, on_tun_answer) != 0)
        return -1;
    send_batches(self);
    refresh_sessions(self);
    report_status(self);
    update_detail(self);
    return 0;
}

// ---- set-up ----

static void dataplane_destroy(dataplane_t **self_p)
{
    dataplane_t *self = *self_p;
    if (!self)
        return;
    keyring_destroy(&self->keys);
    direct_paths_destroy(&self->direct);
    tun_borrow_destroy(&self->tun);
    route_table_destroy(&self->routes);
    zhashx_destroy(&self->members);
    zhashx_destroy(&self->hops);
    packet_batch_t **batches[] = {&self->nat_batch, &self->rest_batch, &self->device_batch, &self->crypto_batch,
                                  &self->tun_batch, &self->router_batch, &self->relay_batch, &self->control_batch};
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++)
        packet_batch_destroy(batches[i]);
    zsock_t **socks[] = {&self->inbox, &self->control, &self->to_nat, &self->to_crypto, &self->to_router,
                         &self->to_device};
    for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++)
        zsock_destroy(socks[i]);
    store_destroy(&self->store);
    free(self);
    *self_p = NULL;
}

static void register_counters(dataplane_t *self)
{
    service_t *svc = self->svc;
    self->batches_in = service_counter(svc, "batches_in");
    self->packets_in = service_counter(svc, "packets_in");
    self->datagrams_in = service_counter(svc, "datagrams_in");
    self->packets_out = service_counter(svc, "packets_out");
    self->datagrams_out = service_counter(svc, "datagrams_out");
    self->drop_bad_batch = service_counter(svc, "drop_bad_batch");
    self->drop_untagged = service_counter(svc, "drop_untagged");
    self->drop_not_transport = service_counter(svc, "drop_not_transport");
    self->drop_nat_queue_full = service_counter(svc, "drop_nat_queue_full");
    self->drop_device_queue_full = service_counter(svc, "drop_device_queue_full");
    self->drop_crypto_queue_full = service_counter(svc, "drop_crypto_queue_full");
    self->drop_router_queue_full = service_counter(svc, "drop_router_queue_full");
    self->tun_packets_in = service_counter(svc, "tun_packets_in");
    self->tun_to_router = service_counter(svc, "tun_to_router");
    self->handshakes_to_crypto = service_counter(svc, "handshakes_to_crypto");
    self->keypairs_in = service_counter(svc, "keypairs_in");
    self->wants_held = service_counter(svc, "wants_held");
    self->keys_drops_in = service_counter(svc, "keys_drops_in");
    self->key_events_out = service_counter(svc, "key_events_out");
    self->drop_key_event = service_counter(svc, "drop_key_event");
    self->drop_revoked = service_counter(svc, "drop_revoked");
    self->drop_handshake_timeout = service_counter(svc, "drop_handshake_timeout");
    self->drop_bad_message = service_counter(svc, "drop_bad_message");
    self->drop_unexpected_message = service_counter(svc, "drop_unexpected_message");
    self->forwarded_packets = service_counter(svc, "forwarded_packets");
    self->forwarded_bytes = service_counter(svc, "forwarded_bytes");
    self->relayed_out_packets = service_counter(svc, "relayed_out_packets");
    self->relayed_in_packets = service_counter(svc, "relayed_in_packets");
    self->drop_forward_ttl = service_counter(svc, "drop_forward_ttl");
    self->drop_forward_loop = service_counter(svc, "drop_forward_loop");
    self->drop_forward_no_route = service_counter(svc, "drop_forward_no_route");
    self->drop_forward_refused = service_counter(svc, "drop_forward_refused");
    self->drop_forward_bad = service_counter(svc, "drop_forward_bad");
    self->announcements_in = service_counter(svc, "announcements_in");
    self->announcements_out = service_counter(svc, "announcements_out");
    self->drop_control_queue_full = service_counter(svc, "drop_control_queue_full");
    self->handshakes_from_crypto = service_counter(svc, "handshakes_from_crypto");
    self->mesh_routes_in = service_counter(svc, "mesh_routes_in");
}

static dataplane_t *dataplane_new(service_t *svc, char *why, size_t why_len)
{
    dataplane_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    self->svc = svc;
    register_counters(self);
    if (identity_load_id(svc->config.identity_file, self->local_id, why, why_len) != 0) {
        dataplane_destroy(&self);
        return NULL;
    }
    const weft_config_t *cfg = &svc->config;
    int mtu = cfg->mtu < 1500 ? 1500 : cfg->mtu > 65535 ? 65535 : cfg->mtu;
    self->keys = keyring_new((size_t)mtu + FRAME_OVERHEAD, svc);
    self->members = id_table_new();
    if (self->members)
        zhashx_set_destructor(self->members, member_free);
    self->hops = id_table_new();
    if (self->hops)
        zhashx_set_destructor(self->hops, member_free);
    self->max_ttl = (uint8_t)cfg->routing_max_hops;
    self->relay = cfg->connection_relay_via_peers;
    self->inbox = service_bind_inbox(svc);
    self->control = service_bind_control(svc);
    self->to_nat = service_connect_inbox(svc, SVC_NAT);
    self->to_crypto = service_connect_inbox(svc, SVC_CRYPTO);
    self->to_router = service_connect_inbox(svc, SVC_ROUTER);
    self->to_device = service_connect_inbox(svc, SVC_DEVICE);
    self->nat_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->rest_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->device_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    self->crypto_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    self->tun_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->router_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->relay_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__OUTBOUND);
    self->control_batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__CONTROL);
    if (cfg->dataplane_direct)   // a datagram may be a forward frame around a full one
        self->direct = direct_paths_new(svc, (size_t)mtu + FRAME_OVERHEAD + DATAGRAM_TRANSPORT_MIN_LEN, cfg->dataplane_gso,
                                        cfg->dataplane_gro);
    if (cfg->dataplane_tun && strcmp(cfg->device_mode, "tun") == 0)
        self->tun = tun_borrow_new(svc, cfg->device_tun);
    if (!self->keys || !self->members || !self->inbox || !self->control || !self->to_nat || !self->to_crypto ||
        !self->to_router || !self->to_device || !self->nat_batch || !self->rest_batch || !self->device_batch ||
        !self->crypto_batch || !self->tun_batch || !self->router_batch || !self->relay_batch || !self->control_batch ||
        !self->hops || (cfg->dataplane_direct && !self->direct) ||
        (cfg->dataplane_tun && strcmp(cfg->device_mode, "tun") == 0 && !self->tun)) {
        snprintf(why, why_len, "cannot set up the data plane's sockets and tables (see above)");
        dataplane_destroy(&self);
        return NULL;
    }
    self->io = (keyring_io_t){.to_wire = self->nat_batch, .to_tun = self->device_batch, .flush = on_batch_full,
                              .flush_ctx = self, .want = on_want, .established = on_established,
                              .mesh = on_mesh_frame, .ctx = self};
    self->relay_io = self->io;
    self->relay_io.to_wire = self->relay_batch;
    char url[CONFIG_STR];
    config_redis_url(cfg, url, sizeof url);
    store_link_init(&self->redis, url);
    update_detail(self);
    return self;
}

void dataplane_actor(zsock_t *pipe, void *args)
{
    char why[1024];
    dataplane_t *self = dataplane_new(args, why, sizeof why);
    actor_loop_t *loop = self ? actor_loop_new(pipe, self->svc, self->control, self) : NULL;
    if (self)
        self->loop = loop;
    if (!loop || actor_loop_on_socket(loop, self->inbox, handle_inbox) != 0 ||
        (self->direct && actor_loop_on_fd(loop, direct_paths_fd(self->direct), handle_direct) != 0) ||
        actor_loop_every(loop, TICK_MS, tick) != 0) {
        if (self)   // dataplane_new said its own why
            snprintf(why, sizeof why, "cannot set up the actor loop");
        actor_loop_destroy(&loop);
        dataplane_destroy(&self);
        service_actor_fail(pipe, why);
        return;
    }
    zsock_signal(pipe, 0);
    tick(self);   // connects to Redis, loads the member list and asks device for the TUN
    actor_loop_run(loop);
    actor_loop_destroy(&loop);
    dataplane_destroy(&self);
}
