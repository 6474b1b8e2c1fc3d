// test_router_table.c — unit tests for services/router/route_table.c: add, replace, remove and lookup
// (including removal inside probe chains and growth), and the IPv4 header check on good, short,
// truncated, IPv6 and garbage packets.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route_table.h"

static route_t make_route(uint32_t addr, uint8_t peer_byte)
{
    route_t r;
    memset(&r, 0, sizeof r);
    r.addr = addr;
    memset(r.peer, peer_byte, ROUTE_ID_LEN);
    memset(r.next_hop, peer_byte, ROUTE_ID_LEN);
    r.hops = 1;
    r.metric = 1;
    r.updated_ms = 1000;
    return r;
}

static void test_add_lookup(void **state)
{
    (void)state;
    route_table_t *t = route_table_new();
    assert_non_null(t);
    uint32_t a;
    assert_int_equal(ipv4_from_text("10.100.0.2", &a), 0);
    assert_int_equal(a, 0x0a640002u);
    route_t r = make_route(a, 0xab);
    assert_int_equal(route_table_put(t, &r), ROUTE_ADDED);
    assert_int_equal(route_table_size(t), 1);
    const route_t *found = route_table_lookup(t, a);
    assert_non_null(found);
    assert_memory_equal(found->peer, r.peer, ROUTE_ID_LEN);
    assert_int_equal(found->hops, 1);
    assert_null(route_table_lookup(t, a + 1));
    assert_null(route_table_lookup(t, 0));
    route_table_destroy(&t);
    assert_null(t);
}

static void test_replace(void **state)
{
    (void)state;
    route_table_t *t = route_table_new();
    route_t r = make_route(0x0a640005u, 1);
    assert_int_equal(route_table_put(t, &r), ROUTE_ADDED);
    r.updated_ms = 2000;   // same path, newer time: unchanged, stored time kept
    assert_int_equal(route_table_put(t, &r), ROUTE_UNCHANGED);
    assert_int_equal(route_table_lookup(t, r.addr)->updated_ms, 1000);
    route_t other = make_route(0x0a640005u, 2);
    assert_int_equal(route_table_put(t, &other), ROUTE_REPLACED);
    assert_int_equal(route_table_size(t), 1);
    assert_int_equal(route_table_lookup(t, r.addr)->peer[0], 2);
    other.metric = 7;
    assert_int_equal(route_table_put(t, &other), ROUTE_REPLACED);
    assert_int_equal(route_table_lookup(t, r.addr)->metric, 7);
    route_table_destroy(&t);
}

static void test_remove(void **state)
{
    (void)state;
    route_table_t *t = route_table_new();
    route_t r = make_route(0x0a640002u, 1);
    route_table_put(t, &r);
    assert_int_equal(route_table_remove(t, r.addr), 0);
    assert_int_equal(route_table_size(t), 0);
    assert_null(route_table_lookup(t, r.addr));
    assert_int_equal(route_table_remove(t, r.addr), -1);
    assert_int_equal(route_table_put(t, &r), ROUTE_ADDED);
    route_table_destroy(&t);
}

static void count_route(const route_t *route, void *arg)
{
    (void)route;
    (*(size_t *)arg)++;
}

// Many routes: growth, collisions, and removal of every other one keep every lookup right.
static void test_many(void **state)
{
    (void)state;
    enum { N = 5000 };
    route_table_t *t = route_table_new();
    for (uint32_t i = 0; i < N; i++) {
        route_t r = make_route(0x0a640000u + i * 7, (uint8_t)i);
        assert_int_equal(route_table_put(t, &r), ROUTE_ADDED);
    }
    assert_int_equal(route_table_size(t), N);
    for (uint32_t i = 0; i < N; i += 2)
        assert_int_equal(route_table_remove(t, 0x0a640000u + i * 7), 0);
    assert_int_equal(route_table_size(t), N / 2);
    for (uint32_t i = 0; i < N; i++) {
        const route_t *r = route_table_lookup(t, 0x0a640000u + i * 7);
        if (i % 2 == 0) {
            assert_null(r);
        } else {
            assert_non_null(r);
            assert_int_equal(r->peer[0], (uint8_t)i);
        }
    }
    size_t seen = 0;
    route_table_foreach(t, count_route, &seen);
    assert_int_equal(seen, N / 2);
    route_table_destroy(&t);
}

// A minimal IPv4 header: version 4, ihl 5, total length `total`, destination dst.
static void make_ipv4(uint8_t *pkt, size_t total, uint32_t dst)
{
    memset(pkt, 0, total);
    pkt[0] = 0x45;
    pkt[2] = (uint8_t)(total >> 8);
    pkt[3] = (uint8_t)total;
    pkt[8] = 64;
    pkt[9] = 1;
    pkt[16] = (uint8_t)(dst >> 24);
    pkt[17] = (uint8_t)(dst >> 16);
    pkt[18] = (uint8_t)(dst >> 8);
    pkt[19] = (uint8_t)dst;
}

