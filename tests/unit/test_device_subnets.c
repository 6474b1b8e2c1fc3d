// test_device_subnets.c — weft-device's subnet routes (services/device/subnet_routes.c) and an advertising
// node's forwarding (subnet_forward.c). Without privileges: which of the router's subnets are wanted (bad,
// own, default and duplicate entries dropped) and the masquerade ruleset. With root, in a network namespace
// of the test's own (skipped otherwise): real kernel routes on a real TUN device added, kept, removed as the
// router's list changes and at exit, a failing one reported, one over the host's own LAN or the hub refused;
// ip_forward turned on; the nftables table made and deleted.
#define _GNU_SOURCE   // unshare
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route_table.h"
#include "subnet_forward.h"
#include "subnet_routes.h"
#include "tun.h"

// A MeshRoutes with these subnet prefixes (owners left empty: device does not look at them).
typedef struct {
    Weft__MeshRoutes routes;
    Weft__SubnetRoute subnet[16];
    Weft__SubnetRoute *ptrs[16];
} routes_msg_t;

static void routes_of(routes_msg_t *m, const char *const *prefixes, size_t n)
{
    weft__mesh_routes__init(&m->routes);
    for (size_t i = 0; i < n; i++) {
        weft__subnet_route__init(&m->subnet[i]);
        m->subnet[i].prefix = (char *)prefixes[i];
        m->ptrs[i] = &m->subnet[i];
    }
    m->routes.n_subnets = n;
    m->routes.subnets = m->ptrs;
}

static void test_wanted(void **state)
{
    (void)state;
    subnet_t own = {0xc0a86400, 24};  // 192.168.100.0/24: this node's own
    const char *in[] = {"192.168.50.0/24", "192.168.50.1/24", "junk", "0.0.0.0/0", "192.168.100.0/24",
                        "192.168.50.0/24", "10.20.0.0/16", "10.20.0.0/33", ""};
    routes_msg_t m;
    routes_of(&m, in, sizeof in / sizeof *in);
    subnet_t out[8];
    size_t bad = 0;
    size_t n = subnet_routes_wanted(&m.routes, &own, 1, out, 8, &bad);
    assert_int_equal(n, 2);
    assert_int_equal(bad, 7);
    assert_int_equal(out[0].net, 0xc0a83200);
    assert_int_equal(out[0].len, 24);
    assert_int_equal(out[1].net, 0x0a140000);
    assert_int_equal(out[1].len, 16);
    // over max: counted as bad
    n = subnet_routes_wanted(&m.routes, NULL, 0, out, 1, &bad);
    assert_int_equal(n, 1);
    assert_int_equal(bad, 8);
    n = subnet_routes_wanted(NULL, NULL, 0, out, 8, &bad);
    assert_int_equal(n, 0);
}

static void test_ruleset(void **state)
{
    (void)state;
    char table[48], out[1024];
    subnet_forward_table_name("weft-a.0", table, sizeof table);
    assert_string_equal(table, "weft_weft_a_0");
    const char adv[2][CONFIG_STR] = {"192.168.50.0/24", "10.20.0.0/16"};
    assert_int_equal(subnet_forward_ruleset(table, "10.100.0.0", 16, adv, 2, out, sizeof out), 0);
    assert_non_null(strstr(out, "delete table ip weft_weft_a_0\n"));
    assert_non_null(strstr(out, "type nat hook postrouting priority 100;"));
    assert_non_null(strstr(out, "ip saddr 10.100.0.0/16 ip daddr { 192.168.50.0/24, 10.20.0.0/16 } masquerade"));
    assert_int_equal(subnet_forward_ruleset(table, "10.100.0.0", 16, adv, 2, out, 64), -1);  // does not fit
}

// Is there a route net/len on dev in /proc/net/route (the main table)?
static bool kernel_has_route(const char *dev, uint32_t net, int len)
{
    FILE *f = fopen("/proc/net/route", "r");
    assert_non_null(f);
    char line[256], ifname[32];
    unsigned dst, gw, flags, refcnt, use, metric, mask;
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%31s %x %x %x %u %u %u %x", ifname, &dst, &gw, &flags, &refcnt, &use, &metric, &mask) == 8 &&
            strcmp(ifname, dev) == 0 && __builtin_bswap32(dst) == net && __builtin_bswap32(mask) == ipv4_prefix_mask(len))
            found = true;
    fclose(f);
    return found;
}

