// hub_zap.c — see hub_zap.h.
#include "hub_zap.h"

#include <netdb.h>
#include <sys/socket.h>

#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ADDR_MAX 64

typedef struct {
    int fd;
    char address[ADDR_MAX];         // numeric peer address, as libzmq puts it in a ZAP request
    bool shut;                      // shut down at accept, its disconnect not reported yet
} conn_t;

typedef struct {
    hub_zap_options_t options;
    conn_t *conns;                  // open TCP connections of the ROUTER
    size_t n, cap;
    uint64_t refused, shut;
    int64_t refused_logged, shut_logged;    // monotonic ms of the last warning (one per 10 s)
} zap_t;

#define LOG_EVERY_MS 10000

static size_t count_address(const zap_t *z, const char *address)
{
    size_t n = 0;
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->conns[i].address, address) == 0)
            n++;
    return n;
}

// Connections not shut at accept: the sessions, and those still in their handshake.
static size_t count_kept(const zap_t *z)
{
    size_t n = 0;
    for (size_t i = 0; i < z->n; i++)
        n += !z->conns[i].shut;
    return n;
}

static conn_t *find_conn(zap_t *z, int fd)
{
    for (size_t i = 0; i < z->n; i++)
        if (z->conns[i].fd == fd)
            return &z->conns[i];
    return NULL;
}

static void peer_address(int fd, char *out, size_t out_len)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    snprintf(out, out_len, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)out_len, NULL, 0, NI_NUMERICHOST);
}

// A new TCP connection: over a cap it is shut down at once (libzmq then sees EOF and closes it).
static void on_accepted(zap_t *z, int fd)
{
    char address[ADDR_MAX];
    peer_address(fd, address, sizeof address);
    size_t from = count_address(z, address);
    bool shut = from >= (size_t)z->options.max_per_address || count_kept(z) >= (size_t)z->options.max_total;
    if (shut) {
        z->shut++;
        if (zclock_mono() - z->shut_logged >= LOG_EVERY_MS && (z->shut_logged = zclock_mono()))
            log_warn("zap: shut a connection from %s at accept: %zu open from it, %zu in all (caps %d per address, "
                     "%d in all; %llu shut so far)", address, from, count_kept(z), z->options.max_per_address,
                     z->options.max_total, (unsigned long long)z->shut);
        shutdown(fd, SHUT_RDWR);
        // it is still libzmq's fd until it reports the disconnect: keep it in the table, marked
    }
    if (z->n == z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 256;
        conn_t *grown = realloc(z->conns, cap * sizeof *grown);
        if (!grown) {
            log_error("zap: out of memory tracking connections");
            return;
        }
        z->conns = grown;
        z->cap = cap;
    }
    conn_t *c = &z->conns[z->n++];
    c->fd = fd;
    snprintf(c->address, sizeof c->address, "%s", address);
    c->shut = shut;
}

static void on_gone(zap_t *z, int fd)
{
    conn_t *c = find_conn(z, fd);
    if (c)
        *c = z->conns[--z->n];
}

// One monitor event: frame 1 = u16 event + u32 value (the fd), frame 2 = endpoint.
static void monitor_event(zap_t *z, zsock_t *monitor)
{
    zmsg_t *msg = zmsg_recv(monitor);
    zframe_t *head = msg ? zmsg_first(msg) : NULL;
    if (head && zframe_size(head) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(head), 2);
        memcpy(&value, zframe_data(head) + 2, 4);
        int fd = (int)value;
        if (event == ZMQ_EVENT_ACCEPTED)
            on_accepted(z, fd);
        else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED)
            on_gone(z, fd);
    }
    zmsg_destroy(&msg);
}

static void drain_monitor(zap_t *z, zsock_t *monitor)
{
    while (monitor && (zsock_events(monitor) & ZMQ_POLLIN))
        monitor_event(z, monitor);
}

// Request: version, request id, domain, address, routing id, mechanism, credentials...
// Reply: version, request id, status code, status text, user id, metadata.
static void answer(zap_t *z, zsock_t *handler, zsock_t *monitor)
{
    zmsg_t *req = zmsg_recv(handler);
    if (!req)
        return;
    drain_monitor(z, monitor);  // the accept of this connection was reported before its handshake ended
    char *version = zmsg_popstr(req);
    char *request_id = zmsg_popstr(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    char *routing = zmsg_popstr(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);

    char user_id[41] = "";
    const char *status = "400", *text = "CURVE only";
    if (!mechanism || !streq(mechanism, "CURVE") || !key || zframe_size(key) != 32) {
        log_warn("zap: refused a %s connection from %s", mechanism ? mechanism : "?", address ? address : "?");
    } else if (monitor && address && count_address(z, address) > (size_t)z->options.max_per_address) {
        status = "300";
        text = "too many connections from this address";
    } else if (monitor && count_kept(z) > (size_t)z->options.max_total) {
        status = "300";
        text = "the hub is full";
    } else {
        zmq_z85_encode(user_id, zframe_data(key), 32);
        status = "200";
        text = "OK";
    }
    if (streq(status, "300"))
        z->refused++;
    if (streq(status, "300") && zclock_mono() - z->refused_logged >= LOG_EVERY_MS && (z->refused_logged = zclock_mono()))
        log_warn("zap: refused a session from %s: %s (%llu refused so far)", address ? address : "?", text,
                 (unsigned long long)z->refused);
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
    zap_t z = {0};
    if (args)
        z.options = *(const hub_zap_options_t *)args;
    if (z.options.max_total < 1)
        z.options.max_total = 1000;
    if (z.options.max_per_address < 1)
        z.options.max_per_address = 32;
    zsock_t *handler = zsock_new(ZMQ_REP);
    if (!handler || zsock_bind(handler, ZAP_ENDPOINT) != 0) {
        log_error("zap: cannot bind %s: %s", ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
        zsock_destroy(&handler);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_t *monitor = NULL;
    if (z.options.monitor[0]) {
        monitor = zsock_new(ZMQ_PAIR);
        if (!monitor || zsock_connect(monitor, "%s", z.options.monitor) != 0) {
            log_error("zap: cannot connect the socket monitor %s", z.options.monitor);
            zsock_destroy(&monitor);
            zsock_destroy(&handler);
            zsock_signal(pipe, 1);
            return;
        }
    }
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, handler, monitor, NULL);
    while (true) {
        zsock_t *which = zpoller_wait(poller, -1);
        if (which == handler) {
            answer(&z, handler, monitor);
            continue;
        }
        if (which == monitor) {
            monitor_event(&z, monitor);
            continue;
        }
        if (which != pipe)
            break;  // interrupted
        char *command = zstr_recv(pipe);
        bool term = !command || streq(command, "$TERM");
        if (command && streq(command, "STATS")) {
            drain_monitor(&z, monitor);
            zstr_sendf(pipe, "connections=%zu refused=%llu shut=%llu", count_kept(&z),
                       (unsigned long long)z.refused, (unsigned long long)z.shut);
        }
        zstr_free(&command);
        if (term)
            break;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&monitor);
    zsock_destroy(&handler);
    free(z.conns);
}
