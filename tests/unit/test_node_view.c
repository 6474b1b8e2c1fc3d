// test_node_view.c — what `weft routes`, `weft peers`, /api/v1/routes and /metrics make of the router's
// routes (lib/node_view.c, services/api/api_metrics.c, services/cli/cmd_status.c), against a real
// redis-server (tests/unit/redis_fixture.h) holding the schema of docs/state.md: member, relayed, subnet and
// refused routes, a route an older router wrote (five fields), and routes whose next hop is not in the peer
// table. The CLI is the built `weft`, run on a home whose redis.url is the test's server.
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "api_metrics.h"
#include "node_view.h"
#include "redis_fixture.h"
#include "store.h"

static redis_fixture_t redis;
static store_t *store;

// Members' ids: 32 bytes of one value each, so their hex is that byte 32 times.
#define BETA 0xbb
#define GAMMA 0xcc
#define STRANGER 0xee   // in no PeerList: a hop the node has no name for
static char beta_hex[ID_HEX_LEN], gamma_hex[ID_HEX_LEN], stranger_hex[ID_HEX_LEN];

static void hex_of(uint8_t byte, char out[ID_HEX_LEN])
{
    uint8_t id[32];
    memset(id, byte, sizeof id);
    id_to_hex(id, out);
}

static void save_peers(void)
{
    uint8_t ids[2][32];
    memset(ids[0], BETA, 32);
    memset(ids[1], GAMMA, 32);
    Weft__Peer peers[2] = {WEFT__PEER__INIT, WEFT__PEER__INIT};
    Weft__Peer *ptrs[2] = {&peers[0], &peers[1]};
    const char *names[2] = {"beta", "gamma"}, *addrs[2] = {"10.100.0.2", "10.100.0.3"};
    for (int i = 0; i < 2; i++) {
        peers[i].id.data = ids[i];
        peers[i].id.len = 32;
        peers[i].name = (char *)names[i];
        peers[i].overlay_addr = (char *)addrs[i];
    }
    Weft__PeerList list = WEFT__PEER_LIST__INIT;
    list.peers = ptrs;
    list.n_peers = 2;
    assert_int_equal(store_save_peers(store, &list), 0);
}

static int64_t now_ms(void)
{
    return zclock_time();
}

// The routes of the tests, as the new router writes them (and one as an old router did).
static void save_routes(void)
{
    int64_t now = now_ms();
    assert_int_equal(store_exec(store, "DEL weft:routes"), 0);
    // beta, direct
    assert_int_equal(store_exec(store, "HSET weft:route:10.100.0.2 peer %s next_hop %s hops 1 metric 112 latency_ms 12 "
                                       "updated_ms %lld refreshed_ms %lld origin member state active why %s",
                                beta_hex, beta_hex, (long long)(now - 60000), (long long)(now - 3000), ""), 0);
    // gamma, through beta
    assert_int_equal(store_exec(store, "HSET weft:route:10.100.0.3 peer %s next_hop %s hops 2 metric 230 latency_ms 30 "
                                       "updated_ms %lld refreshed_ms %lld origin member state active why %s",
                                gamma_hex, beta_hex, (long long)(now - 20000), (long long)(now - 5000), ""), 0);
    // a member the peer table does not know yet, through a hop it does not know either
    assert_int_equal(store_exec(store, "HSET weft:route:10.100.0.4 peer %s next_hop %s hops 3 metric 345 latency_ms 45 "
                                       "updated_ms %lld refreshed_ms %lld origin member state active why %s",
                                stranger_hex, "ab" "cd000000000000000000000000000000000000000000000000000000000000",
                                (long long)now, (long long)now, ""), 0);
    // as a router from before mesh routing wrote it: five fields
    assert_int_equal(store_exec(store, "HSET weft:route:10.100.0.10 peer %s next_hop %s hops 1 metric 1 updated_ms %lld",
                                gamma_hex, gamma_hex, (long long)(now - 7000)), 0);
    // a subnet behind gamma, through beta
    assert_int_equal(store_exec(store, "HSET weft:route:192.168.50.0/24 peer %s next_hop %s hops 2 metric 240 "
                                       "latency_ms 40 updated_ms %lld refreshed_ms %lld origin subnet state active why %s",
                                gamma_hex, beta_hex, (long long)now, (long long)now, ""), 0);
    // a subnet gamma advertises that the mesh admin did not allow
    assert_int_equal(store_exec(store, "HSET weft:route:192.168.60.0/24 peer %s next_hop %s hops 1 metric 120 "
                                       "latency_ms 20 updated_ms %lld refreshed_ms %lld origin subnet state refused why %s",
                                gamma_hex, gamma_hex, (long long)now, (long long)now,
                                "not allowed by the mesh admin (weft mesh routes allow)"), 0);
    assert_int_equal(store_exec(store, "SADD weft:routes 192.168.60.0/24 10.100.0.10 192.168.50.0/24 10.100.0.3 "
                                       "10.100.0.2 10.100.0.4"), 0);
}

