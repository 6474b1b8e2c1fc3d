// segment.c — see segment.h. TCP segmentation offload done in user space, as a NIC would (the Linux
// kernel's tcp_gso_segment is the reference for the per-segment rules), and checksum completion.
#include "segment.h"
#include "bytes.h"

#include <linux/virtio_net.h>
#include <string.h>

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80
#define IPPROTO_TCP_NUM 6

// ---- ones' complement sums (RFC 1071) ----
// The sum does not depend on byte order: words are loaded in host order, the folded result is stored in
// host order, and the bytes come out right on either kind of host. Loads go through memcpy (no alignment
// or aliasing assumptions); 32-bit words add into 64 bits, so no carry handling is needed for < 16 GiB.
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
    while (len >= 16) {
        uint32_t w[4];
        memcpy(w, p, sizeof w);
        sum += (uint64_t)w[0] + w[1] + w[2] + w[3];
        p += 16;
        len -= 16;
    }
    while (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        sum += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        sum += w;
        p += 2;
        len -= 2;
    }
    if (len) {  // odd last byte: the high byte of a word padded with zero
        const uint8_t tail[2] = {p[0], 0};
        uint16_t w;
        memcpy(&w, tail, 2);
        sum += w;
    }
    return sum;
}

// A big-endian 16-bit value as the host-order word csum_add would have loaded from its bytes.
static uint64_t csum_word(uint16_t v)
{
    const uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    uint16_t w;
    memcpy(&w, b, 2);
    return w;
}

static uint16_t csum_fold(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)s;
}

// Stores a checksum computed in host order (see above) at p.
static void csum_store(uint8_t *p, uint16_t host_order_csum) { memcpy(p, &host_order_csum, 2); }

void segment_vnet_hdr_decode(segment_vnet_hdr_t *h, const uint8_t raw[SEGMENT_VNET_HDR_LEN])
{
    struct virtio_net_hdr v;
    memcpy(&v, raw, sizeof v);
    h->flags = v.flags;
    h->gso_type = v.gso_type;
    h->hdr_len = v.hdr_len;
    h->gso_size = v.gso_size;
    h->csum_start = v.csum_start;
    h->csum_offset = v.csum_offset;
}

_Static_assert(sizeof(struct virtio_net_hdr) == SEGMENT_VNET_HDR_LEN, "virtio_net_hdr is 10 bytes");

static int reject(const char **why, const char *what)
{
    if (why)
        *why = what;
    return -1;
}

// One packet (no GSO): checks the checksum position if the kernel left the checksum to us.
static int begin_single(segment_iter_t *it, const segment_vnet_hdr_t *h, const char **why)
{
    if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE)
        return reject(why, "ECN flag on a packet without TCP GSO");
    if (it->len == 0)
        return reject(why, "empty packet");
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        size_t start = h->csum_start, off = h->csum_offset;
        // the field must lie inside the packet, on a 16-bit word boundary counted from csum_start
        if (start >= it->len || (off & 1) || start + off + 2 > it->len)
            return reject(why, "checksum position outside the packet");
        it->needs_csum = true;
        it->csum_start = start;
        it->csum_offset = off;
    }
    it->count = 1;
    return 0;
}

// The IP header of a TCP GSO packet: sets ip_len and the pseudo-header's address sum.
static int begin_ip(segment_iter_t *it, uint8_t type, const char **why)
{
    const uint8_t *pkt = it->pkt;
    size_t len = it->len;
    if (type == VIRTIO_NET_HDR_GSO_TCPV4) {
        if (len < 20 || (pkt[0] >> 4) != 4)
            return reject(why, "TCPv4 GSO packet without a complete IPv4 header");
        it->ip_len = (size_t)(pkt[0] & 0x0f) * 4;
        if (it->ip_len < 20 || it->ip_len > len)
            return reject(why, "bad IPv4 header length");
        if (be_get16(pkt + 2) != len)
            return reject(why, "IPv4 total length disagrees with the packet read");
        if (be_get16(pkt + 6) & 0x3fff)
            return reject(why, "IPv4 fragment in a TCP GSO packet");
        if (pkt[9] != IPPROTO_TCP_NUM)
            return reject(why, "TCP GSO packet that is not TCP");
        it->ip_id = be_get16(pkt + 4);
        it->pseudo_sum = csum_add(0, pkt + 12, 8);   // source and destination
    } else {
        if (len < 40 || (pkt[0] >> 4) != 6)
            return reject(why, "TCPv6 GSO packet without a complete IPv6 header");
        if (pkt[6] != IPPROTO_TCP_NUM)
            return reject(why, "TCPv6 GSO packet with extension headers or not TCP");
        if ((size_t)be_get16(pkt + 4) + 40 != len)
            return reject(why, "IPv6 payload length disagrees with the packet read");
        it->ip_len = 40;
        it->ipv6 = true;
        it->pseudo_sum = csum_add(0, pkt + 8, 32);
    }
    it->pseudo_sum += csum_word(IPPROTO_TCP_NUM);
    return 0;
}

