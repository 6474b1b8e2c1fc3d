// api_metrics.c — GET /metrics in the Prometheus text format (version 0.0.4), named after
// https://prometheus.io/docs/practices/naming/: weft_build_info; per service up and uptime; every counter a
// service reports on its control socket as weft_<service>_<name>_total, or as the gauge weft_<service>_<name>
// when it is listed in `gauges` below, with "drop_<reason>" and "handshakes_<result>" gathered into one
// family apiece; peers by connection type (from nat's weft:path:* in Redis); per peer (labelled by its node
// id) whether it is connected, its rtt, bytes, packets and handshakes. Names and labels are listed in
// docs/api.md; `promtool check metrics` passes on it (tests/integration/test_api.sh).
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "node_view.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "unknown"
#endif

// The stats that are levels (set to the current value, may go down); every other stat is a counter.
// Services report both alike over the control socket (ServiceStatus counters), so the list lives here.
static const struct {
    const char *service, *name;
} gauges[] = {
    {"router", "routes"},             // routes in the table
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

// A label value: backslash, double quote and newline escaped.
static void label(FILE *out, const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == '\\' || *c == '"')
            fprintf(out, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", out);
        else
            fputc(*c, out);
    }
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

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

static void service_stats(FILE *out, const node_service_t *svc)
{
    char name[160], help[160];
    for (size_t g = 0; g < GROUP_COUNT; g++) {
        bool first = true;
        for (size_t c = 0; c < svc->counter_count; c++) {
            if (group_of(svc->counters[c].name) != (int)g)
                continue;
            snprintf(name, sizeof name, "weft_%s_%s_total", svc->name, groups[g].family);
            if (first) {
                snprintf(help, sizeof help, "weft-%s's %s<%s> counters, by %s.", svc->name, groups[g].prefix,
                         groups[g].label, groups[g].label);
                header(out, name, "counter", help);
                first = false;
            }
            fprintf(out, "%s{%s=\"", name, groups[g].label);
            label(out, svc->counters[c].name + strlen(groups[g].prefix));
            fprintf(out, "\"} %llu\n", (unsigned long long)svc->counters[c].value);
        }
    }
    for (size_t c = 0; c < svc->counter_count; c++) {
        const char *stat = svc->counters[c].name;
        if (group_of(stat) >= 0)
            continue;
        bool gauge = is_gauge(svc->name, stat);
        metric_name(name, sizeof name, svc->name, stat, !gauge);
        snprintf(help, sizeof help, "weft-%s's %s %s (weft status).", svc->name, gauge ? "gauge" : "counter", stat);
        header(out, name, gauge ? "gauge" : "counter", help);
        fprintf(out, "%s %llu\n", name, (unsigned long long)svc->counters[c].value);
    }
}

static void services(FILE *out, const node_status_t *st)
{
    header(out, "weft_build_info", "gauge", "Always 1; the version of the weft that serves this API.");
    fputs("weft_build_info{version=\"", out);
    label(out, WEFT_VERSION);
    fputs("\"} 1\n", out);
    header(out, "weft_up", "gauge", "Whether the service answers on its control socket (1) or not (0).");
    for (int s = 0; s < SVC_COUNT; s++)
        fprintf(out, "weft_up{service=\"%s\"} %d\n", st->services[s].name, st->services[s].up ? 1 : 0);
    header(out, "weft_service_uptime_seconds", "gauge", "Seconds since the service started.");
    for (int s = 0; s < SVC_COUNT; s++)
        if (st->services[s].up)
            fprintf(out, "weft_service_uptime_seconds{service=\"%s\"} %.3f\n", st->services[s].name,
                    (double)st->services[s].uptime_ms / 1000.0);
    for (int s = 0; s < SVC_COUNT; s++)
        service_stats(out, &st->services[s]);
}

// One series per peer, labelled by its node id (64 hex) and name.
static void peer_labels(FILE *out, const char *metric, const node_peer_t *peer)
{
    fprintf(out, "%s{peer_id=\"%s\",name=\"", metric, peer->id);
    label(out, peer->name);
    fputs("\"}", out);
}

static void peer_series(FILE *out, const node_peer_t *peers, int count, const char *name, const char *help,
                        size_t offset)
{
    header(out, name, "counter", help);
    for (int i = 0; i < count; i++) {
        peer_labels(out, name, &peers[i]);
        fprintf(out, " %llu\n", (unsigned long long)*(const uint64_t *)((const char *)&peers[i] + offset));
    }
}

static bool connected(const node_peer_t *peer)
{
    return strcmp(peer->connection, "direct") == 0 || strcmp(peer->connection, "relay") == 0;
}

static void peers(FILE *out, const node_peer_t *list, int count)
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
    header(out, "weft_peers", "gauge",
           "Members of the mesh by how they are reached: direct, relay (TURN), or none (no ICE path yet).");
    fprintf(out, "weft_peers{connection=\"direct\"} %llu\nweft_peers{connection=\"relay\"} %llu\n"
                 "weft_peers{connection=\"none\"} %llu\n",
            (unsigned long long)direct, (unsigned long long)relay, (unsigned long long)none);
    header(out, "weft_peer_connected", "gauge", "Whether nat has a usable path to the peer (1) or not (0).");
    for (int i = 0; i < count; i++) {
        peer_labels(out, "weft_peer_connected", &list[i]);
        fprintf(out, " %d\n", connected(&list[i]) ? 1 : 0);
    }
    header(out, "weft_peer_relayed", "gauge", "Whether the peer's path goes through a TURN relay (1) or not (0).");
    for (int i = 0; i < count; i++) {
        peer_labels(out, "weft_peer_relayed", &list[i]);
        fprintf(out, " %d\n", strcmp(list[i].connection, "relay") == 0 ? 1 : 0);
    }
    header(out, "weft_peer_rtt_seconds", "gauge", "Round trip of the last probe on the peer's path (peers with one).");
    for (int i = 0; i < count; i++)
        if (connected(&list[i]) && list[i].rtt_ms >= 0) {
            peer_labels(out, "weft_peer_rtt_seconds", &list[i]);
            fprintf(out, " %.3f\n", (double)list[i].rtt_ms / 1000.0);
        }
    header(out, "weft_bytes_total", "counter", "Bytes on the peers' ICE paths, all peers, by direction.");
    fprintf(out, "weft_bytes_total{direction=\"rx\"} %llu\nweft_bytes_total{direction=\"tx\"} %llu\n",
            (unsigned long long)rx, (unsigned long long)tx);
    header(out, "weft_packets_total", "counter", "Datagrams on the peers' ICE paths, all peers, by direction.");
    fprintf(out, "weft_packets_total{direction=\"rx\"} %llu\nweft_packets_total{direction=\"tx\"} %llu\n",
            (unsigned long long)rx_p, (unsigned long long)tx_p);
    peer_series(out, list, count, "weft_peer_rx_bytes_total", "Bytes received from the peer on its ICE path.",
                offsetof(node_peer_t, path_rx_bytes));
    peer_series(out, list, count, "weft_peer_tx_bytes_total", "Bytes sent to the peer on its ICE path.",
                offsetof(node_peer_t, path_tx_bytes));
    peer_series(out, list, count, "weft_peer_rx_packets_total", "Datagrams received from the peer.",
                offsetof(node_peer_t, path_rx_packets));
    peer_series(out, list, count, "weft_peer_tx_packets_total", "Datagrams sent to the peer.",
                offsetof(node_peer_t, path_tx_packets));
    peer_series(out, list, count, "weft_peer_handshakes_total", "Noise handshakes with the peer (weft-crypto's session).",
                offsetof(node_peer_t, handshakes));
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
    services(out, st);
    node_peer_t *list = NULL;
    int count = node_peers_collect(store, &list);
    header(out, "weft_redis_up", "gauge", "Whether the node's Redis answered (1) or not (0).");
    fprintf(out, "weft_redis_up %d\n", count >= 0 ? 1 : 0);
    peers(out, list, count > 0 ? count : 0);
    free(list);
    store_destroy(&store);
    free(st);
    if (fclose(out) != 0 || !buf) {
        free(buf);
        http_error(res, 500, "internal", "out of memory");
        return -1;
    }
    http_text(res, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    return 0;
}
