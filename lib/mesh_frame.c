// mesh_frame.c — the forward header of mesh frames (mesh_frame.h).
#include "mesh_frame.h"

#include <string.h>

void mesh_forward_header(uint8_t out[MESH_FORWARD_HEADER_LEN], uint8_t ttl, const uint8_t dst[MESH_NODE_ID_LEN],
                         const uint8_t src[MESH_NODE_ID_LEN])
{
    out[0] = MESH_FRAME_FORWARD;
    out[1] = ttl;
    out[2] = 0;
    out[3] = 0;
    memcpy(out + 4, dst, MESH_NODE_ID_LEN);
    memcpy(out + 4 + MESH_NODE_ID_LEN, src, MESH_NODE_ID_LEN);
}

int mesh_forward_parse(const uint8_t *frame, size_t len, mesh_forward_t *out)
{
    if (!frame || len <= MESH_FORWARD_HEADER_LEN || frame[0] != MESH_FRAME_FORWARD || frame[2] || frame[3])
        return -1;
    out->ttl = frame[1];
    out->dst = frame + 4;
    out->src = frame + 4 + MESH_NODE_ID_LEN;
    if (memcmp(out->dst, out->src, MESH_NODE_ID_LEN) == 0)
        return -1;
    out->datagram = frame + MESH_FORWARD_HEADER_LEN;
    out->datagram_len = len - MESH_FORWARD_HEADER_LEN;
    return 0;
}
