// test_config.c — weft.yaml parsing: defaults, every kind of error with its line number, env overrides.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "config_expand.h"

static int parse(weft_config_t *cfg, const char *yaml, char *err, size_t err_len)
{
    config_defaults(cfg, "/tmp/weft-test-home");
    return config_parse(cfg, yaml, strlen(yaml), "weft.yaml", err, err_len);
}

static void test_defaults(void **state)
{
    (void)state;
    weft_config_t cfg;
    config_defaults(&cfg, "/tmp/h");
    assert_string_equal(cfg.home, "/tmp/h");
    assert_string_equal(cfg.run_dir, "/tmp/h/run");
    assert_int_equal(cfg.mtu, 1400);
    assert_string_equal(cfg.device_name, "weft0");
    assert_string_equal(cfg.inbox[SVC_ROUTER], "ipc:///tmp/h/run/router.inbox");
    assert_string_equal(cfg.control[SVC_NAT], "ipc:///tmp/h/run/nat.control");
    char url[300];
    config_redis_url(&cfg, url, sizeof url);
    assert_string_equal(url, "unix:///tmp/h/run/redis.sock");
}

static void test_full_file(void **state)
{
    (void)state;
    weft_config_t cfg;
    char err[256] = "";
    const char *yaml = "node:\n  name: alpha\nmesh:\n  name: lab\n  address: 10.100.0.7/16\n"
                       "hub:\n  endpoint: tcp://10.0.0.1:7400\n  public_key: \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
                       "device:\n  mtu: 1280\nnat:\n  stun_servers:\n    - 10.0.0.9:3478\n    - 10.0.0.10:3478\n"
                       "  keepalive: 10\nendpoints:\n  crypto: tcp://127.0.0.1:5001\n  nat_control: inproc://natc\n";
    assert_int_equal(parse(&cfg, yaml, err, sizeof err), 0);
    assert_string_equal(cfg.name, "alpha");
    assert_string_equal(cfg.mesh, "lab");
    assert_string_equal(cfg.overlay_addr, "10.100.0.7");
    assert_int_equal(cfg.overlay_prefix, 16);
    assert_int_equal(cfg.mtu, 1280);
    assert_int_equal(cfg.stun_server_count, 2);
    assert_string_equal(cfg.stun_servers[1], "10.0.0.10:3478");
    assert_int_equal(cfg.keepalive_interval, 10);
    assert_string_equal(cfg.inbox[SVC_CRYPTO], "tcp://127.0.0.1:5001");
    assert_string_equal(cfg.control[SVC_NAT], "inproc://natc");
}

static void expect_error(const char *yaml, const char *fragment)
{
    weft_config_t cfg;
    char err[256] = "";
    assert_int_equal(parse(&cfg, yaml, err, sizeof err), -1);
    if (!strstr(err, fragment))
        fail_msg("error '%s' does not contain '%s'", err, fragment);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    expect_error("node:\n  name: a\n  colour: blue\n", "weft.yaml:3: unknown key 'node.colour'");
    expect_error("device:\n  mtu: big\n", "weft.yaml:2: 'device.mtu': 'big' is not a whole number");
    expect_error("device:\n  mtu: 100\n", "576..9000");
    expect_error("mesh:\n  address: 10.100.0.300/16\n", "not an IPv4 address");
    expect_error("mesh:\n  address: 10.100.0.3/40\n", "bad prefix length");
    expect_error("nat:\n  stun_servers: 10.0.0.1\n", "must be a list");
    expect_error("device: [1, 2]\n", "must be a mapping");
    expect_error("- a\n- b\n", "top level must be a mapping");
    expect_error("node:\n  name: [x]\n", "must be a single value");
    expect_error("node:\n  name: \"unterminated\n", "weft.yaml:");
    expect_error("endpoints:\n  toaster: tcp://x:1\n", "unknown key 'endpoints.toaster'");
    expect_error("colour:\n  x: 1\n", "unknown key 'colour.x'");
    // a key set twice (directly, in a repeated section, or under its old name) is an error naming both lines
    expect_error("device:\n  mtu: 1400\n  mtu: 1280\n", "weft.yaml:3: 'device.mtu' is set twice (also on line 2)");
    expect_error("device:\n  mtu: 1400\nnode:\n  name: a\ndevice:\n  mtu: 1280\n", "weft.yaml:6: 'device.mtu' is set twice");
    expect_error("connection:\n  keepalive: 5\nnat:\n  keepalive: 6\n",
                 "weft.yaml:4: 'nat.keepalive' is set twice (also on line 2 as connection.keepalive)");
    expect_error("endpoints:\n  nat_control: ipc:///a\n  nat_control: ipc:///b\n", "weft.yaml:3: 'endpoints.nat_control' is set twice");
    weft_config_t twice;
    char twice_err[256] = "";
    assert_int_equal(parse(&twice, "device:\n  mtu: 1400\nnode:\n  name: a\ndevice:\n  name: weft9\nendpoints:\n"
                                    "  nat: ipc:///a\n  nat_control: ipc:///b\n", twice_err, sizeof twice_err), 0);
    assert_int_equal(twice.mtu, 1400);   // a repeated section adds its keys
    assert_string_equal(twice.device_name, "weft9");
    expect_error("nat:\n  stun_servers:\n    - a:1\n    - b:1\n    - c:1\n    - d:1\n    - e:1\n    - f:1\n    - g:1\n    - h:1\n    - i:1\n",
                 "at most 8");
}

