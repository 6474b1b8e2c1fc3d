// segment.h — what the device does with a packet read from a TUN opened with IFF_VNET_HDR and
// TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6: each read() gives a virtio_net_hdr and one packet of up to 64 KiB.
//
// - gso_type NONE: one packet; with VIRTIO_NET_HDR_F_NEEDS_CSUM its transport checksum is left for us to
//   finish (the kernel put the pseudo-header sum in the field; we fold the sum over [csum_start, end) into it).
// - gso_type TCPV4 / TCPV6 (optionally | ECN): a TCP "super-packet" whose payload is cut into segments of
//   gso_size bytes, each with a copy of the IP+TCP headers, its own lengths, IPv4 id, sequence number,
//   flags (FIN/PSH only on the last segment, CWR only on the first) and full IPv4 and TCP checksums.
//
// No TUN needed: segment_begin() checks the packet and sets up an iterator; segment_next_len() and
// segment_next() produce one output packet at a time straight into the caller's buffer (e.g. a slot
// reserved in a packet_batch_t), so the caller can send a full batch and continue in a fresh one.
// Nothing here allocates; all multi-byte fields are read and written bytewise (no alignment needs).
#ifndef WEFT_SEGMENT_H
#define WEFT_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEGMENT_VNET_HDR_LEN 10       // sizeof(struct virtio_net_hdr)
// Largest packet a read can hold: an IPv6 header plus the largest payload length (IPv4 stops at 65535).
#define SEGMENT_MAX_PACKET (65535 + 40)

// struct virtio_net_hdr, decoded to host integers.
typedef struct {
    uint8_t flags;          // VIRTIO_NET_HDR_F_*
    uint8_t gso_type;       // VIRTIO_NET_HDR_GSO_*
    uint16_t hdr_len;       // a hint only: the header length is taken from the packet itself
    uint16_t gso_size;      // payload bytes per segment
    uint16_t csum_start;    // checksum over [csum_start, end) ...
    uint16_t csum_offset;   // ... stored at csum_start + csum_offset
} segment_vnet_hdr_t;

// Decodes the header as the TUN writes it: in host byte order (legacy virtio on a little-endian host,
// unless TUNSETVNETBE/LE says otherwise, which the device never does).
void segment_vnet_hdr_decode(segment_vnet_hdr_t *h, const uint8_t raw[SEGMENT_VNET_HDR_LEN]);

typedef struct {
    const uint8_t *pkt;
    size_t len;
    bool gso;               // a TCP super-packet being split (else one packet, copied as is)
    bool needs_csum;        // not gso: complete the checksum at csum_start + csum_offset
    bool ipv6;
    size_t csum_start, csum_offset;
    size_t ip_len;          // IP header length (IPv4 with options)
    size_t hdrs_len;        // IP + TCP header length
    size_t gso_size;
    size_t next_off;        // offset in pkt of the next segment's payload; len when done
    size_t index, count;    // next segment, number of segments
    uint32_t seq;           // TCP sequence number of the first segment
    uint16_t ip_id;         // IPv4 id of the first segment
    uint64_t pseudo_sum;    // addresses + protocol of the TCP pseudo-header (unfolded, host order)
} segment_iter_t;

// Checks pkt (len bytes, the bytes after the virtio_net_hdr) against h and prepares the iterator. mtu bounds
// the segments (IP+TCP headers + gso_size must fit). pkt must stay unchanged until the iterator is done.
// Returns 0, or -1 with *why set to a static description (the packet must be dropped):
// unknown gso_type (UDP GSO and the like), gso_size 0 or beyond the MTU, truncated or inconsistent headers,
// hdr_len past the end, a non-TCP or IPv6-extension-header packet in a TCP GSO packet, IPv4 fragments,
// IP lengths that disagree with len, a checksum position outside the packet.
int segment_begin(segment_iter_t *it, const segment_vnet_hdr_t *h, const uint8_t *pkt, size_t len, size_t mtu,
                  const char **why);

// Length of the next output packet, or 0 when all were produced.
size_t segment_next_len(const segment_iter_t *it);

// Writes the next output packet into out (at least segment_next_len() bytes) and returns its length
// (0 when done).
size_t segment_next(segment_iter_t *it, uint8_t *out);

#endif
