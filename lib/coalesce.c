// coalesce.c — see coalesce.h. The merge rules are those of the kernel's tcp_gro_receive (and
// wireguard-go's tcpGRO), kept deliberately strict: a segment joins the pending run only if
//   - both are IPv4 without options, DF set and not a fragment, or IPv6 without extension headers;
//   - IPv4: same TOS, TTL and addresses; IPv6: same first word (traffic class, flow label), hop limit and
//     addresses;
//   - TCP: same ports, ack number, data offset, window and option bytes (timestamps included); ACK set and
//     none of SYN/FIN/RST/URG/ECE/CWR (or the reserved/AE bits) on either; PSH only on the last segment
//     merged, which ends the run;
//   - its sequence number follows the run (seq == previous seq + previous payload length);
//   - its payload is at most the first segment's (gso_size); a shorter one ends the run;
//   - the result stays within 65535 bytes (IPv4 total length, IPv6 payload length) and
//     COALESCE_MAX_SEGMENTS segments.
// The merged packet keeps the first segment's headers (lengths and the IPv4 header checksum updated, PSH
// from the last) and goes out with VIRTIO_NET_HDR_F_NEEDS_CSUM: the TCP checksum field holds the folded,
// uncomplemented pseudo-header sum (as the kernel's own CHECKSUM_PARTIAL packets do, tcp_v4_send_check).
// The kernel then treats the payload as not needing verification (CHECKSUM_PARTIAL), which is sound here:
// every packet came out of an authenticated decrypt, and was checksummed by the sender's kernel or
// segment.c. If the kernel forwards the packet instead, its GSO layer completes the checksums.
#include "coalesce.h"
#include "bytes.h"

#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define IPPROTO_TCP_NUM 6
#define TCP_CSUM_OFFSET 16

struct coalesce {
    uint8_t *buf;           // the merged packet, COALESCE_MAX_PACKET bytes
    const uint8_t *first;   // the run's first segment (referenced until a second one joins)
    size_t first_len;
    size_t len;             // length of the merged packet in buf; 0 while the run is only `first`
    size_t count;           // segments in the run; 0: no run
    bool ipv6;
    size_t ip_len, hdrs_len, gso_size;
    uint32_t next_seq;
};

// What the merge rules need to know about one packet.
typedef struct {
    bool ipv6;
    size_t ip_len, hdrs_len, payload;
    uint8_t flags;
    uint32_t seq;
} tcp_info_t;

// Ones' complement sum of big-endian 16-bit words (len even; only headers are summed here).
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += be_get16(p + i);
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

// Can the packet ever be part of a merged run? Fills *ti when it can.
static bool coalescable(const uint8_t *p, size_t len, tcp_info_t *ti)
{
    if (len < 20)
        return false;
    if (p[0] == 0x45) {  // IPv4 without options
        if (be_get16(p + 2) != len || p[9] != IPPROTO_TCP_NUM || be_get16(p + 6) != 0x4000)  // DF, no MF, offset 0
            return false;
        ti->ipv6 = false;
        ti->ip_len = 20;
    } else if ((p[0] >> 4) == 6) {
        if (len < 40 || (size_t)be_get16(p + 4) + 40 != len || p[6] != IPPROTO_TCP_NUM)  // no extension headers
            return false;
        ti->ipv6 = true;
        ti->ip_len = 40;
    } else {
        return false;
    }
    const uint8_t *t = p + ti->ip_len;
    if (len < ti->ip_len + 20 || (t[12] & 0x0f) != 0)  // reserved bits and AccECN's AE clear
        return false;
    size_t tcp_len = (size_t)(t[12] >> 4) * 4;
    if (tcp_len < 20 || ti->ip_len + tcp_len >= len)  // a header that fits, and payload after it
        return false;
    ti->flags = t[13];
    if (!(ti->flags & TCP_ACK) || (ti->flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_URG | TCP_ECE | TCP_CWR)))
        return false;
    ti->hdrs_len = ti->ip_len + tcp_len;
    ti->payload = len - ti->hdrs_len;
    ti->seq = be_get32(t + 4);
    return true;
}

