// mesh_frame.h — what travels inside a session besides IP packets: the routers' announcements and
// datagrams forwarded through a mesh hop (docs/routing.md, docs/protocol.md). The plaintext of a transport
// datagram is told apart by its first byte: 0x4_ an IPv4 packet, empty a keepalive, and
//
//   MESH_FRAME_ANNOUNCE  [0x01][RouteAnnouncement protobuf (proto/node.proto)]
//   MESH_FRAME_FORWARD   [0x02][ttl][0][0][destination id, 32][source id, 32][datagram]
//
// A forwarded datagram is one the source sealed for the destination in their own session (or a handshake
// message of theirs): a hop reads the header, never the datagram, and seals the frame again into its
// session with the next hop. Pure functions on byte buffers.
#ifndef WEFT_MESH_FRAME_H
#define WEFT_MESH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_FRAME_ANNOUNCE 0x01
#define MESH_FRAME_FORWARD 0x02
#define MESH_NODE_ID_LEN 32
#define MESH_FORWARD_HEADER_LEN (4 + 2 * MESH_NODE_ID_LEN)
#define MESH_ANNOUNCE_MAX 1200          // largest announcement frame: fits one datagram on any path

// True when a session's plaintext is a mesh frame (not an IP packet, not a keepalive).
static inline bool mesh_frame_is_mesh(const uint8_t *plain, size_t len)
{
    return len >= 1 && (plain[0] == MESH_FRAME_ANNOUNCE || plain[0] == MESH_FRAME_FORWARD);
}

typedef struct {
    uint8_t ttl;                        // hops it may still take; a hop drops it at 0 after decrementing
    const uint8_t *dst, *src;           // MESH_NODE_ID_LEN bytes each, inside the frame
    const uint8_t *datagram;            // the inner datagram, inside the frame
    size_t datagram_len;
} mesh_forward_t;

// Writes the forward header into out (MESH_FORWARD_HEADER_LEN bytes); the datagram follows it.
void mesh_forward_header(uint8_t out[MESH_FORWARD_HEADER_LEN], uint8_t ttl, const uint8_t dst[MESH_NODE_ID_LEN],
                         const uint8_t src[MESH_NODE_ID_LEN]);
// Parses a forward frame. Returns 0, or -1 (not a forward frame, too short, nonzero reserved bytes,
// no datagram, or destination == source).
int mesh_forward_parse(const uint8_t *frame, size_t len, mesh_forward_t *out);

#endif
