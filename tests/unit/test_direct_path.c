// test_direct_path.c — crypto's direct paths (services/crypto/direct_path.c) over real sockets on
// 127.0.0.1: a socket that plays libnice's (the pair's socket nat shares), the peer's socket, and a
// stranger's. What nat hands over opens a steering socket beside the shared one: crypto's datagrams leave
// from the shared port, the peer's transport datagrams come to crypto and everything else to the shared
// socket; a stranger's datagrams are dropped; withdrawals, nat restarts, silence and bad messages close
// or are refused as the header says.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "direct_path.h"
#include "udp_steer.h"

typedef struct {
    service_t *svc;
    direct_paths_t *paths;
    int shared, peer, stranger;     // plain UDP sockets on 127.0.0.1
    char shared_text[64], peer_text[64];
    uint8_t peer_id[32];
    // what the receive callback saw
    size_t got;
    uint8_t last[2048];
    size_t last_len;
    uint8_t last_peer[32];
} fixture_t;

static int udp_socket(char text[64])
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (text)
        snprintf(text, 64, "127.0.0.1:%u", ntohs(a.sin_port));
    return fd;
}

static uint64_t counter(fixture_t *f, const char *name)
{
    return *service_counter(f->svc, name);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->svc = calloc(1, sizeof *f->svc);
    f->paths = direct_paths_new(f->svc, 1500, true, false);
    assert_non_null(f->paths);
    f->shared = udp_socket(f->shared_text);
    f->peer = udp_socket(f->peer_text);
    f->stranger = udp_socket(NULL);
    char err[200];
    assert_int_equal(udp_steer_share(f->shared, err, sizeof err), 0);
    memset(f->peer_id, 0x42, sizeof f->peer_id);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    direct_paths_destroy(&f->paths);
    assert_null(f->paths);
    close(f->shared);
    close(f->peer);
    close(f->stranger);
    free(f->svc);
    free(f);
    return 0;
}

static void hand_over(fixture_t *f, const char *local, const char *remote, int64_t now)
{
    Weft__DirectPath msg = WEFT__DIRECT_PATH__INIT;
    msg.peer.data = f->peer_id;
    msg.peer.len = sizeof f->peer_id;
    msg.local = (char *)local;
    msg.remote = (char *)remote;
    direct_paths_apply(f->paths, &msg, now);
}

static void withdraw(fixture_t *f, bool all)
{
    Weft__DirectPath msg = WEFT__DIRECT_PATH__INIT;
    if (!all) {
        msg.peer.data = f->peer_id;
        msg.peer.len = sizeof f->peer_id;
    }
    msg.withdraw = true;
    msg.withdraw_all = all;
    direct_paths_apply(f->paths, &msg, 0);
}

// A transport datagram (type 4, three zero bytes) of len bytes whose body is `fill`.
static size_t transport(uint8_t *buf, size_t len, uint8_t fill)
{
    memset(buf, fill, len);
    buf[0] = 4;
    buf[1] = buf[2] = buf[3] = 0;
    return len;
}

static void send_to_shared(fixture_t *f, int from, const uint8_t *buf, size_t len)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    to.sin_port = htons((uint16_t)atoi(strrchr(f->shared_text, ':') + 1));
    assert_int_equal(sendto(from, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
}

static void on_datagram(void *ctx, const uint8_t peer[32], const uint8_t *datagram, size_t len)
{
    fixture_t *f = ctx;
    f->got++;
    memcpy(f->last_peer, peer, 32);
    f->last_len = len < sizeof f->last ? len : sizeof f->last;
    memcpy(f->last, datagram, f->last_len);
}

// Waits for the paths' fd, then receives.
static void receive(fixture_t *f)
{
    struct pollfd p = {.fd = direct_paths_fd(f->paths), .events = POLLIN};
    if (poll(&p, 1, 200) == 1)
        direct_paths_receive(f->paths, on_datagram, f);
}

// Bytes waiting on fd (0 when none within 200 ms).
static ssize_t read_one(int fd, uint8_t *buf, size_t len, struct sockaddr_in *from)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 200) != 1)
        return 0;
    socklen_t from_len = sizeof *from;
    return recvfrom(fd, buf, len, 0, (struct sockaddr *)from, &from_len);
}

static void test_send_and_receive_on_the_shared_port(void **state)
{
    fixture_t *f = *state;
    hand_over(f, f->shared_text, f->peer_text, 0);
    assert_int_equal(direct_paths_count(f->paths), 1);
    assert_true(direct_paths_has(f->paths, f->peer_id));
    assert_int_equal(counter(f, "direct_paths_opened"), 1);

    // crypto -> peer: three datagrams of 1200 bytes and a short one, from the shared port
    uint8_t out[4][1200];
    struct iovec iov[4];
    for (int i = 0; i < 4; i++)
        iov[i] = (struct iovec){out[i], transport(out[i], i == 3 ? 100 : 1200, (uint8_t)(0x10 + i))};
    assert_int_equal(direct_paths_send(f->paths, f->peer_id, iov, 4), 4);
    for (int i = 0; i < 4; i++) {
        uint8_t buf[2048];
        struct sockaddr_in from;
        ssize_t n = read_one(f->peer, buf, sizeof buf, &from);
        assert_int_equal(n, i == 3 ? 100 : 1200);
        assert_int_equal(buf[5], 0x10 + i);
        char text[64];
        snprintf(text, sizeof text, "127.0.0.1:%u", ntohs(from.sin_port));
        assert_string_equal(text, f->shared_text);
    }
    assert_int_equal(counter(f, "direct_datagrams_out"), 4);

    // peer -> crypto: a transport datagram comes to crypto, tagged with the peer
    uint8_t in[64];
    send_to_shared(f, f->peer, in, transport(in, 64, 0x77));
    receive(f);
    assert_int_equal(f->got, 1);
    assert_int_equal(f->last_len, 64);
    assert_int_equal(f->last[10], 0x77);
    assert_memory_equal(f->last_peer, f->peer_id, 32);
    // ...and a STUN-like datagram goes to the shared socket (libnice's), not to crypto
    uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    send_to_shared(f, f->peer, stun, sizeof stun);
    uint8_t buf[2048];
    struct sockaddr_in from;
    assert_int_equal(read_one(f->shared, buf, sizeof buf, &from), (ssize_t)sizeof stun);
    receive(f);
    assert_int_equal(f->got, 1);
    assert_int_equal(counter(f, "direct_datagrams_in"), 1);
}

