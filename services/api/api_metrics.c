// api_metrics.c — GET /metrics in the Prometheus text format (version 0.0.4), named after
// https://prometheus.io/docs/practices/naming/: weft_build_info; per service up and uptime; every counter a
// service reports on its control socket as weft_<service>_<name>_total, or as the gauge weft_<service>_<name>
// when it is listed in `gauges` below, with "drop_<reason>" and "handshakes_<result>" gathered into one
// family apiece; the routing families (weft_routes{kind}, weft_forwarded_*_total, weft_route_drops_total,
// weft_announce_drops_total) made from the router's and the data plane's stats; peers by connection type
// (from nat's weft:path:* in Redis); per peer (labelled by its node id) whether it is connected, its rtt,
// bytes, packets and handshakes. Names and labels are listed in
// docs/api.md; `promtool check metrics` passes on it (tests/integration/test_api.sh). The text itself is
// written by lib/prom_text.c, as the hub's /metrics is.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_metrics.h"
#include "log.h"
#include "node_view.h"
#include "prom_text.h"

// The stats that are levels (set to the current value, may go down); every other stat is a counter.
// Services report both alike over the control socket (ServiceStatus counters), so the list lives here.
static const struct {
    const char *service, *name;
} gauges[] = {
    {"router", "routes"},             // routes in the table
    {"router", "routes_direct"},      // ... by kind (also weft_routes{kind})
    {"router", "routes_relayed"},
    {"router", "routes_subnet"},
    {"router", "routes_refused"},
    {"crypto", "sessions"},           // established sessions
    {"crypto", "under_load"},         // 1 while handshakes need a cookie
    {"nat", "peers_connected"},       // peers with a usable path
    {"nat", "peers_direct"},
    {"nat", "peers_relay"},
};

// Counters gathered into one family with a label: "drop_queue_full" is weft_<svc>_drops_total{reason=...}.
static const struct {
    const char *prefix, *family, *label;
} groups[] = {
    {"drop_", "drops", "reason"},
    {"handshakes_", "handshakes", "result"},
};
#define GROUP_COUNT (sizeof groups / sizeof groups[0])

static bool is_gauge(const char *service, const char *name)
{
    for (size_t g = 0; g < sizeof gauges / sizeof gauges[0]; g++)
        if (strcmp(gauges[g].service, service) == 0 && strcmp(gauges[g].name, name) == 0)
            return true;
    return false;
}

static int group_of(const char *name)
{
    for (size_t g = 0; g < GROUP_COUNT; g++)
        if (strncmp(name, groups[g].prefix, strlen(groups[g].prefix)) == 0 && name[strlen(groups[g].prefix)])
            return (int)g;
    return -1;
}

// weft_<service>_<stat>[_total] with the unit last ("bytes_in" -> "in_bytes") and anything but [a-z0-9_]
// as '_' (stat names are the services' string literals, but nothing here depends on that).
static void metric_name(char *out, size_t size, const char *service, const char *stat, bool counter)
{
    char stem[80];
    if (strncmp(stat, "bytes_", 6) == 0 && stat[6])
        snprintf(stem, sizeof stem, "%s_bytes", stat + 6);
    else
        snprintf(stem, sizeof stem, "%s", stat);
    for (char *c = stem; *c; c++)
        if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c))
            *c = '_';
    snprintf(out, size, "weft_%s_%s%s", service, stem, counter ? "_total" : "");
}

static void service_stats(prom_text_t *w, const node_service_t *svc)
{
    char name[PROM_NAME_MAX], help[160];
    for (size_t g = 0; g < GROUP_COUNT; g++) {
        snprintf(name, sizeof name, "weft_%s_%s_total", svc->name, groups[g].family);
        snprintf(help, sizeof help, "weft-%s's %s<%s> counters, by %s.", svc->name, groups[g].prefix,
                 groups[g].label, groups[g].label);
        for (size_t c = 0; c < svc->counter_count; c++)
            if (group_of(svc->counters[c].name) == (int)g) {
                prom_family(w, name, PROM_COUNTER, help);   // the header before the group's first sample only
                prom_sample(w, svc->counters[c].value, groups[g].label,
                            svc->counters[c].name + strlen(groups[g].prefix), NULL);
            }
    }
    for (size_t c = 0; c < svc->counter_count; c++) {
        const char *stat = svc->counters[c].name;
        if (group_of(stat) >= 0)
            continue;
        bool gauge = is_gauge(svc->name, stat);
        metric_name(name, sizeof name, svc->name, stat, !gauge);
        snprintf(help, sizeof help, "weft-%s's %s %s (weft status).", svc->name, gauge ? "gauge" : "counter", stat);
        prom_family(w, name, gauge ? PROM_GAUGE : PROM_COUNTER, help);
        prom_sample(w, svc->counters[c].value, NULL);
    }
}

