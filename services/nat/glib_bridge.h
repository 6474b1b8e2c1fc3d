// glib_bridge.h — the GLib side of weft-nat: a thread running a GMainLoop on its own GMainContext (which
// drives every libnice agent), the way commands get into it (glib_bridge_invoke) and the ways results get
// out of it: events to the actor over an inproc PUSH socket, and received datagrams, batched per main-loop
// pass, to crypto's inbox (handshakes) and the data plane's (transport) over PUSH sockets. These sockets belong to the GLib thread alone.
#ifndef WEFT_NAT_GLIB_BRIDGE_H
#define WEFT_NAT_GLIB_BRIDGE_H

#include <czmq.h>
#include <glib.h>
#include <stdint.h>

#include "ratelimit.h"
#include "service.h"

typedef struct glib_bridge glib_bridge_t;

// Received-side counters, written by the GLib thread, read by the actor.
typedef struct {
    uint64_t datagrams_in;
    uint64_t bytes_in;
    uint64_t drop_crypto_full;      // batches crypto's or the data plane's inbox would not take (packets counted)
    uint64_t drop_not_weft;         // datagrams from the wire that are not shaped like a weft datagram (lib/datagram.h)
    uint64_t drop_handshake_flood;  // handshake datagrams over an agent's rate (DATAGRAM_PATH_HANDSHAKES_PER_S)
} glib_bridge_stats_t;

// Starts the GLib thread. `events_endpoint` is an inproc:// endpoint the actor has bound a PULL on.
// Returns NULL (logged) if the thread or its sockets cannot be set up.
glib_bridge_t *glib_bridge_new(service_t *svc, const char *events_endpoint);
// Stops the main loop (after every command already invoked has run) and joins the thread.
void glib_bridge_destroy(glib_bridge_t **self);

GMainContext *glib_bridge_context(glib_bridge_t *self);
// Runs func(data) on the GLib thread, after every command invoked before it. func returns G_SOURCE_REMOVE.
void glib_bridge_invoke(glib_bridge_t *self, GSourceFunc func, gpointer data);
void glib_bridge_stats(glib_bridge_t *self, glib_bridge_stats_t *out);

// ---- GLib thread only ----
// Adds a received datagram from `peer` to the inbound batch; the batch goes to crypto (handshakes) or the data plane (transport) when full or when
// the main loop has no more pending I/O. A datagram that is not one of weft's types is dropped and counted;
// so are handshake datagrams beyond lib/datagram.h's rate for one path (`handshakes`, the agent's bucket;
// docs/protocol.md, "Handshake flood protection").
void glib_bridge_deliver(glib_bridge_t *self, const uint8_t peer[32], const void *data, size_t len,
                         rate_limit_t *handshakes);
// Sends an event message to the actor (takes ownership of *msg).
void glib_bridge_post(glib_bridge_t *self, zmsg_t **msg);

#endif
