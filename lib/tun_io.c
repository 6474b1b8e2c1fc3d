// tun_io.c — see tun_io.h.
#include "tun_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coalesce.h"
#include "log.h"
#include "segment.h"

#define TUN_IO_READ_BUF (SEGMENT_VNET_HDR_LEN + SEGMENT_MAX_PACKET)

struct tun_io {
    int fd;
    char name[32];
    bool vnet_hdr;
    size_t mtu;
    uint8_t *read_buf;              // vnet_hdr: one read (header + packet)
    coalesce_t *gro;                // vnet_hdr: merges the TCP segments written
    bool gro_refused_logged;        // the kernel refused a merged write once (logged once)
    tun_io_stats_t stats;
};

tun_io_t *tun_io_new(int fd, const char *name, bool vnet_hdr, size_t mtu)
{
    tun_io_t *self = calloc(1, sizeof *self);
    if (!self) {
        log_error("tun_io: out of memory");
        return NULL;
    }
    self->fd = fd;
    snprintf(self->name, sizeof self->name, "%s", name ? name : "tun");
    self->vnet_hdr = vnet_hdr;
    self->mtu = mtu;
    if (vnet_hdr && (!(self->read_buf = malloc(TUN_IO_READ_BUF)) || !(self->gro = coalesce_new()))) {
        log_error("tun_io: out of memory");
        tun_io_destroy(&self);
        return NULL;
    }
    return self;
}

void tun_io_destroy(tun_io_t **self_p)
{
    tun_io_t *self = *self_p;
    if (!self)
        return;
    free(self->read_buf);
    coalesce_destroy(&self->gro);
    free(self);
    *self_p = NULL;
}

int tun_io_fd(const tun_io_t *self)
{
    return self->fd;
}

const tun_io_stats_t *tun_io_stats(const tun_io_t *self)
{
    return &self->stats;
}

// ---- reading ----

// One read: bytes read, 0 when drained (or interrupted), -1 on error (counted, logged).
static ssize_t read_some(tun_io_t *self, uint8_t *buf, size_t cap)
{
    ssize_t n = read(self->fd, buf, cap);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        self->stats.drop_read_error++;
        if (log_worth_repeating(self->stats.drop_read_error))
            log_warn("read from %s failed: %s", self->name, strerror(errno));
        return -1;
    }
    return n;
}

// A slot of len bytes in batch, sending a full batch first. NULL cannot happen for len <= 64 KiB.
static uint8_t *reserve(packet_batch_t *batch, size_t len, tun_io_flush_fn *flush, void *ctx)
{
    uint8_t *slot = packet_batch_reserve(batch, len);
    if (!slot) {
        flush(ctx, batch);
        slot = packet_batch_reserve(batch, len);
    }
    return slot;
}

// vnet_hdr: the packets of one read (its segments, or the packet with its checksum finished) into batch.
static void add_segments(tun_io_t *self, size_t n, packet_batch_t *batch, tun_io_flush_fn *flush, void *ctx)
{
    segment_vnet_hdr_t vh;
    segment_vnet_hdr_decode(&vh, self->read_buf);
    segment_iter_t it;
    const char *why = "";
    if (segment_begin(&it, &vh, self->read_buf + SEGMENT_VNET_HDR_LEN, n - SEGMENT_VNET_HDR_LEN, self->mtu, &why) <
        0) {
        self->stats.drop_bad_gso++;
        if (log_worth_repeating(self->stats.drop_bad_gso))
            log_warn("dropped a %zu-byte packet from %s (gso_type %u, gso_size %u, hdr_len %u): %s (%llu so far)",
                     n - SEGMENT_VNET_HDR_LEN, self->name, vh.gso_type, vh.gso_size, vh.hdr_len, why,
                     (unsigned long long)self->stats.drop_bad_gso);
        return;
    }
    if (it.gso)
        self->stats.gso_packets_in++;
    else if (it.needs_csum)
        self->stats.csum_completed++;
    size_t len;
    while ((len = segment_next_len(&it)) > 0) {
        uint8_t *slot = reserve(batch, len, flush, ctx);
        if (!slot)
            return;
        segment_next(&it, slot);
        packet_batch_commit(batch, len, NULL);
        if (it.gso)
            self->stats.segments_out++;
    }
}

