// api_network.c — GET /api/v1/network: this machine's addresses (getifaddrs), the STUN and TURN servers
// the node is configured with, and the NAT probe. The probe (lib/natprobe, `weft network`) is not part of
// this build yet: the answer says so ("probe": {"available": false, ...}) rather than guessing a NAT type.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include "api.h"

static void local_addresses(json_t *j)
{
    json_array_begin(j, "local_addresses");
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) == 0) {
        for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
            if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP))
                continue;
            int family = ifa->ifa_addr->sa_family;
            if (family != AF_INET && family != AF_INET6)
                continue;
            char text[INET6_ADDRSTRLEN];
            const void *addr = family == AF_INET ? (const void *)&((struct sockaddr_in *)ifa->ifa_addr)->sin_addr
                                                 : (const void *)&((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
            if (!inet_ntop(family, addr, text, sizeof text))
                continue;
            json_object_begin(j, NULL);
            json_string(j, "interface", ifa->ifa_name);
            json_string(j, "family", family == AF_INET ? "ipv4" : "ipv6");
            json_string(j, "address", text);
            json_bool(j, "loopback", (ifa->ifa_flags & IFF_LOOPBACK) != 0);
            json_object_end(j);
        }
        freeifaddrs(list);
    }
    json_array_end(j);
}

void api_network(api_t *api, http_response_t *res)
{
    atomic_fetch_add(&api->network_probes, 1);
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    const weft_config_t *cfg = api->config;
    json_object_begin(&doc.j, NULL);
    local_addresses(&doc.j);
    json_array_begin(&doc.j, "stun_servers");
    for (int i = 0; i < cfg->stun_server_count; i++)
        json_string(&doc.j, NULL, cfg->stun_servers[i]);
    json_array_end(&doc.j);
    json_uint(&doc.j, "turn_servers", (uint64_t)cfg->turn_server_count);  // count only: URLs hold passwords
    json_object_begin(&doc.j, "probe");
    json_bool(&doc.j, "available", false);
    json_string(&doc.j, "reason", "the NAT probe (weft network) is not built into weft-api yet");
    json_object_end(&doc.j);
    json_object_end(&doc.j);
    http_json_finish(&doc, res, 200);
}
