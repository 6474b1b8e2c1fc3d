// test_stun_client.c — lib/stun_client.c over loopback: four "servers" on 127.0.0.1, served by a thread of
// this test (one answers after its first request is retransmitted, one never answers, one answers garbage,
// one answers with another transaction's id), asked all at once from four sockets. Each must end as it
// should (answered with the mapped address, silent with its retransmits counted, garbage, foreign) within
// one timeout, not four; a CHANGE-REQUEST must reach the server; the hairpin mode must take our own request;
// the stop flag must end a transaction early; an unsendable one must say why. Loopback only.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stun_client.h"

enum { GOOD, SILENT, LIAR, FOREIGN, SERVERS };

typedef struct {
    int fd[SERVERS];
    struct sockaddr_in addr[SERVERS];
    int good_requests;          // requests the good server saw (it answers the second)
    uint8_t last_change_flags;  // CHANGE-REQUEST of the last request to the good server
    atomic_bool stop;
    pthread_t thread;
} servers_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void serve_one(servers_t *s, int which)
{
    uint8_t buf[STUN_MAX_MESSAGE], out[STUN_MAX_MESSAGE];
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(s->fd[which], buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
    stun_message_t req;
    if (n <= 0 || stun_decode(buf, (size_t)n, &req, NULL, 0) != 0 || req.type != STUN_BINDING_REQUEST)
        return;
    stun_addr_t mapped;
    stun_addr_from_sockaddr(&mapped, &from);
    size_t len = 0;
    if (which == GOOD) {
        s->last_change_flags = req.change_flags;
        if (++s->good_requests < 2)
            return;   // the first one is "lost": the answer comes to the retransmit
        len = stun_build_binding_response(req.txid, &mapped, NULL, "test", out, sizeof out);
    } else if (which == LIAR) {
        memcpy(out, "\x01\x01\x00\x08not-stun-at-all", 19);
        len = 19;
    } else if (which == FOREIGN) {
        uint8_t other[STUN_TXID_LEN];
        stun_new_txid(other);
        len = stun_build_binding_response(other, &mapped, NULL, "test", out, sizeof out);
    }
    if (len)
        sendto(s->fd[which], out, len, 0, (struct sockaddr *)&from, from_len);
}

static void *serve(void *arg)
{
    servers_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd[SERVERS];
        for (int i = 0; i < SERVERS; i++)
            pfd[i] = (struct pollfd){.fd = s->fd[i], .events = POLLIN};
        if (poll(pfd, SERVERS, 50) <= 0)
            continue;
        for (int i = 0; i < SERVERS; i++)
            if (pfd[i].revents & POLLIN)
                serve_one(s, i);
    }
    return NULL;
}

static int setup(void **state)
{
    static servers_t s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < SERVERS; i++) {
        s.fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
        s.addr[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof s.addr[i];
        if (s.fd[i] < 0 || bind(s.fd[i], (struct sockaddr *)&s.addr[i], sizeof s.addr[i]) != 0 ||
            getsockname(s.fd[i], (struct sockaddr *)&s.addr[i], &len) != 0)
            return -1;
    }
    if (pthread_create(&s.thread, NULL, serve, &s) != 0)
        return -1;
    *state = &s;
    return 0;
}

static int teardown(void **state)
{
    servers_t *s = *state;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < SERVERS; i++)
        close(s->fd[i]);
    return 0;
}

