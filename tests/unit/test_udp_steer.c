// test_udp_steer.c — lib/udp_steer over real UDP sockets on 127.0.0.1 (and ::1 where the host has it):
// an ordinary socket plays libnice's, shares its port, a steering socket joins it; a sender sends every
// kind of datagram a peer's path carries and each is counted where it arrives: weft transport datagrams at
// the steering socket only, everything else at the shared socket only. Then the fallback after the steering
// socket closes, a new steering socket taking over, the refusal on a port that was not shared, and
// udp_steer_takes agreeing with the program on every case.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "datagram.h"
#include "udp_steer.h"

#define COPIES 3        // each case is sent this many times
#define MAX_CASES 32
#define MAX_LEN 1500

typedef struct {
    const char *name;
    uint8_t data[MAX_LEN];
    size_t len;
    bool steered;     // where the program must send it: true = the steering socket
} dgram_case_t;

static dgram_case_t cases[MAX_CASES];
static size_t n_cases;

// case bytes: head (head_len bytes) then a filler that depends on the case's index, so no two cases match
static void add(const char *name, const uint8_t *head, size_t head_len, size_t len, bool steered)
{
    assert_true(n_cases < MAX_CASES && len <= MAX_LEN && head_len <= len);
    dgram_case_t *c = &cases[n_cases];
    c->name = name;
    c->len = len;
    c->steered = steered;
    for (size_t j = 0; j < len; j++)
        c->data[j] = (uint8_t)(n_cases * 37 + j * 11 + 1);
    if (head_len)
        memcpy(c->data, head, head_len);
    n_cases++;
}

