// udp_steer.c — the steering socket beside a shared UDP socket and its reuseport program; see udp_steer.h.
#include "udp_steer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "datagram.h"
#include "log.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

// The group indexes the program answers (udp_steer.h: the shared socket founds the group).
#define STEER_INDEX_OWNER 0
#define STEER_INDEX_DATA_PLANE 1

// The program's constants come from lib/datagram.h, so a change of the framing changes the program too. It
// steers exactly what datagram_for_crypto accepts: a type 1-4 with three zero bytes (the first 4 bytes read
// by BPF as one big-endian word) and a length that type can have. udp_steer_takes is the same rule in C.
#define WORD(type) ((uint32_t)(type) << 24)
_Static_assert(DATAGRAM_HEADER_LEN == 4, "the program reads the type and the three zero bytes as one 4-byte word");
_Static_assert(DATAGRAM_TRANSPORT_MIN_LEN >= DATAGRAM_HEADER_LEN, "the program checks the length before the word");
_Static_assert(DATAGRAM_COOKIE_REPLY_LEN >= DATAGRAM_TRANSPORT_MIN_LEN && DATAGRAM_RESPONSE_LEN >= DATAGRAM_TRANSPORT_MIN_LEN,
               "every type is at least as long as the shortest transport datagram (the first length check)");

// For UDP the program sees the payload at offset 0 and BPF_LEN is the payload's length. Jump offsets count
// from the next instruction; the comments say where each lands.
static struct sock_filter steer_code[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, DATAGRAM_TRANSPORT_MIN_LEN, 0, 14),           // short: 16 owner
    /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),                                           // A = first word
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_TRANSPORT), 11, 0),           // 15 data plane
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_INITIATION), 2, 0),           // 7
    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_RESPONSE), 4, 0),             // 10
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_COOKIE_REPLY), 6, 9),         // 13, else 16 owner
    /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),                                           // initiation
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DATAGRAM_INITIATION_LEN, 6, 0),
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DATAGRAM_INITIATION_CERT_LEN, 5, 6),
    /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),                                          // response
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DATAGRAM_RESPONSE_LEN, 3, 0),
    /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DATAGRAM_RESPONSE_CERT_LEN, 2, 3),
    /* 13 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),                                          // cookie reply
    /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DATAGRAM_COOKIE_REPLY_LEN, 0, 1),
    /* 15 */ BPF_STMT(BPF_RET | BPF_K, STEER_INDEX_DATA_PLANE),
    /* 16 */ BPF_STMT(BPF_RET | BPF_K, STEER_INDEX_OWNER),
};

bool udp_steer_takes(const uint8_t *datagram, size_t len)
{
    return datagram && datagram_for_crypto(datagram, len);
}

static const char *addr_text(const struct sockaddr *sa, socklen_t sa_len, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa && sa->sa_family == AF_INET && sa_len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa && sa->sa_family == AF_INET6 && sa_len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else
        snprintf(buf, len, "an address of family %d", sa ? sa->sa_family : -1);
    return buf;
}

static uint16_t addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

static bool addr_ok(const struct sockaddr *sa, socklen_t len)
{
    return sa && ((sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) ||
                  (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)));
}

int udp_steer_share(int fd, char *err, size_t err_len)
{
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;
    char where[80];
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) < 0) {
        snprintf(err, err_len, "cannot share port of fd %d: %s", fd, strerror(errno));
        return -1;
    }
    addr_text((struct sockaddr *)&local, local_len, where, sizeof where);
    int type = 0;
    socklen_t type_len = sizeof type;
    if (!addr_ok((struct sockaddr *)&local, local_len) ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0 || type != SOCK_DGRAM) {
        snprintf(err, err_len, "cannot share port %s: fd %d is not an IPv4 or IPv6 UDP socket", where, fd);
        errno = EINVAL;
        return -1;
    }
    if (addr_port((struct sockaddr *)&local) == 0) {
        snprintf(err, err_len, "cannot share port %s: fd %d is not bound", where, fd);
        errno = EINVAL;
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot share port %s: SO_REUSEPORT: %s", where, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

int udp_port_held(const struct sockaddr *addr, socklen_t addr_len)
{
    int probe = socket(addr->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (probe < 0)
        return -1;
    if (addr->sa_family == AF_INET6) {   // a v6 probe asks about v6 only (a v4 one asks about v4)
        int one = 1;
        setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    int r = bind(probe, addr, addr_len), e = errno;
    close(probe);
    if (r == 0)
        return 0;
    if (e == EADDRINUSE)
        return 1;
    errno = e;
    return -1;
}

// udp_port_held, with err filled when the answer is neither (an address not on this host, say).
static int someone_bound(const struct sockaddr *local, socklen_t local_len, const char *where, char *err,
                         size_t err_len)
{
    int held = udp_port_held(local, local_len);
    if (held < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot open a steering socket on %s: %s", where, strerror(e));
        errno = e;
    }
    return held;
}

int udp_steer_open(const struct sockaddr *local, socklen_t local_len, char *err, size_t err_len)
{
    char where[80];
    addr_text(local, local_len, where, sizeof where);
    if (!addr_ok(local, local_len) || addr_port(local) == 0) {
        snprintf(err, err_len, "cannot open a steering socket on %s: need an IPv4 or IPv6 address with a port",
                 where);
        errno = EINVAL;
        return -1;
    }
    int held = someone_bound(local, local_len, where, err, err_len);
    if (held < 0)
        return -1;
    if (held == 0) {
        snprintf(err, err_len, "cannot open a steering socket on %s: no socket is bound there to steer beside",
                 where);
        errno = ENOENT;
        return -1;
    }

    int fd = socket(local->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot open a steering socket on %s: socket: %s", where, strerror(e));
        errno = e;
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot open a steering socket on %s: SO_REUSEPORT: %s", where, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    // Bind first, then attach: the program belongs to the group, and a socket that already has a group of
    // its own (attaching before bind makes one) cannot join the shared socket's.
    if (bind(fd, local, local_len) < 0) {
        int e = errno;
        if (e == EADDRINUSE)
            snprintf(err, err_len,
                     "cannot open a steering socket on %s: the socket on that port did not share it "
                     "(udp_steer_share) or belongs to another uid: %s",
                     where, strerror(e));
        else
            snprintf(err, err_len, "cannot open a steering socket on %s: bind: %s", where, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    struct sock_fprog prog = {.len = sizeof steer_code / sizeof steer_code[0], .filter = steer_code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot open a steering socket on %s: SO_ATTACH_REUSEPORT_CBPF: %s", where,
                 strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    log_debug("udp steer: fd %d on %s takes weft's datagrams from its port", fd, where);
    return fd;
}
