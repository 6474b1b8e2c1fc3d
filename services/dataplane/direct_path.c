// direct_path.c — the data plane's direct paths (see direct_path.h).
#include "direct_path.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "datagram.h"
#include "log.h"
#include "ratelimit.h"
#include "sockaddr_text.h"
#include "udp_batch.h"
#include "udp_steer.h"
#include "wire.h"

#define RECV_ROUNDS 8               // recvmmsg calls per path per wake-up, so one busy path cannot starve the rest
#define READY_MAX 16                // paths taken from epoll per wake-up

// One peer's totals over all its direct paths.
typedef struct {
    uint8_t peer[WIRE_ID_LEN];
    direct_totals_t totals;
    bool changed;
} peer_totals_t;

typedef struct {
    uint8_t peer[WIRE_ID_LEN];
    char hex[ID_HEX_LEN];
    peer_totals_t *totals;          // in direct_paths_t.totals (entries are never moved: an array of pointers)
    int fd;
    char local_text[64], remote_text[64];
    struct sockaddr_storage remote;
    socklen_t remote_len;
    udp_batch_t *batch;             // this socket's send and receive buffers
    rate_limit_t handshakes;        // handshake datagrams passed on from this path
    int64_t said_ms;                // monotonic: nat last named this path
} direct_path_t;

struct direct_paths {
    service_t *svc;
    int epoll_fd;
    udp_offloads_t want;
    size_t max_datagram;
    direct_path_t **paths;
    size_t count, cap;
    peer_totals_t **totals;         // one per peer that ever had a path
    size_t totals_count, totals_cap;
    uint64_t *paths_opened, *paths_closed, *open_failed, *bad_messages;
    uint64_t *datagrams_out, *datagrams_in, *drop_send, *drop_source, *drop_not_weft, *recv_errors;
    uint64_t *drop_handshake_flood;
};

direct_paths_t *direct_paths_new(service_t *svc, size_t max_datagram, bool gso, bool gro)
{
    direct_paths_t *self = calloc(1, sizeof *self);
    if (!self) {
        log_error("direct paths: out of memory");
        return NULL;
    }
    self->svc = svc;
    self->max_datagram = max_datagram < 64 ? 64 : max_datagram > UDP_BATCH_MAX_LEN ? UDP_BATCH_MAX_LEN : max_datagram;
    self->want = (udp_offloads_t){.gso = gso, .gro = gro};
    self->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epoll_fd < 0) {
        log_error("direct paths: epoll_create1: %s", strerror(errno));
        free(self);
        return NULL;
    }
    self->paths_opened = service_counter(svc, "direct_paths_opened");
    self->paths_closed = service_counter(svc, "direct_paths_closed");
    self->open_failed = service_counter(svc, "direct_open_failed");
    self->bad_messages = service_counter(svc, "direct_bad_messages");
    self->datagrams_out = service_counter(svc, "direct_datagrams_out");
    self->datagrams_in = service_counter(svc, "direct_datagrams_in");
    self->drop_send = service_counter(svc, "direct_drop_send");
    self->drop_source = service_counter(svc, "direct_drop_source");
    self->drop_not_weft = service_counter(svc, "direct_drop_not_weft");
    self->drop_handshake_flood = service_counter(svc, "direct_drop_handshake_flood");
    self->recv_errors = service_counter(svc, "direct_recv_errors");
    return self;
}

static void path_close(direct_paths_t *self, size_t index, const char *why)
{
    direct_path_t *p = self->paths[index];
    log_info("peer %.16s: direct path %s -> %s closed (%s); its datagrams go through nat", p->hex, p->local_text,
             p->remote_text, why);
    epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
    close(p->fd);
    udp_batch_destroy(&p->batch);
    free(p);
    self->paths[index] = self->paths[--self->count];
    (*self->paths_closed)++;
}

void direct_paths_destroy(direct_paths_t **self_p)
{
    direct_paths_t *self = *self_p;
    if (!self)
        return;
    while (self->count)
        path_close(self, self->count - 1, "the data plane stopping");
    free(self->paths);
    for (size_t i = 0; i < self->totals_count; i++)
        free(self->totals[i]);
    free(self->totals);
    close(self->epoll_fd);
    free(self);
    *self_p = NULL;
}

int direct_paths_fd(const direct_paths_t *self)
{
    return self->epoll_fd;
}

size_t direct_paths_count(const direct_paths_t *self)
{
    return self->count;
}

static ssize_t find(const direct_paths_t *self, const uint8_t peer[WIRE_ID_LEN])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp(self->paths[i]->peer, peer, WIRE_ID_LEN) == 0)
            return (ssize_t)i;
    return -1;
}

bool direct_paths_has(const direct_paths_t *self, const uint8_t peer[WIRE_ID_LEN])
{
    return find(self, peer) >= 0;
}

