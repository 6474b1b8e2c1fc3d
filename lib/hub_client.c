// hub_client.c — see hub_client.h.
#include "hub_client.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_key.h"

struct hub_client {
    zsock_t *dealer;
    char endpoint[256];
};

hub_client_t *hub_client_new(const char *endpoint, const char *hub_key, const identity_t *id,
                             const hub_client_opts_t *opts, char *err, size_t err_len)
{
    static const hub_client_opts_t one_request = {.linger_ms = 200};
    if (!opts)
        opts = &one_request;
    uint8_t server_key[32], x_public[32], x_secret[32];
    if (hub_key_parse(hub_key, server_key, err, err_len) != 0)
        return NULL;
    if (identity_x25519(id, x_public, x_secret) != 0) {
        snprintf(err, err_len, "cannot derive the CURVE key from the node identity");
        return NULL;
    }
    hub_client_t *self = calloc(1, sizeof *self);
    zcert_t *cert = zcert_new_from(x_public, x_secret);
    sodium_memzero(x_secret, sizeof x_secret);
    if (!self || !cert || !(self->dealer = zsock_new(ZMQ_DEALER))) {
        snprintf(err, err_len, "cannot create the hub socket");
        zcert_destroy(&cert);
        hub_client_destroy(&self);
        return NULL;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    zsock_set_linger(self->dealer, opts->linger_ms);
    if (opts->immediate)
        zsock_set_immediate(self->dealer, 1);
    if (opts->sndhwm > 0)
        zsock_set_sndhwm(self->dealer, opts->sndhwm);
    zsock_set_maxmsgsize(self->dealer, HUB_CLIENT_MAX_REPLY);
    zcert_apply(cert, self->dealer);
    zcert_destroy(&cert);
    zsock_set_curve_serverkey_bin(self->dealer, server_key);
    if (opts->monitor && zmq_socket_monitor(zsock_resolve(self->dealer), opts->monitor, ZMQ_EVENT_ALL) != 0) {
        snprintf(err, err_len, "cannot watch the hub socket: %s", zmq_strerror(zmq_errno()));
        hub_client_destroy(&self);
        return NULL;
    }
    if (zsock_connect(self->dealer, "%s", endpoint) != 0) {
        snprintf(err, err_len, "cannot connect to the hub at '%s': %s", endpoint, zmq_strerror(zmq_errno()));
        hub_client_destroy(&self);
        return NULL;
    }
    return self;
}

void hub_client_destroy(hub_client_t **self)
{
    if (self && *self) {
        zsock_destroy(&(*self)->dealer);
        free(*self);
        *self = NULL;
    }
}

zsock_t *hub_client_socket(hub_client_t *self)
{
    return self->dealer;
}

int hub_client_send_packed(hub_client_t *self, const uint8_t *data, size_t size, int flags)
{
    return zmq_send(zsock_resolve(self->dealer), data, size, flags) < 0 ? -1 : 0;
}

int hub_client_send(hub_client_t *self, const Weft__HubRequest *req, int flags)
{
    uint8_t stack_buf[2048];
    size_t size = weft__hub_request__get_packed_size(req);
    uint8_t *buf = size <= sizeof stack_buf ? stack_buf : malloc(size);
    if (!buf)
        return -1;
    weft__hub_request__pack(req, buf);
    int rc = hub_client_send_packed(self, buf, size, flags);
    if (buf != stack_buf)
        free(buf);
    return rc;
}

Weft__HubReply *hub_client_recv(hub_client_t *self, size_t *frames)
{
    zmsg_t *msg = zmsg_recv(self->dealer);
    if (frames)
        *frames = msg ? zmsg_size(msg) : 0;
    if (!msg)
        return NULL;
    Weft__HubReply *reply = NULL;
    if (zmsg_size(msg) == 1) {
        zframe_t *frame = zmsg_first(msg);
        reply = weft__hub_reply__unpack(NULL, zframe_size(frame), zframe_data(frame));
    }
    zmsg_destroy(&msg);
    if (reply && reply->body_case == WEFT__HUB_REPLY__BODY__NOT_SET) {
        weft__hub_reply__free_unpacked(reply, NULL);
        reply = NULL;
    }
    return reply;
}

Weft__HubReply *hub_client_call(hub_client_t *self, const Weft__HubRequest *req, int timeout_ms, char *err,
                                size_t err_len)
{
    if (hub_client_send(self, req, 0) != 0) {
        snprintf(err, err_len, "cannot send to the hub: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int64_t deadline = zclock_mono() + timeout_ms;
    while (zclock_mono() < deadline) {
        zpoller_t *poller = zpoller_new(self->dealer, NULL);
        void *which = zpoller_wait(poller, (int)(deadline - zclock_mono()));
        zpoller_destroy(&poller);
        if (!which)
            break;
        size_t frames;
        Weft__HubReply *reply = hub_client_recv(self, &frames);
        if (!reply && frames == 0)
            break;
        if (!reply)
            continue;
        if (reply->body_case == WEFT__HUB_REPLY__BODY_PEERS || reply->body_case == WEFT__HUB_REPLY__BODY_SIGNAL) {
            weft__hub_reply__free_unpacked(reply, NULL);  // not for us: keep waiting
            continue;
        }
        return reply;
    }
    snprintf(err, err_len,
             "no answer from the hub at %s within %d s: is it running and reachable, and is the hub key the "
             "one `weft hub key` prints there?",
             self->endpoint, timeout_ms / 1000);
    return NULL;
}
