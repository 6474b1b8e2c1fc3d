// test_nat_ssdp.c — weft-nat's SSDP answer parser (services/nat/ssdp.c): the LOCATION of a real
// miniupnpd answer, header case and line ends, and what must be refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ssdp.h"

static int parse(const char *text, char location[SSDP_LOCATION_MAX])
{
    return ssdp_parse_location(text, strlen(text), location);
}

static void test_location(void **state)
{
    (void)state;
    char loc[SSDP_LOCATION_MAX];
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: " SSDP_IGD_TYPE "\r\n"
                           "SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
                           "LOCATION: http://10.0.1.1:45153/rootDesc.xml\r\n\r\n", loc), 0);
    assert_string_equal(loc, "http://10.0.1.1:45153/rootDesc.xml");
    assert_int_equal(parse("HTTP/1.1 200 OK\nlocation:http://192.168.1.1:5000/desc\n", loc), 0);   // LF, no space
    assert_string_equal(loc, "http://192.168.1.1:5000/desc");
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nLocation: \thttp://h/x\r\n", loc), 0);
    assert_string_equal(loc, "http://h/x");
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nLOCATION: http://h/last-line-without-end", loc), 0);
    assert_string_equal(loc, "http://h/last-line-without-end");
}

static void test_refused(void **state)
{
    (void)state;
    char loc[SSDP_LOCATION_MAX];
    assert_int_equal(parse("", loc), -1);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nST: x\r\n\r\n", loc), -1);                 // no LOCATION
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nLOCATION: ftp://h/x\r\n", loc), -1);       // not http
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nLOCATION: http://\r\n", loc), -1);         // nothing after it
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nLOCATION: http://h/a b\r\n", loc), -1);    // a space inside
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nLOCATION:\r\n", loc), -1);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nXLOCATION: http://h/x\r\n", loc), -1);
    char text[SSDP_LOCATION_MAX + 64] = "LOCATION: http://";
    memset(text + strlen(text), 'a', SSDP_LOCATION_MAX);
    text[sizeof text - 1] = '\0';
    assert_int_equal(parse(text, loc), -1);                                                // too long
    const char nul[] = "LOCATION: http://h/\0x\r\n";
    assert_int_equal(ssdp_parse_location(nul, sizeof nul - 1, loc), -1);                  // a NUL inside
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