static int setup(void **state)
{
    (void)state;
    hex_of(BETA, beta_hex);
    hex_of(GAMMA, gamma_hex);
    hex_of(STRANGER, stranger_hex);
    if (redis_fixture_setup(&redis, "node-view", false) != 0)
        return -1;
    char err[256];
    store = store_connect(redis.url, err, sizeof err);
    if (!store)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_destroy(&store);
    return redis_fixture_teardown(&redis);
}

static void test_routes_collect(void **state)
{
    (void)state;
    save_peers();
    save_routes();
    node_route_t *routes = NULL;
    int count = node_routes_collect(store, &routes);
    assert_int_equal(count, 6);
    // members first, by address as numbers (10.100.0.10 after 10.100.0.4), then subnets
    const char *order[] = {"10.100.0.2/32", "10.100.0.3/32", "10.100.0.4/32", "10.100.0.10/32", "192.168.50.0/24",
                           "192.168.60.0/24"};
    for (int i = 0; i < count; i++)
        assert_string_equal(routes[i].destination, order[i]);

    const node_route_t *beta = &routes[0], *gamma = &routes[1], *stranger = &routes[2], *old = &routes[3];
    const node_route_t *subnet = &routes[4], *refused = &routes[5];
    assert_true(beta->direct);
    assert_string_equal(beta->peer_name, "beta");
    assert_int_equal(beta->latency_ms, 12);
    assert_in_range(beta->age_s, 3, 9);              // from refreshed_ms, not updated_ms (60 s)

    assert_false(gamma->direct);
    assert_string_equal(gamma->peer_name, "gamma");
    assert_string_equal(gamma->next_hop, beta_hex);
    assert_string_equal(gamma->next_hop_name, "beta");
    assert_int_equal(gamma->hops, 2);
    assert_int_equal(gamma->metric, 230);
    assert_string_equal(gamma->origin, "member");
    assert_string_equal(gamma->state, "active");

    assert_false(stranger->direct);
    assert_string_equal(stranger->peer_name, "");
    assert_string_equal(stranger->next_hop_name, "");
    char via[ID_HEX_LEN];
    node_route_via(stranger, via, sizeof via);
    assert_string_equal(via, "abcd000000000000");   // no name: its id's first 16 hex

    assert_true(old->direct);                        // the old five fields, the rest as documented
    assert_int_equal(old->latency_ms, 0);
    assert_int_equal(old->refreshed_ms, 0);
    assert_in_range(old->age_s, 7, 12);              // from updated_ms
    assert_string_equal(old->origin, "member");
    assert_string_equal(old->state, "active");
    assert_string_equal(old->why, "");

    assert_string_equal(subnet->origin, "subnet");
    assert_string_equal(subnet->key, "192.168.50.0/24");
    assert_string_equal(subnet->peer_name, "gamma");
    assert_string_equal(subnet->next_hop_name, "beta");

    assert_string_equal(refused->state, "refused");
    assert_string_equal(refused->why, "not allowed by the mesh admin (weft mesh routes allow)");
    free(routes);

    // an empty table, and a route key whose hash is gone: none, not an error
    assert_int_equal(store_exec(store, "DEL weft:routes"), 0);
    assert_int_equal(node_routes_collect(store, &routes), 0);
    assert_null(routes);
    assert_int_equal(store_exec(store, "SADD weft:routes 10.100.0.99"), 0);
    assert_int_equal(node_routes_collect(store, &routes), 0);
    assert_int_equal(node_routes_collect(NULL, &routes), -1);
}