// The peer's totals, made on first use. NULL when out of memory.
static peer_totals_t *totals_of(direct_paths_t *self, const uint8_t peer[WIRE_ID_LEN])
{
    for (size_t i = 0; i < self->totals_count; i++)
        if (memcmp(self->totals[i]->peer, peer, WIRE_ID_LEN) == 0)
            return self->totals[i];
    if (self->totals_count == self->totals_cap) {
        size_t cap = self->totals_cap ? self->totals_cap * 2 : 8;
        peer_totals_t **totals = realloc(self->totals, cap * sizeof *totals);
        if (!totals)
            return NULL;
        self->totals = totals;
        self->totals_cap = cap;
    }
    peer_totals_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    memcpy(t->peer, peer, WIRE_ID_LEN);
    self->totals[self->totals_count++] = t;
    return t;
}

void direct_paths_report(direct_paths_t *self, bool all, direct_totals_fn *fn, void *ctx)
{
    for (size_t i = 0; i < self->totals_count; i++) {
        peer_totals_t *t = self->totals[i];
        if (all || t->changed)
            fn(ctx, t->peer, &t->totals);
        t->changed = false;
    }
}

// Opens the steering socket for a path nat handed over. Returns the path, or NULL (logged, counted).
static direct_path_t *path_open(direct_paths_t *self, const uint8_t peer[WIRE_ID_LEN], const char *local,
                                const char *remote)
{
    char err[256];
    struct sockaddr_storage local_addr;
    socklen_t local_len;
    direct_path_t *p = calloc(1, sizeof *p);
    if (!p) {
        log_error("direct paths: out of memory");
        return NULL;
    }
    memcpy(p->peer, peer, WIRE_ID_LEN);
    id_to_hex(peer, p->hex);
    p->fd = -1;
    if (!(p->totals = totals_of(self, peer))) {
        log_error("direct paths: out of memory");
        free(p);
        return NULL;
    }
    snprintf(p->local_text, sizeof p->local_text, "%s", local);
    snprintf(p->remote_text, sizeof p->remote_text, "%s", remote);
    udp_offloads_t got;
    if (sockaddr_parse(local, false, &local_addr, &local_len, err, sizeof err) != 0 ||
        sockaddr_parse(remote, false, &p->remote, &p->remote_len, err, sizeof err) != 0 ||
        (p->fd = udp_steer_open((struct sockaddr *)&local_addr, local_len, err, sizeof err)) < 0 ||
        !(p->batch = udp_batch_new(DIRECT_PATH_BATCH, self->max_datagram, err, sizeof err)) ||
        udp_batch_attach(p->batch, p->fd, self->want, &got, err, sizeof err) != 0) {
        log_warn("peer %.16s: cannot use the direct path %s -> %s, its datagrams keep going through nat: %s", p->hex,
                 local, remote, err);
        (*self->open_failed)++;
        if (p->fd >= 0)
            close(p->fd);
        udp_batch_destroy(&p->batch);
        free(p);
        return NULL;
    }
    // a link-local peer is reached on the interface our end of the pair is bound to
    if (p->remote.ss_family == AF_INET6 && local_addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *r = (struct sockaddr_in6 *)&p->remote;
        if (!r->sin6_scope_id && IN6_IS_ADDR_LINKLOCAL(&r->sin6_addr))
            r->sin6_scope_id = ((struct sockaddr_in6 *)&local_addr)->sin6_scope_id;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
        log_warn("peer %.16s: cannot watch the direct path's socket: %s", p->hex, strerror(errno));
        (*self->open_failed)++;
        close(p->fd);
        udp_batch_destroy(&p->batch);
        free(p);
        return NULL;
    }
    log_info("peer %.16s: direct path %s -> %s: the data plane sends and receives on it (GSO %s, GRO %s)", p->hex, local,
             remote, got.gso ? "on" : "off", got.gro ? "on" : "off");
    (*self->paths_opened)++;
    return p;
}

