// tun_lend.c — see tun_lend.h.
#include "tun_lend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd_pass.h"
#include "log.h"

#define TUN_LEND_REQUEST "tun?"
#define TUN_LEND_LINE_MAX 32   // a request line longer than this is not one

struct tun_lend {
    int listen_fd;
    int client;                 // the one connection, or -1
    bool lent;                  // the client holds the TUN fd
    char line[TUN_LEND_LINE_MAX];
    size_t line_len;
    char path[256];
};

tun_lend_t *tun_lend_new(const char *path, char *err, size_t err_len)
{
    tun_lend_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    snprintf(self->path, sizeof self->path, "%s", path);
    self->client = -1;
    self->listen_fd = fd_pass_listen(path, err, err_len);
    if (self->listen_fd < 0) {
        free(self);
        return NULL;
    }
    return self;
}

void tun_lend_destroy(tun_lend_t **self_p)
{
    tun_lend_t *self = *self_p;
    if (!self)
        return;
    if (self->client >= 0)
        close(self->client);
    close(self->listen_fd);
    unlink(self->path);
    free(self);
    *self_p = NULL;
}

int tun_lend_listen_fd(const tun_lend_t *self) { return self->listen_fd; }

int tun_lend_client_fd(const tun_lend_t *self) { return self->client; }

bool tun_lend_is_lent(const tun_lend_t *self) { return self->lent; }

// Best effort: a line to a client we are about to close (it may be gone already).
static void say(int fd, const char *line)
{
    if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        // nothing to do: the connection is closed next anyway
    }
}

int tun_lend_accept(tun_lend_t *self, bool *refused)
{
    *refused = false;
    char err[256];
    int fd = fd_pass_accept(self->listen_fd, err, sizeof err);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            log_warn("TUN lending socket %s: %s", self->path, err);
        return -1;
    }
    if (self->client >= 0) {
        say(fd, "refused: the TUN is lent to another client\n");
        close(fd);
        *refused = true;
        return -1;
    }
    self->client = fd;
    self->line_len = 0;
    return fd;
}

// Closes the client's connection. Returns TUN_LEND_ENDED, with *was_lent.
static tun_lend_event_t end_client(tun_lend_t *self, bool *was_lent)
{
    *was_lent = self->lent;
    close(self->client);
    self->client = -1;
    self->lent = false;
    self->line_len = 0;
    return TUN_LEND_ENDED;
}

void tun_lend_drop(tun_lend_t *self)
{
    bool was_lent;
    if (self->client >= 0)
        end_client(self, &was_lent);
}

tun_lend_event_t tun_lend_on_client(tun_lend_t *self, int tun_fd, const char *tag, bool *was_lent)
{
    *was_lent = false;
    if (self->client < 0)
        return TUN_LEND_NOTHING;
    char buf[TUN_LEND_LINE_MAX];
    ssize_t n = recv(self->client, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return TUN_LEND_NOTHING;
    if (n <= 0)   // closed (or reset): the client is gone
        return end_client(self, was_lent);
    if (self->lent) {   // the client has nothing more to say: out of protocol
        log_warn("TUN lending: the client sent %zd bytes after borrowing the TUN: closing its connection", n);
        return end_client(self, was_lent);
    }
    if (self->line_len + (size_t)n > sizeof self->line) {
        say(self->client, "refused: request line too long (want \"tun?\")\n");
        log_warn("TUN lending: refused a request line longer than %d bytes", TUN_LEND_LINE_MAX);
        return end_client(self, was_lent);
    }
    memcpy(self->line + self->line_len, buf, (size_t)n);
    self->line_len += (size_t)n;
    char *end = memchr(self->line, '\n', self->line_len);
    if (!end)
        return TUN_LEND_NOTHING;
    if ((size_t)(end - self->line) != strlen(TUN_LEND_REQUEST) ||
        memcmp(self->line, TUN_LEND_REQUEST, strlen(TUN_LEND_REQUEST)) != 0 ||
        end != self->line + self->line_len - 1) {
        say(self->client, "refused: unknown request (want \"tun?\")\n");
        log_warn("TUN lending: refused an unknown request (%zu bytes)", self->line_len);
        return end_client(self, was_lent);
    }
    char err[256];
    if (fd_pass_send(self->client, tun_fd, tag, err, sizeof err) < 0) {
        log_warn("TUN lending: %s", err);
        return end_client(self, was_lent);
    }
    self->lent = true;
    return TUN_LEND_LENT;
}
