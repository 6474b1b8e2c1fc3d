// tun.c — see tun.h. Opens /dev/net/tun and configures the interface with ioctls on an AF_INET socket.
#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct tun {
    int fd;
    char name[IFNAMSIZ];
};

tun_t *tun_new(const char *name, char *err, size_t err_len)
{
    if (!name || !name[0] || strlen(name) >= IFNAMSIZ) {
        snprintf(err, err_len, "bad TUN device name '%s' (1..%d characters)", name ? name : "", IFNAMSIZ - 1);
        return NULL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open /dev/net/tun: %s", strerror(errno));
        return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        snprintf(err, err_len, "cannot create TUN device %s: %s", name, strerror(errno));
        close(fd);
        return NULL;
    }
    tun_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        close(fd);
        return NULL;
    }
    self->fd = fd;
    memcpy(self->name, ifr.ifr_name, IFNAMSIZ);
    self->name[IFNAMSIZ - 1] = '\0';
    return self;
}

void tun_destroy(tun_t **self)
{
    if (self && *self) {
        close((*self)->fd);
        free(*self);
        *self = NULL;
    }
}

int tun_fd(const tun_t *self) { return self->fd; }

const char *tun_name(const tun_t *self) { return self->name; }

static void ifreq_for(const tun_t *self, struct ifreq *ifr)
{
    memset(ifr, 0, sizeof *ifr);
    memcpy(ifr->ifr_name, self->name, IFNAMSIZ);
}

static void set_ipv4(struct sockaddr *sa, in_addr_t addr)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = addr;
    memcpy(sa, &sin, sizeof sin);
}

// One ioctl on the control socket; on failure names the step in err.
static int do_ioctl(int sock, unsigned long request, struct ifreq *ifr, const char *what, char *err,
                    size_t err_len)
{
    if (ioctl(sock, request, ifr) < 0) {
        snprintf(err, err_len, "cannot set %s on %s: %s", what, ifr->ifr_name, strerror(errno));
        return -1;
    }
    return 0;
}

static int apply_config(const tun_t *self, int sock, in_addr_t addr, int prefix, int mtu, char *err,
                        size_t err_len)
{
    struct ifreq ifr;
    ifreq_for(self, &ifr);
    ifr.ifr_mtu = mtu;
    if (do_ioctl(sock, SIOCSIFMTU, &ifr, "the MTU", err, err_len) < 0)
        return -1;

    ifreq_for(self, &ifr);
    set_ipv4(&ifr.ifr_addr, addr);
    if (do_ioctl(sock, SIOCSIFADDR, &ifr, "the address", err, err_len) < 0)
        return -1;

    ifreq_for(self, &ifr);
    uint32_t mask = prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
    set_ipv4(&ifr.ifr_netmask, htonl(mask));
    if (do_ioctl(sock, SIOCSIFNETMASK, &ifr, "the netmask", err, err_len) < 0)
        return -1;

    ifreq_for(self, &ifr);
    if (do_ioctl(sock, SIOCGIFFLAGS, &ifr, "(read) the flags", err, err_len) < 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return do_ioctl(sock, SIOCSIFFLAGS, &ifr, "IFF_UP", err, err_len);
}

// The overlay is IPv4 only: without IPv6 on the device the kernel sends no router solicitations or MLD
// reports into it. Best effort (no IPv6 in the kernel is fine).
static void disable_ipv6(const tun_t *self)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", self->name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, "1", 1) != 1) {
        // nothing to do: IPv6 packets are then dropped by the router (drop_not_ipv4)
    }
    close(fd);
}

int tun_configure(tun_t *self, const char *addr, int prefix, int mtu, char *err, size_t err_len)
{
    struct in_addr in;
    if (!addr || inet_pton(AF_INET, addr, &in) != 1) {
        snprintf(err, err_len, "'%s' is not an IPv4 address", addr ? addr : "");
        return -1;
    }
    if (prefix < 1 || prefix > 32) {
        snprintf(err, err_len, "bad prefix length %d (want 1..32)", prefix);
        return -1;
    }
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        snprintf(err, err_len, "cannot open a socket to configure %s: %s", self->name, strerror(errno));
        return -1;
    }
    disable_ipv6(self);
    int rc = apply_config(self, sock, in.s_addr, prefix, mtu, err, err_len);
    close(sock);
    return rc;
}