static void services(prom_text_t *w, const node_status_t *st)
{
    prom_build_info(w);
    prom_family(w, "weft_up", PROM_GAUGE, "Whether the service answers on its control socket (1) or not (0).");
    for (int s = 0; s < SVC_COUNT; s++)
        prom_sample(w, st->services[s].up ? 1 : 0, "service", st->services[s].name, NULL);
    prom_family(w, "weft_service_uptime_seconds", PROM_GAUGE, "Seconds since the service started.");
    for (int s = 0; s < SVC_COUNT; s++)
        if (st->services[s].up)
            prom_sample_double(w, (double)st->services[s].uptime_ms / 1000.0, "service", st->services[s].name, NULL);
    for (int s = 0; s < SVC_COUNT; s++)
        service_stats(w, &st->services[s]);
}

// The routing families, from the router's and the data plane's stats. A stat the service does not report
// is left out (a router or data plane from before mesh routing, or one that does not answer), not written 0.
static const struct {
    const char *family;
    prom_type_t type;
    const char *help;
    service_id_t service;
    const char *stat, *label, *value;   // label NULL: a family without labels
} routing[] = {
#define ROUTES_HELP "Routes in the router's table by kind: direct, relayed (through other members), subnet, refused."
    {"weft_routes", PROM_GAUGE, ROUTES_HELP, SVC_ROUTER, "routes_direct", "kind", "direct"},
    {"weft_routes", PROM_GAUGE, ROUTES_HELP, SVC_ROUTER, "routes_relayed", "kind", "relayed"},
    {"weft_routes", PROM_GAUGE, ROUTES_HELP, SVC_ROUTER, "routes_subnet", "kind", "subnet"},
    {"weft_routes", PROM_GAUGE, ROUTES_HELP, SVC_ROUTER, "routes_refused", "kind", "refused"},
    {"weft_forwarded_packets_total", PROM_COUNTER, "Datagrams this node forwarded for other members (as a hop).",
     SVC_DATAPLANE, "forwarded_packets", NULL, NULL},
    {"weft_forwarded_bytes_total", PROM_COUNTER, "Bytes this node forwarded for other members (as a hop).",
     SVC_DATAPLANE, "forwarded_bytes", NULL, NULL},
};

// ... and the drop families: every stat <prefix><reason> of the service, labelled reason="<reason>".
static const struct {
    const char *family, *help;
    service_id_t service;
    const char *prefix;
} routing_drops[] = {
    {"weft_route_drops_total", "Datagrams to forward that the data plane dropped, by reason (ttl, loop, no_route, refused, ...).",
     SVC_DATAPLANE, "drop_forward_"},
    {"weft_announce_drops_total", "Route announcements the router dropped, by reason (malformed, forged, loop, stale, ...).",
     SVC_ROUTER, "drop_announce_"},
};

static void routing_families(prom_text_t *w, const node_status_t *st)
{
    for (size_t r = 0; r < sizeof routing / sizeof routing[0]; r++) {
        const node_service_t *svc = &st->services[routing[r].service];
        for (size_t c = 0; c < svc->counter_count; c++) {
            if (strcmp(svc->counters[c].name, routing[r].stat) != 0)
                continue;
            prom_family(w, routing[r].family, routing[r].type, routing[r].help);   // header once per family
            if (routing[r].label)
                prom_sample(w, svc->counters[c].value, routing[r].label, routing[r].value, NULL);
            else
                prom_sample(w, svc->counters[c].value, NULL);
            break;
        }
    }
    for (size_t d = 0; d < sizeof routing_drops / sizeof routing_drops[0]; d++) {
        const node_service_t *svc = &st->services[routing_drops[d].service];
        size_t len = strlen(routing_drops[d].prefix);
        for (size_t c = 0; c < svc->counter_count; c++) {
            if (strncmp(svc->counters[c].name, routing_drops[d].prefix, len) != 0 || !svc->counters[c].name[len])
                continue;
            prom_family(w, routing_drops[d].family, PROM_COUNTER, routing_drops[d].help);
            prom_sample(w, svc->counters[c].value, "reason", svc->counters[c].name + len, NULL);
        }
    }
}

// One series per peer of a per-peer counter, labelled by its node id (64 hex) and name.
static void peer_series(prom_text_t *w, const node_peer_t *peers, int count, const char *name, const char *help,
                        size_t offset)
{
    prom_family(w, name, PROM_COUNTER, help);
    for (int i = 0; i < count; i++)
        prom_sample(w, *(const uint64_t *)((const char *)&peers[i] + offset), "peer_id", peers[i].id, "name",
                    peers[i].name, NULL);
}

static bool connected(const node_peer_t *peer)
{
    return strcmp(peer->connection, "direct") == 0 || strcmp(peer->connection, "relay") == 0;
}

