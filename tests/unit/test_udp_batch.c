// test_udp_batch.c — lib/udp_batch over real UDP sockets on 127.0.0.1: GSO runs (equal sizes, a short last
// segment, mixed sizes, more than one GSO send holds), GRO split on receive with the right sources, the
// same results with offloads forced off, and bad input refused. What the kernel offers is probed and
// printed; where it lacks an offload, the tests check the fallback (one message per datagram).
#define _GNU_SOURCE   // unshare, setns
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "udp_batch.h"

#define MAX_DGRAMS 200
#define TX_MAX_LEN 1500

static udp_offloads_t kernel;   // what the probe found on a loopback UDP socket
static size_t tx_batch = MAX_DGRAMS;   // the sender's max_datagrams in run()

static int udp_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    int big = 4 << 20;   // room for every datagram of a test before the receiver reads
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (addr)
        *addr = a;
    return fd;
}

// datagram i of a test: its index in the first two bytes, then a pattern that depends on i and the offset
static void fill(uint8_t *buf, size_t len, unsigned i)
{
    for (size_t j = 0; j < len; j++)
        buf[j] = (uint8_t)(i * 131 + j * 7);
    if (len >= 2) {
        buf[0] = (uint8_t)(i >> 8);
        buf[1] = (uint8_t)i;
    }
}

typedef struct {
    size_t n;
    size_t len[MAX_DGRAMS * 2];
    uint8_t *data[MAX_DGRAMS * 2];
    uint16_t port[MAX_DGRAMS * 2];   // the source port each came from
} received_t;

static void received_free(received_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->data[i]);
    r->n = 0;
}

// Receives until `want` datagrams arrived or 2 s passed, copying each out of the batch.
static void receive(udp_batch_t *rx, int fd, size_t want, received_t *r)
{
    char err[256];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    r->n = 0;
    for (;;) {
        const udp_datagram_t *d;
        size_t n;
        assert_int_equal(udp_batch_recv(rx, &d, &n, err, sizeof err), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(r->n < MAX_DGRAMS * 2);
            assert_int_equal(d[i].from->ss_family, AF_INET);
            assert_int_equal(d[i].from_len, sizeof(struct sockaddr_in));
            const struct sockaddr_in *from = (const struct sockaddr_in *)d[i].from;
            assert_int_equal(from->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
            r->port[r->n] = ntohs(from->sin_port);
            r->len[r->n] = d[i].len;
            r->data[r->n] = malloc(d[i].len ? d[i].len : 1);
            memcpy(r->data[r->n], d[i].data, d[i].len);
            r->n++;
        }
        if (r->n >= want && want > 0)
            return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms >= (want ? 2000 : 200))
            return;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, 50);
    }
}

typedef struct {
    udp_offloads_t tx_on, rx_on;
    udp_batch_stats_t tx_stats, rx_stats;
    received_t got;
} result_t;

// Sends datagrams of sizes[0..n) in one udp_batch_send from one socket to another, the sender wanting `tx`
// offloads and the receiver `rx`; checks every datagram arrives whole, in order, from the sender.
static void run(const size_t *sizes, size_t n, udp_offloads_t tx, udp_offloads_t rx, result_t *res)
{
    char err[256] = "";
    struct sockaddr_in a_addr, b_addr;
    int a = udp_socket(&a_addr), b = udp_socket(&b_addr);
    udp_batch_t *ta = udp_batch_new(tx_batch, TX_MAX_LEN, err, sizeof err);
    udp_batch_t *rb = udp_batch_new(64, TX_MAX_LEN, err, sizeof err);
    assert_non_null(ta);
    assert_non_null(rb);
    assert_int_equal(udp_batch_attach(ta, a, tx, &res->tx_on, err, sizeof err), 0);
    assert_int_equal(udp_batch_attach(rb, b, rx, &res->rx_on, err, sizeof err), 0);
    assert_int_equal(res->tx_on.gso, tx.gso && kernel.gso);
    assert_int_equal(res->rx_on.gro, rx.gro && kernel.gro);

    static uint8_t bufs[MAX_DGRAMS][TX_MAX_LEN];
    struct iovec iov[MAX_DGRAMS];
    assert_true(n <= MAX_DGRAMS);
    for (size_t i = 0; i < n; i++) {
        fill(bufs[i], sizes[i], (unsigned)i);
        iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizes[i]};
    }
    size_t sent = 99999;
    int rc = udp_batch_send(ta, (struct sockaddr *)&b_addr, sizeof b_addr, iov, n, &sent, err, sizeof err);
    if (rc != 0)
        print_message("send: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(sent, n);

    receive(rb, b, n, &res->got);
    assert_int_equal(res->got.n, n);
    uint8_t want[TX_MAX_LEN];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(res->got.len[i], sizes[i]);
        fill(want, sizes[i], (unsigned)i);
        assert_memory_equal(res->got.data[i], want, sizes[i]);
        assert_int_equal(res->got.port[i], ntohs(a_addr.sin_port));
    }
    res->tx_stats = *udp_batch_stats(ta);
    res->rx_stats = *udp_batch_stats(rb);
    udp_batch_destroy(&ta);
    udp_batch_destroy(&rb);
    assert_null(ta);
    close(a);
    close(b);
}

