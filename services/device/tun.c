// tun.c — see tun.h. Opens /dev/net/tun and configures the interface with ioctls on an AF_INET socket.
#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
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
    bool offload;                   // IFF_VNET_HDR with checksum and TSO offloads
    bool tap;                       // IFF_TAP: Ethernet frames
    char offload_note[160];         // why offload is off although it was asked for
};

// Opens /dev/net/tun and creates the device with flags. Returns the fd, or -1 with err filled.
static int open_tun(const char *name, short flags, char *ifname, char *err, size_t err_len)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open /dev/net/tun: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = flags;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        snprintf(err, err_len, "cannot create TUN device %s (or attach a queue to it): %s%s", name, strerror(errno),
                 errno == EINVAL || errno == EBUSY ? " (does a device of that name exist that is not weft's?)" : "");
        close(fd);
        return -1;
    }
    memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
    ifname[IFNAMSIZ - 1] = '\0';
    return fd;
}

// A device whose reads and writes carry a virtio_net_hdr, that may hand us TCP super-packets (TSO4/6)
// and packets whose checksum is left to us (CSUM). Returns the fd, or -1 with err filled.
static int open_tun_offload(const char *name, char *ifname, char *err, size_t err_len)
{
    int fd = open_tun(name, IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR, ifname, err, err_len);
    if (fd < 0)
        return -1;
    int hdr_size = (int)sizeof(struct virtio_net_hdr);
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0) {
        snprintf(err, err_len, "TUNSETVNETHDRSZ failed: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) < 0) {
        snprintf(err, err_len, "TUNSETOFFLOAD(CSUM|TSO4|TSO6) failed: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

tun_t *tun_new(const char *name, bool offload, char *err, size_t err_len)
{
    if (!name || !name[0] || strlen(name) >= IFNAMSIZ) {
        snprintf(err, err_len, "bad TUN device name '%s' (1..%d characters)", name ? name : "", IFNAMSIZ - 1);
        return NULL;
    }
    tun_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->fd = -1;
    if (offload) {
        // closing the fd removes the (non-persistent) device, so a refusal falls back to a plain one
        self->fd = open_tun_offload(name, self->name, self->offload_note, sizeof self->offload_note);
        self->offload = self->fd >= 0;
    }
    if (self->fd < 0)
        self->fd = open_tun(name, IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, self->name, err, err_len);
    if (self->fd < 0) {
        free(self);
        return NULL;
    }
    return self;
}

tun_t *tun_new_tap(const char *name, char *err, size_t err_len)
{
    if (!name || !name[0] || strlen(name) >= IFNAMSIZ) {
        snprintf(err, err_len, "bad TAP device name '%s' (1..%d characters)", name ? name : "", IFNAMSIZ - 1);
        return NULL;
    }
    tun_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->tap = true;
    self->fd = open_tun(name, IFF_TAP | IFF_NO_PI, self->name, err, err_len);
    if (self->fd < 0) {
        free(self);
        return NULL;
    }
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

bool tun_offload(const tun_t *self) { return self->offload; }

bool tun_is_tap(const tun_t *self) { return self->tap; }

const char *tun_offload_note(const tun_t *self) { return self->offload_note; }

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

// SIOCSIFHWADDR / SIOCGIFHWADDR on a control socket
static int hwaddr_ioctl(const tun_t *self, unsigned long request, uint8_t mac[6], char *err, size_t err_len)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        snprintf(err, err_len, "cannot open a socket to configure %s: %s", self->name, strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    ifreq_for(self, &ifr);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    if (request == SIOCSIFHWADDR)
        memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
    int rc = do_ioctl(sock, request, &ifr, "the MAC address", err, err_len);
    if (rc == 0 && request == SIOCGIFHWADDR)
        memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    close(sock);
    return rc;
}

int tun_set_mac(tun_t *self, const uint8_t mac[6], char *err, size_t err_len)
{
    uint8_t copy[6];
    memcpy(copy, mac, 6);
    return hwaddr_ioctl(self, SIOCSIFHWADDR, copy, err, err_len);
}

int tun_get_mac(const tun_t *self, uint8_t mac[6], char *err, size_t err_len)
{
    return hwaddr_ioctl(self, SIOCGIFHWADDR, mac, err, err_len);
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
