// udp_batch.c — batched UDP send (sendmmsg, UDP_SEGMENT) and receive (recvmmsg, UDP_GRO); see udp_batch.h.
#define _GNU_SOURCE   // sendmmsg, recvmmsg
#include "udp_batch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

// A send's control buffer holds one UDP_SEGMENT (a u16); a receive's the UDP_GRO size (an int) and room
// for a few more the caller may have asked for on the socket (they are ignored).
typedef union {
    struct cmsghdr align;
    uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
} tx_ctrl_t;
typedef union {
    struct cmsghdr align;
    uint8_t buf[4 * CMSG_SPACE(sizeof(int))];
} rx_ctrl_t;

struct udp_batch {
    int fd;
    size_t max_datagrams, max_len;
    udp_offloads_t on;
    size_t gso_max_seg;     // GSO runs only of datagrams this long or shorter: a segment above the path's MTU
                            // makes the whole send fail (EMSGSIZE), where one datagram alone is fragmented
    udp_batch_stats_t stats;
    // send: one message per run (at most one per datagram), one iovec per datagram
    struct sockaddr_storage tx_dst;
    struct mmsghdr *tx_msgs;
    struct iovec *tx_iov;
    tx_ctrl_t *tx_ctrl;
    size_t *tx_count;   // datagrams in each message
    // receive: max_datagrams buffers of rx_len bytes (max_len, or UDP_BATCH_GRO_BUF under GRO)
    size_t rx_len;
    bool rx_gro;
    uint8_t *rx_data;
    struct mmsghdr *rx_msgs;
    struct iovec *rx_iov;
    struct sockaddr_storage *rx_from;
    rx_ctrl_t *rx_ctrl;
    udp_datagram_t *out;
    size_t out_cap;
};

static const char *addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (!sa)
        snprintf(buf, len, "the connected peer");
    else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else
        snprintf(buf, len, "an address of family %d", sa->sa_family);
    return buf;
}

int udp_batch_probe(int fd, udp_offloads_t *out, char *err, size_t err_len)
{
    *out = (udp_offloads_t){0};
    int type = 0, proto = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        snprintf(err, err_len, "udp offload probe: fd %d: %s", fd, strerror(errno));
        return -1;
    }
    len = sizeof proto;
    if (type != SOCK_DGRAM || getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0 || proto != IPPROTO_UDP) {
        snprintf(err, err_len, "udp offload probe: fd %d is not a UDP socket", fd);
        return -1;
    }
    int v = 0;
    len = sizeof v;
    out->gso = getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &v, &len) == 0;
    // UDP_GRO is tried by setting it; what was there before is put back (0 if it cannot be read)
    int before = 0;
    len = sizeof before;
    if (getsockopt(fd, IPPROTO_UDP, UDP_GRO, &before, &len) < 0)
        before = 0;
    int one = 1;
    out->gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
    if (out->gro && !before)
        setsockopt(fd, IPPROTO_UDP, UDP_GRO, &before, sizeof before);
    return 0;
}

// (Re)sizes the receive side: buffers of max_len bytes holding one datagram each, or under GRO of
// UDP_BATCH_GRO_BUF bytes holding up to UDP_BATCH_GSO_MAX_SEGMENTS (the kernel's GRO limit). On failure the
// old buffers stay.
static int rx_alloc(udp_batch_t *self, bool gro, char *err, size_t err_len)
{
    size_t rx_len = gro ? UDP_BATCH_GRO_BUF : self->max_len;
    size_t per_buf = gro ? UDP_BATCH_GSO_MAX_SEGMENTS : 1;
    uint8_t *data = malloc(self->max_datagrams * rx_len);
    udp_datagram_t *out = calloc(self->max_datagrams * per_buf, sizeof *out);
    if (!data || !out) {
        free(data);
        free(out);
        snprintf(err, err_len, "udp batch: no memory for %zu receive buffers of %zu bytes", self->max_datagrams, rx_len);
        return -1;
    }
    free(self->rx_data);
    free(self->out);
    self->rx_data = data;
    self->out = out;
    self->out_cap = self->max_datagrams * per_buf;
    self->rx_len = rx_len;
    self->rx_gro = gro;
    return 0;
}