static bool in_own_netns(void)
{
    if (unshare(CLONE_NEWNET) == 0)
        return true;
    print_message("skipped: no network namespace of its own (%s)\n", strerror(errno));
    return false;
}

static void test_kernel_routes(void **state)
{
    (void)state;
    if (!in_own_netns())
        skip();
    char err[256];
    tun_t *tun = tun_new("wsub0", false, err, sizeof err);
    if (!tun) {
        print_message("skipped: %s\n", err);
        skip();
    }
    assert_int_equal(tun_configure(tun, "10.100.0.2", 16, 1400, err, sizeof err), 0);
    subnet_t own = {0xc0a86400, 24};
    subnet_routes_t *sr = subnet_routes_new("wsub0", &own, 1, 0);
    assert_non_null(sr);
    routes_msg_t m;
    const char *first[] = {"192.168.50.0/24", "10.20.0.0/16", "192.168.100.0/24"};
    routes_of(&m, first, 3);
    assert_int_equal(subnet_routes_sync(sr, &m.routes), 0);
    assert_int_equal(subnet_routes_installed(sr), 2);
    assert_true(kernel_has_route("wsub0", 0xc0a83200, 24));
    assert_true(kernel_has_route("wsub0", 0x0a140000, 16));
    assert_false(kernel_has_route("wsub0", 0xc0a86400, 24));  // its own subnet never goes into the mesh

    // one gone, one new; the same list again changes nothing
    const char *second[] = {"10.20.0.0/16", "172.16.0.0/12"};
    routes_of(&m, second, 2);
    assert_int_equal(subnet_routes_sync(sr, &m.routes), 0);
    assert_int_equal(subnet_routes_sync(sr, &m.routes), 0);
    assert_false(kernel_has_route("wsub0", 0xc0a83200, 24));
    assert_true(kernel_has_route("wsub0", 0x0a140000, 16));
    assert_true(kernel_has_route("wsub0", 0xac100000, 12));
    assert_int_equal(subnet_routes_installed(sr), 2);
    assert_string_equal(subnet_routes_error(sr), "");
    subnet_routes_destroy(&sr);  // at exit: all removed
    assert_false(kernel_has_route("wsub0", 0x0a140000, 16));
    assert_false(kernel_has_route("wsub0", 0xac100000, 12));

    // a device that does not exist: the failure is reported, nothing installed, nothing stops
    sr = subnet_routes_new("wsub-none", NULL, 0, 0);
    assert_int_equal(subnet_routes_sync(sr, &m.routes), 2);
    assert_int_equal(subnet_routes_installed(sr), 0);
    assert_non_null(strstr(subnet_routes_error(sr), "dev wsub-none"));
    subnet_routes_destroy(&sr);
    tun_destroy(&tun);
}

static void test_overlaps(void **state)
{
    (void)state;
    subnet_t a = {0xc0a80100, 24}, b = {0xc0a80180, 25}, c = {0xc0a80200, 24}, all = {0xc0a80000, 16};
    assert_true(subnet_overlaps(&a, &b));
    assert_true(subnet_overlaps(&b, &a));
    assert_false(subnet_overlaps(&a, &c));
    assert_true(subnet_overlaps(&all, &c));
    assert_true(subnet_overlaps(&a, &a));
}

