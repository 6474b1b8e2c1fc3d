// test_fd_pass.c — lib/fd_pass over real unix sockets in /tmp: a pipe's write end passed with a tag and
// used across; bad input refused with no fd leaked (no fd, two fds, an oversize tag, a peer that closes);
// the socket file made 0600, a stale one replaced, anything else at the path left alone.
#include <dirent.h>
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fd_pass.h"

typedef struct {
    char dir[64];
    char path[128];
    int listen_fd, client, server;   // server: the accepted end
} pair_t;

// The number of fds this process has open.
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;   // the directory's own fd
}

static int setup(void **state)
{
    pair_t *p = calloc(1, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/weft-fdpass.XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->path, sizeof p->path, "%s/device.tun", p->dir);
    char err[256] = "";
    p->listen_fd = fd_pass_listen(p->path, err, sizeof err);
    assert_true(p->listen_fd >= 0);
    p->client = fd_pass_connect(p->path, err, sizeof err);
    assert_true(p->client >= 0);
    struct pollfd pfd = {.fd = p->listen_fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    p->server = fd_pass_accept(p->listen_fd, err, sizeof err);
    assert_true(p->server >= 0);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    pair_t *p = *state;
    if (p->client >= 0)
        close(p->client);
    close(p->server);
    close(p->listen_fd);
    unlink(p->path);
    rmdir(p->dir);
    free(p);
    return 0;
}

// Sends data with count copies of fd attached, as a peer that does not use fd_pass_send would.
static void raw_send(int sock, const void *data, size_t len, int fd, int count)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (count > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)count * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)count * sizeof(int));
        for (int i = 0; i < count; i++)
            memcpy(CMSG_DATA(c) + (size_t)i * sizeof(int), &fd, sizeof fd);
    }
    assert_int_equal(sendmsg(sock, &msg, 0), (ssize_t)len);
}

// Receives on the accepted end and expects a refusal whose message holds `want`, with no fd left open.
static void expect_refused(pair_t *p, const char *want)
{
    int before = open_fds();
    int fd = 99;
    char tag[64], err[256] = "";
    assert_int_equal(fd_pass_recv(p->server, &fd, tag, sizeof tag, err, sizeof err), -1);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(err, want));
    assert_int_equal(open_fds(), before);
}

static void test_pipe_passed_and_used(void **state)
{
    pair_t *p = *state;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    char err[256] = "";
    assert_int_equal(fd_pass_send(p->client, pipe_fds[1], "pipe w vnet_hdr=0 mtu=1400", err, sizeof err), 0);
    close(pipe_fds[1]);   // the receiver's copy is now the only write end
    int fd = -1;
    char tag[FD_PASS_TAG_MAX + 1];
    assert_true(fd_pass_recv(p->server, &fd, tag, sizeof tag, err, sizeof err) >= 0);
    assert_string_equal(tag, "pipe w vnet_hdr=0 mtu=1400");
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(fd, "across", 6), 6);
    close(fd);
    char buf[16] = "";
    assert_int_equal(read(pipe_fds[0], buf, sizeof buf), 6);   // then EOF: no write end left open
    assert_memory_equal(buf, "across", 6);
    assert_int_equal(read(pipe_fds[0], buf, sizeof buf), 0);
    close(pipe_fds[0]);
}

static void test_two_messages_in_a_row(void **state)
{
    pair_t *p = *state;
    char err[256] = "", tag[64];
    int a = dup(0), b = dup(0), fd = -1;
    assert_int_equal(fd_pass_send(p->client, a, "first", err, sizeof err), 0);
    assert_int_equal(fd_pass_send(p->client, b, "second", err, sizeof err), 0);
    assert_true(fd_pass_recv(p->server, &fd, tag, sizeof tag, err, sizeof err) >= 0);
    assert_string_equal(tag, "first");
    close(fd);
    assert_true(fd_pass_recv(p->server, &fd, tag, sizeof tag, err, sizeof err) >= 0);
    assert_string_equal(tag, "second");
    close(fd);
    close(a);
    close(b);
}

static void test_no_fd_refused(void **state)
{
    pair_t *p = *state;
    raw_send(p->client, "refused: busy\n", 14, -1, 0);
    expect_refused(p, "no fd (it said 'refused: busy')");
}

static void test_two_fds_refused_and_closed(void **state)
{
    pair_t *p = *state;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    raw_send(p->client, "two\n", 4, pipe_fds[1], 2);
    close(pipe_fds[1]);
    expect_refused(p, "more than one fd");
    char c;   // both copies were closed by the receiver: the pipe has no writer left
    assert_int_equal(read(pipe_fds[0], &c, 1), 0);
    close(pipe_fds[0]);
}

static void test_oversize_tag(void **state)
{
    pair_t *p = *state;
    char big[FD_PASS_TAG_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char err[256] = "";
    assert_int_equal(fd_pass_send(p->client, 0, big, err, sizeof err), -1);   // the sender refuses it
    assert_non_null(strstr(err, "bad tag"));
    assert_int_equal(fd_pass_send(p->client, 0, "two\nlines", err, sizeof err), -1);
    assert_int_equal(fd_pass_send(p->client, 0, "", err, sizeof err), -1);
    char line[600];   // a peer that sends one anyway
    memset(line, 'y', sizeof line);
    line[sizeof line - 1] = '\n';
    raw_send(p->client, line, sizeof line, 0, 1);
    expect_refused(p, "too long");
}

static void test_tag_longer_than_buffer(void **state)
{
    pair_t *p = *state;
    char err[256] = "", tag[4];
    int fd = -1, before = open_fds();
    assert_int_equal(fd_pass_send(p->client, 0, "longer", err, sizeof err), 0);
    assert_int_equal(fd_pass_recv(p->server, &fd, tag, sizeof tag, err, sizeof err), -1);
    assert_non_null(strstr(err, "caller's buffer"));
    assert_int_equal(open_fds(), before);
}

static void test_nul_in_tag_refused(void **state)
{
    pair_t *p = *state;
    raw_send(p->client, "tun\0x\n", 6, 0, 1);
    expect_refused(p, "NUL");
}

static void test_peer_closes(void **state)
{
    pair_t *p = *state;
    close(p->client);
    p->client = -1;
    expect_refused(p, "closed");
}

static void test_peer_closes_mid_tag(void **state)
{
    pair_t *p = *state;
    raw_send(p->client, "tun wef", 7, 0, 1);   // no newline, then gone
    close(p->client);
    p->client = -1;
    expect_refused(p, "newline");
}

static void test_listen_path_rules(void **state)
{
    (void)state;
    char dir[] = "/tmp/weft-fdpass.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/s", dir);
    int a = fd_pass_listen(path, err, sizeof err);
    assert_true(a >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    close(a);   // the file stays behind, stale: a new listener replaces it
    int b = fd_pass_listen(path, err, sizeof err);
    assert_true(b >= 0);
    close(b);
    unlink(path);
    int f = open(path, O_CREAT | O_WRONLY, 0600);   // a regular file is not removed
    close(f);
    assert_int_equal(fd_pass_listen(path, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a socket"));
    assert_int_equal(stat(path, &st), 0);
    unlink(path);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(fd_pass_listen(longpath, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
    assert_int_equal(fd_pass_connect(path, err, sizeof err), -1);   // nothing listens there
    assert_non_null(strstr(err, "cannot connect"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipe_passed_and_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_messages_in_a_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_fd_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_fds_refused_and_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_longer_than_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_tag_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_closes_mid_tag, setup, teardown),
        cmocka_unit_test(test_listen_path_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