static void build_cases(void)
{
    n_cases = 0;
    const uint8_t transport[] = {DATAGRAM_TRANSPORT, 0, 0, 0};
    add("transport, shortest (32 bytes)", transport, 4, DATAGRAM_TRANSPORT_MIN_LEN, true);
    add("transport, 33 bytes", transport, 4, DATAGRAM_TRANSPORT_MIN_LEN + 1, true);
    add("transport, 1420 bytes", transport, 4, 1420, true);
    add("transport header, 31 bytes (one short)", transport, 4, DATAGRAM_TRANSPORT_MIN_LEN - 1, false);
    add("transport header alone (4 bytes)", transport, 4, 4, false);
    const uint8_t t_0401[] = {4, 1, 0, 0}, t_0400_01[] = {4, 0, 0, 1}, t_0004[] = {0, 0, 0, 4}, t5[] = {5, 0, 0, 0};
    add("04 01 00 00 + 60 bytes", t_0401, 4, 64, false);
    add("04 00 00 01 + 60 bytes", t_0400_01, 4, 64, false);
    add("00 00 00 04 + 60 bytes (byte order)", t_0004, 4, 64, false);
    add("05 00 00 00 + 60 bytes", t5, 4, 64, false);
    // STUN (RFC 5389): type, length of the attributes, magic cookie, 12-byte transaction id
    const uint8_t stun_req[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
    const uint8_t stun_req_attrs[] = {0x00, 0x01, 0x00, 0x24, 0x21, 0x12, 0xA4, 0x42};
    const uint8_t stun_resp[] = {0x01, 0x01, 0x00, 0x0C, 0x21, 0x12, 0xA4, 0x42};
    const uint8_t stun_ind[] = {0x00, 0x11, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
    add("STUN binding request, no attributes (20 bytes)", stun_req, 8, 20, false);
    add("STUN binding request with attributes (56 bytes)", stun_req_attrs, 8, 56, false);
    add("STUN binding success response (32 bytes)", stun_resp, 8, 32, false);
    add("STUN binding indication (20 bytes)", stun_ind, 8, 20, false);
    const uint8_t channel[] = {0x40, 0x00, 0x00, 0x40};
    add("TURN ChannelData 0x4000 (68 bytes)", channel, 4, 68, false);
    const uint8_t h1[] = {DATAGRAM_INITIATION, 0, 0, 0}, h2[] = {DATAGRAM_RESPONSE, 0, 0, 0},
                  h3[] = {DATAGRAM_COOKIE_REPLY, 0, 0, 0};
    add("handshake initiation", h1, 4, DATAGRAM_INITIATION_LEN, true);
    add("handshake initiation with certificate", h1, 4, DATAGRAM_INITIATION_CERT_LEN, true);
    add("handshake initiation of the old size (116 bytes)", h1, 4, 116, false);
    add("handshake response", h2, 4, DATAGRAM_RESPONSE_LEN, true);
    add("handshake response with certificate", h2, 4, DATAGRAM_RESPONSE_CERT_LEN, true);
    add("handshake response one byte long", h2, 4, DATAGRAM_RESPONSE_LEN + 1, false);
    add("cookie reply", h3, 4, DATAGRAM_COOKIE_REPLY_LEN, true);
    add("cookie reply, 65 bytes", h3, 4, DATAGRAM_COOKIE_REPLY_LEN + 1, false);
    const uint8_t ping[] = {0x50}, pong[] = {0x51}, ping_z[] = {0x50, 0, 0, 0};
    add("path probe ping (20 bytes)", ping, 1, 20, false);
    add("path probe pong (20 bytes)", pong, 1, 20, false);
    add("50 00 00 00 + 36 bytes", ping_z, 4, 40, false);
    add("empty datagram", NULL, 0, 0, false);
    // random bytes (fixed seed), first byte forced off 0x04 so the case is not a transport by chance
    uint8_t junk[200];
    srand(11);
    for (size_t j = 0; j < sizeof junk; j++)
        junk[j] = (uint8_t)rand();
    junk[0] = 0xA7;
    add("random bytes (200)", junk, sizeof junk, sizeof junk, false);
    // no two cases may look alike, or counting them by content would be wrong
    for (size_t i = 0; i < n_cases; i++)
        for (size_t k = i + 1; k < n_cases; k++)
            assert_false(cases[i].len == cases[k].len && memcmp(cases[i].data, cases[k].data, cases[i].len) == 0);
}

// A UDP socket on the loopback of family (AF_INET or AF_INET6), port 0; its address in *addr. -1 when the
// host has no such loopback (IPv6 off).
static int loopback_socket(int family, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage a = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&a, len) < 0) {
        close(fd);
        return -1;
    }
    len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    int big = 4 << 20;   // room for every datagram of a round before anyone reads
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (addr)
        *addr = a;
    if (addr_len)
        *addr_len = len;
    return fd;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

typedef struct {
    unsigned at_owner[MAX_CASES];
    unsigned at_steer[MAX_CASES];
    unsigned unknown;
} counts_t;

// Reads everything waiting on fd into counts (per case, by content).
static unsigned drain(int fd, unsigned *per_case, counts_t *c)
{
    unsigned got = 0;
    uint8_t buf[MAX_LEN + 1];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            return got;
        }
        got++;
        size_t i = 0;
        while (i < n_cases && !(cases[i].len == (size_t)n && memcmp(cases[i].data, buf, (size_t)n) == 0))
            i++;
        if (i < n_cases)
            per_case[i]++;
        else
            c->unknown++;
    }
}

// Sends every case COPIES times from sender to dst and counts where each arrives: owner (the shared
// socket) and steer (the steering socket, -1 for none). Waits until all arrived (at most 3 s), then 50 ms
// more for anything extra.
static void send_round(int sender, const struct sockaddr_storage *dst, socklen_t dst_len, int owner, int steer,
                       counts_t *c)
{
    memset(c, 0, sizeof *c);
    unsigned sent = 0;
    for (unsigned k = 0; k < COPIES; k++)
        for (size_t i = 0; i < n_cases; i++) {
            ssize_t n = sendto(sender, cases[i].data, cases[i].len, 0, (const struct sockaddr *)dst, dst_len);
            assert_int_equal(n, (ssize_t)cases[i].len);
            sent++;
        }
    unsigned got = 0;
    long long deadline = now_ms() + 3000;
    bool settled = false;
    for (;;) {
        got += drain(owner, c->at_owner, c);
        if (steer >= 0)
            got += drain(steer, c->at_steer, c);
        long long now = now_ms();
        if (got >= sent && !settled) {
            settled = true;
            deadline = now + 50;
        }
        if (now >= deadline)
            break;
        struct pollfd p[2] = {{.fd = owner, .events = POLLIN}, {.fd = steer, .events = POLLIN}};
        poll(p, steer >= 0 ? 2 : 1, (int)(deadline - now));
    }
    if (got != sent)
        print_error("%u of %u datagrams arrived at the sockets read (the rest went to a socket still on the port?)\n",
                    got, sent);
    assert_int_equal(c->unknown, 0);
    assert_int_equal(got, sent);
}