// A subnet over this host's own LAN or the hub's address would cut the host off them: refused, with why, and
// taken away again if it was installed before the LAN came.
static void test_conflicts(void **state)
{
    (void)state;
    if (!in_own_netns())
        skip();
    char err[256];
    tun_t *weft = tun_new("wsub0", false, err, sizeof err), *lan = weft ? tun_new("wlan0", false, err, sizeof err) : NULL;
    if (!lan) {
        print_message("skipped: %s\n", err);
        tun_destroy(&weft);
        skip();
    }
    assert_int_equal(tun_configure(weft, "10.100.0.2", 16, 1400, err, sizeof err), 0);
    subnet_routes_t *sr = subnet_routes_new("wsub0", NULL, 0, 0x0a630001);  // the hub at 10.99.0.1
    routes_msg_t m;
    const char *first[] = {"192.168.1.128/25", "192.168.2.0/24"};
    routes_of(&m, first, 2);
    assert_int_equal(subnet_routes_sync(sr, &m.routes), 0);
    assert_int_equal(subnet_routes_installed(sr), 2);   // no LAN there yet
    assert_int_equal(tun_configure(lan, "192.168.1.5", 24, 1400, err, sizeof err), 0);  // now this host is on it
    const char *second[] = {"192.168.1.128/25", "192.168.0.0/16", "10.99.0.0/24", "192.168.2.0/24"};
    routes_of(&m, second, 4);
    assert_int_equal(subnet_routes_sync(sr, &m.routes), 0);
    assert_int_equal(subnet_routes_refused(sr), 3);
    assert_int_equal(subnet_routes_installed(sr), 1);
    assert_false(kernel_has_route("wsub0", 0xc0a80180, 25));   // taken away
    assert_true(kernel_has_route("wsub0", 0xc0a80200, 24));
    char why[200];
    subnet_t s = {0xc0a80180, 25};
    assert_int_equal(subnet_routes_conflict(sr, &s, why, sizeof why), 1);
    assert_string_equal(why, "refused 192.168.1.128/25: it overlaps this host's network 192.168.1.0/24 on wlan0");
    s = (subnet_t){0x0a630000, 24};
    assert_int_equal(subnet_routes_conflict(sr, &s, why, sizeof why), 1);
    assert_string_equal(why, "refused 10.99.0.0/24: it holds the hub's address 10.99.0.1");
    assert_non_null(strstr(subnet_routes_error(sr), "refused"));
    subnet_routes_destroy(&sr);
    tun_destroy(&lan);
    tun_destroy(&weft);
}

static int read_ip_forward(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "r");
    assert_non_null(f);
    int v = -1;
    assert_int_equal(fscanf(f, "%d", &v), 1);
    fclose(f);
    return v;
}

static void test_forward_and_masquerade(void **state)
{
    (void)state;
    if (!in_own_netns())
        skip();
    FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "w");  // a new namespace may inherit 1: start from 0
    assert_non_null(f);
    fputs("0\n", f);
    assert_int_equal(fclose(f), 0);
    weft_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.overlay_addr, sizeof cfg.overlay_addr, "10.100.0.2");
    cfg.overlay_prefix = 16;
    subnet_forward_t *fw = subnet_forward_new(&cfg, "wsub0");  // advertises nothing: touches nothing
    assert_true(subnet_forward_ok(fw));
    assert_string_equal(subnet_forward_note(fw), "");
    assert_int_equal(read_ip_forward(), 0);
    subnet_forward_destroy(&fw);

    snprintf(cfg.routing_advertise[0], CONFIG_STR, "192.168.50.0/24");
    cfg.routing_advertise_count = 1;
    fw = subnet_forward_new(&cfg, "wsub0");
    assert_int_equal(read_ip_forward(), 1);
    assert_string_equal(subnet_forward_note(fw), "forwarding on");
    subnet_forward_destroy(&fw);

    cfg.routing_masquerade = true;
    fw = subnet_forward_new(&cfg, "wsub0");
    if (!subnet_forward_ok(fw)) {
        print_message("skipped: %s\n", subnet_forward_note(fw));
        subnet_forward_destroy(&fw);
        skip();
    }
    assert_string_equal(subnet_forward_note(fw), "forwarding on, masquerade (table ip weft_wsub0)");
    assert_int_equal(system("nft list table ip weft_wsub0 | grep -q 'ip saddr 10.100.0.0/16 ip daddr 192.168.50.0/24 masquerade'"), 0);
    subnet_forward_t *again = subnet_forward_new(&cfg, "wsub0");  // a restarted device: the table is made anew
    assert_true(subnet_forward_ok(again));
    subnet_forward_destroy(&again);
    assert_int_equal(system("nft list table ip weft_wsub0 >/dev/null 2>&1"), 256);  // deleted at exit
    subnet_forward_destroy(&fw);  // already gone: logged, nothing else
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_ruleset),
        cmocka_unit_test(test_kernel_routes),
        cmocka_unit_test(test_overlaps),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_forward_and_masquerade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