static void peers(prom_text_t *w, const node_peer_t *list, int count)
{
    uint64_t direct = 0, relay = 0, none = 0, rx = 0, tx = 0, rx_p = 0, tx_p = 0;
    for (int i = 0; i < count; i++) {
        if (strcmp(list[i].connection, "direct") == 0)
            direct++;
        else if (strcmp(list[i].connection, "relay") == 0)
            relay++;
        else
            none++;
        rx += list[i].path_rx_bytes;
        tx += list[i].path_tx_bytes;
        rx_p += list[i].path_rx_packets;
        tx_p += list[i].path_tx_packets;
    }
    prom_family(w, "weft_peers", PROM_GAUGE,
                "Members of the mesh by how they are reached: direct, relay (TURN), or none (no ICE path yet).");
    prom_sample(w, direct, "connection", "direct", NULL);
    prom_sample(w, relay, "connection", "relay", NULL);
    prom_sample(w, none, "connection", "none", NULL);
    prom_family(w, "weft_peer_connected", PROM_GAUGE, "Whether nat has a usable path to the peer (1) or not (0).");
    for (int i = 0; i < count; i++)
        prom_sample(w, connected(&list[i]) ? 1 : 0, "peer_id", list[i].id, "name", list[i].name, NULL);
    prom_family(w, "weft_peer_relayed", PROM_GAUGE, "Whether the peer's path goes through a TURN relay (1) or not (0).");
    for (int i = 0; i < count; i++)
        prom_sample(w, strcmp(list[i].connection, "relay") == 0 ? 1 : 0, "peer_id", list[i].id, "name", list[i].name,
                    NULL);
    prom_family(w, "weft_peer_rtt_seconds", PROM_GAUGE, "Round trip of the last probe on the peer's path (peers with one).");
    for (int i = 0; i < count; i++)
        if (connected(&list[i]) && list[i].rtt_us >= 0)   // µs: a LAN's sub-millisecond rtt is not 0
            prom_sample_double(w, (double)list[i].rtt_us / 1e6, "peer_id", list[i].id, "name", list[i].name, NULL);
    prom_family(w, "weft_bytes_total", PROM_COUNTER, "Bytes on the peers' ICE paths, all peers, by direction.");
    prom_sample(w, rx, "direction", "rx", NULL);
    prom_sample(w, tx, "direction", "tx", NULL);
    prom_family(w, "weft_packets_total", PROM_COUNTER, "Datagrams on the peers' ICE paths, all peers, by direction.");
    prom_sample(w, rx_p, "direction", "rx", NULL);
    prom_sample(w, tx_p, "direction", "tx", NULL);
    peer_series(w, list, count, "weft_peer_rx_bytes_total", "Bytes received from the peer on its ICE path.",
                offsetof(node_peer_t, path_rx_bytes));
    peer_series(w, list, count, "weft_peer_tx_bytes_total", "Bytes sent to the peer on its ICE path.",
                offsetof(node_peer_t, path_tx_bytes));
    peer_series(w, list, count, "weft_peer_rx_packets_total", "Datagrams received from the peer.",
                offsetof(node_peer_t, path_rx_packets));
    peer_series(w, list, count, "weft_peer_tx_packets_total", "Datagrams sent to the peer.",
                offsetof(node_peer_t, path_tx_packets));
    peer_series(w, list, count, "weft_peer_handshakes_total", "Noise handshakes with the peer (weft-crypto's session).",
                offsetof(node_peer_t, handshakes));
}

void api_metrics_write(prom_text_t *w, const node_status_t *st, bool redis_up, const node_peer_t *peers_list,
                       int count)
{
    services(w, st);
    routing_families(w, st);
    prom_family(w, "weft_redis_up", PROM_GAUGE, "Whether the node's Redis answered (1) or not (0).");
    prom_sample(w, redis_up ? 1 : 0, NULL);
    peers(w, peers_list, count);
}

int api_metrics(api_t *api, http_response_t *res)
{
    node_status_t *st = calloc(1, sizeof *st);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = st ? open_memstream(&buf, &len) : NULL;
    if (!out) {
        free(st);
        http_error(res, 500, "internal", "out of memory");
        return -1;
    }
    char url[CONFIG_STR + PATH_MAX], err[256];
    config_redis_url(api->config, url, sizeof url);
    store_t *store = store_connect(url, err, sizeof err);
    node_status_collect(api->config, store, 1000, st);
    node_peer_t *list = NULL;
    int count = node_peers_collect(store, &list);
    store_destroy(&store);
    prom_text_t w;
    prom_text_init(&w, out);
    api_metrics_write(&w, st, count >= 0, list, count > 0 ? count : 0);
    free(list);
    free(st);
    int written = prom_text_end(&w);
    if (fclose(out) != 0 || !buf || written != 0) {
        free(buf);
        http_error(res, 500, "internal", "out of memory");
        return -1;
    }
    http_text(res, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    return 0;
}
