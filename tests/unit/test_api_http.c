// test_api_http.c — the HTTP APIs' parts that need no server: token bucket, paths, listen addresses,
// the hub API's request bodies and ids.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "http_rate.h"
#include "http_server.h"
#include "hub_api_body.h"

static const char KEY[] = "ead3e8eb15b0370e28ead9d7d588d03110650e2e16c83a1c143599d40750d83d";

static void rate_burst_then_refill(void **state)
{
    (void)state;
    http_rate_t *rate = http_rate_new(2, 4);   // 2 per second, 4 at once
    assert_non_null(rate);
    int retry = 0;
    for (int i = 0; i < 4; i++)
        assert_true(http_rate_take(rate, "10.0.0.1", 1000, &retry));
    assert_false(http_rate_take(rate, "10.0.0.1", 1000, &retry));
    assert_int_equal(retry, 1);
    assert_true(http_rate_take(rate, "10.0.0.2", 1000, &retry));   // another address has its own bucket
    assert_false(http_rate_take(rate, "10.0.0.1", 1400, &retry));  // 0.8 token
    assert_true(http_rate_take(rate, "10.0.0.1", 1500, &retry));   // 1 token after 0.5 s
    assert_false(http_rate_take(rate, "10.0.0.1", 1500, &retry));
    for (int i = 0; i < 4; i++)                                    // a long pause fills the bucket, no more
        assert_true(http_rate_take(rate, "10.0.0.1", 100000, &retry));
    assert_false(http_rate_take(rate, "10.0.0.1", 100000, &retry));
    http_rate_destroy(&rate);
    assert_null(rate);
    assert_null(http_rate_new(0, 4));
    assert_null(http_rate_new(1, 0.5));
}

static void rate_many_clients(void **state)
{
    (void)state;
    http_rate_t *rate = http_rate_new(1, 1);
    char client[32];
    for (int i = 0; i < HTTP_RATE_CLIENTS * 3; i++) {   // more addresses than buckets: the oldest is reused
        snprintf(client, sizeof client, "10.1.%d.%d", i / 256, i % 256);
        assert_true(http_rate_take(rate, client, 1000 + i, NULL));
    }
    assert_false(http_rate_take(rate, client, 1000 + HTTP_RATE_CLIENTS * 3, NULL));  // the newest is still known
    http_rate_destroy(&rate);
}

static void paths(void **state)
{
    (void)state;
    assert_true(http_path_is_clean("/api/v1/peers"));
    assert_true(http_path_is_clean("/api/v1/peers/"));
    assert_true(http_path_is_clean("/"));
    assert_false(http_path_is_clean("/api/../etc/passwd"));
    assert_false(http_path_is_clean("/api/./x"));
    assert_false(http_path_is_clean("/api//x"));
    assert_false(http_path_is_clean("/.."));
    assert_false(http_path_is_clean("api"));
    assert_false(http_path_is_clean("/a\\b"));
    assert_false(http_path_is_clean("/a\nb"));
    assert_false(http_path_is_clean(NULL));
    assert_true(http_path_is_clean("/a/..b/c.."));   // names that merely contain dots are fine

    char buf[64];
    const char *segs[4];
    assert_int_equal(http_path_split("/api/v1/mesh/networks", buf, sizeof buf, segs, 4), 4);
    assert_string_equal(segs[3], "networks");
    assert_int_equal(http_path_split("/a/b/c/d/e", buf, sizeof buf, segs, 4), -1);
    assert_int_equal(http_path_split("/", buf, sizeof buf, segs, 4), 0);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(http_path_split(longpath, buf, sizeof buf, segs, 4), -1);
}