udp_batch_t *udp_batch_new(size_t max_datagrams, size_t max_len, char *err, size_t err_len)
{
    if (max_datagrams == 0 || max_datagrams > 1024 || max_len == 0 || max_len > UDP_BATCH_MAX_LEN) {
        snprintf(err, err_len, "udp batch: %zu datagrams of %zu bytes: want 1..1024 datagrams of 1..%d bytes",
                 max_datagrams, max_len, UDP_BATCH_MAX_LEN);
        return NULL;
    }
    udp_batch_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "udp batch: no memory");
        return NULL;
    }
    self->fd = -1;
    self->gso_max_seg = SIZE_MAX;
    self->max_datagrams = max_datagrams;
    self->max_len = max_len;
    size_t n = max_datagrams;
    self->tx_msgs = calloc(n, sizeof *self->tx_msgs);
    self->tx_iov = calloc(n, sizeof *self->tx_iov);
    self->tx_ctrl = calloc(n, sizeof *self->tx_ctrl);
    self->tx_count = calloc(n, sizeof *self->tx_count);
    self->rx_msgs = calloc(n, sizeof *self->rx_msgs);
    self->rx_iov = calloc(n, sizeof *self->rx_iov);
    self->rx_from = calloc(n, sizeof *self->rx_from);
    self->rx_ctrl = calloc(n, sizeof *self->rx_ctrl);
    if (!self->tx_msgs || !self->tx_iov || !self->tx_ctrl || !self->tx_count || !self->rx_msgs || !self->rx_iov ||
        !self->rx_from || !self->rx_ctrl || rx_alloc(self, false, err, err_len) < 0) {
        snprintf(err, err_len, "udp batch: no memory for %zu datagrams of %zu bytes", max_datagrams, max_len);
        udp_batch_destroy(&self);
        return NULL;
    }
    return self;
}

void udp_batch_destroy(udp_batch_t **self)
{
    if (!self || !*self)
        return;
    udp_batch_t *b = *self;
    free(b->tx_msgs);
    free(b->tx_iov);
    free(b->tx_ctrl);
    free(b->tx_count);
    free(b->rx_msgs);
    free(b->rx_iov);
    free(b->rx_from);
    free(b->rx_ctrl);
    free(b->rx_data);
    free(b->out);
    free(b);
    *self = NULL;
}

int udp_batch_attach(udp_batch_t *self, int fd, udp_offloads_t want, udp_offloads_t *got, char *err, size_t err_len)
{
    udp_offloads_t can;
    if (udp_batch_probe(fd, &can, err, err_len) < 0)
        return -1;
    udp_offloads_t on = {.gso = want.gso && can.gso, .gro = want.gro && can.gro};
    if (on.gro != self->rx_gro && rx_alloc(self, on.gro, err, err_len) < 0)
        return -1;
    int v = on.gro;
    if (can.gro && setsockopt(fd, IPPROTO_UDP, UDP_GRO, &v, sizeof v) < 0) {
        snprintf(err, err_len, "udp batch: fd %d: setting UDP_GRO to %d: %s", fd, v, strerror(errno));
        return -1;
    }
    self->fd = fd;
    self->on = on;
    if (got)
        *got = on;
    return 0;
}

udp_offloads_t udp_batch_offloads(const udp_batch_t *self) { return self->on; }

const udp_batch_stats_t *udp_batch_stats(const udp_batch_t *self) { return &self->stats; }

