// tun_borrow.c — the TUN device the data plane borrows from device (see tun_borrow.h).
#include "tun_borrow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fd_pass.h"
#include "log.h"

#define ASK_EVERY_MS 2000       // how often the data plane asks again after a refusal or while device is down

struct tun_borrow {
    service_t *svc;
    char path[256];
    int conn;                   // connection to device's lending socket, -1 when none
    int fd;                     // the borrowed TUN fd, -1 when none
    tun_io_t *io;
    int64_t next_ask_ms;
    bool asked_logged;          // the first failure to reach device was logged
    uint64_t *borrows, *give_backs, *ask_failed;
};

tun_borrow_t *tun_borrow_new(service_t *svc, const char *path)
{
    tun_borrow_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->svc = svc;
    snprintf(self->path, sizeof self->path, "%s", path);
    self->conn = self->fd = -1;
    self->borrows = service_counter(svc, "tun_borrows");
    self->give_backs = service_counter(svc, "tun_give_backs");
    self->ask_failed = service_counter(svc, "tun_ask_failed");
    return self;
}

static void give_back(tun_borrow_t *self, const char *why)
{
    if (self->fd >= 0) {
        log_info("TUN given back to device (%s): device reads it again", why);
        (*self->give_backs)++;
    }
    tun_io_destroy(&self->io);
    if (self->fd >= 0)
        close(self->fd);
    if (self->conn >= 0)
        close(self->conn);
    self->fd = self->conn = -1;
}

void tun_borrow_destroy(tun_borrow_t **self_p)
{
    tun_borrow_t *self = *self_p;
    if (!self)
        return;
    give_back(self, "the data plane stopping");
    free(self);
    *self_p = NULL;
}

int tun_borrow_ask(tun_borrow_t *self, int64_t now_ms)
{
    if (self->conn >= 0 || now_ms < self->next_ask_ms)
        return -1;
    self->next_ask_ms = now_ms + ASK_EVERY_MS;
    char err[256];
    self->conn = fd_pass_connect(self->path, err, sizeof err);
    if (self->conn < 0) {
        (*self->ask_failed)++;
        if (!self->asked_logged)
            log_info("cannot borrow the TUN device yet (device reads and writes it): %s", err);
        self->asked_logged = true;
        return -1;
    }
    static const char request[] = "tun?\n";
    if (write(self->conn, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
        (*self->ask_failed)++;
        log_warn("cannot ask device for the TUN device at %s: %s", self->path, strerror(errno));
        give_back(self, "the request failed");
        return -1;
    }
    return self->conn;
}

// "tun <ifname> vnet_hdr=<bytes> offload=<...> mtu=<mtu>". Returns 0, or -1.
static int parse_tag(const char *tag, char name[32], int *vnet_hdr, int *mtu)
{
    char offload[64];
    if (sscanf(tag, "tun %31s vnet_hdr=%d offload=%63s mtu=%d", name, vnet_hdr, offload, mtu) != 4)
        return -1;
    if ((*vnet_hdr != 0 && *vnet_hdr != 10) || *mtu < 576 || *mtu > 65535)
        return -1;
    return 0;
}

int tun_borrow_on_answer(tun_borrow_t *self, int *conn_fd, int *tun_fd)
{
    *conn_fd = self->conn;
    *tun_fd = self->fd;
    if (self->fd >= 0) {    // device's end says something or closed: it wants its TUN back
        give_back(self, "device closed the lending connection");
        return -1;
    }
    char tag[FD_PASS_TAG_MAX + 1], err[300], name[32];
    int fd = -1, vnet_hdr = 0, mtu = 0;
    if (fd_pass_recv(self->conn, &fd, tag, sizeof tag, err, sizeof err) < 0) {
        (*self->ask_failed)++;
        log_warn("device did not lend the TUN device: %s", err);
        give_back(self, "refused");
        return -1;
    }
    if (parse_tag(tag, name, &vnet_hdr, &mtu) != 0) {
        (*self->ask_failed)++;
        log_warn("device lent an fd with a tag the data plane does not understand: '%s'", tag);
        close(fd);
        give_back(self, "unknown tag");
        return -1;
    }
    self->fd = fd;
    self->io = tun_io_new(fd, name, vnet_hdr == 10, (size_t)mtu);
    if (!self->io) {
        give_back(self, "out of memory");
        return -1;
    }
    (*self->borrows)++;
    *tun_fd = fd;
    log_info("borrowed the TUN device %s from device (vnet_hdr %d, mtu %d): the data plane reads and writes it", name,
             vnet_hdr, mtu);
    return fd;
}

tun_io_t *tun_borrow_io(tun_borrow_t *self)
{
    return self->io;
}

int tun_borrow_conn_fd(const tun_borrow_t *self)
{
    return self->conn;
}
