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
                       "hub:\n  endpoint: tcp://10.0.0.1:7400\n  public_key: \"abc\"\n"
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
    expect_error("nat:\n  stun_servers:\n    - a\n    - b\n    - c\n    - d\n    - e\n    - f\n    - g\n    - h\n    - i\n",
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
    assert_int_equal(strlen(cfg.hub_public_key), 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors_name_the_line), cmocka_unit_test(test_empty_and_garbage),
        cmocka_unit_test(test_env_overrides),    cmocka_unit_test(test_save_then_load),
        cmocka_unit_test(test_example_file_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