// Every transport case at the steering socket only, every other at the owner only, COPIES each.
static void expect_steered(const counts_t *c)
{
    for (size_t i = 0; i < n_cases; i++) {
        unsigned want_steer = cases[i].steered ? COPIES : 0;
        if (c->at_steer[i] != want_steer || c->at_owner[i] != COPIES - want_steer)
            print_error("%s: at the steering socket %u, at the shared socket %u; want %u and %u\n", cases[i].name,
                        c->at_steer[i], c->at_owner[i], want_steer, COPIES - want_steer);
        assert_int_equal(c->at_steer[i], want_steer);
        assert_int_equal(c->at_owner[i], COPIES - want_steer);
    }
}

// Everything at the owner (no steering socket in the group).
static void expect_all_at_owner(const counts_t *c)
{
    for (size_t i = 0; i < n_cases; i++) {
        if (c->at_owner[i] != COPIES || c->at_steer[i] != 0)
            print_error("%s: at the shared socket %u, at the steering socket %u; want %u and 0\n", cases[i].name,
                        c->at_owner[i], c->at_steer[i], COPIES);
        assert_int_equal(c->at_owner[i], COPIES);
        assert_int_equal(c->at_steer[i], 0);
    }
}

// The whole life of a steering socket on family's loopback: steered, closed (fallback), opened again.
static void steer_life(int family)
{
    build_cases();
    struct sockaddr_storage local;
    socklen_t local_len;
    int owner = loopback_socket(family, &local, &local_len);
    if (owner < 0) {
        print_message("no %s loopback on this host (%s): skipped\n", family == AF_INET ? "IPv4" : "IPv6",
                      strerror(errno));
        skip();
    }
    int sender = loopback_socket(family, NULL, NULL);
    assert_true(sender >= 0);
    char err[256] = "";

    assert_int_equal(udp_steer_share(owner, err, sizeof err), 0);
    int steer = udp_steer_open((struct sockaddr *)&local, local_len, err, sizeof err);
    if (steer < 0)
        print_error("udp_steer_open: %s\n", err);
    assert_true(steer >= 0);
    int fl = fcntl(steer, F_GETFL), fdfl = fcntl(steer, F_GETFD);
    assert_true(fl >= 0 && (fl & O_NONBLOCK));
    assert_true(fdfl >= 0 && (fdfl & FD_CLOEXEC));
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    assert_int_equal(getsockname(steer, (struct sockaddr *)&bound, &bound_len), 0);
    assert_int_equal(bound_len, local_len);
    assert_memory_equal(&bound, &local, local_len);

    counts_t c;
    send_round(sender, &local, local_len, owner, steer, &c);
    expect_steered(&c);

    // the data plane goes away: its index is out of range, everything falls back to the shared socket
    close(steer);
    send_round(sender, &local, local_len, owner, -1, &c);
    expect_all_at_owner(&c);

    // and comes back: a new steering socket takes the transport datagrams again
    steer = udp_steer_open((struct sockaddr *)&local, local_len, err, sizeof err);
    if (steer < 0)
        print_error("udp_steer_open again: %s\n", err);
    assert_true(steer >= 0);
    send_round(sender, &local, local_len, owner, steer, &c);
    expect_steered(&c);

    close(steer);
    close(sender);
    close(owner);
}

static void test_steer_ipv4(void **state)
{
    (void)state;
    steer_life(AF_INET);
}

static void test_steer_ipv6(void **state)
{
    (void)state;
    steer_life(AF_INET6);
}

// The caveat of udp_steer.h: when the shared socket leaves, the steering socket takes its slot (index 0)
// and gets every datagram; its reader must apply udp_steer_takes itself.
static void test_owner_closed_steer_gets_all(void **state)
{
    (void)state;
    build_cases();
    struct sockaddr_storage local;
    socklen_t local_len;
    int owner = loopback_socket(AF_INET, &local, &local_len), sender = loopback_socket(AF_INET, NULL, NULL);
    assert_true(owner >= 0 && sender >= 0);
    char err[256];
    assert_int_equal(udp_steer_share(owner, err, sizeof err), 0);
    int steer = udp_steer_open((struct sockaddr *)&local, local_len, err, sizeof err);
    assert_true(steer >= 0);
    close(owner);
    counts_t c;
    // the steering socket plays "owner" in the counting: it alone is left on the port
    send_round(sender, &local, local_len, steer, -1, &c);
    expect_all_at_owner(&c);
    close(steer);
    close(sender);
}

