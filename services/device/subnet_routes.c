// subnet_routes.c — see subnet_routes.h.
#include "subnet_routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "route_table.h"

struct subnet_routes {
    char ifname[IF_NAMESIZE];
    subnet_t own[8];
    size_t n_own;
    subnet_t installed[SUBNET_ROUTES_MAX];
    size_t n_installed;
    uint32_t hub_addr;             // host order, 0 = unknown
    size_t n_failed;               // on the last sync
    size_t n_refused;              // on the last sync: conflicts with this host's networks or the hub
    uint64_t refused_total;
    uint64_t bad;
    char error[200];
};

static bool same(const subnet_t *a, const subnet_t *b)
{
    return a->net == b->net && a->len == b->len;
}

static bool contains(const subnet_t *set, size_t n, const subnet_t *s)
{
    for (size_t i = 0; i < n; i++)
        if (same(&set[i], s))
            return true;
    return false;
}

size_t subnet_routes_wanted(const Weft__MeshRoutes *routes, const subnet_t *own, size_t n_own, subnet_t *out,
                            size_t max, size_t *bad)
{
    size_t n = 0;
    *bad = 0;
    for (size_t i = 0; routes && i < routes->n_subnets; i++) {
        const Weft__SubnetRoute *r = routes->subnets[i];
        subnet_t s;
        if (!r || !r->prefix || ipv4_prefix_from_text(r->prefix, &s.net, &s.len) != 0 || s.len == 0 ||
            contains(own, n_own, &s) || contains(out, n, &s) || n >= max) {
            (*bad)++;
            continue;
        }
        out[n++] = s;
    }
    return n;
}

subnet_routes_t *subnet_routes_new(const char *ifname, const subnet_t *own, size_t n_own, uint32_t hub_addr)
{
    subnet_routes_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->hub_addr = hub_addr;
    snprintf(self->ifname, sizeof self->ifname, "%s", ifname);
    self->n_own = n_own < 8 ? n_own : 8;
    if (self->n_own)   // (own may be NULL when there are none)
        memcpy(self->own, own, self->n_own * sizeof *own);
    return self;
}

static void text_of(const subnet_t *s, char out[24])
{
    char a[16];
    ipv4_to_text(s->net, a);
    snprintf(out, 24, "%s/%d", a, s->len);
}

bool subnet_overlaps(const subnet_t *a, const subnet_t *b)
{
    uint32_t mask = ipv4_prefix_mask(a->len < b->len ? a->len : b->len);
    return (a->net & mask) == (b->net & mask);
}

