// hub_stun.c — the hub's STUN server. See hub_stun.h. Decoding is lib/stun.c's (fuzzed by fuzz_stun, which
// also runs hub_stun_answer on every input).
#include "hub_stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "stun.h"

#define BURST 64    // datagrams read per wake-up, so the hub's requests get their turn too

struct hub_stun {
    int fd;
    int port;
    uint64_t *answered, *refused, *over_rate, *send_errors;   // counters in the hub's stats
    int64_t second;                 // clock_now_ms() / 1000 of the current rate window
    int answered_this_second;
};

struct in_addr hub_stun_bind_address(const char *listen)
{
    struct in_addr any = {.s_addr = htonl(INADDR_ANY)};
    const char *host = strstr(listen, "://");
    host = host ? host + 3 : listen;
    const char *colon = strrchr(host, ':');
    char text[INET_ADDRSTRLEN];
    size_t n = colon ? (size_t)(colon - host) : strlen(host);
    if (n == 0 || n >= sizeof text)
        return any;
    memcpy(text, host, n);
    text[n] = '\0';
    struct in_addr addr;
    return inet_pton(AF_INET, text, &addr) == 1 ? addr : any;
}

hub_stun_t *hub_stun_new(const char *listen, int port, service_t *stats)
{
    if (port <= 0)
        return NULL;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr = hub_stun_bind_address(listen);
    char where[INET_ADDRSTRLEN + 8];
    inet_ntop(AF_INET, &sin.sin_addr, where, sizeof where);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        log_error("STUN: cannot bind UDP %s:%d (hub.stun_port): %s; members get no STUN server from this hub "
                  "(set hub.stun_port to a free port, or 0)", where, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    hub_stun_t *self = calloc(1, sizeof *self);
    if (!self) {
        close(fd);
        return NULL;
    }
    self->fd = fd;
    self->port = port;
    self->answered = service_counter(stats, "stun_answered");
    self->refused = service_counter(stats, "stun_refused");
    self->over_rate = service_counter(stats, "stun_over_rate");
    self->send_errors = service_counter(stats, "stun_send_errors");
    log_info("STUN: answering Binding requests on UDP %s:%d", where, port);
    return self;
}

void hub_stun_destroy(hub_stun_t **self)
{
    if (self && *self) {
        close((*self)->fd);
        free(*self);
        *self = NULL;
    }
}

int hub_stun_fd(const hub_stun_t *self) { return self->fd; }
int hub_stun_port(const hub_stun_t *self) { return self->port; }

size_t hub_stun_answer(const uint8_t *req, size_t len, const struct sockaddr_in *from, uint8_t *out, size_t cap,
                       char *why, size_t why_len)
{
    stun_message_t msg;
    if (stun_decode(req, len, &msg, why, why_len) != 0)
        return 0;
    if (msg.type != STUN_BINDING_REQUEST) {
        snprintf(why, why_len, "message type 0x%04x is not a Binding request", msg.type);
        return 0;
    }
    if (msg.unknown_required > 0) {
        // RFC 5389 7.3.1 wants a 420 error naming them; silence is cheaper and the client gives up the same
        snprintf(why, why_len, "%d comprehension-required attribute(s) this server does not know", msg.unknown_required);
        return 0;
    }
    stun_addr_t mapped;
    stun_addr_from_sockaddr(&mapped, from);
    size_t n = stun_build_binding_answer(&msg, &mapped, out, cap);
    if (n == 0)
        snprintf(why, why_len, "the answer does not fit in %zu bytes", cap);
    return n;
}

void hub_stun_on_readable(hub_stun_t *self)
{
    for (int i = 0; i < BURST; i++) {
        uint8_t buf[STUN_MAX_MESSAGE], out[STUN_MAX_MESSAGE];
        struct sockaddr_in from;
        socklen_t from_len = sizeof from;
        ssize_t got = recvfrom(self->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from,
                               &from_len);
        if (got < 0)
            return;   // EAGAIN: drained (any other error: the next wake-up tries again)
        if (from_len != sizeof from || from.sin_family != AF_INET || (size_t)got > sizeof buf) {
            (*self->refused)++;
            continue;
        }
        int64_t second = clock_now_ms() / 1000;
        if (second != self->second) {
            self->second = second;
            self->answered_this_second = 0;
        }
        if (self->answered_this_second >= HUB_STUN_MAX_PER_SECOND) {
            uint64_t *over = self->over_rate;
            if (log_worth_repeating(++*over))
                log_warn("STUN: over %d answers a second, requests dropped (%llu so far)", HUB_STUN_MAX_PER_SECOND,
                         (unsigned long long)*over);
            continue;
        }
        char why[160] = "";
        size_t n = hub_stun_answer(buf, (size_t)got, &from, out, sizeof out, why, sizeof why);
        if (n == 0) {
            uint64_t *refused = self->refused;
            if (log_worth_repeating(++*refused)) {
                char ip[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
                log_info("STUN: no answer to %zd bytes from %s:%u: %s (%llu so far)", got, ip, ntohs(from.sin_port),
                         why, (unsigned long long)*refused);
            }
            continue;
        }
        self->answered_this_second++;
        if (sendto(self->fd, out, n, MSG_DONTWAIT, (struct sockaddr *)&from, sizeof from) == (ssize_t)n)
            (*self->answered)++;
        else
            (*self->send_errors)++;
    }
}