static void test_ipv4_good(void **state)
{
    (void)state;
    uint8_t pkt[84];
    make_ipv4(pkt, sizeof pkt, 0x0a640002u);
    uint32_t dst = 0;
    size_t total = 0;
    assert_int_equal(ipv4_parse(pkt, sizeof pkt, &dst, &total), IPV4_OK);
    assert_int_equal(dst, 0x0a640002u);
    assert_int_equal(total, sizeof pkt);
    // trailing bytes beyond the total length are not part of the packet
    assert_int_equal(ipv4_parse(pkt, sizeof pkt, &dst, &total), IPV4_OK);
    make_ipv4(pkt, 60, 0x0a640003u);
    assert_int_equal(ipv4_parse(pkt, sizeof pkt, &dst, &total), IPV4_OK);
    assert_int_equal(total, 60);
    // options: ihl 6
    make_ipv4(pkt, 24, 0x0a640004u);
    pkt[0] = 0x46;
    assert_int_equal(ipv4_parse(pkt, 24, &dst, &total), IPV4_OK);
    assert_int_equal(dst, 0x0a640004u);
}

static void test_ipv4_short(void **state)
{
    (void)state;
    uint8_t pkt[20];
    make_ipv4(pkt, sizeof pkt, 0x0a640002u);
    uint32_t dst;
    size_t total;
    assert_int_equal(ipv4_parse(pkt, 0, &dst, &total), IPV4_MALFORMED);
    assert_int_equal(ipv4_parse(NULL, 20, &dst, &total), IPV4_MALFORMED);
    assert_int_equal(ipv4_parse(pkt, 1, &dst, &total), IPV4_MALFORMED);
    assert_int_equal(ipv4_parse(pkt, 19, &dst, &total), IPV4_MALFORMED);
    assert_int_equal(ipv4_parse(pkt, 20, &dst, &total), IPV4_OK);
}

static void test_ipv4_truncated(void **state)
{
    (void)state;
    uint8_t pkt[100];
    make_ipv4(pkt, sizeof pkt, 0x0a640002u);
    uint32_t dst;
    size_t total;
    // header says 100 bytes, only 60 arrived
    assert_int_equal(ipv4_parse(pkt, 60, &dst, &total), IPV4_MALFORMED);
    // ihl 15 (60-byte header) in a 40-byte packet
    make_ipv4(pkt, 40, 0x0a640002u);
    pkt[0] = 0x4f;
    assert_int_equal(ipv4_parse(pkt, 40, &dst, &total), IPV4_MALFORMED);
    // ihl below 5
    pkt[0] = 0x44;
    assert_int_equal(ipv4_parse(pkt, 40, &dst, &total), IPV4_MALFORMED);
    // total length smaller than the header
    make_ipv4(pkt, 40, 0x0a640002u);
    pkt[2] = 0;
    pkt[3] = 10;
    assert_int_equal(ipv4_parse(pkt, 40, &dst, &total), IPV4_MALFORMED);
}

static void test_ipv4_ipv6(void **state)
{
    (void)state;
    uint8_t pkt[48] = {0x60};
    uint32_t dst;
    size_t total;
    assert_int_equal(ipv4_parse(pkt, sizeof pkt, &dst, &total), IPV4_NOT_IPV4);
    assert_int_equal(ipv4_parse(pkt, 1, &dst, &total), IPV4_NOT_IPV4);
}

static void test_ipv4_garbage(void **state)
{
    (void)state;
    uint8_t pkt[64];
    uint32_t dst;
    size_t total;
    for (unsigned v = 0; v < 16; v++) {
        if (v == 4 || v == 6)
            continue;
        memset(pkt, 0xa5, sizeof pkt);
        pkt[0] = (uint8_t)(v << 4 | 5);
        assert_int_equal(ipv4_parse(pkt, sizeof pkt, &dst, &total), IPV4_MALFORMED);
    }
    // 4 in the version nibble but junk after it: total length 0xa5a5 > 64
    memset(pkt, 0xa5, sizeof pkt);
    pkt[0] = 0x45;
    assert_int_equal(ipv4_parse(pkt, sizeof pkt, &dst, &total), IPV4_MALFORMED);
}

static void test_ipv4_helpers(void **state)
{
    (void)state;
    assert_true(ipv4_is_multicast_or_broadcast(0xe0000001u));
    assert_true(ipv4_is_multicast_or_broadcast(0xefffffffu));
    assert_true(ipv4_is_multicast_or_broadcast(0xffffffffu));
    assert_false(ipv4_is_multicast_or_broadcast(0x0a640002u));
    uint32_t a;
    assert_int_equal(ipv4_from_text("10.100.0.300", &a), -1);
    assert_int_equal(ipv4_from_text("", &a), -1);
    assert_int_equal(ipv4_from_text(NULL, &a), -1);
    char text[16];
    ipv4_to_text(0x0a640102u, text);
    assert_string_equal(text, "10.100.1.2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_lookup),   cmocka_unit_test(test_replace),
        cmocka_unit_test(test_remove),       cmocka_unit_test(test_many),
        cmocka_unit_test(test_ipv4_good),    cmocka_unit_test(test_ipv4_short),
        cmocka_unit_test(test_ipv4_truncated), cmocka_unit_test(test_ipv4_ipv6),
        cmocka_unit_test(test_ipv4_garbage), cmocka_unit_test(test_ipv4_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