// Can the segment (p, ti) join the pending run?
static bool can_join(const coalesce_t *self, const uint8_t *p, const tcp_info_t *ti)
{
    const uint8_t *f = self->first;
    if (ti->ipv6 != self->ipv6 || ti->hdrs_len != self->hdrs_len || ti->seq != self->next_seq ||
        ti->payload > self->gso_size || self->count >= COALESCE_MAX_SEGMENTS)
        return false;
    size_t cur = self->count == 1 ? self->first_len : self->len;
    if (cur + ti->payload > (self->ipv6 ? 40 + 65535 : 65535))
        return false;
    if (self->ipv6) {
        if (memcmp(p, f, 4) != 0 || p[7] != f[7] || memcmp(p + 8, f + 8, 32) != 0)
            return false;
    } else if (p[1] != f[1] || p[8] != f[8] || memcmp(p + 12, f + 12, 8) != 0) {
        return false;
    }
    const uint8_t *t = p + ti->ip_len, *ft = f + ti->ip_len;
    return memcmp(t, ft, 4) == 0 &&                            // ports
           memcmp(t + 8, ft + 8, 5) == 0 &&                    // ack number, data offset
           ((t[13] ^ ft[13]) & (uint8_t)~TCP_PSH) == 0 &&      // flags but PSH (the first has none)
           memcmp(t + 14, ft + 14, 2) == 0 &&                  // window
           memcmp(t + 20, ft + 20, ti->hdrs_len - ti->ip_len - 20) == 0;  // options
}

static void put_host16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

// Finishes the merged packet in buf (lengths, IPv4 header checksum, pseudo-header sum) and its vnet header.
static void finish_merged(coalesce_t *self, coalesce_out_t *out)
{
    uint8_t *b = self->buf;
    size_t tcp_total = self->len - self->ip_len;
    uint32_t pseudo;
    if (self->ipv6) {
        be_put16(b + 4, (uint16_t)tcp_total);
        pseudo = sum16(b + 8, 32, 0);
    } else {
        be_put16(b + 2, (uint16_t)self->len);
        be_put16(b + 10, 0);
        be_put16(b + 10, (uint16_t)~fold(sum16(b, 20, 0)));
        pseudo = sum16(b + 12, 8, 0);
    }
    pseudo += IPPROTO_TCP_NUM + (uint32_t)tcp_total;  // tcp_total <= 65535: no overflow
    be_put16(b + self->ip_len + TCP_CSUM_OFFSET, fold(pseudo));

    // struct virtio_net_hdr in host byte order: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
    memset(out->vnet, 0, sizeof out->vnet);
    out->vnet[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    out->vnet[1] = self->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
    put_host16(out->vnet + 2, (uint16_t)self->hdrs_len);
    put_host16(out->vnet + 4, (uint16_t)self->gso_size);
    put_host16(out->vnet + 6, (uint16_t)self->ip_len);
    put_host16(out->vnet + 8, TCP_CSUM_OFFSET);
    out->pkt = b;
    out->len = self->len;
}

static void emit_single(const uint8_t *pkt, size_t len, coalesce_emit_fn emit, void *arg)
{
    coalesce_out_t out = {.pkt = pkt, .len = len, .segments = 1};
    emit(arg, &out);
}

void coalesce_flush(coalesce_t *self, coalesce_emit_fn emit, void *arg)
{
    if (self->count == 0)
        return;
    if (self->count == 1) {
        emit_single(self->first, self->first_len, emit, arg);
    } else {
        coalesce_out_t out = {.segments = self->count};
        finish_merged(self, &out);
        emit(arg, &out);
    }
    self->count = 0;
    self->len = 0;
    self->first = NULL;
}

void coalesce_push(coalesce_t *self, const uint8_t *pkt, size_t len, coalesce_emit_fn emit, void *arg)
{
    tcp_info_t ti;
    if (!coalescable(pkt, len, &ti)) {
        coalesce_flush(self, emit, arg);
        emit_single(pkt, len, emit, arg);
        return;
    }
    if (self->count > 0 && can_join(self, pkt, &ti)) {
        if (self->count == 1) {
            memcpy(self->buf, self->first, self->first_len);
            self->len = self->first_len;
        }
        memcpy(self->buf + self->len, pkt + ti.hdrs_len, ti.payload);
        self->len += ti.payload;
        self->count++;
        self->next_seq += (uint32_t)ti.payload;
        if (ti.flags & TCP_PSH)
            self->buf[self->ip_len + 13] |= TCP_PSH;
        if ((ti.flags & TCP_PSH) || ti.payload < self->gso_size)  // nothing can follow
            coalesce_flush(self, emit, arg);
        return;
    }
    coalesce_flush(self, emit, arg);
    if (ti.flags & TCP_PSH) {  // would end its own run at once
        emit_single(pkt, len, emit, arg);
        return;
    }
    self->first = pkt;
    self->first_len = len;
    self->count = 1;
    self->len = 0;
    self->ipv6 = ti.ipv6;
    self->ip_len = ti.ip_len;
    self->hdrs_len = ti.hdrs_len;
    self->gso_size = ti.payload;
    self->next_seq = ti.seq + (uint32_t)ti.payload;
}

coalesce_t *coalesce_new(void)
{
    coalesce_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (!(self->buf = malloc(COALESCE_MAX_PACKET))) {
        free(self);
        return NULL;
    }
    return self;
}

void coalesce_destroy(coalesce_t **self_p)
{
    coalesce_t *self = *self_p;
    if (!self)
        return;
    free(self->buf);
    free(self);
    *self_p = NULL;
}