static cJSON *routes_document(void)
{
    node_route_t *routes = NULL;
    int count = node_routes_collect(store, &routes);
    assert_true(count > 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    json_t j;
    json_init(&j, out);
    node_routes_json(routes, count, &j);
    json_finish(&j);
    fclose(out);
    free(routes);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    return doc;
}

static const cJSON *route_to(const cJSON *doc, const char *destination)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, doc)
        if (strcmp(cJSON_GetObjectItem(r, "destination")->valuestring, destination) == 0)
            return r;
    fail_msg("no route to %s", destination);
    return NULL;
}

static const char *text_of(const cJSON *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(r, name);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double number_of(const cJSON *r, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(r, name);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_routes_json(void **state)
{
    (void)state;
    save_peers();
    save_routes();
    cJSON *doc = routes_document();
    assert_int_equal(cJSON_GetArraySize(doc), 6);
    const char *fields[] = {"destination", "peer", "peer_name", "via", "via_id", "hops", "metric",
                            "latency_ms", "age_s", "origin", "state", "why"};
    const cJSON *r;
    cJSON_ArrayForEach(r, doc) {
        assert_int_equal(cJSON_GetArraySize(r), sizeof fields / sizeof fields[0]);   // these and no others
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
            assert_non_null(cJSON_GetObjectItem(r, fields[f]));
    }
    r = route_to(doc, "10.100.0.2/32");
    assert_string_equal(text_of(r, "via"), "direct");
    assert_string_equal(text_of(r, "via_id"), beta_hex);
    r = route_to(doc, "10.100.0.3/32");
    assert_string_equal(text_of(r, "via"), "beta");
    assert_string_equal(text_of(r, "via_id"), beta_hex);
    assert_string_equal(text_of(r, "peer"), gamma_hex);
    assert_string_equal(text_of(r, "peer_name"), "gamma");
    assert_int_equal((int)number_of(r, "hops"), 2);
    assert_int_equal((int)number_of(r, "metric"), 230);
    assert_int_equal((int)number_of(r, "latency_ms"), 30);
    assert_in_range((int)number_of(r, "age_s"), 5, 10);
    r = route_to(doc, "10.100.0.4/32");
    assert_string_equal(text_of(r, "via"), "abcd000000000000");
    assert_string_equal(text_of(r, "peer_name"), "");
    r = route_to(doc, "10.100.0.10/32");
    assert_string_equal(text_of(r, "origin"), "member");
    assert_string_equal(text_of(r, "state"), "active");
    assert_int_equal((int)number_of(r, "latency_ms"), 0);
    r = route_to(doc, "192.168.50.0/24");
    assert_string_equal(text_of(r, "origin"), "subnet");
    assert_string_equal(text_of(r, "via"), "beta");
    r = route_to(doc, "192.168.60.0/24");
    assert_string_equal(text_of(r, "state"), "refused");
    assert_string_equal(text_of(r, "why"), "not allowed by the mesh admin (weft mesh routes allow)");
    cJSON_Delete(doc);

    // neither refreshed_ms nor updated_ms: the age is unknown (-1)
    assert_int_equal(store_exec(store, "DEL weft:routes"), 0);
    assert_int_equal(store_exec(store, "HSET weft:route:10.100.0.20 peer %s next_hop %s hops 1", beta_hex, beta_hex), 0);
    assert_int_equal(store_exec(store, "SADD weft:routes 10.100.0.20"), 0);
    doc = routes_document();
    assert_int_equal((int)number_of(route_to(doc, "10.100.0.20/32"), "age_s"), -1);
    cJSON_Delete(doc);
}

// `weft peers`' view: gamma goes via beta (2 hops), beta direct; a route through an unknown hop keeps its id.
static void test_peers_via(void **state)
{
    (void)state;
    save_peers();
    save_routes();
    node_peer_t *peers = NULL;
    assert_int_equal(node_peers_collect(store, &peers), 2);
    assert_string_equal(peers[0].name, "beta");
    assert_string_equal(peers[0].next_hop, "");
    assert_int_equal(peers[0].route_hops, 1);
    assert_string_equal(peers[1].name, "gamma");
    assert_string_equal(peers[1].next_hop, beta_hex);
    assert_string_equal(peers[1].next_hop_name, "beta");
    assert_int_equal(peers[1].route_hops, 2);
    assert_int_equal(peers[1].route_latency_ms, 30);
    free(peers);

    assert_int_equal(store_exec(store, "HSET weft:route:10.100.0.3 next_hop %s", stranger_hex), 0);
    assert_int_equal(node_peers_collect(store, &peers), 2);
    assert_string_equal(peers[1].next_hop, stranger_hex);
    assert_string_equal(peers[1].next_hop_name, "");
    free(peers);
}

// --- /metrics ---

static void counter(node_service_t *svc, const char *name, uint64_t value)
{
    node_counter_t *c = &svc->counters[svc->counter_count++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->value = value;
}

static char *metrics_text(const node_status_t *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    prom_text_t w;
    prom_text_init(&w, out);
    api_metrics_write(&w, st, true, NULL, 0);
    assert_int_equal(prom_text_end(&w), 0);
    fclose(out);
    return text;
}

static bool has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
            return true;
    return false;
}

static void test_metrics_names(void **state)
{
    (void)state;
    node_status_t *st = calloc(1, sizeof *st);
    assert_non_null(st);
    for (int s = 0; s < SVC_COUNT; s++)
        st->services[s].name = service_name((service_id_t)s);
    node_service_t *router = &st->services[SVC_ROUTER], *dataplane = &st->services[SVC_DATAPLANE];
    router->up = dataplane->up = true;
    counter(router, "routes", 4);
    counter(router, "routes_direct", 2);
    counter(router, "routes_relayed", 1);
    counter(router, "routes_subnet", 1);
    counter(router, "routes_refused", 1);
    counter(router, "announcements_in", 40);
    counter(router, "drop_announce_forged", 2);
    counter(router, "drop_announce_not_neighbour", 5);
    counter(dataplane, "forwarded_packets", 7);
    counter(dataplane, "forwarded_bytes", 7000);
    counter(dataplane, "relayed_out_packets", 9);
    counter(dataplane, "drop_forward_ttl", 0);
    counter(dataplane, "drop_forward_no_route", 3);
    char *text = metrics_text(st);
    const char *want[] = {
        "# TYPE weft_routes gauge",
        "weft_routes{kind=\"direct\"} 2",
        "weft_routes{kind=\"relayed\"} 1",
        "weft_routes{kind=\"subnet\"} 1",
        "weft_routes{kind=\"refused\"} 1",
        "# TYPE weft_forwarded_packets_total counter",
        "weft_forwarded_packets_total 7",
        "weft_forwarded_bytes_total 7000",
        "# TYPE weft_route_drops_total counter",
        "weft_route_drops_total{reason=\"ttl\"} 0",
        "weft_route_drops_total{reason=\"no_route\"} 3",
        "# TYPE weft_announce_drops_total counter",
        "weft_announce_drops_total{reason=\"forged\"} 2",
        "weft_announce_drops_total{reason=\"not_neighbour\"} 5",
        // the generic per-service families stay as they were; the route counts are levels
        "# TYPE weft_router_routes_relayed gauge",
        "weft_router_routes_relayed 1",
        "weft_router_announcements_in_total 40",
        "weft_router_drops_total{reason=\"announce_forged\"} 2",
        "weft_dataplane_forwarded_packets_total 7",
        "weft_dataplane_relayed_out_packets_total 9",
        "weft_dataplane_drops_total{reason=\"forward_no_route\"} 3",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!has_line(text, want[i]))
            fail_msg("/metrics lacks '%s':\n%s", want[i], text);
    assert_false(has_line(text, "weft_route_drops_total{reason=\"loop\"} 0"));   // not reported: left out
    free(text);

    // a router and data plane from before mesh routing (or down): no routing family at all
    memset(st, 0, sizeof *st);
    for (int s = 0; s < SVC_COUNT; s++)
        st->services[s].name = service_name((service_id_t)s);
    st->services[SVC_ROUTER].up = true;
    counter(&st->services[SVC_ROUTER], "routes", 1);
    text = metrics_text(st);
    assert_null(strstr(text, "weft_routes"));
    assert_null(strstr(text, "weft_forwarded"));
    assert_null(strstr(text, "weft_route_drops_total"));
    assert_null(strstr(text, "weft_announce_drops_total"));
    assert_true(has_line(text, "weft_router_routes 1"));
    free(text);
    free(st);
}

// --- the CLI, run as a user runs it ---

static char home[PATH_MAX];

static char *run(const char *args)
{
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "HOME=/nonexistent '%s/weft' %s --home '%s' 2>&1", WEFT_BIN_DIR, args, home);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *text = calloc(1, 65536);
    assert_non_null(text);
    size_t len = fread(text, 1, 65535, p);
    text[len] = '\0';
    assert_int_equal(pclose(p), 0);
    return text;
}

static void write_home(void)
{
    snprintf(home, sizeof home, "%s/home", redis.dir);
    assert_int_equal(mkdir(home, 0700), 0);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/weft.yaml", home);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "node:\n  name: alpha\nredis:\n  url: %s\n", redis.url);
    fclose(f);
}

static void test_cli(void **state)
{
    (void)state;
    save_peers();
    save_routes();
    write_home();
    char *text = run("routes");
    const char *want[] = {"DESTINATION", "VIA", "HOPS", "METRIC", "LATENCY", "AGE", "ORIGIN",
                          "beta (bbbbbbbb)", "unknown (abcd0000)", "192.168.50.0/24", "subnet",
                          "refused:", "192.168.60.0/24 from gamma: not allowed by the mesh admin"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i]))
            fail_msg("weft routes lacks '%s':\n%s", want[i], text);
    // the refused subnet is not in the table: it appears once, below "refused:"
    assert_null(strstr(strstr(text, "192.168.60.0/24") + 1, "192.168.60.0/24"));
    assert_true(strstr(text, "192.168.60.0/24") > strstr(text, "refused:"));
    free(text);

    text = run("routes --json");
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(doc), 6);
    assert_string_equal(text_of(route_to(doc, "10.100.0.3/32"), "via"), "beta");
    cJSON_Delete(doc);
    free(text);

    text = run("peers");
    if (!strstr(text, "relay via beta"))
        fail_msg("weft peers does not show gamma via beta:\n%s", text);
    free(text);
    text = run("routes --help");
    assert_non_null(strstr(text, "usage: weft routes"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_collect),
        cmocka_unit_test(test_routes_json),
        cmocka_unit_test(test_peers_via),
        cmocka_unit_test(test_metrics_names),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