int subnet_routes_conflict(const subnet_routes_t *self, const subnet_t *s, char *why, size_t why_len)
{
    char text[24];
    text_of(s, text);
    subnet_t hub = {self->hub_addr, 32};
    if (self->hub_addr && subnet_overlaps(s, &hub)) {
        char a[16];
        ipv4_to_text(self->hub_addr, a);
        snprintf(why, why_len, "refused %s: it holds the hub's address %s", text, a);
        return 1;
    }
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return 0;   // cannot tell: let the kernel decide
    int rc = 0;
    for (const struct ifaddrs *i = list; i && !rc; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask || strcmp(i->ifa_name, self->ifname) == 0)
            continue;
        uint32_t addr = ntohl(((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        uint32_t mask = ntohl(((const struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
        subnet_t local = {addr & mask, __builtin_popcount(mask)};
        if (subnet_overlaps(s, &local)) {
            char net[24];
            text_of(&local, net);
            snprintf(why, why_len, "refused %s: it overlaps this host's network %s on %s", text, net, i->ifa_name);
            rc = 1;
        }
    }
    freeifaddrs(list);
    return rc;
}

// SIOCADDRT / SIOCDELRT for s on our device. 0, or the errno.
static int route_ioctl(const subnet_routes_t *self, unsigned long request, const subnet_t *s)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return errno;
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *mask = (struct sockaddr_in *)&rt.rt_genmask;
    dst->sin_family = AF_INET;
    dst->sin_addr.s_addr = htonl(s->net);
    mask->sin_family = AF_INET;
    mask->sin_addr.s_addr = htonl(ipv4_prefix_mask(s->len));
    rt.rt_flags = RTF_UP;
    char dev[IF_NAMESIZE];
    snprintf(dev, sizeof dev, "%s", self->ifname);
    rt.rt_dev = dev;
    int rc = ioctl(sock, request, &rt) < 0 ? errno : 0;
    close(sock);
    return rc;
}

static void remove_route(subnet_routes_t *self, const subnet_t *s)
{
    char text[24];
    text_of(s, text);
    int e = route_ioctl(self, SIOCDELRT, s);
    if (e == 0 || e == ESRCH || e == ENODEV)   // gone already (the device went away with its routes)
        log_info("subnet route %s dev %s removed", text, self->ifname);
    else
        log_warn("cannot remove the route %s dev %s: %s", text, self->ifname, strerror(e));
}

int subnet_routes_sync(subnet_routes_t *self, const Weft__MeshRoutes *routes)
{
    subnet_t want[SUBNET_ROUTES_MAX];
    size_t bad = 0;
    size_t n_want = subnet_routes_wanted(routes, self->own, self->n_own, want, SUBNET_ROUTES_MAX, &bad);
    // conflicts with this host's own networks or the hub: refused (and removed if they were installed)
    char refusal[200] = "";
    size_t n_ok = 0;
    self->n_refused = 0;
    for (size_t i = 0; i < n_want; i++) {
        char why[200];
        if (subnet_routes_conflict(self, &want[i], why, sizeof why)) {
            self->n_refused++;
            if (log_worth_repeating(++self->refused_total))
                log_warn("subnet route %s (%llu so far)", why, (unsigned long long)self->refused_total);
            snprintf(refusal, sizeof refusal, "%s", why);
            continue;
        }
        want[n_ok++] = want[i];
    }
    n_want = n_ok;
    if (bad) {
        self->bad += bad;
        if (log_worth_repeating(self->bad))
            log_warn("ignored %zu subnet(s) of the router's list: not a prefix, this node's own, the default route, "
                     "a duplicate, or over %d (%llu so far)", bad, SUBNET_ROUTES_MAX, (unsigned long long)self->bad);
    }
    // gone: removed
    size_t kept = 0;
    for (size_t i = 0; i < self->n_installed; i++) {
        if (contains(want, n_want, &self->installed[i]))
            self->installed[kept++] = self->installed[i];
        else
            remove_route(self, &self->installed[i]);
    }
    self->n_installed = kept;
    // new: added
    self->n_failed = 0;
    for (size_t i = 0; i < n_want; i++) {
        if (contains(self->installed, self->n_installed, &want[i]))
            continue;
        char text[24];
        text_of(&want[i], text);
        int e = route_ioctl(self, SIOCADDRT, &want[i]);
        if (e == 0 || e == EEXIST) {
            self->installed[self->n_installed++] = want[i];
            if (e == EEXIST)
                log_info("subnet route %s: the kernel has a route for it already (taken as this device's; check "
                         "`ip route show %s` if it does not lead to %s)", text, text, self->ifname);
            else
                log_info("subnet route %s dev %s added", text, self->ifname);
            continue;
        }
        self->n_failed++;
        snprintf(self->error, sizeof self->error, "route %s dev %s: %s", text, self->ifname, strerror(e));
        log_warn("cannot add the subnet route %s dev %s: %s", text, self->ifname, strerror(e));
    }
    if (self->n_failed == 0)
        snprintf(self->error, sizeof self->error, "%s", refusal);
    return (int)self->n_failed;
}

void subnet_routes_destroy(subnet_routes_t **self)
{
    if (!self || !*self)
        return;
    for (size_t i = 0; i < (*self)->n_installed; i++)
        remove_route(*self, &(*self)->installed[i]);
    free(*self);
    *self = NULL;
}

size_t subnet_routes_installed(const subnet_routes_t *self)
{
    return self->n_installed;
}

size_t subnet_routes_failed(const subnet_routes_t *self)
{
    return self->n_failed;
}

size_t subnet_routes_refused(const subnet_routes_t *self)
{
    return self->n_refused;
}

uint64_t subnet_routes_bad(const subnet_routes_t *self)
{
    return self->bad;
}

const char *subnet_routes_error(const subnet_routes_t *self)
{
    return self->error;
}
