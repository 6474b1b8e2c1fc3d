// test_tun_lend.c — services/device/tun_lend.c over a real unix socket in /tmp, with a pipe standing for
// the TUN fd: "tun?" (whole or in pieces) lends it with the tag, a closed connection gives it back, and a
// second client, an unknown request, an overlong line and data after the lend are refused or end the lend.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fd_pass.h"
#include "tun_lend.h"

#define TAG "tun weft0 vnet_hdr=10 offload=csum,tso4,tso6 mtu=1400"

typedef struct {
    char dir[64];
    char path[128];
    tun_lend_t *lend;
    int pipe_fds[2];   // [1] stands for the TUN fd
    int client;        // our end of the connection
} lab_t;

static void wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
}

// A client connects; the lender accepts it. Returns our end.
static int connect_client(lab_t *lab, bool *refused)
{
    char err[256];
    int fd = fd_pass_connect(lab->path, err, sizeof err);
    assert_true(fd >= 0);
    wait_readable(tun_lend_listen_fd(lab->lend));
    tun_lend_accept(lab->lend, refused);
    return fd;
}

// The lender handles what our client sent. Returns its event.
static tun_lend_event_t serve(lab_t *lab, bool *was_lent)
{
    wait_readable(tun_lend_client_fd(lab->lend));
    return tun_lend_on_client(lab->lend, lab->pipe_fds[1], TAG, was_lent);
}

// What the lender said on fd before closing it (a line), read until EOF.
static void expect_said(int fd, const char *want)
{
    char buf[256] = "";
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    assert_non_null(strstr(buf, want));
}

static int setup(void **state)
{
    lab_t *lab = calloc(1, sizeof *lab);
    snprintf(lab->dir, sizeof lab->dir, "/tmp/weft-tunlend.XXXXXX");
    assert_non_null(mkdtemp(lab->dir));
    snprintf(lab->path, sizeof lab->path, "%s/device.tun", lab->dir);
    char err[256] = "";
    lab->lend = tun_lend_new(lab->path, err, sizeof err);
    assert_non_null(lab->lend);
    assert_int_equal(pipe(lab->pipe_fds), 0);
    bool refused = true;
    lab->client = connect_client(lab, &refused);
    assert_false(refused);
    assert_true(tun_lend_client_fd(lab->lend) >= 0);
    *state = lab;
    return 0;
}

static int teardown(void **state)
{
    lab_t *lab = *state;
    if (lab->client >= 0)
        close(lab->client);
    tun_lend_destroy(&lab->lend);
    assert_int_equal(access(lab->path, F_OK), -1);   // the socket file went with it
    close(lab->pipe_fds[0]);
    close(lab->pipe_fds[1]);
    rmdir(lab->dir);
    free(lab);
    return 0;
}

// Asks for the fd on our client and checks the answer: the tag, and a fd for the pipe's write end.
static void borrow(lab_t *lab)
{
    bool was_lent = true;
    assert_int_equal(send(lab->client, "tun?\n", 5, 0), 5);
    assert_int_equal(serve(lab, &was_lent), TUN_LEND_LENT);
    assert_true(tun_lend_is_lent(lab->lend));
    int fd = -1;
    char tag[FD_PASS_TAG_MAX + 1], err[256];
    assert_true(fd_pass_recv(lab->client, &fd, tag, sizeof tag, err, sizeof err) >= 0);
    assert_string_equal(tag, TAG);
    assert_int_equal(write(fd, "p", 1), 1);   // the borrowed fd is the "TUN"
    char c;
    assert_int_equal(read(lab->pipe_fds[0], &c, 1), 1);
    close(fd);
}

static void test_lend_and_take_back(void **state)
{
    lab_t *lab = *state;
    borrow(lab);
    close(lab->client);   // the borrower exits
    lab->client = -1;
    bool was_lent = false;
    assert_int_equal(serve(lab, &was_lent), TUN_LEND_ENDED);
    assert_true(was_lent);
    assert_false(tun_lend_is_lent(lab->lend));
    assert_int_equal(tun_lend_client_fd(lab->lend), -1);
    bool refused = true;   // and the next borrower is welcome
    lab->client = connect_client(lab, &refused);
    assert_false(refused);
    borrow(lab);
}

static void test_request_in_pieces(void **state)
{
    lab_t *lab = *state;
    bool was_lent;
    assert_int_equal(send(lab->client, "tu", 2, 0), 2);
    assert_int_equal(serve(lab, &was_lent), TUN_LEND_NOTHING);
    assert_false(tun_lend_is_lent(lab->lend));
    assert_int_equal(send(lab->client, "n?\n", 3, 0), 3);
    assert_int_equal(serve(lab, &was_lent), TUN_LEND_LENT);
    int fd = -1;
    char tag[FD_PASS_TAG_MAX + 1], err[256];
    assert_true(fd_pass_recv(lab->client, &fd, tag, sizeof tag, err, sizeof err) >= 0);
    assert_string_equal(tag, TAG);
    close(fd);
}

static void test_second_client_refused(void **state)
{
    lab_t *lab = *state;
    borrow(lab);
    bool refused = false;
    int second = connect_client(lab, &refused);
    assert_true(refused);
    expect_said(second, "refused: the TUN is lent to another client");
    close(second);
    assert_true(tun_lend_is_lent(lab->lend));   // the first keeps it
}

static void test_unknown_request(void **state)
{
    lab_t *lab = *state;
    bool was_lent = true;
    assert_int_equal(send(lab->client, "tap?\n", 5, 0), 5);
    assert_int_equal(serve(lab, &was_lent), TUN_LEND_ENDED);
    assert_false(was_lent);
    expect_said(lab->client, "refused: unknown request");
}

static void test_two_requests_in_one_read(void **state)
{
    lab_t *lab = *state;
    bool was_lent;
    assert_int_equal(send(lab->client, "tun?\ntun?\n", 10, 0), 10);
    assert_int_equal(serve(lab, &was_lent), TUN_LEND_ENDED);
    expect_said(lab->client, "refused: unknown request");
}

static void test_overlong_line(void **state)
{
    lab_t *lab = *state;
    char junk[100];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(send(lab->client, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    bool was_lent;
    tun_lend_event_t ev;
    while ((ev = serve(lab, &was_lent)) == TUN_LEND_NOTHING) {
    }
    assert_int_equal(ev, TUN_LEND_ENDED);
    expect_said(lab->client, "refused: request line too long");
}

static void test_data_after_lend_ends_it(void **state)
{
    lab_t *lab = *state;
    borrow(lab);
    assert_int_equal(send(lab->client, "more\n", 5, 0), 5);
    bool was_lent = false;
    assert_int_equal(serve(lab, &was_lent), TUN_LEND_ENDED);
    assert_true(was_lent);
    assert_false(tun_lend_is_lent(lab->lend));
}

static void test_drop(void **state)
{
    lab_t *lab = *state;
    borrow(lab);
    tun_lend_drop(lab->lend);
    assert_false(tun_lend_is_lent(lab->lend));
    assert_int_equal(tun_lend_client_fd(lab->lend), -1);
    char c;
    assert_int_equal(read(lab->client, &c, 1), 0);   // our end sees the close
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lend_and_take_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_client_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_requests_in_one_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_after_lend_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
