// coalesce.h — receive-side GRO for the device's write path (TUN opened with IFF_VNET_HDR): runs of
// consecutive TCP segments of one flow, as they come out of one PacketBatch, are merged into one
// super-packet written with a virtio_net_hdr {NEEDS_CSUM, TCPV4/TCPV6, gso_size, hdr_len, csum_start,
// csum_offset}, so the receiving kernel handles one skb (one write, one IP/TCP receive pass) per run instead
// of one per segment. The rules follow the kernel's tcp_gro_receive (see coalesce.c and docs/services/device.md).
//
// Pure: no TUN, no I/O. Feed packets in order with coalesce_push(); every packet comes out, in the same
// order, through the emit callback: either unchanged (with a zeroed virtio_net_hdr) or as part of a merged
// super-packet. coalesce_flush() emits what is pending; call it at the end of each batch (pushed packets are
// referenced, not copied, until they are merged or emitted, so they must stay valid until then).
// The merged packet is built in one scratch buffer allocated by coalesce_new(); nothing else allocates.
#ifndef WEFT_COALESCE_H
#define WEFT_COALESCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "segment.h"

#define COALESCE_MAX_SEGMENTS 64        // segments per super-packet (the byte limit usually comes first)
#define COALESCE_MAX_PACKET SEGMENT_MAX_PACKET  // IPv4 total length 65535; IPv6 40 + payload length 65535

// One packet to write: vnet (the virtio_net_hdr, in host byte order as the TUN reads it) then pkt.
typedef struct {
    uint8_t vnet[SEGMENT_VNET_HDR_LEN];
    const uint8_t *pkt;
    size_t len;
    size_t segments;                    // 1: pkt is a pushed packet as is (vnet zeroed); >1: a super-packet
} coalesce_out_t;

typedef void (*coalesce_emit_fn)(void *arg, const coalesce_out_t *out);

typedef struct coalesce coalesce_t;

// NULL when out of memory.
coalesce_t *coalesce_new(void);
void coalesce_destroy(coalesce_t **self_p);

// Adds one IP packet. Packets that cannot be merged with the pending run end it (the run is emitted first);
// packets that can never be merged (not TCP, no payload, SYN/FIN/RST..., IP options...) are emitted at once.
void coalesce_push(coalesce_t *self, const uint8_t *pkt, size_t len, coalesce_emit_fn emit, void *arg);

// Emits the pending run, if any.
void coalesce_flush(coalesce_t *self, coalesce_emit_fn emit, void *arg);

#endif
