// hub_zap.c — see hub_zap.h.
#include "hub_zap.h"

#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

// Request: version, request id, domain, address, routing id, mechanism, credentials...
// Reply: version, request id, status code, status text, user id, metadata.
static void answer(zsock_t *handler)
{
    zmsg_t *req = zmsg_recv(handler);
    if (!req)
        return;
    char *version = zmsg_popstr(req);
    char *request_id = zmsg_popstr(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    char *routing = zmsg_popstr(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);

    char user_id[41] = "";
    const char *status = "400", *text = "CURVE only";
    if (mechanism && streq(mechanism, "CURVE") && key && zframe_size(key) == 32) {
        zmq_z85_encode(user_id, zframe_data(key), 32);
        status = "200";
        text = "OK";
    } else {
        log_warn("zap: refused a %s connection from %s", mechanism ? mechanism : "?", address ? address : "?");
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, version ? version : "1.0");
    zmsg_addstr(reply, request_id ? request_id : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user_id);
    zmsg_addmem(reply, "", 0);
    zmsg_send(&reply, handler);

    zframe_destroy(&key);
    zstr_free(&version);
    zstr_free(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&routing);
    zstr_free(&mechanism);
    zmsg_destroy(&req);
}

void hub_zap_actor(zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *handler = zsock_new(ZMQ_REP);
    if (!handler || zsock_bind(handler, ZAP_ENDPOINT) != 0) {
        log_error("zap: cannot bind %s: %s", ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
        zsock_destroy(&handler);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, handler, NULL);
    while (true) {
        zsock_t *which = zpoller_wait(poller, -1);
        if (which == handler) {
            answer(handler);
            continue;
        }
        if (which != pipe)
            break;  // interrupted
        char *command = zstr_recv(pipe);
        bool term = !command || streq(command, "$TERM");
        zstr_free(&command);
        if (term)
            break;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&handler);
}