static const udp_offloads_t ON = {.gso = true, .gro = true}, OFF = {.gso = false, .gro = false};

// Sends with GSO wanted (receiver without GRO: the kernel hands over each datagram alone) and checks the
// number of messages: with GSO `msgs`, `multi` of them holding more than one datagram; one per datagram
// without. One sendmmsg per tx_batch datagrams.
static void check_gso(const size_t *sizes, size_t n, size_t msgs, size_t multi)
{
    result_t res = {0};
    run(sizes, n, ON, OFF, &res);
    assert_int_equal(res.tx_stats.sent_messages, kernel.gso ? msgs : n);
    assert_int_equal(res.tx_stats.gso_messages, kernel.gso ? multi : 0);
    assert_int_equal(res.tx_stats.sendmmsg_calls, (n + tx_batch - 1) / tx_batch);
    assert_int_equal(res.rx_stats.gro_messages, 0);
    received_free(&res.got);
}

static void test_probe(void **state)
{
    (void)state;
    char err[256];
    int fd = udp_socket(NULL);
    udp_offloads_t o = {.gso = true, .gro = true};
    assert_int_equal(udp_batch_probe(fd, &o, err, sizeof err), 0);
    print_message("kernel offloads on a loopback UDP socket: GSO (UDP_SEGMENT) %s, GRO (UDP_GRO) %s\n",
                  o.gso ? "yes" : "no", o.gro ? "yes" : "no");
    kernel = o;
    // the probe leaves UDP_GRO as it found it (off)
    int v = 1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, IPPROTO_UDP, UDP_GRO, &v, &len) == 0)
        assert_int_equal(v, 0);
    close(fd);

    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(tcp >= 0);
    assert_int_equal(udp_batch_probe(tcp, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a UDP socket"));
    assert_false(o.gso || o.gro);
    close(tcp);
    assert_int_equal(udp_batch_probe(-1, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "fd -1"));
}

static void test_gso_equal_sizes(void **state)
{
    (void)state;
    size_t sizes[10];
    for (size_t i = 0; i < 10; i++)
        sizes[i] = 1200;
    check_gso(sizes, 10, 1, 1);   // 10 x 1200 leave as one message, arrive as 10 datagrams of 1200
}

static void test_gso_short_last(void **state)
{
    (void)state;
    size_t sizes[10];
    for (size_t i = 0; i < 9; i++)
        sizes[i] = 1200;
    sizes[9] = 300;
    check_gso(sizes, 10, 1, 1);
}

static void test_gso_mixed_sizes(void **state)
{
    (void)state;
    // runs: {1200 x3, 500} {800, 800, 100} {1400, 1400, 20} {64} {1500}: a shorter one ends a run, a longer
    // one starts the next
    const size_t sizes[] = {1200, 1200, 1200, 500, 800, 800, 100, 1400, 1400, 20, 64, 1500};
    check_gso(sizes, sizeof sizes / sizeof *sizes, 5, 3);
}

static void test_gso_limits(void **state)
{
    (void)state;
    static size_t sizes[MAX_DGRAMS];
    // 150 x 500: 64 segments at most per send (not the 131 that 65507 bytes would hold) -> 64 + 64 + 22
    for (size_t i = 0; i < 150; i++)
        sizes[i] = 500;
    check_gso(sizes, 150, 3, 3);
    // 60 x 1400: at most 65507 bytes per send -> 46 (64400 bytes) + 14
    for (size_t i = 0; i < 60; i++)
        sizes[i] = 1400;
    check_gso(sizes, 60, 2, 2);
}

static void test_more_than_the_batch(void **state)
{
    (void)state;
    // the batch takes any count, max_datagrams (here 50) at a time: 200 datagrams in 4 calls
    static size_t sizes[MAX_DGRAMS];
    tx_batch = 50;
    for (size_t i = 0; i < MAX_DGRAMS; i++)
        sizes[i] = 64 + i;   // each longer than the one before: no GSO run
    check_gso(sizes, MAX_DGRAMS, MAX_DGRAMS, 0);
    for (size_t i = 0; i < MAX_DGRAMS; i++)
        sizes[i] = 1000;     // runs cut at the batch's end: 4 x 50
    check_gso(sizes, MAX_DGRAMS, 4, 4);
    tx_batch = MAX_DGRAMS;
}

// Two senders, GSO on, receiver with GRO: each sender's datagrams come out in order, with its address.
static void test_gro_split(void **state)
{
    (void)state;
    char err[256];
    struct sockaddr_in a_addr, b_addr, c_addr;
    int a = udp_socket(&a_addr), c = udp_socket(&c_addr), b = udp_socket(&b_addr);
    udp_batch_t *ta = udp_batch_new(64, TX_MAX_LEN, err, sizeof err);
    udp_batch_t *tc = udp_batch_new(64, TX_MAX_LEN, err, sizeof err);
    udp_batch_t *rb = udp_batch_new(8, TX_MAX_LEN, err, sizeof err);
    udp_offloads_t got;
    assert_int_equal(udp_batch_attach(ta, a, ON, NULL, err, sizeof err), 0);
    assert_int_equal(udp_batch_attach(tc, c, ON, NULL, err, sizeof err), 0);
    assert_int_equal(udp_batch_attach(rb, b, ON, &got, err, sizeof err), 0);
    assert_int_equal(got.gro, kernel.gro);
    int v = -1;
    socklen_t len = sizeof v;
    if (kernel.gro) {
        assert_int_equal(getsockopt(b, IPPROTO_UDP, UDP_GRO, &v, &len), 0);
        assert_int_equal(v, 1);
    }

    // a: 20 x 1200 + 300; c: 7 x 999
    static uint8_t abuf[21][1200], cbuf[7][999];
    struct iovec aiov[21], ciov[7];
    for (unsigned i = 0; i < 21; i++) {
        size_t l = i < 20 ? 1200 : 300;
        fill(abuf[i], l, i);
        aiov[i] = (struct iovec){abuf[i], l};
    }
    for (unsigned i = 0; i < 7; i++) {
        fill(cbuf[i], 999, 1000 + i);
        ciov[i] = (struct iovec){cbuf[i], 999};
    }
    size_t sent;
    assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&b_addr, sizeof b_addr, aiov, 21, &sent, err, sizeof err), 0);
    assert_int_equal(sent, 21);
    assert_int_equal(udp_batch_send(tc, (struct sockaddr *)&b_addr, sizeof b_addr, ciov, 7, &sent, err, sizeof err), 0);
    assert_int_equal(sent, 7);

    received_t r;
    receive(rb, b, 28, &r);
    assert_int_equal(r.n, 28);
    unsigned from_a = 0, from_c = 0;
    uint8_t want[1200];
    for (size_t i = 0; i < r.n; i++) {
        if (r.port[i] == ntohs(a_addr.sin_port)) {
            size_t l = from_a < 20 ? 1200 : 300;
            assert_int_equal(r.len[i], l);
            fill(want, l, from_a);
            assert_memory_equal(r.data[i], want, l);
            from_a++;
        } else {
            assert_int_equal(r.port[i], ntohs(c_addr.sin_port));
            assert_int_equal(r.len[i], 999);
            fill(want, 999, 1000 + from_c);
            assert_memory_equal(r.data[i], want, 999);
            from_c++;
        }
    }
    assert_int_equal(from_a, 21);
    assert_int_equal(from_c, 7);
    const udp_batch_stats_t *s = udp_batch_stats(rb);
    print_message("GRO: %llu buffers received for 28 datagrams, %llu of them coalesced\n",
                  (unsigned long long)s->recv_messages, (unsigned long long)s->gro_messages);
    if (kernel.gro && kernel.gso) {
        assert_true(s->gro_messages >= 1);   // the kernel did coalesce, and the batch split
        assert_true(s->recv_messages < 28);
    } else {
        assert_int_equal(s->gro_messages, 0);
        assert_int_equal(s->recv_messages, 28);
    }
    received_free(&r);
    udp_batch_destroy(&ta);
    udp_batch_destroy(&tc);
    udp_batch_destroy(&rb);
    close(a);
    close(b);
    close(c);
}