// Fills tx_msgs for up to `count` datagrams: with GSO, a run of datagrams of the first one's size, ended by
// a shorter one, the segment limit or the size limit, is one message. Returns the number of messages.
static size_t build(udp_batch_t *self, socklen_t dst_len, const struct iovec *dgrams, size_t count)
{
    size_t m = 0;
    for (size_t i = 0; i < count;) {
        size_t seg = dgrams[i].iov_len, total = seg, k = 1;
        self->tx_iov[i] = dgrams[i];
        while (self->on.gso && seg <= self->gso_max_seg && i + k < count && k < UDP_BATCH_GSO_MAX_SEGMENTS) {
            size_t len = dgrams[i + k].iov_len;
            if (len > seg || total + len > UDP_BATCH_MAX_LEN)
                break;
            self->tx_iov[i + k] = dgrams[i + k];
            total += len;
            k++;
            if (len < seg)
                break;   // a shorter datagram ends the run
        }
        struct msghdr *h = &self->tx_msgs[m].msg_hdr;
        *h = (struct msghdr){
            .msg_name = dst_len ? &self->tx_dst : NULL,
            .msg_namelen = dst_len,
            .msg_iov = &self->tx_iov[i],
            .msg_iovlen = k,
        };
        if (k > 1) {
            h->msg_control = self->tx_ctrl[m].buf;
            h->msg_controllen = sizeof self->tx_ctrl[m].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = IPPROTO_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t size = (uint16_t)seg;
            memcpy(CMSG_DATA(c), &size, sizeof size);
        }
        self->tx_msgs[m].msg_len = 0;
        self->tx_count[m] = k;
        m++;
        i += k;
    }
    return m;
}

int udp_batch_send(udp_batch_t *self, const struct sockaddr *dst, socklen_t dst_len, const struct iovec *dgrams,
                   size_t n, size_t *sent, char *err, size_t err_len)
{
    char where[INET6_ADDRSTRLEN + 16];
    *sent = 0;
    if (self->fd < 0) {
        snprintf(err, err_len, "udp batch: send before a socket was attached");
        return -1;
    }
    if (dst && (dst_len == 0 || dst_len > sizeof self->tx_dst)) {
        snprintf(err, err_len, "udp batch: destination address of %u bytes", (unsigned)dst_len);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (dgrams[i].iov_len == 0 || dgrams[i].iov_len > self->max_len) {
            snprintf(err, err_len, "udp batch: datagram %zu of %zu to %s has %zu bytes (1..%zu): nothing sent", i + 1, n,
                     addr_text(dst, where, sizeof where), dgrams[i].iov_len, self->max_len);
            return -1;
        }
    if (dst)
        memcpy(&self->tx_dst, dst, dst_len);
    else
        dst_len = 0;
    size_t done = 0;
    while (done < n) {
        size_t count = n - done < self->max_datagrams ? n - done : self->max_datagrams;
        size_t msgs = build(self, dst_len, dgrams + done, count);
        int r = sendmmsg(self->fd, self->tx_msgs, (unsigned)msgs, 0);
        self->stats.sendmmsg_calls++;
        if (r < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK)
                break;
            if (e == EMSGSIZE && self->tx_count[0] > 1) {
                // a run of segments above the path's MTU (a relayed datagram, docs/protocol.md): such
                // datagrams go one per message from now on, and the kernel fragments each
                size_t seg = self->tx_iov[0].iov_len;
                self->gso_max_seg = seg - 1;
                log_info("udp batch: a GSO run of %zu-byte datagrams to %s is above the path MTU: datagrams of %zu "
                         "bytes or more go one per message on fd %d", seg, addr_text(dst, where, sizeof where), seg,
                         self->fd);
                continue;
            }
            if (e == EIO && self->on.gso && self->tx_count[0] > 1) {
                // the device cannot checksum GSO sends (udp_send_skb): without it from now on
                self->on.gso = false;
                log_warn("udp batch: sendmmsg with UDP_SEGMENT to %s failed (%s): UDP GSO off on fd %d, sending "
                         "one datagram per message", addr_text(dst, where, sizeof where), strerror(e), self->fd);
                continue;
            }
            snprintf(err, err_len, "udp batch: sendmmsg of %zu messages (%zu datagrams) to %s: %s (%zu of %zu sent)", msgs,
                     count, addr_text(dst, where, sizeof where), strerror(e), done, n);
            *sent = done;
            return -1;
        }
        for (int i = 0; i < r; i++) {
            done += self->tx_count[i];
            self->stats.sent_messages++;
            if (self->tx_count[i] > 1)
                self->stats.gso_messages++;
        }
        if (r == 0)
            break;
    }
    *sent = done;
    return 0;
}

