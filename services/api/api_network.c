// api_network.c — GET /api/v1/network: this machine's addresses (getifaddrs), the STUN and TURN servers
// the node is configured with, and the NAT probe of lib/natprobe.h (what `weft network --json` prints)
// against the configured STUN servers, else the hub's (lib/node_stun.h, as `weft network` does). A probe takes a few round trips (more when servers are silent), so
// its result is kept for API_PROBE_CACHE_MS and one probe runs at a time; it runs on the request's own
// connection thread, so other endpoints are never held up by it.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "natprobe.h"
#include "node_stun.h"
#include "wire.h"

#define API_PROBE_CACHE_MS 30000

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static natprobe_result_t probe_cache;
static int64_t probe_cached_ms;         // monotonic; 0 = nothing cached
static int probe_rc;

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

// Runs the probe against stun's servers (or takes the cached result) and writes "probe": {...}.
static void probe(api_t *api, const node_stun_t *stun, json_t *j)
{
    json_key(j, "probe");
    if (stun->count == 0) {
        json_object_begin(j, NULL);
        json_bool(j, "available", false);
        json_string(j, "reason", stun->why);
        json_object_end(j);
        return;
    }
    const char *servers[NATPROBE_MAX_SERVERS];
    int count = 0;
    for (int i = 0; i < stun->count && count < NATPROBE_MAX_SERVERS; i++)
        servers[count++] = stun->servers[i];
    pthread_mutex_lock(&probe_lock);
    int64_t now = zclock_mono();
    bool cached = probe_cached_ms && now - probe_cached_ms < API_PROBE_CACHE_MS;
    if (!cached) {
        natprobe_options_t opt;
        natprobe_options_default(&opt);
        memset(&probe_cache, 0, sizeof probe_cache);
        probe_rc = natprobe_run(servers, count, &opt, &probe_cache);
        probe_cached_ms = zclock_mono();
        atomic_fetch_add(&api->network_probes, 1);
    }
    // the probe's own document, with whether it is fresh or cached and how old
    json_object_begin(j, NULL);
    json_bool(j, "available", true);
    json_bool(j, "answered", probe_rc == 0);
    json_bool(j, "cached", cached);
    json_uint(j, "age_ms", (uint64_t)(zclock_mono() - probe_cached_ms));
    json_key(j, "result");
    natprobe_write_json(&probe_cache, j);
    json_object_end(j);
    pthread_mutex_unlock(&probe_lock);
}

void api_network(api_t *api, http_response_t *res)
{
    http_json_t doc;
    if (http_json_begin(&doc) != 0)
        return http_error(res, 500, "internal", "out of memory");
    const weft_config_t *cfg = api->config;
    // nat.stun_servers, else the hub's: its port from weft:peers (no Redis: the default port)
    node_stun_t stun;
    store_t *store = NULL;
    if (cfg->stun_server_count == 0) {
        char url[CONFIG_STR + PATH_MAX], err[256];
        config_redis_url(cfg, url, sizeof url);
        store = store_connect(url, err, sizeof err);
    }
    node_stun_servers(cfg, store, &stun);
    store_destroy(&store);
    json_object_begin(&doc.j, NULL);
    local_addresses(&doc.j);
    json_array_begin(&doc.j, "stun_servers");
    for (int i = 0; i < stun.count; i++)
        json_string(&doc.j, NULL, stun.servers[i]);
    json_array_end(&doc.j);
    json_bool(&doc.j, "stun_from_hub", stun.from_hub);   // nat.stun_servers is empty: the hub's STUN server
    json_uint(&doc.j, "turn_servers", (uint64_t)cfg->turn_server_count);  // count only: URLs hold passwords
    probe(api, &stun, &doc.j);
    json_object_end(&doc.j);
    http_json_finish(&doc, res, 200);
}
