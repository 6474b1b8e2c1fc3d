/*
 * test_node_stun.c - cmocka tests for lib/node_stun: the hub's STUN address from hub.endpoint (host kept,
 * port replaced, IPv6 brackets kept, no host or not tcp:// refused) and the servers a probe uses:
 * nat.stun_servers first, else the hub's at the default port when no port is known (no Redis), else none
 * with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "node_stun.h"

static void test_hub_address(void **state)
{
    (void)state;
    char out[64], why[160];
    assert_int_equal(node_stun_hub_address("tcp://198.18.2.2:7400", 3478, out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "198.18.2.2:3478");
    assert_int_equal(node_stun_hub_address("tcp://hub.example:7400", 5349, out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "hub.example:5349");
    assert_int_equal(node_stun_hub_address("tcp://[2001:db8::1]:7400", 3478, out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "[2001:db8::1]:3478");
    assert_int_equal(node_stun_hub_address("tcp://:7400", 3478, out, sizeof out, why, sizeof why), -1);
    assert_non_null(strstr(why, "no usable host"));
    assert_int_equal(node_stun_hub_address("ipc:///tmp/hub", 3478, out, sizeof out, why, sizeof why), -1);
    assert_non_null(strstr(why, "not tcp://"));
    char tiny[8];
    assert_int_equal(node_stun_hub_address("tcp://198.18.2.2:7400", 3478, tiny, sizeof tiny, why, sizeof why), -1);
}

static void test_servers(void **state)
{
    (void)state;
    static weft_config_t cfg;
    static node_stun_t s;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.hub_endpoint, sizeof cfg.hub_endpoint, "tcp://10.0.0.1:7400");
    snprintf(cfg.stun_servers[0], CONFIG_STR, "stun.example:3478");
    snprintf(cfg.stun_servers[1], CONFIG_STR, "10.0.0.9:3479");
    cfg.stun_server_count = 2;
    assert_int_equal(node_stun_servers(&cfg, NULL, &s), 2);   // configured ones win
    assert_string_equal(s.servers[0], "stun.example:3478");
    assert_string_equal(s.servers[1], "10.0.0.9:3479");
    assert_false(s.from_hub);

    cfg.stun_server_count = 0;
    assert_int_equal(node_stun_servers(&cfg, NULL, &s), 1);   // the hub's, its port not known: the default
    assert_string_equal(s.servers[0], "10.0.0.1:3478");
    assert_true(s.from_hub);
    assert_false(s.hub_port_known);

    cfg.hub_endpoint[0] = '\0';
    assert_int_equal(node_stun_servers(&cfg, NULL, &s), 0);
    assert_non_null(strstr(s.why, "no hub.endpoint"));
    snprintf(cfg.hub_endpoint, sizeof cfg.hub_endpoint, "tcp://:7400");
    assert_int_equal(node_stun_servers(&cfg, NULL, &s), 0);
    assert_non_null(strstr(s.why, "no usable host"));
    assert_int_equal(node_stun_hub_port(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub_address),
        cmocka_unit_test(test_servers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
