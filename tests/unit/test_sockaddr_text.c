// test_sockaddr_text.c — lib/sockaddr_text.c: "ip:port", "[ip6]:port", "[fe80::1%3]:port", "*:port" when
// allowed; everything else refused with a message; sockaddr_same compares family, address, port, scope.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "sockaddr_text.h"

static void test_parses_ipv4_ipv6_and_scopes(void **state)
{
    (void)state;
    struct sockaddr_storage a;
    socklen_t len = 0;
    char err[160];
    assert_int_equal(sockaddr_parse("10.99.0.2:4000", false, &a, &len, err, sizeof err), 0);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a;
    assert_int_equal(v4->sin_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 4000);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x0a630002);
    assert_int_equal(len, sizeof *v4);
    assert_int_equal(sockaddr_parse("[::1]:65535", false, &a, &len, err, sizeof err), 0);
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a;
    assert_int_equal(v6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(v6->sin6_port), 65535);
    assert_true(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
    assert_int_equal(v6->sin6_scope_id, 0);
    assert_int_equal(sockaddr_parse("[fe80::4c50:6ff:feb0:b6da%7]:58160", false, &a, &len, err, sizeof err), 0);
    assert_true(IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr));
    assert_int_equal(v6->sin6_scope_id, 7);
    assert_int_equal(sockaddr_parse("*:7401", true, &a, &len, err, sizeof err), 0);
    assert_int_equal(v4->sin_addr.s_addr, htonl(INADDR_ANY));
}

static void test_refuses_bad_text(void **state)
{
    (void)state;
    const char *bad[] = {"", "10.99.0.2", "10.99.0.2:", "10.99.0.2:0", "10.99.0.2:65536", "10.99.0.2:12x",
                         "host.example:80", "::1:80", "[::1]80", "[::1", "[fe80::1%]:80", "[fe80::1%eth0]:80",
                         "[fe80::1%0]:80", "*:80", "1.2.3.4.5:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sockaddr_storage a;
        socklen_t len = 0;
        char err[160] = "";
        assert_int_equal(sockaddr_parse(bad[i], false, &a, &len, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    char long_text[300];
    memset(long_text, '1', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    struct sockaddr_storage a;
    socklen_t len;
    char err[160];
    assert_int_equal(sockaddr_parse(long_text, false, &a, &len, err, sizeof err), -1);
    assert_int_equal(sockaddr_parse(NULL, false, &a, &len, err, sizeof err), -1);
}

static void test_same(void **state)
{
    (void)state;
    struct sockaddr_storage a, b;
    socklen_t len;
    char err[160];
    sockaddr_parse("10.0.0.1:5", false, &a, &len, err, sizeof err);
    sockaddr_parse("10.0.0.1:5", false, &b, &len, err, sizeof err);
    assert_true(sockaddr_same((struct sockaddr *)&a, (struct sockaddr *)&b));
    sockaddr_parse("10.0.0.1:6", false, &b, &len, err, sizeof err);
    assert_false(sockaddr_same((struct sockaddr *)&a, (struct sockaddr *)&b));
    sockaddr_parse("10.0.0.2:5", false, &b, &len, err, sizeof err);
    assert_false(sockaddr_same((struct sockaddr *)&a, (struct sockaddr *)&b));
    sockaddr_parse("[::ffff:10.0.0.1]:5", false, &b, &len, err, sizeof err);
    assert_false(sockaddr_same((struct sockaddr *)&a, (struct sockaddr *)&b));   // another family
    sockaddr_parse("[fe80::1%2]:5", false, &a, &len, err, sizeof err);
    sockaddr_parse("[fe80::1]:5", false, &b, &len, err, sizeof err);
    assert_true(sockaddr_same((struct sockaddr *)&a, (struct sockaddr *)&b));    // one without a scope
    sockaddr_parse("[fe80::1%3]:5", false, &b, &len, err, sizeof err);
    assert_false(sockaddr_same((struct sockaddr *)&a, (struct sockaddr *)&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_ipv4_ipv6_and_scopes),
        cmocka_unit_test(test_refuses_bad_text),
        cmocka_unit_test(test_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
