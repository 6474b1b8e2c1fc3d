// fd_pass.c — see fd_pass.h.
#define _GNU_SOURCE   // accept4, MSG_CMSG_CLOEXEC
#include "fd_pass.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define FD_PASS_MAX_FDS 8   // room for a peer that sends several: all are taken in, then closed

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || !err_len)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, err_len, fmt, args);
    va_end(args);
}

// Fills addr with path. Returns 0, or -1 with err when the path does not fit.
static int unix_address(struct sockaddr_un *addr, const char *path, char *err, size_t err_len)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (!path || !path[0] || strlen(path) >= sizeof addr->sun_path) {
        set_err(err, err_len, "unix socket path '%s' is empty or longer than %zu characters", path ? path : "",
                sizeof addr->sun_path - 1);
        return -1;
    }
    memcpy(addr->sun_path, path, strlen(path));
    return 0;
}

int fd_pass_listen(const char *path, char *err, size_t err_len)
{
    struct sockaddr_un addr;
    if (unix_address(&addr, path, err, err_len) < 0)
        return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            set_err(err, err_len, "%s exists and is not a socket: not removing it", path);
            return -1;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
            set_err(err, err_len, "cannot remove the stale socket %s: %s", path, strerror(errno));
            return -1;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, err_len, "cannot open a unix socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        set_err(err, err_len, "cannot bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (chmod(path, 0600) < 0 || listen(fd, 4) < 0) {
        set_err(err, err_len, "cannot set up %s (chmod 0600, listen): %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

int fd_pass_accept(int listen_fd, char *err, size_t err_len)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        set_err(err, err_len, "accept failed: %s", strerror(errno));
        errno = saved;
    }
    return fd;
}

int fd_pass_connect(const char *path, char *err, size_t err_len)
{
    struct sockaddr_un addr;
    if (unix_address(&addr, path, err, err_len) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, err_len, "cannot open a unix socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        set_err(err, err_len, "cannot connect to %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int fd_pass_send(int sock, int fd, const char *tag, char *err, size_t err_len)
{
    size_t len = tag ? strlen(tag) : 0;
    if (len == 0 || len > FD_PASS_TAG_MAX || memchr(tag, '\n', len)) {
        set_err(err, err_len, "bad tag: want 1..%d bytes without a newline (got %zu)", FD_PASS_TAG_MAX, len);
        return -1;
    }
    if (fd < 0) {
        set_err(err, err_len, "no fd to send (%d)", fd);
        return -1;
    }
    char line[FD_PASS_TAG_MAX + 1];
    memcpy(line, tag, len);
    line[len] = '\n';
    struct iovec iov = {.iov_base = line, .iov_len = len + 1};
    union {   // aligned room for one fd's control message
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n != (ssize_t)(len + 1)) {
        set_err(err, err_len, "cannot send the fd: %s", n < 0 ? strerror(errno) : "short write");
        return -1;
    }
    return 0;
}

// Takes the fds out of msg's SCM_RIGHTS messages into fds (at most max). Returns how many.
static int take_fds(struct msghdr *msg, int *fds, int max)
{
    int count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n && count < max; i++)
            memcpy(&fds[count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    return count;
}

int fd_pass_recv(int sock, int *fd, char *tag_buf, size_t tag_len, char *err, size_t err_len)
{
    *fd = -1;
    if (!tag_buf || tag_len == 0) {
        set_err(err, err_len, "no room for the tag");
        return -1;
    }
    tag_buf[0] = '\0';
    char line[FD_PASS_TAG_MAX + 1];
    struct iovec iov = {.iov_base = line, .iov_len = sizeof line};
    union {
        char buf[CMSG_SPACE(FD_PASS_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
        int saved = errno;
        set_err(err, err_len, "cannot receive: %s", strerror(errno));
        errno = saved;
        return -1;
    }
    int fds[FD_PASS_MAX_FDS];
    int count = take_fds(&msg, fds, FD_PASS_MAX_FDS);
    const char *why = NULL;
    char *end = n > 0 ? memchr(line, '\n', (size_t)n) : NULL;
    if (n == 0)
        why = "the peer closed the connection before sending an fd";
    else if (msg.msg_flags & MSG_CTRUNC)
        why = "the peer sent more fds than fit (all closed)";
    else if (count == 0)
        why = "the message carried no fd";
    else if (count > 1)
        why = "the message carried more than one fd (all closed)";
    else if (!end || end != line + n - 1)
        why = "the tag is too long or not one line ending in a newline";
    else if (memchr(line, '\0', (size_t)(end - line)))
        why = "the tag holds a NUL byte";
    else if ((size_t)(end - line) >= tag_len)
        why = "the tag is longer than the caller's buffer";
    if (why) {
        for (int i = 0; i < count; i++)
            close(fds[i]);
        char said[81] = "";   // a peer that sent a line of text instead (a refusal) is quoted
        size_t k = 0;
        for (ssize_t i = 0; i < n && line[i] != '\n' && k < sizeof said - 1; i++)
            said[k++] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
        said[k] = '\0';
        set_err(err, err_len, "refused an fd message (%zd bytes, %d fds): %s%s%s%s", n, count, why,
                k ? " (it said '" : "", said, k ? "')" : "");
        return -1;
    }
    memcpy(tag_buf, line, (size_t)(end - line));
    tag_buf[end - line] = '\0';
    *fd = fds[0];
    return fds[0];
}
