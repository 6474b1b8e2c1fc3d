// api_handlers.c — the node API's routes (docs/api.md). Every endpoint is a read (GET or HEAD); a known path
// with another method is 405, an unknown path 404, both with a JSON error body. Each request makes its own
// Redis connection and control-socket requests: it runs on its own connection thread.
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "node_view.h"

#define STATUS_TIMEOUT_MS 1000   // how long a service may take to answer on its control socket

typedef enum { ROUTE_HEALTH, ROUTE_STATUS, ROUTE_PEERS, ROUTE_ROUTES, ROUTE_NETWORK, ROUTE_STATS, ROUTE_METRICS } route_t;

static const struct {
    const char *path;
    route_t route;
} routes[] = {
    {"/health", ROUTE_HEALTH},          {"/api/v1/status", ROUTE_STATUS}, {"/api/v1/peers", ROUTE_PEERS},
    {"/api/v1/routes", ROUTE_ROUTES},   {"/api/v1/network", ROUTE_NETWORK}, {"/api/v1/stats", ROUTE_STATS},
    {"/metrics", ROUTE_METRICS},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

static store_t *connect_store(const api_t *api)
{
    char url[CONFIG_STR + PATH_MAX], err[256];
    config_redis_url(api->config, url, sizeof url);
    store_t *store = store_connect(url, err, sizeof err);
    if (!store)
        log_warn("api: %s", err);
    return store;
}

static void redis_unavailable(http_response_t *res)
{
    http_error(res, 503, "redis_unavailable", "the node's Redis does not answer (is the node up? `weft up`)");
}

static void health(api_t *api, http_response_t *res)
{
    char url[CONFIG_STR + PATH_MAX];
    config_redis_url(api->config, url, sizeof url);
    http_health(res, url, "node", api->config->name);
}

// status and stats: both from every service's control socket
static void status_or_stats(api_t *api, http_response_t *res, bool stats)
{
    node_status_t *st = calloc(1, sizeof *st);
    if (!st)
        return http_error(res, 500, "internal", "out of memory");
    store_t *store = connect_store(api);
    node_status_collect(api->config, store, STATUS_TIMEOUT_MS, st);
    store_destroy(&store);
    http_json_t doc;
    if (http_json_begin(&doc) != 0) {
        free(st);
        return http_error(res, 500, "internal", "out of memory");
    }
    if (stats)
        node_stats_json(st, &doc.j);
    else
        node_status_json(api->config, st, &doc.j);
    free(st);
    http_json_finish(&doc, res, 200);
}

static void peers_or_routes(api_t *api, http_response_t *res, bool peers)
{
    store_t *store = connect_store(api);
    if (!store)
        return redis_unavailable(res);
    node_peer_t *peer_list = NULL;
    node_route_t *route_list = NULL;
    int count = peers ? node_peers_collect(store, &peer_list) : node_routes_collect(store, &route_list);
    store_destroy(&store);
    if (count < 0)
        return redis_unavailable(res);
    http_json_t doc;
    if (http_json_begin(&doc) == 0) {
        if (peers)
            node_peers_json(peer_list, count, &doc.j);
        else
            node_routes_json(route_list, count, &doc.j);
        http_json_finish(&doc, res, 200);
    } else {
        http_error(res, 500, "internal", "out of memory");
    }
    free(peer_list);
    free(route_list);
}

static void count_response(api_t *api, const http_response_t *res)
{
    if (res->status >= 500)
        atomic_fetch_add(&api->responses_5xx, 1);
    else if (res->status >= 400)
        atomic_fetch_add(&api->responses_4xx, 1);
    else
        atomic_fetch_add(&api->responses_2xx, 1);
}

void api_handle(void *ctx, const http_request_t *req, http_response_t *res)
{
    api_t *api = ctx;
    atomic_fetch_add(&api->requests, 1);
    const route_t *found = NULL;
    if (http_path_is_clean(req->path)) {
        size_t len = strlen(req->path);
        while (len > 1 && req->path[len - 1] == '/')  // "/api/v1/peers/" is "/api/v1/peers"
            len--;
        for (size_t i = 0; i < ROUTE_COUNT && !found; i++)
            if (strlen(routes[i].path) == len && strncmp(routes[i].path, req->path, len) == 0)
                found = &routes[i].route;
    } else {
        http_error(res, 400, "bad_path", "the path has an empty, '.' or '..' segment or a control character");
        count_response(api, res);
        return;
    }
    if (!found) {
        atomic_fetch_add(&api->not_found, 1);
        http_error(res, 404, "not_found", "no such endpoint; see docs/api.md");
        count_response(api, res);
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        atomic_fetch_add(&api->bad_method, 1);
        http_error(res, 405, "method_not_allowed", "this endpoint only answers GET (and HEAD)");
        res->allow = "GET, HEAD";
        count_response(api, res);
        return;
    }
    switch (*found) {
    case ROUTE_HEALTH: health(api, res); break;
    case ROUTE_STATUS: status_or_stats(api, res, false); break;
    case ROUTE_STATS: status_or_stats(api, res, true); break;
    case ROUTE_PEERS: peers_or_routes(api, res, true); break;
    case ROUTE_ROUTES: peers_or_routes(api, res, false); break;
    case ROUTE_NETWORK: api_network(api, res); break;
    case ROUTE_METRICS: api_metrics(api, res); break;
    }
    count_response(api, res);
}