void direct_paths_apply(direct_paths_t *self, const Weft__DirectPath *msg, int64_t now_ms)
{
    if (msg->withdraw_all) {
        while (self->count)
            path_close(self, self->count - 1, "nat restarted");
        return;
    }
    if (msg->peer.len != WIRE_ID_LEN) {
        (*self->bad_messages)++;
        log_warn("dropped a DirectPath with a %zu-byte peer id (want 32)", msg->peer.len);
        return;
    }
    ssize_t i = find(self, msg->peer.data);
    if (msg->withdraw) {
        if (i >= 0)
            path_close(self, (size_t)i, "nat withdrew it");
        return;
    }
    if (!msg->local || !msg->remote || !msg->local[0] || !msg->remote[0]) {
        (*self->bad_messages)++;
        log_warn("dropped a DirectPath without local or remote address");
        return;
    }
    if (i >= 0 && strcmp(self->paths[i]->local_text, msg->local) == 0 &&
        strcmp(self->paths[i]->remote_text, msg->remote) == 0) {
        self->paths[i]->said_ms = now_ms;
        return;
    }
    if (i >= 0)
        path_close(self, (size_t)i, "nat chose another pair");
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        direct_path_t **paths = realloc(self->paths, cap * sizeof *paths);
        if (!paths) {
            log_error("direct paths: out of memory");
            return;
        }
        self->paths = paths;
        self->cap = cap;
    }
    direct_path_t *p = path_open(self, msg->peer.data, msg->local, msg->remote);
    if (!p)
        return;
    p->said_ms = now_ms;
    self->paths[self->count++] = p;
}

void direct_paths_tick(direct_paths_t *self, int64_t now_ms)
{
    for (size_t i = self->count; i-- > 0;)
        if (now_ms - self->paths[i]->said_ms >= DIRECT_PATH_TTL_MS)
            path_close(self, i, "nat has not named it for 6 s");
}

size_t direct_paths_send(direct_paths_t *self, const uint8_t peer[WIRE_ID_LEN], const struct iovec *datagrams,
                         size_t n)
{
    ssize_t i = find(self, peer);
    if (i < 0) {
        *self->drop_send += n;
        return 0;
    }
    direct_path_t *p = self->paths[i];
    size_t sent = 0;
    char err[200];
    if (udp_batch_send(p->batch, (struct sockaddr *)&p->remote, p->remote_len, datagrams, n, &sent, err,
                       sizeof err) != 0) {
        *self->drop_send += n - sent;
        if (log_worth_repeating(*self->drop_send))
            log_warn("peer %.16s: sending on the direct path to %s: %s (%llu datagrams dropped so far)", p->hex,
                     p->remote_text, err, (unsigned long long)*self->drop_send);
    } else if (sent < n) {
        *self->drop_send += n - sent;   // the socket's buffer is full: dropped, as a full queue to nat would
    }
    *self->datagrams_out += sent;
    if (sent) {
        for (size_t k = 0; k < sent; k++)
            p->totals->totals.tx_bytes += datagrams[k].iov_len;
        p->totals->totals.tx_packets += sent;
        p->totals->changed = true;
    }
    return sent;
}

// Reads one path until it has nothing more (or RECV_ROUNDS batches).
static void receive_path(direct_paths_t *self, direct_path_t *p, direct_datagram_fn *fn, void *ctx)
{
    for (int round = 0; round < RECV_ROUNDS; round++) {
        const udp_datagram_t *got;
        size_t n = 0;
        char err[200];
        if (udp_batch_recv(p->batch, &got, &n, err, sizeof err) != 0) {
            if (log_worth_repeating(++*self->recv_errors))
                log_warn("peer %.16s: receiving on the direct path %s: %s", p->hex, p->local_text, err);
            return;
        }
        for (size_t k = 0; k < n; k++) {
            if (!sockaddr_same((const struct sockaddr *)got[k].from, (const struct sockaddr *)&p->remote)) {
                (*self->drop_source)++;     // the steering socket is unconnected: anyone can send to it
                continue;
            }
            // the kernel's program looks at the first datagram of a GRO buffer only; and a socket left alone
            // on its port (nat died) gets everything
            if (!udp_steer_takes(got[k].data, got[k].len)) {
                (*self->drop_not_weft)++;
                continue;
            }
            // handshakes beyond what crypto would ever answer cost nothing more than this (a flood of
            // mac1-valid initiations must not take the loop from the packets)
            if (!datagram_path_allows(&p->handshakes, got[k].data, clock_now_ms())) {
                if (log_worth_repeating(++*self->drop_handshake_flood))
                    log_warn("peer %.16s: dropped %llu handshake datagrams over %d a second on the direct path "
                             "(a flood?)", p->hex, (unsigned long long)*self->drop_handshake_flood,
                             DATAGRAM_PATH_HANDSHAKES_PER_S);
                continue;
            }
            (*self->datagrams_in)++;
            p->totals->totals.rx_bytes += got[k].len;
            p->totals->totals.rx_packets++;
            p->totals->changed = true;
            fn(ctx, p->peer, got[k].data, got[k].len);
        }
        if (n < DIRECT_PATH_BATCH)
            return;
    }
}

void direct_paths_receive(direct_paths_t *self, direct_datagram_fn *fn, void *ctx)
{
    struct epoll_event ready[READY_MAX];
    int n = epoll_wait(self->epoll_fd, ready, READY_MAX, 0);
    for (int i = 0; i < n; i++)
        receive_path(self, ready[i].data.ptr, fn, ctx);
}