static void test_parallel(void **state)
{
    servers_t *s = *state;
    s->good_requests = 0;
    stun_socket_t sockets[SERVERS];
    stun_transaction_t t[SERVERS];
    memset(t, 0, sizeof t);
    char err[128];
    for (int i = 0; i < SERVERS; i++) {
        assert_int_equal(stun_socket_open(&sockets[i], AF_INET, err, sizeof err), 0);
        t[i].socket = &sockets[i];
        memcpy(&t[i].to, &s->addr[i], sizeof s->addr[i]);
        t[i].to_len = sizeof s->addr[i];
    }
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    opt.timeout_ms = 700;   // requests at 0, 100, 300 ms; the next would be at 700
    opt.change_flags = STUN_CHANGE_PORT;
    int64_t started = now_ms();
    stun_client_run(t, SERVERS, &opt);
    int64_t took = now_ms() - started;
    assert_true(took >= 650 && took < 1400);   // all at once: one timeout, not four

    assert_int_equal(t[GOOD].status, STUN_CLIENT_ANSWERED);
    assert_int_equal(s->good_requests, 2);   // answered the retransmit, then no more requests
    assert_int_equal(s->last_change_flags, STUN_CHANGE_PORT);
    assert_int_equal(t[GOOD].msg.type, STUN_BINDING_SUCCESS);
    const stun_addr_t *mapped = stun_mapped_address(&t[GOOD].msg);
    assert_non_null(mapped);
    assert_int_equal(mapped->port, sockets[GOOD].port);
    assert_true(t[GOOD].rtt_ms >= 90);
    assert_int_equal(((struct sockaddr_in *)&t[GOOD].from)->sin_port, s->addr[GOOD].sin_port);

    char why[256];
    assert_int_equal(t[SILENT].status, STUN_CLIENT_SILENT);
    assert_int_equal(t[SILENT].requests, 3);
    stun_transaction_why_silent(&t[SILENT], why, sizeof why);
    assert_string_equal(why, "no answer in 700 ms (3 requests)");

    assert_int_equal(t[LIAR].status, STUN_CLIENT_SILENT);
    assert_int_equal(t[LIAR].garbage, 3);
    assert_true(t[LIAR].garbage_not_stun);
    assert_int_equal(t[LIAR].garbage_len, 19);
    stun_transaction_why_silent(&t[LIAR], why, sizeof why);
    assert_non_null(strstr(why, "3 invalid datagram(s) (last: too short for a STUN header"));

    assert_int_equal(t[FOREIGN].status, STUN_CLIENT_SILENT);
    assert_int_equal(t[FOREIGN].foreign, 3);
    stun_transaction_why_silent(&t[FOREIGN], why, sizeof why);
    assert_non_null(strstr(why, "3 response(s) with a wrong transaction id"));
    for (int i = 0; i < SERVERS; i++)
        stun_socket_close(&sockets[i]);
}

// The hairpin test's mode: a request to our own socket comes back as a request with our transaction id.
static void test_own_request(void **state)
{
    (void)state;
    stun_socket_t sock;
    char err[128];
    assert_int_equal(stun_socket_open(&sock, AF_INET, err, sizeof err), 0);
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(sock.port)};
    self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    opt.want_request = true;
    stun_transaction_t t;
    assert_int_equal(stun_client_binding(&sock, (struct sockaddr *)&self, sizeof self, &opt, &t), STUN_CLIENT_ANSWERED);
    assert_int_equal(t.msg.type, STUN_BINDING_REQUEST);
    assert_memory_equal(t.msg.txid, t.txid, STUN_TXID_LEN);
    assert_string_equal(t.msg.software, "weft");
    assert_true(t.msg.has_fingerprint);
    // without want_request the same datagram is not an answer
    opt.want_request = false;
    opt.timeout_ms = 150;
    assert_int_equal(stun_client_binding(&sock, (struct sockaddr *)&self, sizeof self, &opt, &t), STUN_CLIENT_SILENT);
    assert_true(t.garbage >= 1);
    assert_non_null(strstr(t.garbage_reason, "not a Binding response"));
    stun_socket_close(&sock);
}

static void test_stop_and_unsent(void **state)
{
    servers_t *s = *state;
    stun_socket_t sock;
    char err[128];
    assert_int_equal(stun_socket_open(&sock, AF_INET, err, sizeof err), 0);
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    opt.timeout_ms = 5000;
    _Atomic bool stop = true;   // set before: the transaction ends within one look at it
    opt.stop = &stop;
    stun_transaction_t t;
    int64_t started = now_ms();
    assert_int_equal(stun_client_binding(&sock, (struct sockaddr *)&s->addr[SILENT], sizeof s->addr[SILENT], &opt, &t),
                     STUN_CLIENT_SILENT);
    assert_true(now_ms() - started < 1000);
    // an IPv6 destination from an IPv4 socket cannot be sent to
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(3478), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    opt.stop = NULL;
    assert_int_equal(stun_client_binding(&sock, (struct sockaddr *)&v6, sizeof v6, &opt, &t), STUN_CLIENT_UNSENT);
    char why[256];
    stun_transaction_why_silent(&t, why, sizeof why);
    assert_non_null(strstr(why, "cannot send: "));
    stun_socket_close(&sock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_own_request),
        cmocka_unit_test(test_stop_and_unsent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