int segment_begin(segment_iter_t *it, const segment_vnet_hdr_t *h, const uint8_t *pkt, size_t len, size_t mtu,
                  const char **why)
{
    memset(it, 0, sizeof *it);
    it->pkt = pkt;
    it->len = len;
    uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    if (type == VIRTIO_NET_HDR_GSO_NONE)
        return begin_single(it, h, why);
    // ECN: the super-packet may carry CWR; it stays on the first segment only, as for any TCP GSO packet
    if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6)
        return reject(why, "unsupported gso_type (only TCP segmentation is offered)");
    if (h->gso_size == 0)
        return reject(why, "gso_size 0");
    if (h->hdr_len > len)
        return reject(why, "hdr_len beyond the packet");
    if (begin_ip(it, type, why) < 0)
        return -1;
    // headers are measured on the packet: hdr_len is only a hint (it can cover the whole first segment)
    if (it->ip_len + 20 > len)
        return reject(why, "truncated TCP header");
    size_t tcp_len = (size_t)(pkt[it->ip_len + 12] >> 4) * 4;
    if (tcp_len < 20 || it->ip_len + tcp_len > len)
        return reject(why, "bad TCP header length");
    it->hdrs_len = it->ip_len + tcp_len;
    if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (h->csum_start != it->ip_len || h->csum_offset != 16))
        return reject(why, "checksum position is not the TCP checksum");
    if (it->hdrs_len >= len)
        return reject(why, "TCP GSO packet without payload");
    if (it->hdrs_len + h->gso_size > mtu)
        return reject(why, "gso_size beyond the MTU");
    it->gso = true;
    it->gso_size = h->gso_size;
    it->next_off = it->hdrs_len;
    it->count = (len - it->hdrs_len + it->gso_size - 1) / it->gso_size;
    it->seq = be_get32(pkt + it->ip_len + 4);
    return 0;
}

size_t segment_next_len(const segment_iter_t *it)
{
    if (it->index >= it->count)
        return 0;
    if (!it->gso)
        return it->len;
    size_t left = it->len - it->next_off;
    return it->hdrs_len + (left < it->gso_size ? left : it->gso_size);
}

// Copies the packet and finishes its checksum: the field holds the pseudo-header sum; the sum over
// [csum_start, end) including it, complemented, is the checksum (0 is sent as 0xffff, as the kernel does,
// since 0 means "no checksum" to UDP).
static size_t next_single(segment_iter_t *it, uint8_t *out)
{
    memcpy(out, it->pkt, it->len);
    if (it->needs_csum) {
        uint16_t c = (uint16_t)~csum_fold(csum_add(0, out + it->csum_start, it->len - it->csum_start));
        csum_store(out + it->csum_start + it->csum_offset, c ? c : 0xffff);
    }
    it->index++;
    return it->len;
}

size_t segment_next(segment_iter_t *it, uint8_t *out)
{
    size_t total = segment_next_len(it);
    if (total == 0)
        return 0;
    if (!it->gso)
        return next_single(it, out);
    size_t payload = total - it->hdrs_len;
    bool first = it->index == 0, last = it->index + 1 == it->count;
    memcpy(out, it->pkt, it->hdrs_len);
    memcpy(out + it->hdrs_len, it->pkt + it->next_off, payload);

    if (it->ipv6) {
        be_put16(out + 4, (uint16_t)(total - 40));
    } else {
        be_put16(out + 2, (uint16_t)total);
        be_put16(out + 4, (uint16_t)(it->ip_id + it->index));
        out[10] = out[11] = 0;
        csum_store(out + 10, (uint16_t)~csum_fold(csum_add(0, out, it->ip_len)));
    }

    uint8_t *tcp = out + it->ip_len;
    be_put32(tcp + 4, it->seq + (uint32_t)(it->index * it->gso_size));
    if (!last)
        tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (!first)
        tcp[13] &= (uint8_t)~TCP_CWR;
    tcp[16] = tcp[17] = 0;
    size_t tcp_total = total - it->ip_len;
    uint64_t sum = it->pseudo_sum + csum_word((uint16_t)tcp_total);
    csum_store(tcp + 16, (uint16_t)~csum_fold(csum_add(sum, tcp, tcp_total)));

    it->next_off += payload;
    it->index++;
    return total;
}
