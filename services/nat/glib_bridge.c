// glib_bridge.c — the GLib thread of weft-nat: its main loop, the inbound datagram batches (handshakes
// to crypto, transport to the data plane) and the event socket to the actor. See glib_bridge.h.
#include "glib_bridge.h"

#include "clock.h"

#include <stdatomic.h>

#include "datagram.h"
#include "log.h"
#include "wire.h"

struct glib_bridge {
    service_t *svc;
    char events_endpoint[CONFIG_STR];
    GMainContext *context;
    GMainLoop *loop;
    GThread *thread;

    // start-up handshake: the thread reports whether its sockets are up
    GMutex ready_lock;
    GCond ready_cond;
    int ready;                  // 0 waiting, 1 up, -1 failed

    // GLib thread only
    zsock_t *events;            // PUSH to the actor
    zsock_t *crypto;            // PUSH to crypto's inbox: handshake datagrams (types 1-3)
    zsock_t *dataplane;         // PUSH to the data plane's inbox: transport datagrams (type 4)
    packet_batch_t *batch;      // handshake datagrams received in this main-loop pass
    packet_batch_t *transport;  // transport datagrams received in this main-loop pass
    GSource *flush_source;      // idle source that sends the batch, while one is pending

    _Atomic uint64_t datagrams_in, bytes_in, drop_crypto_full, drop_not_weft, drop_handshake_flood;
};

static void set_ready(glib_bridge_t *self, int ready)
{
    g_mutex_lock(&self->ready_lock);
    self->ready = ready;
    g_cond_signal(&self->ready_cond);
    g_mutex_unlock(&self->ready_lock);
}

static int open_sockets(glib_bridge_t *self)
{
    self->batch = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    self->transport = packet_batch_new(WEFT__PACKET_BATCH__DIRECTION__INBOUND);
    self->crypto = service_connect_inbox(self->svc, SVC_CRYPTO);
    self->dataplane = service_connect_inbox(self->svc, SVC_DATAPLANE);
    self->events = zsock_new(ZMQ_PUSH);
    if (!self->batch || !self->transport || !self->crypto || !self->dataplane || !self->events)
        return -1;
    zsock_set_linger(self->events, 0);
    zsock_set_sndhwm(self->events, 0);   // events are few and must not be lost: no limit
    if (zsock_connect(self->events, "%s", self->events_endpoint) < 0) {
        log_error("glib thread: cannot connect the event socket to %s", self->events_endpoint);
        return -1;
    }
    return 0;
}

static void close_sockets(glib_bridge_t *self)
{
    if (self->flush_source) {
        g_source_destroy(self->flush_source);
        g_source_unref(self->flush_source);
        self->flush_source = NULL;
    }
    zsock_destroy(&self->events);
    zsock_destroy(&self->crypto);
    zsock_destroy(&self->dataplane);
    packet_batch_destroy(&self->batch);
    packet_batch_destroy(&self->transport);
}

static gpointer thread_main(gpointer data)
{
    glib_bridge_t *self = data;
    g_main_context_push_thread_default(self->context);
    if (open_sockets(self) != 0) {
        close_sockets(self);
        g_main_context_pop_thread_default(self->context);
        set_ready(self, -1);
        return NULL;
    }
    set_ready(self, 1);
    g_main_loop_run(self->loop);
    close_sockets(self);
    g_main_context_pop_thread_default(self->context);
    return NULL;
}

glib_bridge_t *glib_bridge_new(service_t *svc, const char *events_endpoint)
{
    glib_bridge_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->svc = svc;
    snprintf(self->events_endpoint, sizeof self->events_endpoint, "%s", events_endpoint);
    g_mutex_init(&self->ready_lock);
    g_cond_init(&self->ready_cond);
    self->context = g_main_context_new();
    self->loop = g_main_loop_new(self->context, FALSE);
    self->thread = g_thread_new("weft-nat-glib", thread_main, self);
    g_mutex_lock(&self->ready_lock);
    while (self->ready == 0)
        g_cond_wait(&self->ready_cond, &self->ready_lock);
    int ready = self->ready;
    g_mutex_unlock(&self->ready_lock);
    if (ready < 0) {
        log_error("the GLib thread could not open its sockets");
        glib_bridge_destroy(&self);
        return NULL;
    }
    return self;
}

static gboolean quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

