// path_probe.c — the probe datagram's encoding. See path_probe.h.
#include "path_probe.h"

#include <string.h>

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void path_probe_encode(const path_probe_t *probe, uint8_t out[PATH_PROBE_LEN])
{
    memset(out, 0, PATH_PROBE_LEN);
    out[0] = probe->type;
    put_le64(out + 4, probe->token);
    put_le64(out + 12, (uint64_t)probe->sent_us);
}

bool path_probe_is_probe_type(const uint8_t *buf, size_t len)
{
    return len > 0 && (buf[0] == PATH_PROBE_PING || buf[0] == PATH_PROBE_PONG);
}

bool path_probe_decode(const uint8_t *buf, size_t len, path_probe_t *probe)
{
    if (len != PATH_PROBE_LEN || !path_probe_is_probe_type(buf, len) || buf[1] || buf[2] || buf[3])
        return false;
    probe->type = buf[0];
    probe->token = get_le64(buf + 4);
    probe->sent_us = (int64_t)get_le64(buf + 12);
    return true;
}