static void test_empty_and_garbage(void **state)
{
    (void)state;
    weft_config_t cfg;
    char err[256];
    assert_int_equal(parse(&cfg, "", err, sizeof err), 0);
    assert_int_equal(parse(&cfg, "# only a comment\n", err, sizeof err), 0);
    // random bytes: an error or success, never a crash
    unsigned seed = 1;
    for (int round = 0; round < 500; round++) {
        char junk[200];
        for (size_t i = 0; i < sizeof junk - 1; i++)
            junk[i] = (char)(1 + rand_r(&seed) % 127);
        junk[sizeof junk - 1] = '\0';
        parse(&cfg, junk, err, sizeof err);
    }
}

static void test_env_overrides(void **state)
{
    (void)state;
    setenv("WEFT_DEVICE_MTU", "1300", 1);
    setenv("WEFT_STUN_SERVERS", "10.0.0.1:3478, 10.0.0.2:3478", 1);
    weft_config_t cfg;
    char err[256] = "";
    assert_int_equal(config_load(&cfg, "/nonexistent-weft-home", err, sizeof err), 0);
    assert_int_equal(cfg.mtu, 1300);
    assert_int_equal(cfg.stun_server_count, 2);
    assert_string_equal(cfg.stun_servers[1], "10.0.0.2:3478");
    setenv("WEFT_DEVICE_MTU", "huge", 1);
    assert_int_equal(config_load(&cfg, "/nonexistent-weft-home", err, sizeof err), -1);
    assert_non_null(strstr(err, "WEFT_DEVICE_MTU"));
    unsetenv("WEFT_DEVICE_MTU");
    unsetenv("WEFT_STUN_SERVERS");
}

static void test_save_then_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/weft-config-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    weft_config_t cfg, back;
    config_defaults(&cfg, dir);
    strcpy(cfg.name, "node-a");
    strcpy(cfg.overlay_addr, "10.100.3.4");
    cfg.overlay_prefix = 16;
    strcpy(cfg.hub_endpoint, "tcp://10.0.0.1:7400");
    strcpy(cfg.turn_servers[0], "turn://u:p@10.0.0.2:3478");
    cfg.turn_server_count = 1;
    assert_int_equal(config_save(&cfg, cfg.config_file), 0);
    char err[256] = "";
    assert_int_equal(config_load(&back, dir, err, sizeof err), 0);
    assert_string_equal(back.name, "node-a");
    assert_string_equal(back.overlay_addr, "10.100.3.4");
    assert_int_equal(back.turn_server_count, 1);
    assert_string_equal(back.turn_servers[0], "turn://u:p@10.0.0.2:3478");
    unlink(cfg.config_file);
    rmdir(dir);
}