// The same datagrams with every offload forced off arrive the same, one message per datagram.
static void test_fallback_identical(void **state)
{
    (void)state;
    const size_t sizes[] = {1200, 1200, 1200, 1200, 300, 1400, 1400, 1400, 64, 64, 1000, 1000, 999};
    size_t n = sizeof sizes / sizeof *sizes;
    result_t on = {0}, off = {0};
    run(sizes, n, ON, ON, &on);
    run(sizes, n, OFF, OFF, &off);
    assert_false(off.tx_on.gso || off.rx_on.gro);
    assert_int_equal(off.tx_stats.sent_messages, n);
    assert_int_equal(off.tx_stats.gso_messages, 0);
    assert_int_equal(off.rx_stats.recv_messages, n);
    assert_int_equal(off.rx_stats.gro_messages, 0);
    if (kernel.gso)
        assert_int_equal(on.tx_stats.sent_messages, 4);   // {1200 x4, 300} {1400 x3, 64} {64} {1000, 1000, 999}
    assert_int_equal(on.got.n, off.got.n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(on.got.len[i], off.got.len[i]);
        assert_memory_equal(on.got.data[i], off.got.data[i], on.got.len[i]);
    }
    received_free(&on.got);
    received_free(&off.got);
}

// In a network namespace of its own, a veth pair whose sending end does not checksum (ethtool -K v0 tx off).
// Kernels before 6.11 refuse a GSO send there with EIO (udp_send_skb wanted checksum offload): the batch
// turns GSO off and sends the same datagrams again one per message. Later kernels checksum in software and
// take the GSO send. Either way each datagram leaves whole and in order: a packet socket on the other end
// sees it. Needs root and ip(8) (skipped without); the sockets are made in the namespace, the test runs
// back in the original.
static void test_gso_without_checksum_offload(void **state)
{
    (void)state;
    char err[256];
    int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(orig >= 0);
    if (unshare(CLONE_NEWNET) < 0) {
        print_message("skipped: no network namespace of its own (%s)\n", strerror(errno));
        close(orig);
        skip();
    }
    const char *why = NULL;
    int a = -1, cap = -1;
    if (system("ip link add v0 type veth peer name v1 && ip link set v1 address 02:00:00:00:99:02 up && "
               "ip addr add 10.99.0.1/24 dev v0 && ip link set v0 up && "
               "ip neigh replace 10.99.0.2 lladdr 02:00:00:00:99:02 dev v0") != 0)
        why = "ip(8) could not make the veth pair";
    int ctl = socket(AF_INET, SOCK_DGRAM, 0);
    struct ethtool_value ev = {.cmd = ETHTOOL_STXCSUM, .data = 0};
    struct ifreq ifr = {.ifr_data = (void *)&ev};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "v0");
    if (!why && ioctl(ctl, SIOCETHTOOL, &ifr) < 0)
        why = "v0's tx checksumming cannot be turned off";
    close(ctl);
    if (!why) {
        a = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(4000), .sin_addr.s_addr = htonl(0x0a630001)};
        cap = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
        struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = (int)if_nametoindex("v1")};
        if (a < 0 || bind(a, (struct sockaddr *)&src, sizeof src) < 0 || cap < 0 || bind(cap, (struct sockaddr *)&ll, sizeof ll) < 0)
            why = "no sockets in the namespace";
    }
    assert_int_equal(setns(orig, CLONE_NEWNET), 0);   // back before anything else can fail
    close(orig);
    if (why) {
        print_message("skipped: %s\n", why);
        if (a >= 0)
            close(a);
        if (cap >= 0)
            close(cap);
        skip();
    }

    udp_batch_t *ta = udp_batch_new(64, TX_MAX_LEN, err, sizeof err);
    udp_offloads_t got;
    assert_int_equal(udp_batch_attach(ta, a, ON, &got, err, sizeof err), 0);
    assert_int_equal(got.gso, kernel.gso);
    static uint8_t bufs[10][1200];
    struct iovec iov[10];
    for (unsigned i = 0; i < 10; i++) {
        fill(bufs[i], i < 9 ? 1200 : 300, i);
        iov[i] = (struct iovec){bufs[i], i < 9 ? 1200 : 300};
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(5000), .sin_addr.s_addr = htonl(0x0a630002)};
    size_t sent = 0;
    assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&dst, sizeof dst, iov, 10, &sent, err, sizeof err), 0);
    assert_int_equal(sent, 10);
    const udp_batch_stats_t *s = udp_batch_stats(ta);
    bool fell_back = !udp_batch_offloads(ta).gso;
    print_message("without tx checksum offload: GSO %s after the send (%s), %llu sendmmsg calls, %llu messages\n",
                  fell_back ? "off" : "on", fell_back ? "EIO fallback" : "the kernel checksums GSO sends itself",
                  (unsigned long long)s->sendmmsg_calls, (unsigned long long)s->sent_messages);
    if (fell_back) {
        assert_int_equal(s->sendmmsg_calls, kernel.gso ? 2 : 1);   // the refused GSO send, then without
        assert_int_equal(s->sent_messages, 10);
        assert_int_equal(s->gso_messages, 0);
    } else {
        assert_int_equal(s->sendmmsg_calls, 1);
        assert_int_equal(s->sent_messages, 1);
        assert_int_equal(s->gso_messages, 1);
    }
    // each datagram left v0 whole, in order: IPv4 header, UDP header 4000 -> 5000, the payload
    uint8_t pkt[2048], want[1200];
    for (unsigned i = 0; i < 10; i++) {
        struct pollfd p = {.fd = cap, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 2000), 1);
        ssize_t n = recv(cap, pkt, sizeof pkt, 0);
        assert_true(n >= 28);
        size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, len = i < 9 ? 1200 : 300;
        assert_int_equal(pkt[9], IPPROTO_UDP);
        assert_int_equal((size_t)n, ihl + 8 + len);
        assert_int_equal(pkt[ihl] << 8 | pkt[ihl + 1], 4000);
        assert_int_equal(pkt[ihl + 2] << 8 | pkt[ihl + 3], 5000);
        fill(want, len, i);
        assert_memory_equal(pkt + ihl + 8, want, len);
    }
    // after a fallback GSO stays off for this batch: the next send takes one call, one message per datagram
    unsigned long long calls = s->sendmmsg_calls, msgs = s->sent_messages;
    assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&dst, sizeof dst, iov, 10, &sent, err, sizeof err), 0);
    assert_int_equal(sent, 10);
    assert_int_equal(s->sendmmsg_calls, calls + 1);
    assert_int_equal(s->sent_messages, msgs + (fell_back ? 10 : 1));
    udp_batch_destroy(&ta);
    close(a);
    close(cap);   // the namespace, and the veth pair in it, go with the last socket
}