void glib_bridge_destroy(glib_bridge_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    glib_bridge_t *self = *self_p;
    if (self->thread) {
        g_main_context_invoke(self->context, quit_loop, self->loop);
        g_thread_join(self->thread);
    }
    g_main_loop_unref(self->loop);
    g_main_context_unref(self->context);
    g_mutex_clear(&self->ready_lock);
    g_cond_clear(&self->ready_cond);
    free(self);
    *self_p = NULL;
}

GMainContext *glib_bridge_context(glib_bridge_t *self)
{
    return self->context;
}

void glib_bridge_invoke(glib_bridge_t *self, GSourceFunc func, gpointer data)
{
    g_main_context_invoke(self->context, func, data);
}

void glib_bridge_stats(glib_bridge_t *self, glib_bridge_stats_t *out)
{
    out->datagrams_in = atomic_load_explicit(&self->datagrams_in, memory_order_relaxed);
    out->bytes_in = atomic_load_explicit(&self->bytes_in, memory_order_relaxed);
    out->drop_crypto_full = atomic_load_explicit(&self->drop_crypto_full, memory_order_relaxed);
    out->drop_not_weft = atomic_load_explicit(&self->drop_not_weft, memory_order_relaxed);
    out->drop_handshake_flood = atomic_load_explicit(&self->drop_handshake_flood, memory_order_relaxed);
}

static void send_batch(glib_bridge_t *self, packet_batch_t *batch, zsock_t *sock)
{
    size_t count = batch->count;
    if (count && packet_batch_send(batch, sock) < 0) {
        atomic_fetch_add_explicit(&self->drop_crypto_full, count, memory_order_relaxed);
        log_debug("%s's inbox is full: dropped %zu received datagrams", sock == self->crypto ? "crypto" : "dataplane",
                  count);
    }
}

// The datagrams received so far: handshakes to crypto, transport to the data plane.
static void send_batches(glib_bridge_t *self)
{
    send_batch(self, self->batch, self->crypto);
    send_batch(self, self->transport, self->dataplane);
}

static gboolean flush_when_idle(gpointer data)
{
    glib_bridge_t *self = data;
    send_batches(self);
    g_source_unref(self->flush_source);
    self->flush_source = NULL;
    return G_SOURCE_REMOVE;
}

void glib_bridge_deliver(glib_bridge_t *self, const uint8_t peer[32], const void *data, size_t len,
                         rate_limit_t *handshakes)
{
    if (!datagram_for_crypto(data, len)) {
        uint64_t n = atomic_fetch_add_explicit(&self->drop_not_weft, 1, memory_order_relaxed) + 1;
        if (log_worth_repeating(n))
            log_warn("dropped %llu datagrams from the wire that are not weft's (first byte 0x%02x, %zu bytes)",
                     (unsigned long long)n, len ? ((const uint8_t *)data)[0] : 0, len);
        return;
    }
    if (!datagram_path_allows(handshakes, data, clock_now_ms())) {
        uint64_t n = atomic_fetch_add_explicit(&self->drop_handshake_flood, 1, memory_order_relaxed) + 1;
        if (log_worth_repeating(n))
            log_warn("dropped %llu handshake datagrams over %d a second on one peer's path (a flood?)",
                     (unsigned long long)n, DATAGRAM_PATH_HANDSHAKES_PER_S);
        return;
    }
    bool transport = ((const uint8_t *)data)[0] == DATAGRAM_TRANSPORT;
    packet_batch_t *batch = transport ? self->transport : self->batch;
    if (!packet_batch_fits(batch, len, peer))
        send_batch(self, batch, transport ? self->dataplane : self->crypto);
    if (packet_batch_add(batch, data, len, peer) != 0)
        return;  // cannot happen for a UDP datagram (< 64 KiB) in an empty batch
    atomic_fetch_add_explicit(&self->datagrams_in, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&self->bytes_in, len, memory_order_relaxed);
    if (batch->count >= WIRE_MAX_BATCH_PACKETS) {
        send_batch(self, batch, transport ? self->dataplane : self->crypto);
    } else if (!self->flush_source) {
        // an idle source runs after the pending I/O of this pass: everything that arrived together goes together
        self->flush_source = g_idle_source_new();
        g_source_set_callback(self->flush_source, flush_when_idle, self, NULL);
        g_source_attach(self->flush_source, self->context);
    }
}

void glib_bridge_post(glib_bridge_t *self, zmsg_t **msg)
{
    if (zmsg_send(msg, self->events) != 0) {
        log_warn("glib thread: cannot post an event to the actor");
        zmsg_destroy(msg);
    }
}
