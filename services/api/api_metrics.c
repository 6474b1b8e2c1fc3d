// api_metrics.c — GET /metrics in the Prometheus text format (version 0.0.4): per-service up, peers by
// connection type (from nat's weft:path:* in Redis), bytes and packets per peer and in total, handshakes,
// drops by service and reason, and every other service counter as weft_service_stat. Names and labels
// are listed in docs/api.md; `promtool check metrics` passes on it (tests/integration/test_api.sh).
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "node_view.h"

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

static uint64_t counter_value(const node_service_t *svc, const char *name)
{
    for (size_t c = 0; c < svc->counter_count; c++)
        if (strcmp(svc->counters[c].name, name) == 0)
            return svc->counters[c].value;
    return 0;
}

static void services(FILE *out, const node_status_t *st)
{
    header(out, "weft_up", "gauge", "Whether the service answers on its control socket (1) or not (0).");
    for (int s = 0; s < SVC_COUNT; s++)
        fprintf(out, "weft_up{service=\"%s\"} %d\n", st->services[s].name, st->services[s].up ? 1 : 0);
    header(out, "weft_service_uptime_seconds", "gauge", "Seconds since the service started.");
    for (int s = 0; s < SVC_COUNT; s++)
        if (st->services[s].up)
            fprintf(out, "weft_service_uptime_seconds{service=\"%s\"} %.3f\n", st->services[s].name,
                    (double)st->services[s].uptime_ms / 1000.0);

    const node_service_t *crypto = &st->services[SVC_CRYPTO];
    header(out, "weft_handshakes_total", "counter", "Noise handshakes by result, counted by weft-crypto.");
    static const char *results[] = {"initiated", "responded", "completed", "failed"};
    if (crypto->up)
        for (size_t r = 0; r < sizeof results / sizeof results[0]; r++) {
            char name[64];
            snprintf(name, sizeof name, "handshakes_%s", results[r]);
            fprintf(out, "weft_handshakes_total{result=\"%s\"} %llu\n", results[r],
                    (unsigned long long)counter_value(crypto, name));
        }

    header(out, "weft_drops_total", "counter", "Packets or messages dropped, by service and reason.");
    for (int s = 0; s < SVC_COUNT; s++)
        for (size_t c = 0; c < st->services[s].counter_count; c++)
            if (strncmp(st->services[s].counters[c].name, "drop_", 5) == 0) {
                fprintf(out, "weft_drops_total{service=\"%s\",reason=\"", st->services[s].name);
                label(out, st->services[s].counters[c].name + 5);
                fprintf(out, "\"} %llu\n", (unsigned long long)st->services[s].counters[c].value);
            }

    header(out, "weft_service_stat", "untyped",
           "Every other counter a service reports on its control socket (weft status), by service and name.");
    for (int s = 0; s < SVC_COUNT; s++)
        for (size_t c = 0; c < st->services[s].counter_count; c++)
            if (strncmp(st->services[s].counters[c].name, "drop_", 5) != 0) {
                fprintf(out, "weft_service_stat{service=\"%s\",name=\"", st->services[s].name);
                label(out, st->services[s].counters[c].name);
                fprintf(out, "\"} %llu\n", (unsigned long long)st->services[s].counters[c].value);
            }
}

static void peer_series(FILE *out, const node_peer_t *peers, int count, const char *name, const char *help,
                        size_t offset)
{
    header(out, name, "counter", help);
    for (int i = 0; i < count; i++) {
        fprintf(out, "%s{peer=\"", name);
        label(out, peers[i].name);
        fprintf(out, "\",id=\"%.16s\"} %llu\n", peers[i].id,
                (unsigned long long)*(const uint64_t *)((const char *)&peers[i] + offset));
    }
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
