// tun_io.h — reading and writing an L3 TUN fd in batches, with or without the virtio_net_hdr offloads
// (IFF_VNET_HDR with TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6): a read gives a header and a packet of up to
// 64 KiB, which segment.c cuts into MTU-sized packets straight into the caller's packet batch (or finishes
// the checksum of); on the way in, coalesce.c merges runs of TCP segments of one flow into one super-packet
// per write. Used by weft-device (which owns the TUN) and by weft-crypto when device lends it the fd
// (the data plane: docs/architecture.md).
//
// Owns its read buffer and coalescer (allocated once) and the counters; never the fd. Not thread-safe.
#ifndef WEFT_TUN_IO_H
#define WEFT_TUN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define TUN_IO_MAX_PACKET 65535     // largest IPv4 packet: a read never truncates

typedef struct {
    uint64_t packets_in, bytes_in;          // reads (super-packets count once) and their bytes
    uint64_t gso_packets_in, segments_out;  // super-packets read and the segments cut from them
    uint64_t csum_completed, drop_bad_gso, drop_read_error;
    uint64_t packets_out, bytes_out;        // packets written (a merged super-packet counts its segments)
    uint64_t gro_packets_out, gro_segments_in;
    uint64_t drop_bad_packet, drop_too_big, drop_write_error;
} tun_io_stats_t;

typedef struct tun_io tun_io_t;

// For fd (the caller's), named name in logs; vnet_hdr: reads and writes carry a virtio_net_hdr; mtu bounds
// the packets read and written. NULL (logged) when out of memory.
tun_io_t *tun_io_new(int fd, const char *name, bool vnet_hdr, size_t mtu);
void tun_io_destroy(tun_io_t **self);
int tun_io_fd(const tun_io_t *self);
const tun_io_stats_t *tun_io_stats(const tun_io_t *self);

// Called with a full batch, which it must send and empty.
typedef void tun_io_flush_fn(void *ctx, packet_batch_t *batch);

// One read from the TUN into batch (no peer tags): the packet, or with vnet_hdr the segments of a
// super-packet, full batches going to flush on the way. Returns 1 when a read was made, 0 when the TUN
// has nothing waiting, -1 on a read error (counted, logged).
int tun_io_read(tun_io_t *self, packet_batch_t *batch, tun_io_flush_fn *flush, void *ctx);

// Writes one IP packet to the TUN; with vnet_hdr it may be held to be merged with the next ones until
// tun_io_write_end, which the caller must call before the packets' memory goes away.
void tun_io_write(tun_io_t *self, const uint8_t *pkt, size_t len);
void tun_io_write_end(tun_io_t *self);

#endif
