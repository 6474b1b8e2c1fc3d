// node_stun.c — see node_stun.h.
#include "node_stun.h"

#include <stdio.h>
#include <string.h>

int node_stun_hub_address(const char *hub_endpoint, unsigned port, char *out, size_t out_len, char *why,
                          size_t why_len)
{
    if (strncmp(hub_endpoint, "tcp://", 6) != 0) {
        snprintf(why, why_len, "hub.endpoint '%.60s' is not tcp://HOST:PORT", hub_endpoint);
        return -1;
    }
    const char *host = hub_endpoint + 6;
    const char *colon = strrchr(host, ':');
    int host_len = colon ? (int)(colon - host) : (int)strlen(host);
    if (host_len == 0 || snprintf(out, out_len, "%.*s:%u", host_len, host, port) >= (int)out_len) {
        snprintf(why, why_len, "hub.endpoint '%.60s' has no usable host", hub_endpoint);
        return -1;
    }
    return 0;
}

int node_stun_hub_port(store_t *store)
{
    Weft__PeerList *list = store ? store_load_peers(store) : NULL;
    if (!list)
        return -1;
    int port = list->hub_stun_port <= 65535 ? (int)list->hub_stun_port : 0;
    weft__peer_list__free_unpacked(list, NULL);
    return port;
}

int node_stun_servers(const weft_config_t *cfg, store_t *store, node_stun_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < cfg->stun_server_count && out->count < CONFIG_MAX_SERVERS; i++)
        snprintf(out->servers[out->count++], CONFIG_STR, "%s", cfg->stun_servers[i]);
    if (out->count > 0)
        return out->count;
    int port = node_stun_hub_port(store);
    if (port == 0) {
        snprintf(out->why, sizeof out->why, "nat.stun_servers is empty and the hub runs no STUN server "
                                            "(its hub.stun_port is 0)");
        return 0;
    }
    if (cfg->hub_endpoint[0] == '\0') {
        snprintf(out->why, sizeof out->why, "nat.stun_servers is empty and there is no hub.endpoint");
        return 0;
    }
    char why[160];
    if (node_stun_hub_address(cfg->hub_endpoint, port > 0 ? (unsigned)port : NODE_STUN_HUB_DEFAULT_PORT,
                              out->servers[0], CONFIG_STR, why, sizeof why) != 0) {
        snprintf(out->why, sizeof out->why, "nat.stun_servers is empty and the hub's STUN server is unusable: %s", why);
        return 0;
    }
    out->count = 1;
    out->from_hub = true;
    out->hub_port_known = port > 0;
    return 1;
}