// docs/weft.example.yaml must stay a valid config (docs stay true)
static void test_example_file_parses(void **state)
{
    (void)state;
    FILE *f = fopen(WEFT_SOURCE_DIR "/docs/weft.example.yaml", "r");
    assert_non_null(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    weft_config_t cfg;
    char err[256] = "";
    config_defaults(&cfg, "/tmp/x");
    if (config_parse(&cfg, text, n, "weft.example.yaml", err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.overlay_addr, "10.100.0.1");
    assert_int_equal(strlen(cfg.hub_public_key), 64);   // the hex form weft writes (lib/hub_key.h)
}

// ${VAR} expansion in values: set, unset (error naming file:line and the variable), defaults, $$, nesting
static void test_expansion(void **state)
{
    (void)state;
    setenv("WEFT_T_HUB", "10.0.0.5", 1);
    setenv("WEFT_T_EMPTY", "", 1);
    unsetenv("WEFT_T_UNSET");
    unsetenv("WEFT_T_UNSET2");
    char out[64], why[200];
    assert_int_equal(config_expand("tcp://${WEFT_T_HUB}:7400", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "tcp://10.0.0.5:7400");
    assert_int_equal(config_expand("${WEFT_T_UNSET:-fallback}", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "fallback");
    assert_int_equal(config_expand("${WEFT_T_EMPTY:-used-when-empty}", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "used-when-empty");
    assert_int_equal(config_expand("[${WEFT_T_EMPTY}]", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "[]");
    assert_int_equal(config_expand("${WEFT_T_HUB:-ignored}", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "10.0.0.5");
    assert_int_equal(config_expand("pa$$word $${WEFT_T_HUB} $x $", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "pa$word ${WEFT_T_HUB} $x $");
    // nested: a default holding another variable, and that one's default
    assert_int_equal(config_expand("${WEFT_T_UNSET:-${WEFT_T_HUB}}", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "10.0.0.5");
    assert_int_equal(config_expand("${WEFT_T_UNSET:-${WEFT_T_UNSET2:-deep}}!", out, sizeof out, why, sizeof why), 0);
    assert_string_equal(out, "deep!");
    assert_int_equal(config_expand("${WEFT_T_UNSET:-${WEFT_T_UNSET2}}", out, sizeof out, why, sizeof why), -1);
    assert_non_null(strstr(why, "WEFT_T_UNSET2 is not set"));
    // malformed references
    assert_int_equal(config_expand("${WEFT_T_HUB", out, sizeof out, why, sizeof why), -1);
    assert_non_null(strstr(why, "not closed"));
    assert_int_equal(config_expand("${}", out, sizeof out, why, sizeof why), -1);
    assert_int_equal(config_expand("${1A}", out, sizeof out, why, sizeof why), -1);
    assert_int_equal(config_expand("${WEFT_T_HUB?x}", out, sizeof out, why, sizeof why), -1);
    assert_non_null(strstr(why, "${WEFT_T_HUB:-default}"));
    // too long after expansion
    char small[8];
    assert_int_equal(config_expand("${WEFT_T_HUB}", small, sizeof small, why, sizeof why), -1);
    assert_non_null(strstr(why, "longer than 7"));

    // in a file: values, list items and endpoints expand; an unset variable names file:line and the variable
    weft_config_t cfg;
    char err[256] = "";
    const char *yaml = "hub:\n  endpoint: tcp://${WEFT_T_HUB}:7400\nnat:\n  stun_servers:\n    - ${WEFT_T_HUB}:3478\n"
                       "device:\n  mtu: ${WEFT_T_UNSET:-1280}\nendpoints:\n  crypto: tcp://${WEFT_T_HUB}:1\n";
    assert_int_equal(parse(&cfg, yaml, err, sizeof err), 0);
    assert_string_equal(cfg.hub_endpoint, "tcp://10.0.0.5:7400");
    assert_string_equal(cfg.stun_servers[0], "10.0.0.5:3478");
    assert_int_equal(cfg.mtu, 1280);
    assert_string_equal(cfg.inbox[SVC_CRYPTO], "tcp://10.0.0.5:1");
    expect_error("node:\n  name: a\nhub:\n  endpoint: tcp://${WEFT_T_UNSET}:7400\n",
                 "weft.yaml:4: 'hub.endpoint': environment variable WEFT_T_UNSET is not set");
    expect_error("nat:\n  turn_servers:\n    - turn://u:p@h:1\n    - ${WEFT_T_UNSET}\n", "weft.yaml:4: 'nat.turn_servers'");
    expect_error("endpoints:\n  router: ${WEFT_T_UNSET}\n", "weft.yaml:2: 'endpoints.router'");
    // the expanded value is checked like a written one
    setenv("WEFT_T_MTU", "99999", 1);
    expect_error("device:\n  mtu: ${WEFT_T_MTU}\n", "weft.yaml:2: 'device.mtu': '99999' is not a whole number in 576..9000");
    unsetenv("WEFT_T_MTU");
    unsetenv("WEFT_T_HUB");
    unsetenv("WEFT_T_EMPTY");
}

static void test_device_keys(void **state)
{
    (void)state;
    weft_config_t cfg;
    char err[256] = "";
    assert_string_equal((config_defaults(&cfg, "/tmp/h"), cfg.device_mode), "tun");
    assert_int_equal(parse(&cfg, "device:\n  mode: tun\n", err, sizeof err), 0);
    assert_int_equal(parse(&cfg, "device:\n  mode: tap\n  mac: 02:00:5E:10:00:01\n", err, sizeof err), 0);
    assert_string_equal(cfg.device_mode, "tap");
    assert_string_equal(cfg.device_mac, "02:00:5e:10:00:01");   // written back lower case
    assert_int_equal(parse(&cfg, "device:\n  mac: 02-00-5e-10-00-02\n  mode: tap\n", err, sizeof err), 0);
    assert_string_equal(cfg.device_mac, "02:00:5e:10:00:02");
    expect_error("device:\n  name: weft0\n  mode: tab\n", "weft.yaml:3: 'device.mode': 'tab' is not one of tun|tap");
    expect_error("device:\n  mode: TUN\n", "'TUN' is not one of tun|tap");
    expect_error("device:\n  mode: \"\"\n", "is not one of tun|tap");
    // device.mac: the syntax is checked, and a MAC without tap is refused (TUN has none)
    expect_error("device:\n  mac: 02:00:5e:10:00:01\n", "weft.yaml:2: 'device.mac' is only used with device.mode tap");
    expect_error("device:\n  mac: 02:00:5e:10:00\n", "is not a MAC address");
    expect_error("device:\n  mac: 02:00:5e:10:00:0g\n", "is not a MAC address");
    expect_error("device:\n  mac: 02:00-5e:10:00:01\n", "separate the pairs");
    expect_error("device:\n  mac: 01:00:5e:10:00:01\n", "multicast");
    expect_error("device:\n  mac: 00:00:00:00:00:00\n", "all zero");
    expect_error("device:\n  mac: \" 2:00:5e:10:00:01\"\n", "is not a MAC address");
    assert_int_equal(parse(&cfg, "device:\n  mac: \"\"\n", err, sizeof err), 0);
}

static void test_connection_keys(void **state)
{
    (void)state;
    weft_config_t cfg;
    char err[256] = "";
    config_defaults(&cfg, "/tmp/h");
    assert_true(cfg.connection_direct);
    assert_string_equal(cfg.connection_relay, "allow");
    assert_int_equal(parse(&cfg, "connection:\n  direct: no\n  relay: only\n  keepalive: 5\n  connect_timeout: 20\n",
                           err, sizeof err), 0);
    assert_false(cfg.connection_direct);
    assert_string_equal(cfg.connection_relay, "only");
    assert_int_equal(cfg.keepalive_interval, 5);
    assert_int_equal(cfg.connect_timeout, 20);
    // the old names still set the same values
    assert_int_equal(parse(&cfg, "nat:\n  keepalive: 7\n  connect_timeout: 9\n", err, sizeof err), 0);
    assert_int_equal(cfg.keepalive_interval, 7);
    assert_int_equal(cfg.connect_timeout, 9);
    assert_int_equal(parse(&cfg, "connection:\n  relay: never\n", err, sizeof err), 0);
    assert_false((config_defaults(&cfg, "/tmp/h"), cfg.routing_broadcast));
    assert_int_equal(parse(&cfg, "routing:\n  broadcast: yes\n", err, sizeof err), 0);
    assert_true(cfg.routing_broadcast);
    expect_error("routing:\n  broadcast: sometimes\n", "weft.yaml:2: 'routing.broadcast': 'sometimes' is not true/false");
    // mesh routing (docs/routing.md)
    config_defaults(&cfg, "/tmp/h");
    assert_true(cfg.connection_relay_via_peers);
    assert_int_equal(cfg.routing_max_hops, 8);
    assert_int_equal(cfg.routing_announce_interval, 10);
    assert_int_equal(cfg.routing_route_timeout, 300);
    assert_true(cfg.routing_split_horizon);
    assert_false(cfg.routing_accept_routes);
    assert_int_equal(parse(&cfg, "routing:\n  max_hops: 3\n  advertise: [192.168.50.0/24, 10.9.0.0/16]\n"
                                 "connection:\n  relay_via_peers: false\n", err, sizeof err), 0);
    assert_int_equal(cfg.routing_max_hops, 3);
    assert_int_equal(cfg.routing_advertise_count, 2);
    assert_string_equal(cfg.routing_advertise[1], "10.9.0.0/16");
    assert_false(cfg.connection_relay_via_peers);
    expect_error("routing:\n  max_hops: 0\n", "1..15");
    expect_error("routing:\n  max_hops: 16\n", "1..15");
    expect_error("routing:\n  advertise: [192.168.50.1/24]\n", "is not an IPv4 prefix");
    expect_error("routing:\n  advertise: [192.168.50.0]\n", "is not an IPv4 prefix");
    expect_error("routing:\n  max_hop: 3\n", "weft.yaml:2: unknown key 'routing.max_hop'");
    expect_error("connection:\n  relay: sometimes\n", "weft.yaml:2: 'connection.relay': 'sometimes' is not one of allow|never|only");
    expect_error("connection:\n  direct: perhaps\n", "'perhaps' is not true/false");
    expect_error("connection:\n  keepalive: 0\n", "1..3600");
    expect_error("connection:\n  connect_timeout: 601\n", "1..600");
    expect_error("connection:\n  direct: false\n  relay: never\n",
                 "weft.yaml:3: connection.direct is false and connection.relay is never");
    expect_error("connection:\n  relay: never\n  direct: false\n", "weft.yaml:2: connection.direct is false");
}

// every key can be set from WEFT_<SECTION>_<KEY>, endpoints included; the cross-key check runs after them
static void test_env_covers_every_key(void **state)
{
    (void)state;
    setenv("WEFT_CONNECTION_RELAY", "only", 1);
    setenv("WEFT_CONNECTION_DIRECT", "false", 1);
    setenv("WEFT_DEVICE_MODE", "tun", 1);
    setenv("WEFT_TURN_SERVERS", "turn://a:b@10.0.0.1:3478,turn://c:d@10.0.0.2:3478", 1);
    setenv("WEFT_ENDPOINTS_NAT_CONTROL", "tcp://127.0.0.1:7999", 1);
    setenv("WEFT_ENDPOINTS_ROUTER", "tcp://127.0.0.1:7998", 1);
    setenv("WEFT_MESH_ADDRESS", "10.9.0.1/24", 1);
    weft_config_t cfg;
    char err[256] = "";
    assert_int_equal(config_load(&cfg, "/nonexistent-weft-home", err, sizeof err), 0);
    assert_string_equal(cfg.connection_relay, "only");
    assert_false(cfg.connection_direct);
    assert_int_equal(cfg.turn_server_count, 2);
    assert_string_equal(cfg.control[SVC_NAT], "tcp://127.0.0.1:7999");
    assert_string_equal(cfg.inbox[SVC_ROUTER], "tcp://127.0.0.1:7998");
    assert_string_equal(cfg.overlay_addr, "10.9.0.1");
    assert_int_equal(cfg.overlay_prefix, 24);
    setenv("WEFT_CONNECTION_RELAY", "never", 1);
    assert_int_equal(config_load(&cfg, "/nonexistent-weft-home", err, sizeof err), -1);
    assert_non_null(strstr(err, "no way is left"));
    setenv("WEFT_DEVICE_MODE", "tap", 1);
    setenv("WEFT_DEVICE_MAC", "03:00:5e:10:00:01", 1);
    assert_int_equal(config_load(&cfg, "/nonexistent-weft-home", err, sizeof err), -1);
    assert_non_null(strstr(err, "WEFT_DEVICE_MAC: '03:00:5e:10:00:01' is a multicast address"));
    setenv("WEFT_DEVICE_MODE", "tun", 1);
    setenv("WEFT_DEVICE_MAC", "02:00:5e:10:00:01", 1);
    assert_int_equal(config_load(&cfg, "/nonexistent-weft-home", err, sizeof err), -1);
    assert_non_null(strstr(err, "'device.mac' is only used with device.mode tap"));
    unsetenv("WEFT_DEVICE_MAC");
    setenv("WEFT_ENDPOINTS_ROUTER", "", 1);
    unsetenv("WEFT_DEVICE_MODE");
    unsetenv("WEFT_CONNECTION_RELAY");
    assert_int_equal(config_load(&cfg, "/nonexistent-weft-home", err, sizeof err), -1);
    assert_non_null(strstr(err, "WEFT_ENDPOINTS_ROUTER"));
    unsetenv("WEFT_CONNECTION_DIRECT");
    unsetenv("WEFT_TURN_SERVERS");
    unsetenv("WEFT_ENDPOINTS_NAT_CONTROL");
    unsetenv("WEFT_ENDPOINTS_ROUTER");
    unsetenv("WEFT_MESH_ADDRESS");
}

// values holding $, quotes and backslashes come back unchanged through config_save and config_load
static void test_save_escapes(void **state)
{
    (void)state;
    char dir[] = "/tmp/weft-config-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    weft_config_t cfg, back;
    config_defaults(&cfg, dir);
    strcpy(cfg.hub_public_key, "ab${HOME}cd$$ef%kR.o@n%FcmmsL/@{H8]yf7$$");   // Z85 has $ { }
    strcpy(cfg.name, "n$1 \"quoted\" back\\slash");
    strcpy(cfg.connection_relay, "only");
    cfg.connection_direct = false;
    cfg.keepalive_interval = 11;
    strcpy(cfg.stun_servers[0], "x$y:1");
    strcpy(cfg.hub_endpoint, "tcp://h$:1");
    cfg.stun_server_count = 1;
    assert_int_equal(config_save(&cfg, cfg.config_file), 0);
    char err[256] = "";
    if (config_load(&back, dir, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(back.hub_public_key, cfg.hub_public_key);
    assert_string_equal(back.name, cfg.name);
    assert_string_equal(back.stun_servers[0], "x$y:1");
    assert_string_equal(back.connection_relay, "only");
    assert_false(back.connection_direct);
    assert_int_equal(back.keepalive_interval, 11);
    unlink(cfg.config_file);
    rmdir(dir);
}

static void expect_ok(const char *yaml)
{
    weft_config_t cfg;
    char err[256] = "";
    if (parse(&cfg, yaml, err, sizeof err) != 0)
        fail_msg("'%s' was refused: %s", yaml, err);
}

// the syntax of string keys: endpoints, URLs, keys, names (nothing is resolved)
static void test_string_checks(void **state)
{
    (void)state;
    expect_ok("hub:\n  endpoint: tcp://hub.example:7400\n  listen: tcp://*:7400\n");
    expect_ok("hub:\n  endpoint: tcp://[2001:db8::1]:7400\n  listen: ipc:///tmp/hub\n");
    expect_ok("hub:\n  listen: tcp://10.0.0.1:*\n");
    expect_error("hub:\n  endpoint: 10.0.0.1:7400\n", "weft.yaml:2: 'hub.endpoint': '10.0.0.1:7400' is not a ZeroMQ endpoint");
    expect_error("hub:\n  endpoint: tcp://10.0.0.1\n", "is not a ZeroMQ endpoint");
    expect_error("hub:\n  endpoint: tcp://10.0.0.1:70000\n", "is not a ZeroMQ endpoint");
    expect_error("hub:\n  listen: ipc://\n", "is not a ZeroMQ endpoint");
    expect_ok("hub:\n  public_key: \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n");
    expect_error("hub:\n  public_key: abc\n", "64 hex characters");
    expect_error("hub:\n  public_key: \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf,\"\n", "not a Z85 key");
    expect_ok("mesh:\n  network_key: 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n");
    expect_error("mesh:\n  network_key: 0011\n", "64 hex characters");
    expect_error("mesh:\n  network_key: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
                 "64 hex characters");
    expect_ok("redis:\n  url: redis://127.0.0.1:6379\n");
    expect_ok("redis:\n  url: unix:///run/redis.sock\n");
    expect_ok("redis:\n  url: \"\"\n");
    expect_error("redis:\n  url: http://127.0.0.1:6379\n", "is not a Redis URL");
    expect_error("redis:\n  url: unix://relative.sock\n", "is not a Redis URL");
    expect_ok("nat:\n  stun_servers: [\"stun.example:3478\", \"[2001:db8::2]:3478\"]\n");
    expect_error("nat:\n  stun_servers:\n    - stun.example\n", "weft.yaml:3: 'nat.stun_servers': 'stun.example' is not host:port");
    expect_error("nat:\n  stun_servers:\n    - 2001:db8::2:3478\n", "is not host:port");
    expect_ok("nat:\n  turn_servers:\n    - turn://u:p@10.0.0.2:3478\n    - turn://u:p@t.example:443?transport=tcp\n");
    expect_error("nat:\n  turn_servers:\n    - turn://10.0.0.2:3478\n", "not turn://user:pass@host:port");
    expect_error("nat:\n  turn_servers:\n    - turn://u:secret@10.0.0.2:3478?transport=sctp\n", "not turn://");
    // the password is never repeated in the message
    weft_config_t cfg;
    char err[256] = "";
    assert_int_equal(parse(&cfg, "nat:\n  turn_servers:\n    - turn://u:secret@10.0.0.2\n", err, sizeof err), -1);
    assert_null(strstr(err, "secret"));
    expect_ok("device:\n  name: wg-lab.0\n");
    expect_error("device:\n  name: a/b\n", "not an interface name");
    expect_error("device:\n  name: \"a b\"\n", "not an interface name");
    expect_error("device:\n  name: \"\"\n", "not an interface name");
    expect_error("device:\n  name: sixteen-chars-xx\n", "too long");
    expect_ok("log:\n  level: debug\n");
    expect_error("log:\n  level: verbose\n", "weft.yaml:2: 'log.level': 'verbose' is not one of debug|info|warn|error");
}

// docs/config.md has a row for every key, so the docs cannot fall behind the table
static void test_docs_list_every_key(void **state)
{
    (void)state;
    FILE *f = fopen(WEFT_SOURCE_DIR "/docs/config.md", "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    int missing = 0;
    for (size_t i = 0; i < config_key_count(); i++) {
        char row[128];
        snprintf(row, sizeof row, "\n| %s |", config_key_path(i));
        if (!strstr(text, row)) {
            print_error("docs/config.md has no row '| %s | default | env | meaning |'\n", config_key_path(i));
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors_name_the_line), cmocka_unit_test(test_empty_and_garbage),
        cmocka_unit_test(test_env_overrides),    cmocka_unit_test(test_save_then_load),
        cmocka_unit_test(test_example_file_parses), cmocka_unit_test(test_expansion),
        cmocka_unit_test(test_device_keys),      cmocka_unit_test(test_connection_keys),
        cmocka_unit_test(test_env_covers_every_key), cmocka_unit_test(test_save_escapes),
        cmocka_unit_test(test_string_checks),    cmocka_unit_test(test_docs_list_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