static void listen_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    size_t len;
    char err[200];
    assert_int_equal(http_parse_listen("127.0.0.1:7401", &ss, &len, err, sizeof err), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7401);
    assert_int_equal(http_parse_listen("*:80", &ss, &len, err, sizeof err), 0);
    assert_int_equal(http_parse_listen("[::1]:7402", &ss, &len, err, sizeof err), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    const char *bad[] = {"", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x", "host:80",
                         "::1:80", "[::1]80", "[nope]:80", "1.2.3.4:80:90"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(http_parse_listen(bad[i], &ss, &len, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
}

// the start-up warning's test: loopback listen addresses, and the ones that are not (all interfaces too)
static void loopback_listen(void **state)
{
    (void)state;
    assert_true(http_listen_is_loopback("127.0.0.1:7401"));
    assert_true(http_listen_is_loopback("127.8.9.10:7401"));
    assert_true(http_listen_is_loopback("[::1]:7402"));
    assert_true(http_listen_is_loopback("[::ffff:127.0.0.1]:7402"));
    const char *not_loopback[] = {"*:7402", "0.0.0.0:7402", "10.99.0.1:7402", "[::]:7402", "[fe80::1]:7402",
                                  "128.0.0.1:80", "nonsense"};
    for (size_t i = 0; i < sizeof not_loopback / sizeof not_loopback[0]; i++)
        assert_false(http_listen_is_loopback(not_loopback[i]));
}

static void network_bodies(void **state)
{
    (void)state;
    hub_api_network_t net;
    char why[200], body[512];
    snprintf(body, sizeof body, "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\",\"psk\":true,\"ttl_s\":60}", KEY);
    assert_int_equal(hub_api_parse_network(body, strlen(body), &net, why, sizeof why), 0);
    assert_string_equal(net.name, "lab");
    assert_string_equal(net.cidr, "10.200.0.0/24");
    assert_true(net.psk);
    assert_int_equal(net.ttl_s, 60);
    assert_int_equal(net.admin_key[0], 0xea);
    snprintf(body, sizeof body, "  {\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\"}\n", KEY);
    assert_int_equal(hub_api_parse_network(body, strlen(body), &net, why, sizeof why), 0);
    assert_false(net.psk);
    assert_int_equal(net.ttl_s, 0);

    const char *bad[] = {
        "", "{", "[]", "null", "\"lab\"", "{}", "{\"name\":\"lab\"}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"zz\"}",
        "{\"name\":\"l b\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\"}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/31\",\"admin_key\":\"%s\"}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0\",\"admin_key\":\"%s\"}",
        "{\"name\":1,\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\"}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\",\"extra\":1}",
        "{\"name\":\"lab\",\"name\":\"x\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\"}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\",\"psk\":1}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\",\"ttl_s\":1.5}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\",\"ttl_s\":-1}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\",\"ttl_s\":99999999}",
        "{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"%s\"} {}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, bad[i], KEY);
        why[0] = '\0';
        assert_int_equal(hub_api_parse_network(body, strlen(body), &net, why, sizeof why), -1);
        assert_true(why[0] != '\0');
    }
    // a NUL inside the body
    const char nul[] = "{\"name\":\"lab\0\"}";
    assert_int_equal(hub_api_parse_network(nul, sizeof nul - 1, &net, why, sizeof why), -1);
    assert_int_equal(hub_api_parse_network(NULL, 0, &net, why, sizeof why), -1);
}

static void peer_bodies(void **state)
{
    (void)state;
    hub_api_peer_t peer;
    char why[200], body[512];
    snprintf(body, sizeof body, "{\"key\":\"%s\",\"name\":\"alpha\",\"address\":\"10.200.0.9\"}", KEY);
    assert_int_equal(hub_api_parse_peer(body, strlen(body), &peer, why, sizeof why), 0);
    assert_string_equal(peer.name, "alpha");
    assert_string_equal(peer.address, "10.200.0.9");
    snprintf(body, sizeof body, "{\"key\":\"%s\",\"name\":\"alpha\"}", KEY);
    assert_int_equal(hub_api_parse_peer(body, strlen(body), &peer, why, sizeof why), 0);
    assert_string_equal(peer.address, "");
    const char *bad[] = {
        "{\"name\":\"alpha\"}", "{\"key\":\"%s\"}", "{\"key\":\"%s\",\"name\":\"a\\u0001b\"}",
        "{\"key\":\"%s\",\"name\":\"alpha\",\"address\":\"10.200.0\"}",
        "{\"key\":\"%s\",\"name\":\"alpha\",\"address\":7}", "{\"key\":\"%.60s\",\"name\":\"alpha\"}",
        "{\"key\":\"%s\",\"name\":\"alpha\",\"admin\":true}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, bad[i], KEY);
        why[0] = '\0';
        assert_int_equal(hub_api_parse_peer(body, strlen(body), &peer, why, sizeof why), -1);
        assert_true(why[0] != '\0');
    }
}

static void route_bodies(void **state)
{
    (void)state;
    hub_api_route_t route;
    char why[200], body[512];
    snprintf(body, sizeof body, "{\"member\":\"%s\",\"prefix\":\"192.168.50.0/24\"}", KEY);
    assert_int_equal(hub_api_parse_route(body, strlen(body), &route, why, sizeof why), 0);
    assert_string_equal(route.prefix, "192.168.50.0/24");
    assert_true(route.allow);                                // the default
    snprintf(body, sizeof body, "{\"member\":\"%s\",\"prefix\":\"10.0.0.0/8\",\"allow\":false}", KEY);
    assert_int_equal(hub_api_parse_route(body, strlen(body), &route, why, sizeof why), 0);
    assert_false(route.allow);
    const char *bad[] = {
        "{\"prefix\":\"10.0.0.0/8\"}", "{\"member\":\"%s\"}", "{\"member\":\"%s\",\"prefix\":\"10.0.0.1/8\"}",
        "{\"member\":\"%s\",\"prefix\":\"10.0.0.0/33\"}", "{\"member\":\"%s\",\"prefix\":\"10.0.0.0\"}",
        "{\"member\":\"%s\",\"prefix\":8}", "{\"member\":\"%.60s\",\"prefix\":\"10.0.0.0/8\"}",
        "{\"member\":\"%s\",\"prefix\":\"10.0.0.0/8\",\"allow\":\"yes\"}",
        "{\"member\":\"%s\",\"prefix\":\"10.0.0.0/8\",\"via\":1}",
        "{\"member\":\"%s\",\"prefix\":\"192.168.050.0/24\"}",   // a leading zero: octal or decimal?
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, bad[i], KEY);
        why[0] = '\0';
        assert_int_equal(hub_api_parse_route(body, strlen(body), &route, why, sizeof why), -1);
        assert_true(why[0] != '\0');
    }
}

static void ids_and_types(void **state)
{
    (void)state;
    uint8_t id[16], key[32];
    assert_true(hub_api_parse_mesh_id("65eee47f5c4a78db12cbb980c688a5fc", id));
    assert_int_equal(id[0], 0x65);
    assert_true(hub_api_parse_mesh_id("65EEE47F5C4A78DB12CBB980C688A5FC", id));
    assert_false(hub_api_parse_mesh_id("65eee47f5c4a78db12cbb980c688a5f", id));
    assert_false(hub_api_parse_mesh_id("65eee47f5c4a78db12cbb980c688a5fcx", id));
    assert_false(hub_api_parse_mesh_id("g5eee47f5c4a78db12cbb980c688a5fc", id));
    assert_false(hub_api_parse_mesh_id(NULL, id));
    assert_true(hub_api_parse_key(KEY, key));
    assert_false(hub_api_parse_key("ead3", key));
    assert_true(hub_api_is_json("application/json"));
    assert_true(hub_api_is_json("application/json; charset=utf-8"));
    assert_true(hub_api_is_json("Application/JSON"));
    assert_false(hub_api_is_json("application/jsonx"));
    assert_false(hub_api_is_json("text/plain"));
    assert_false(hub_api_is_json(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate_burst_then_refill), cmocka_unit_test(rate_many_clients),
        cmocka_unit_test(paths),                  cmocka_unit_test(listen_addresses),
        cmocka_unit_test(loopback_listen),
        cmocka_unit_test(network_bodies),         cmocka_unit_test(peer_bodies),
        cmocka_unit_test(route_bodies),
        cmocka_unit_test(ids_and_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