int tun_io_read(tun_io_t *self, packet_batch_t *batch, tun_io_flush_fn *flush, void *ctx)
{
    if (!self->vnet_hdr) {
        uint8_t *slot = reserve(batch, TUN_IO_MAX_PACKET, flush, ctx);
        if (!slot)
            return -1;
        ssize_t n = read_some(self, slot, TUN_IO_MAX_PACKET);
        if (n <= 0)
            return (int)n;
        packet_batch_commit(batch, (size_t)n, NULL);
        self->stats.packets_in++;
        self->stats.bytes_in += (uint64_t)n;
        return 1;
    }
    ssize_t n = read_some(self, self->read_buf, TUN_IO_READ_BUF);
    if (n <= 0)
        return (int)n;
    self->stats.packets_in++;
    if ((size_t)n <= SEGMENT_VNET_HDR_LEN) {   // a header and no packet: nothing to forward
        self->stats.drop_bad_gso++;
        return 1;
    }
    self->stats.bytes_in += (uint64_t)n - SEGMENT_VNET_HDR_LEN;
    add_segments(self, (size_t)n, batch, flush, ctx);
    return 1;
}

// ---- writing ----

// A kernel that refuses a merged super-packet gets its segments one by one instead (cut again by
// segment.c, which gives back the original segments). Returns true if every segment was written.
static bool write_resegmented(tun_io_t *self, const coalesce_out_t *out)
{
    segment_vnet_hdr_t hdr;
    segment_vnet_hdr_decode(&hdr, out->vnet);
    segment_iter_t it;
    const char *why = NULL;
    if (segment_begin(&it, &hdr, out->pkt, out->len, self->mtu, &why) != 0)
        return false;
    static const uint8_t plain_vnet[SEGMENT_VNET_HDR_LEN];  // no GSO, checksums complete
    uint8_t seg[9216];                                      // one segment: at most the MTU (<= 9000)
    bool all = true;
    while (segment_next_len(&it) && segment_next_len(&it) <= sizeof seg) {
        size_t len = segment_next(&it, seg);
        struct iovec iov[2] = {{(void *)plain_vnet, sizeof plain_vnet}, {seg, len}};
        if (writev(self->fd, iov, 2) != (ssize_t)(sizeof plain_vnet + len)) {
            self->stats.drop_write_error++;
            all = false;
        } else {
            self->stats.packets_out++;
            self->stats.bytes_out += len;
        }
    }
    if (!self->gro_refused_logged)
        log_warn("%s refused a merged %zu-byte packet; wrote its %zu segments one by one", self->name, out->len,
                 out->segments);
    self->gro_refused_logged = true;
    return all;
}

// vnet_hdr: writes one packet or merged super-packet with its virtio_net_hdr (coalesce.h's emit callback).
static void write_out(void *arg, const coalesce_out_t *out)
{
    tun_io_t *self = arg;
    struct iovec iov[2] = {{(void *)out->vnet, sizeof out->vnet}, {(void *)out->pkt, out->len}};
    ssize_t n = writev(self->fd, iov, 2);
    if (n != (ssize_t)(sizeof out->vnet + out->len) && out->segments > 1 && write_resegmented(self, out))
        return;
    if (n != (ssize_t)(sizeof out->vnet + out->len)) {
        self->stats.drop_write_error += out->segments;
        if (log_worth_repeating(self->stats.drop_write_error))
            log_warn("write of a %zu-byte packet (%zu segments) to %s failed: %s (%llu so far)", out->len,
                     out->segments, self->name, n < 0 ? strerror(errno) : "short write",
                     (unsigned long long)self->stats.drop_write_error);
        return;
    }
    if (out->segments > 1) {
        self->stats.gro_packets_out++;
        self->stats.gro_segments_in += out->segments;
    }
    self->stats.packets_out += out->segments;
    self->stats.bytes_out += out->len;
}

void tun_io_write(tun_io_t *self, const uint8_t *pkt, size_t len)
{
    if (len == 0) {
        self->stats.drop_bad_packet++;
        return;
    }
    if (len > self->mtu) {
        self->stats.drop_too_big++;
        if (log_worth_repeating(self->stats.drop_too_big))
            log_warn("dropped a %zu-byte packet bigger than the MTU %zu (peers must use the same device.mtu)", len,
                     self->mtu);
        return;
    }
    if (self->vnet_hdr) {
        coalesce_push(self->gro, pkt, len, write_out, self);
        return;
    }
    ssize_t n = write(self->fd, pkt, len);
    if (n != (ssize_t)len) {
        self->stats.drop_write_error++;
        if (log_worth_repeating(self->stats.drop_write_error))
            log_warn("write of a %zu-byte packet to %s failed: %s (%llu so far)", len, self->name,
                     n < 0 ? strerror(errno) : "short write", (unsigned long long)self->stats.drop_write_error);
        return;
    }
    self->stats.packets_out++;
    self->stats.bytes_out += len;
}

void tun_io_write_end(tun_io_t *self)
{
    if (self->vnet_hdr)
        coalesce_flush(self->gro, write_out, self);
}