static void test_a_stranger_is_dropped(void **state)
{
    fixture_t *f = *state;
    hand_over(f, f->shared_text, f->peer_text, 0);
    uint8_t in[64];
    send_to_shared(f, f->stranger, in, transport(in, 64, 0x99));
    receive(f);
    assert_int_equal(f->got, 0);
    assert_int_equal(counter(f, "direct_drop_source"), 1);
}

static void test_withdraw_hands_traffic_back(void **state)
{
    fixture_t *f = *state;
    hand_over(f, f->shared_text, f->peer_text, 0);
    withdraw(f, false);
    assert_int_equal(direct_paths_count(f->paths), 0);
    assert_false(direct_paths_has(f->paths, f->peer_id));
    assert_int_equal(counter(f, "direct_paths_closed"), 1);
    // the peer's transport datagrams go to the shared socket again (nat's path)
    uint8_t in[64], buf[2048];
    struct sockaddr_in from;
    send_to_shared(f, f->peer, in, transport(in, 64, 0x55));
    assert_int_equal(read_one(f->shared, buf, sizeof buf, &from), 64);
    // sending for a peer without a path sends nothing and counts it
    struct iovec iov = {in, 64};
    assert_int_equal(direct_paths_send(f->paths, f->peer_id, &iov, 1), 0);
    assert_int_equal(counter(f, "direct_drop_send"), 1);
    // a second hand-over takes them again; withdraw_all (nat restarted) closes it
    hand_over(f, f->shared_text, f->peer_text, 0);
    assert_int_equal(direct_paths_count(f->paths), 1);
    withdraw(f, true);
    assert_int_equal(direct_paths_count(f->paths), 0);
}

static void test_repeats_refresh_and_silence_closes(void **state)
{
    fixture_t *f = *state;
    hand_over(f, f->shared_text, f->peer_text, 1000);
    hand_over(f, f->shared_text, f->peer_text, 3000);      // nat says it again: the same path, kept
    assert_int_equal(counter(f, "direct_paths_opened"), 1);
    direct_paths_tick(f->paths, 3000 + DIRECT_PATH_TTL_MS - 1);
    assert_int_equal(direct_paths_count(f->paths), 1);
    direct_paths_tick(f->paths, 3000 + DIRECT_PATH_TTL_MS);
    assert_int_equal(direct_paths_count(f->paths), 0);
}

static void test_another_pair_replaces_the_path(void **state)
{
    fixture_t *f = *state;
    hand_over(f, f->shared_text, f->peer_text, 0);
    char other[64];
    int second = udp_socket(other);
    char err[200];
    assert_int_equal(udp_steer_share(second, err, sizeof err), 0);
    hand_over(f, other, f->peer_text, 0);
    assert_int_equal(direct_paths_count(f->paths), 1);
    assert_int_equal(counter(f, "direct_paths_opened"), 2);
    assert_int_equal(counter(f, "direct_paths_closed"), 1);
    direct_paths_destroy(&f->paths);   // closes the steering socket before the shared one goes
    f->paths = direct_paths_new(f->svc, 1500, false, false);
    close(second);
}

static void test_bad_messages_are_refused(void **state)
{
    fixture_t *f = *state;
    Weft__DirectPath msg = WEFT__DIRECT_PATH__INIT;
    uint8_t short_id[5] = {0};
    msg.peer.data = short_id;
    msg.peer.len = sizeof short_id;
    msg.local = f->shared_text;
    msg.remote = f->peer_text;
    direct_paths_apply(f->paths, &msg, 0);
    assert_int_equal(counter(f, "direct_bad_messages"), 1);
    hand_over(f, "", f->peer_text, 0);
    assert_int_equal(counter(f, "direct_bad_messages"), 2);
    hand_over(f, "not an address", f->peer_text, 0);
    hand_over(f, f->shared_text, "10.0.0.1:99999", 0);
    hand_over(f, "[::1", f->peer_text, 0);
    assert_int_equal(counter(f, "direct_open_failed"), 3);
    // a port nobody shared: the steering socket cannot join it
    char lonely[64];
    int fd = udp_socket(lonely);
    hand_over(f, lonely, f->peer_text, 0);
    assert_int_equal(counter(f, "direct_open_failed"), 4);
    assert_int_equal(direct_paths_count(f->paths), 0);
    close(fd);
    withdraw(f, false);   // nothing to withdraw: fine
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_and_receive_on_the_shared_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stranger_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_hands_traffic_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeats_refresh_and_silence_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_pair_replaces_the_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_messages_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