static void test_refused_when_not_shared(void **state)
{
    (void)state;
    struct sockaddr_storage local;
    socklen_t local_len;
    int owner = loopback_socket(AF_INET, &local, &local_len);
    assert_true(owner >= 0);
    char err[256] = "";
    errno = 0;
    assert_int_equal(udp_steer_open((struct sockaddr *)&local, local_len, err, sizeof err), -1);
    assert_int_equal(errno, EADDRINUSE);
    print_message("not shared: %s\n", err);
    assert_non_null(strstr(err, "127.0.0.1:"));
    assert_non_null(strstr(err, "did not share"));

    // once shared, the same call works
    assert_int_equal(udp_steer_share(owner, err, sizeof err), 0);
    int steer = udp_steer_open((struct sockaddr *)&local, local_len, err, sizeof err);
    assert_true(steer >= 0);
    close(steer);

    // nobody on the port at all: refused, the port is not taken
    close(owner);
    errno = 0;
    assert_int_equal(udp_steer_open((struct sockaddr *)&local, local_len, err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    print_message("nobody there: %s\n", err);
    assert_non_null(strstr(err, "no socket is bound"));
    int again = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(bind(again, (struct sockaddr *)&local, local_len), 0);   // port free: nothing left behind
    close(again);
}

static void test_bad_input(void **state)
{
    (void)state;
    char err[256];
    // share: not a socket, an unbound socket, a TCP socket
    assert_int_equal(udp_steer_share(-1, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot share port"));
    int unbound = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(udp_steer_share(unbound, err, sizeof err), -1);
    assert_non_null(strstr(err, "not bound"));
    close(unbound);
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(tcp, (struct sockaddr *)&lo, sizeof lo), 0);
    assert_int_equal(udp_steer_share(tcp, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an IPv4 or IPv6 UDP socket"));
    close(tcp);
    // open: port 0, short address, another family
    assert_int_equal(udp_steer_open((struct sockaddr *)&lo, sizeof lo, err, sizeof err), -1);
    assert_non_null(strstr(err, "with a port"));
    lo.sin_port = htons(9);
    assert_int_equal(udp_steer_open((struct sockaddr *)&lo, sizeof lo - 1, err, sizeof err), -1);
    assert_int_equal(udp_steer_open(NULL, 0, err, sizeof err), -1);
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(udp_steer_open(&un, sizeof un, err, sizeof err), -1);
    assert_non_null(strstr(err, "family"));
}

// The C rule agrees with the table the program was tested against (every case above), and its edges.
static void test_takes(void **state)
{
    (void)state;
    build_cases();
    for (size_t i = 0; i < n_cases; i++) {
        if (udp_steer_takes(cases[i].data, cases[i].len) != cases[i].steered)
            print_error("%s: udp_steer_takes says %d\n", cases[i].name, !cases[i].steered);
        assert_int_equal(udp_steer_takes(cases[i].data, cases[i].len), cases[i].steered);
    }
    uint8_t t[DATAGRAM_TRANSPORT_MIN_LEN] = {DATAGRAM_TRANSPORT};
    assert_true(udp_steer_takes(t, sizeof t));
    assert_false(udp_steer_takes(t, sizeof t - 1));
    assert_false(udp_steer_takes(NULL, 0));
    assert_false(udp_steer_takes(NULL, 64));
    // exactly the datagrams crypto takes are steered (lib/datagram.h)
    for (unsigned type = 0; type < 256; type++) {
        uint8_t d[400] = {(uint8_t)type};
        for (size_t len = 0; len <= sizeof d; len++)
            assert_int_equal(udp_steer_takes(d, len), datagram_for_crypto(d, len));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steer_ipv4),
        cmocka_unit_test(test_steer_ipv6),
        cmocka_unit_test(test_owner_closed_steer_gets_all),
        cmocka_unit_test(test_refused_when_not_shared),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_takes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
