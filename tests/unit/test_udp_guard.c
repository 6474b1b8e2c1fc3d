// test_udp_guard.c — lib/udp_guard.c: the kernel filter on a path's socket, over real sockets on 127.0.0.1.
// Every kind of datagram is sent to a socket with the filter; what arrives must be exactly what
// udp_guard_passes says (STUN, ChannelData and probes, weft's datagrams at their lengths), and the C rule
// must say what the table below says.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "datagram.h"
#include "udp_guard.h"

typedef struct {
    const char *what;
    uint8_t first[8];
    size_t len;
    bool passes;
} case_t;

static const case_t cases[] = {
    {"STUN binding request", {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, 20, true},
    {"STUN success with attributes", {0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42}, 32, true},
    {"TURN ChannelData", {0x40, 0x00, 0x00, 0x10}, 20, true},
    {"path probe ping", {0x50}, 20, true},
    {"path probe pong", {0x51}, 20, true},
    {"initiation", {1, 0, 0, 0}, DATAGRAM_INITIATION_LEN, true},
    {"initiation with certificate", {1, 0, 0, 0}, DATAGRAM_INITIATION_CERT_LEN, true},
    {"initiation of the old size", {1, 0, 0, 0}, 116, false},
    {"initiation one byte long", {1, 0, 0, 0}, DATAGRAM_INITIATION_LEN + 1, false},
    {"response", {2, 0, 0, 0}, DATAGRAM_RESPONSE_LEN, true},
    {"response with certificate", {2, 0, 0, 0}, DATAGRAM_RESPONSE_CERT_LEN, true},
    {"response of an initiation's size", {2, 0, 0, 0}, DATAGRAM_INITIATION_LEN, false},
    {"cookie reply", {3, 0, 0, 0}, DATAGRAM_COOKIE_REPLY_LEN, true},
    {"cookie reply too long", {3, 0, 0, 0}, DATAGRAM_COOKIE_REPLY_LEN + 4, false},
    {"transport, shortest", {4, 0, 0, 0}, DATAGRAM_TRANSPORT_MIN_LEN, true},
    {"transport of an initiation's size", {4, 0, 0, 0}, DATAGRAM_INITIATION_LEN, true},
    {"transport, full size", {4, 0, 0, 0}, 1432, true},
    {"transport too short", {4, 0, 0, 0}, DATAGRAM_TRANSPORT_MIN_LEN - 1, false},
    {"type 4 with a nonzero reserved byte", {4, 0, 1, 0}, 100, false},
    {"type 5", {5, 0, 0, 0}, 100, false},
    {"an IPv4 packet", {0x45, 0x00, 0x00, 0x54}, 84, true},   // 0x40-0x7f: ChannelData's range, passed on to nat
    {"0x80 and up", {0x80}, 100, false},
    {"0xff", {0xff, 0xff}, 100, false},
    {"three bytes", {0x50}, 3, false},
    {"five zero bytes", {0}, 5, false},
};

static void fill(const case_t *c, uint8_t *buf)
{
    memset(buf, 0xa5, c->len);
    memcpy(buf, c->first, c->len < sizeof c->first ? c->len : sizeof c->first);
    if (c->len >= 8 && c->first[4] == 0 && c->first[5] == 0 && c->first[6] == 0 && c->first[7] == 0)
        memset(buf + 4, 0xa5, 4);   // bytes 4..7 of non-STUN cases are not the magic cookie
}

static void test_rule_matches_table(void **state)
{
    (void)state;
    uint8_t buf[2048];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fill(&cases[i], buf);
        if (udp_guard_passes(buf, cases[i].len) != cases[i].passes)
            fail_msg("C rule disagrees on '%s'", cases[i].what);
    }
}

static void test_kernel_filter_matches_rule(void **state)
{
    (void)state;
    int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(r >= 0 && s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(r, (struct sockaddr *)&a, &len), 0);
    char err[160];
    assert_int_equal(udp_guard_attach(r, err, sizeof err), 0);
    uint8_t buf[2048], got[2048];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fill(&cases[i], buf);
        buf[cases[i].len > 10 ? 10 : 0] ^= (uint8_t)i;   // tell the cases apart where it changes no rule
        if (cases[i].len <= 10)
            fill(&cases[i], buf);
        assert_int_equal(sendto(s, buf, cases[i].len, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)cases[i].len);
        struct pollfd p = {.fd = r, .events = POLLIN};
        bool arrived = poll(&p, 1, cases[i].passes ? 500 : 50) == 1;
        if (arrived) {
            ssize_t n = recv(r, got, sizeof got, 0);
            assert_int_equal(n, (ssize_t)cases[i].len);
            assert_memory_equal(got, buf, cases[i].len);
        }
        if (arrived != cases[i].passes)
            fail_msg("the kernel filter %s '%s'", arrived ? "let through" : "dropped", cases[i].what);
    }
    assert_int_equal(udp_guard_attach(-1, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    close(r);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_matches_table),
        cmocka_unit_test(test_kernel_filter_matches_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