// Oversize and empty datagrams are refused before anything is sent; so are bad sizes at creation.
static void test_bad_input(void **state)
{
    (void)state;
    char err[256];
    assert_null(udp_batch_new(0, 1500, err, sizeof err));
    assert_null(udp_batch_new(64, UDP_BATCH_MAX_LEN + 1, err, sizeof err));
    assert_non_null(strstr(err, "65507"));
    assert_null(udp_batch_new(64, 0, err, sizeof err));
    udp_batch_destroy(NULL);

    struct sockaddr_in b_addr;
    int a = udp_socket(NULL), b = udp_socket(&b_addr);
    udp_batch_t *ta = udp_batch_new(8, TX_MAX_LEN, err, sizeof err);
    udp_batch_t *rb = udp_batch_new(8, TX_MAX_LEN, err, sizeof err);
    size_t sent = 99;
    static uint8_t buf[TX_MAX_LEN + 1];
    struct iovec iov[3] = {{buf, 1200}, {buf, TX_MAX_LEN + 1}, {buf, 1200}};
    // before attach
    assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&b_addr, sizeof b_addr, iov, 1, &sent, err, sizeof err), -1);
    assert_non_null(strstr(err, "attached"));
    const udp_datagram_t *d;
    size_t n;
    assert_int_equal(udp_batch_recv(rb, &d, &n, err, sizeof err), -1);
    assert_int_equal(n, 0);

    assert_int_equal(udp_batch_attach(ta, a, ON, NULL, err, sizeof err), 0);
    assert_int_equal(udp_batch_attach(rb, b, ON, NULL, err, sizeof err), 0);
    assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&b_addr, sizeof b_addr, iov, 3, &sent, err, sizeof err), -1);
    assert_int_equal(sent, 0);
    print_message("oversize: %s\n", err);
    assert_non_null(strstr(err, "datagram 2 of 3"));
    assert_non_null(strstr(err, "1501 bytes"));
    iov[1].iov_len = 0;
    assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&b_addr, sizeof b_addr, iov, 3, &sent, err, sizeof err), -1);
    assert_non_null(strstr(err, "0 bytes"));
    assert_int_equal(udp_batch_stats(ta)->sendmmsg_calls, 0);
    received_t r;
    receive(rb, b, 0, &r);   // nothing arrived
    assert_int_equal(r.n, 0);

    // a send error from the kernel comes back with the destination: IPv6 address on an IPv4 socket
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    iov[1].iov_len = 1200;
    assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&v6, sizeof v6, iov, 3, &sent, err, sizeof err), -1);
    print_message("kernel error: %s\n", err);
    assert_non_null(strstr(err, "[::1]:9"));
    assert_int_equal(sent, 0);

    // a datagram larger than the receiver's max_len is dropped and counted, the next one still arrives: in
    // a buffer of max_len bytes (no GRO), and in a GRO buffer (larger) all the same
    for (int gro = 0; gro <= 1; gro++) {
        udp_batch_t *small = udp_batch_new(8, 100, err, sizeof err);
        assert_int_equal(udp_batch_attach(small, b, gro ? ON : OFF, NULL, err, sizeof err), 0);
        struct iovec three[3] = {{buf, 1200}, {buf, 1200}, {buf, 100}};
        assert_int_equal(udp_batch_send(ta, (struct sockaddr *)&b_addr, sizeof b_addr, three, 3, &sent, err, sizeof err), 0);
        receive(small, b, 1, &r);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.len[0], 100);
        assert_int_equal(udp_batch_stats(small)->recv_truncated, 2);
        if (gro && kernel.gro && kernel.gso)   // the three came in one buffer: the 100 is split out of it
            assert_int_equal(udp_batch_stats(small)->gro_messages, 1);
        received_free(&r);
        udp_batch_destroy(&small);
    }

    udp_batch_destroy(&ta);
    udp_batch_destroy(&rb);
    close(a);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe),   // first: the others read what it found
        cmocka_unit_test(test_gso_equal_sizes),
        cmocka_unit_test(test_gso_short_last),
        cmocka_unit_test(test_gso_mixed_sizes),
        cmocka_unit_test(test_gso_limits),
        cmocka_unit_test(test_more_than_the_batch),
        cmocka_unit_test(test_gro_split),
        cmocka_unit_test(test_fallback_identical),
        cmocka_unit_test(test_gso_without_checksum_offload),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