// The segment size of a GRO buffer (its UDP_GRO control message), 0 when it holds one datagram.
static size_t gro_size(struct msghdr *h)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != IPPROTO_UDP || c->cmsg_type != UDP_GRO)
            continue;
        if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int v;
            memcpy(&v, CMSG_DATA(c), sizeof v);
            return v > 0 ? (size_t)v : 0;
        }
        if (c->cmsg_len >= CMSG_LEN(sizeof(uint16_t))) {
            uint16_t v;
            memcpy(&v, CMSG_DATA(c), sizeof v);
            return v;
        }
    }
    return 0;
}

static void dropped(udp_batch_t *self)
{
    if (log_worth_repeating(++self->stats.recv_truncated))
        log_warn("udp batch: fd %d: a datagram larger than %zu bytes dropped (%llu so far)", self->fd, self->max_len,
                 (unsigned long long)self->stats.recv_truncated);
}

int udp_batch_recv(udp_batch_t *self, const udp_datagram_t **out, size_t *n, char *err, size_t err_len)
{
    *out = self->out;
    *n = 0;
    if (self->fd < 0) {
        snprintf(err, err_len, "udp batch: receive before a socket was attached");
        return -1;
    }
    for (size_t i = 0; i < self->max_datagrams; i++) {
        self->rx_iov[i] = (struct iovec){.iov_base = self->rx_data + i * self->rx_len, .iov_len = self->rx_len};
        self->rx_msgs[i].msg_hdr = (struct msghdr){
            .msg_name = &self->rx_from[i],
            .msg_namelen = sizeof self->rx_from[i],
            .msg_iov = &self->rx_iov[i],
            .msg_iovlen = 1,
            .msg_control = self->rx_ctrl[i].buf,
            .msg_controllen = sizeof self->rx_ctrl[i].buf,
        };
        self->rx_msgs[i].msg_len = 0;
    }
    int r = recvmmsg(self->fd, self->rx_msgs, (unsigned)self->max_datagrams, MSG_DONTWAIT, NULL);
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        snprintf(err, err_len, "udp batch: recvmmsg on fd %d: %s", self->fd, strerror(errno));
        return -1;
    }
    size_t m = 0;
    for (int i = 0; i < r; i++) {
        struct msghdr *h = &self->rx_msgs[i].msg_hdr;
        size_t len = self->rx_msgs[i].msg_len;
        self->stats.recv_messages++;
        if (h->msg_flags & MSG_TRUNC) {
            dropped(self);
            continue;
        }
        size_t seg = gro_size(h);
        if (seg == 0 || seg >= len)
            seg = len;   // one datagram (perhaps empty)
        else
            self->stats.gro_messages++;
        uint8_t *data = self->rx_iov[i].iov_base;
        size_t off = 0;
        do {
            size_t piece = len - off < seg ? len - off : seg;
            off += piece;
            if (piece > self->max_len) {   // a GRO buffer is larger than max_len: what does not fit it is dropped
                dropped(self);
                continue;
            }
            if (m == self->out_cap) {   // more segments than the kernel's GRO limit: never seen, never trusted
                dropped(self);
                break;
            }
            self->out[m++] = (udp_datagram_t){
                .data = data + off - piece,
                .len = piece,
                .from = &self->rx_from[i],
                .from_len = h->msg_namelen,
            };
        } while (off < len);
    }
    *n = m;
    return 0;
}
