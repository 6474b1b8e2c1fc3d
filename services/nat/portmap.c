// portmap.c — UPnP-IGD and NAT-PMP port mappings for ICE host candidates (see portmap.h).
//
// The worker thread owns the gateway and the mapping table. The actor sends it
//   "MAP" <request id> <internal ip> <internal port>   ->  "MAPPED" <id> <external ip> <external port> <via>
//                                                          or "NONE" <id>
// and waits for the answer with its id (a late answer to an earlier request is skipped).
#include "portmap.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <natpmp.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "candidate_line.h"
#include "log.h"
#include "ssdp.h"

typedef enum { GATEWAY_NONE = 0, GATEWAY_UPNP, GATEWAY_NATPMP } gateway_kind_t;

static const char *gateway_name(gateway_kind_t kind)
{
    return kind == GATEWAY_UPNP ? "upnp" : kind == GATEWAY_NATPMP ? "natpmp" : "none";
}

typedef struct {
    char internal_ip[INET_ADDRSTRLEN];
    uint16_t internal_port;
    uint16_t external_port;
    int64_t renew_at_ms;            // monotonic
} mapping_t;

typedef struct {
    zsock_t *pipe;
    gateway_kind_t kind;
    struct UPNPUrls urls;           // UPnP: the IGD's control URLs
    struct IGDdatas igd;
    natpmp_t pmp;                   // NAT-PMP: the socket to the gateway
    char lan_ip[INET_ADDRSTRLEN];   // our address on the gateway's LAN: the only one it maps
    char external_ip[INET_ADDRSTRLEN];
    mapping_t mappings[PORTMAP_MAX];
    size_t count;
    int64_t next_discovery_ms, next_check_ms;
    _Atomic bool *ready, *discovering;
} worker_t;

struct portmap {
    zactor_t *actor;
    uint64_t next_id;
    _Atomic bool ready;             // a gateway answered
    _Atomic bool discovering;       // the first discovery is still running
};

// ---------------------------------------------------------------- NAT-PMP (worker)

// Waits for the answer to the pending NAT-PMP request, retrying as libnatpmp schedules, for at most
// PORTMAP_PMP_MS. Returns 0 with *resp filled, or a NATPMP_ERR_* code.
static int pmp_answer(natpmp_t *pmp, natpmpresp_t *resp, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (true) {
        int r = readnatpmpresponseorretry(pmp, resp);
        if (r != NATPMP_TRYAGAIN)
            return r;
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            return NATPMP_ERR_RECVFROM;
        struct timeval tv;
        if (getnatpmprequesttimeout(pmp, &tv) < 0)
            return NATPMP_ERR_GETTIMEOFDAYERR;
        int64_t wait = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
        if (wait > left)
            wait = left;
        if (wait < 1)
            wait = 1;
        tv.tv_sec = wait / 1000;
        tv.tv_usec = (wait % 1000) * 1000;
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(pmp->s, &fds);
        select(pmp->s + 1, &fds, NULL, NULL, &tv);
    }
}

// Our own address towards the NAT-PMP gateway (a connected UDP socket's name; nothing is sent).
static int local_address_towards(in_addr_t gateway, char *out, size_t out_len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(5351), .sin_addr.s_addr = gateway};
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0 && getsockname(fd, (struct sockaddr *)&me, &len) == 0 &&
        inet_ntop(AF_INET, &me.sin_addr, out, (socklen_t)out_len))
        rc = 0;
    close(fd);
    return rc;
}

// *no_route: there is no default route, so no gateway to ask at all.
static bool discover_natpmp(worker_t *w, int timeout_ms, bool *no_route)
{
    int r0 = initnatpmp(&w->pmp, 0, 0);
    *no_route = r0 == NATPMP_ERR_CANNOTGETGATEWAY;
    if (r0 != 0)
        return false;
    natpmpresp_t resp;
    int r = sendpublicaddressrequest(&w->pmp);
    if (r >= 0)
        r = pmp_answer(&w->pmp, &resp, timeout_ms);
    if (r != 0 || resp.type != NATPMP_RESPTYPE_PUBLICADDRESS ||
        !inet_ntop(AF_INET, &resp.pnu.publicaddress.addr, w->external_ip, sizeof w->external_ip) ||
        local_address_towards(w->pmp.gateway, w->lan_ip, sizeof w->lan_ip) != 0) {
        closenatpmp(&w->pmp);
        return false;
    }
    char gw[INET_ADDRSTRLEN] = "";
    struct in_addr a = {.s_addr = w->pmp.gateway};
    inet_ntop(AF_INET, &a, gw, sizeof gw);
    log_info("port mapping: NAT-PMP gateway %s, external address %s, our LAN address %s", gw, w->external_ip,
             w->lan_ip);
    return true;
}

// ---------------------------------------------------------------- UPnP-IGD (worker)

static bool discover_upnp(worker_t *w, int timeout_ms)
{
    char location[SSDP_LOCATION_MAX];
    if (ssdp_find_igd(timeout_ms, location) != 0)
        return false;
    char lan[64] = "";
    if (UPNP_GetIGDFromUrl(location, &w->urls, &w->igd, lan, sizeof lan) != 1) {
        log_warn("port mapping: the gateway at %s gave no usable IGD description", location);
        return false;
    }
    char external[40] = "";
    if (UPNP_GetExternalIPAddress(w->urls.controlURL, w->igd.first.servicetype, external) != UPNPCOMMAND_SUCCESS ||
        !external[0] || strlen(lan) >= sizeof w->lan_ip) {
        log_warn("port mapping: the UPnP gateway at %s does not tell its external address", location);
        FreeUPNPUrls(&w->urls);
        return false;
    }
    snprintf(w->external_ip, sizeof w->external_ip, "%.*s", (int)sizeof w->external_ip - 1, external);
    snprintf(w->lan_ip, sizeof w->lan_ip, "%s", lan);
    log_info("port mapping: UPnP IGD at %s, external address %s, our LAN address %s", w->urls.controlURL,
             w->external_ip, w->lan_ip);
    return true;
}

static bool port_held(const char *ip, uint16_t port);
static int64_t renew_time(unsigned lease_s);

// Mappings an earlier weft-nat made for this host and left behind (it was killed): ours by description.
// All are adopted: renewed while a socket holds their port, removed by check_mappings once none does —
// so one whose port a restarted nat resumes a path on (it may bind it a moment after this runs, once
// the data plane let go of it: nat_resume_port_busy) keeps working, and the others go at the first check,
// PORTMAP_CHECK_MS later. Beyond PORTMAP_MAX they are removed at once. UPnP can list them; NAT-PMP cannot
// (its leases run out).
static void remove_leftovers(worker_t *w)
{
    int removed = 0, adopted = 0, held = 0;
    for (int i = 0; i < 256;) {
        char index[8], ext_port[6] = "", client[16] = "", in_port[6] = "", proto[4] = "", desc[80] = "",
                       enabled[4] = "", remote[64] = "", lease[16] = "";
        snprintf(index, sizeof index, "%d", i);
        if (UPNP_GetGenericPortMappingEntry(w->urls.controlURL, w->igd.first.servicetype, index, ext_port, client,
                                            in_port, proto, desc, enabled, remote, lease) != UPNPCOMMAND_SUCCESS)
            break;
        long port = strtol(in_port, NULL, 10), external = strtol(ext_port, NULL, 10);
        bool ours = strcmp(desc, PORTMAP_DESCRIPTION) == 0 && strcmp(client, w->lan_ip) == 0 &&
                    strcmp(proto, "UDP") == 0 && port > 0 && port <= 65535 && external > 0 && external <= 65535;
        if (ours && w->count == PORTMAP_MAX) {
            if (UPNP_DeletePortMapping(w->urls.controlURL, w->igd.first.servicetype, ext_port, "UDP", NULL) ==
                UPNPCOMMAND_SUCCESS) {
                removed++;
                continue;   // the entries after it moved down one index
            }
        } else if (ours) {
            held += port_held(client, (uint16_t)port);
            mapping_t *m = &w->mappings[w->count++];
            snprintf(m->internal_ip, sizeof m->internal_ip, "%s", client);
            m->internal_port = (uint16_t)port;
            m->external_port = (uint16_t)external;
            m->renew_at_ms = renew_time((unsigned)strtoul(lease, NULL, 10));
            adopted++;
        }
        i++;
    }
    if (removed || adopted)
        log_info("port mapping: of the mappings an earlier weft-nat left on the gateway, kept %d (%d whose port "
                 "is in use again; the others go in %d s unless a resumed path binds their port), removed %d",
                 adopted, held, PORTMAP_CHECK_MS / 1000, removed);
}

static void discover(worker_t *w)
{
    // NAT-PMP first: a gateway answers at once and one without it refuses at once (ICMP), while SSDP
    // always waits its delay after the last answer
    bool first = atomic_load(w->discovering), no_route = false;
    // the first time, no default route means no gateway: the first offer need not wait for SSDP
    if (discover_natpmp(w, first ? PORTMAP_FIRST_PMP_MS : PORTMAP_PMP_DISCOVER_MS, &no_route))
        w->kind = GATEWAY_NATPMP;
    else if (!(first && no_route) && discover_upnp(w, first ? PORTMAP_FIRST_SSDP_MS : PORTMAP_SSDP_MS)) {
        w->kind = GATEWAY_UPNP;
        remove_leftovers(w);
    }
    w->next_discovery_ms = zclock_mono() + PORTMAP_REDISCOVER_MS;
    if (w->kind == GATEWAY_NONE)
        log_debug("port mapping: no UPnP-IGD or NAT-PMP gateway answered; looking again in %d s",
                  PORTMAP_REDISCOVER_MS / 1000);
    atomic_store(w->ready, w->kind != GATEWAY_NONE);
}

// ---------------------------------------------------------------- mappings (worker)

// Adds (or renews) a UDP mapping of ip:port. external_port: the one to renew, or 0 for a new mapping.
// Returns the external port, or 0. *lease_s: what the gateway granted (0 = permanent).
static uint16_t gateway_add(worker_t *w, const char *ip, uint16_t port, uint16_t external_port, unsigned *lease_s)
{
    *lease_s = PORTMAP_LEASE_S;
    if (w->kind == GATEWAY_NATPMP) {
        natpmpresp_t resp;
        int r = sendnewportmappingrequest(&w->pmp, NATPMP_PROTOCOL_UDP, port, external_port ? external_port : port,
                                          PORTMAP_LEASE_S);
        if (r >= 0)
            r = pmp_answer(&w->pmp, &resp, PORTMAP_PMP_MS);
        if (r != 0 || resp.type != NATPMP_RESPTYPE_UDPPORTMAPPING) {
            log_warn("port mapping: NAT-PMP refused %s:%u (error %d)", ip, port, r);
            return 0;
        }
        *lease_s = resp.pnu.newportmapping.lifetime;
        return resp.pnu.newportmapping.mappedpublicport;
    }
    if (w->kind != GATEWAY_UPNP)
        return 0;
    char in_port[8], ext_port[8], lease[16];
    snprintf(in_port, sizeof in_port, "%u", port);
    // the same port outside first; on a conflict, a few others
    for (int attempt = 0; attempt < 4; attempt++) {
        uint16_t want = external_port ? external_port : attempt == 0 ? port : (uint16_t)(20000 + randof(40000));
        snprintf(ext_port, sizeof ext_port, "%u", want);
        snprintf(lease, sizeof lease, "%u", *lease_s);
        int r = UPNP_AddPortMapping(w->urls.controlURL, w->igd.first.servicetype, ext_port, in_port, ip, PORTMAP_DESCRIPTION,
                                    "UDP", NULL, lease);
        if (r == 725) {   // OnlyPermanentLeasesSupported: permanent, deleted by us when done
            *lease_s = 0;
            r = UPNP_AddPortMapping(w->urls.controlURL, w->igd.first.servicetype, ext_port, in_port, ip, PORTMAP_DESCRIPTION,
                                    "UDP", NULL, "0");
        }
        if (r == UPNPCOMMAND_SUCCESS)
            return want;
        log_warn("port mapping: UPnP AddPortMapping %s -> %s:%u refused: %d %s", ext_port, ip, port, r,
                 strupnperror(r));
        if (r != 718 || external_port)   // only a conflict is worth another port
            return 0;
    }
    return 0;
}

static void gateway_delete(worker_t *w, const mapping_t *m)
{
    if (w->kind == GATEWAY_NATPMP) {
        natpmpresp_t resp;
        int r = sendnewportmappingrequest(&w->pmp, NATPMP_PROTOCOL_UDP, m->internal_port, 0, 0);
        if (r >= 0)
            r = pmp_answer(&w->pmp, &resp, PORTMAP_PMP_MS);
        if (r != 0)
            log_warn("port mapping: NAT-PMP did not confirm deleting %u (error %d)", m->internal_port, r);
    } else if (w->kind == GATEWAY_UPNP) {
        char ext_port[8];
        snprintf(ext_port, sizeof ext_port, "%u", m->external_port);
        int r = UPNP_DeletePortMapping(w->urls.controlURL, w->igd.first.servicetype, ext_port, "UDP", NULL);
        if (r != UPNPCOMMAND_SUCCESS)
            log_warn("port mapping: UPnP DeletePortMapping %s failed: %d %s", ext_port, r, strupnperror(r));
    }
    log_info("port mapping: removed %s:%u -> %s:%u", w->external_ip, m->external_port, m->internal_ip,
             m->internal_port);
}

static int64_t renew_time(unsigned lease_s)
{
    // permanent mappings are still renewed now and then (a gateway restart forgets them)
    int64_t half_ms = lease_s ? (int64_t)lease_s * 500 : (int64_t)PORTMAP_LEASE_S * 500;
    if (half_ms < 5000)
        half_ms = 5000;
    return zclock_mono() + half_ms;
}

// True while some socket holds ip:port (the agent's): binding it ourselves fails with EADDRINUSE.
static bool port_held(const char *ip, uint16_t port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1)
        return false;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return true;   // cannot tell: keep the mapping
    bool held = bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno == EADDRINUSE;
    close(fd);
    return held;
}

static mapping_t *find_mapping(worker_t *w, const char *ip, uint16_t port)
{
    for (size_t i = 0; i < w->count; i++)
        if (w->mappings[i].internal_port == port && strcmp(w->mappings[i].internal_ip, ip) == 0)
            return &w->mappings[i];
    return NULL;
}

static void remove_at(worker_t *w, size_t i)
{
    gateway_delete(w, &w->mappings[i]);
    w->mappings[i] = w->mappings[--w->count];
}

static uint16_t map_port(worker_t *w, const char *ip, uint16_t port)
{
    if (w->kind == GATEWAY_NONE || strcmp(ip, w->lan_ip) != 0)
        return 0;
    mapping_t *m = find_mapping(w, ip, port);
    if (m)
        return m->external_port;
    if (w->count == PORTMAP_MAX) {
        log_warn("port mapping: %d mappings already; %s:%u not mapped", PORTMAP_MAX, ip, port);
        return 0;
    }
    unsigned lease_s;
    uint16_t external = gateway_add(w, ip, port, 0, &lease_s);
    if (!external)
        return 0;
    m = &w->mappings[w->count++];
    snprintf(m->internal_ip, sizeof m->internal_ip, "%s", ip);
    m->internal_port = port;
    m->external_port = external;
    m->renew_at_ms = renew_time(lease_s);
    log_info("port mapping: %s %s:%u -> %s:%u (lease %u s)", gateway_name(w->kind), w->external_ip, external, ip,
             port, lease_s);
    return external;
}

// Mappings whose socket is gone are deleted; the others renewed when due.
static void check_mappings(worker_t *w)
{
    int64_t now = zclock_mono();
    for (size_t i = 0; i < w->count;) {
        mapping_t *m = &w->mappings[i];
        if (!port_held(m->internal_ip, m->internal_port)) {
            remove_at(w, i);
            continue;
        }
        if (now >= m->renew_at_ms) {
            unsigned lease_s;
            uint16_t external = gateway_add(w, m->internal_ip, m->internal_port, m->external_port, &lease_s);
            if (external == m->external_port)
                log_info("port mapping: renewed %s:%u (lease %u s)", w->external_ip, external, lease_s);
            else
                log_warn("port mapping: renewing %s:%u failed; trying again later", w->external_ip,
                         m->external_port);
            m->renew_at_ms = external == m->external_port ? renew_time(lease_s) : now + 10000;
        }
        i++;
    }
}

static void answer_map(worker_t *w, zmsg_t *msg)
{
    char *id = zmsg_popstr(msg), *ip = zmsg_popstr(msg), *port_text = zmsg_popstr(msg);
    if (!id || !ip || !port_text) {
        zstr_free(&id);
        zstr_free(&ip);
        zstr_free(&port_text);
        return;
    }
    long port = strtol(port_text, NULL, 10);
    uint16_t external = (port > 0 && port <= 65535) ? map_port(w, ip, (uint16_t)port) : 0;
    if (external) {
        char ext[8];
        snprintf(ext, sizeof ext, "%u", external);
        zstr_sendx(w->pipe, "MAPPED", id, w->external_ip, ext, gateway_name(w->kind), NULL);
    } else {
        zstr_sendx(w->pipe, "NONE", id, NULL);
    }
    zstr_free(&id);
    zstr_free(&ip);
    zstr_free(&port_text);
}

static void worker_close(worker_t *w)
{
    while (w->count)
        remove_at(w, w->count - 1);
    if (w->kind == GATEWAY_UPNP)
        FreeUPNPUrls(&w->urls);
    else if (w->kind == GATEWAY_NATPMP)
        closenatpmp(&w->pmp);
    w->kind = GATEWAY_NONE;
}

static void portmap_worker(zsock_t *pipe, void *args)
{
    portmap_t *owner = args;
    worker_t w = {.pipe = pipe, .ready = &owner->ready, .discovering = &owner->discovering};
    zsock_signal(pipe, 0);
    discover(&w);
    atomic_store(w.discovering, false);
    w.next_check_ms = zclock_mono() + PORTMAP_CHECK_MS;
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (poller) {
        zsock_t *which = zpoller_wait(poller, 1000);
        if (which == pipe) {
            zmsg_t *msg = zmsg_recv(pipe);
            if (!msg)
                break;
            char *command = zmsg_popstr(msg);
            bool term = command && strcmp(command, "$TERM") == 0;
            if (command && strcmp(command, "MAP") == 0)
                answer_map(&w, msg);
            zstr_free(&command);
            zmsg_destroy(&msg);
            if (term)
                break;
        } else if (!which && zpoller_terminated(poller)) {
            break;
        }
        int64_t now = zclock_mono();
        if (w.kind == GATEWAY_NONE && now >= w.next_discovery_ms)
            discover(&w);
        if (now >= w.next_check_ms) {
            check_mappings(&w);
            w.next_check_ms = zclock_mono() + PORTMAP_CHECK_MS;
        }
    }
    zpoller_destroy(&poller);
    worker_close(&w);
}

// ---------------------------------------------------------------- actor side

portmap_t *portmap_new(void)
{
    portmap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    atomic_store(&self->discovering, true);
    self->actor = zactor_new(portmap_worker, self);
    if (!self->actor) {
        log_error("port mapping: cannot start its thread");
        free(self);
        return NULL;
    }
    return self;
}

void portmap_destroy(portmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    portmap_t *self = *self_p;
    zsock_set_rcvtimeo(zactor_sock(self->actor), -1);   // zactor_destroy waits for the mappings to go
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}

bool portmap_ready(portmap_t *self)
{
    return self && atomic_load(&self->ready);
}

// Asks the worker for a mapping of ip:port; waits at most PORTMAP_WAIT_MS. Returns the external port (0:
// none) with the external address in external_ip.
static uint16_t request_mapping(portmap_t *self, const char *ip, uint16_t port, char external_ip[INET_ADDRSTRLEN])
{
    zsock_t *sock = zactor_sock(self->actor);
    char id[24], port_text[8];
    snprintf(id, sizeof id, "%" PRIu64, ++self->next_id);
    snprintf(port_text, sizeof port_text, "%u", port);
    if (zstr_sendx(sock, "MAP", id, ip, port_text, NULL) != 0)
        return 0;
    int64_t deadline = zclock_mono() + PORTMAP_WAIT_MS;
    uint16_t result = 0;
    while (true) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0) {
            log_warn("port mapping: the gateway did not answer within %d ms; offering %s:%u without it",
                     PORTMAP_WAIT_MS, ip, port);
            break;
        }
        zsock_set_rcvtimeo(sock, (int)left);
        zmsg_t *reply = zmsg_recv(sock);
        if (!reply)
            continue;
        char *kind = zmsg_popstr(reply), *reply_id = zmsg_popstr(reply);
        bool ours = reply_id && strcmp(reply_id, id) == 0;
        if (ours && kind && strcmp(kind, "MAPPED") == 0) {
            char *ext_ip = zmsg_popstr(reply), *ext_port = zmsg_popstr(reply);
            long p = ext_port ? strtol(ext_port, NULL, 10) : 0;
            if (ext_ip && strlen(ext_ip) < INET_ADDRSTRLEN && p > 0 && p <= 65535) {
                snprintf(external_ip, INET_ADDRSTRLEN, "%s", ext_ip);
                result = (uint16_t)p;
            }
            zstr_free(&ext_ip);
            zstr_free(&ext_port);
        }
        zstr_free(&kind);
        zstr_free(&reply_id);
        zmsg_destroy(&reply);
        if (ours)
            break;
    }
    zsock_set_rcvtimeo(sock, -1);
    return result;
}

static bool has_address(char **lines, size_t count, const char *ip, uint16_t port)
{
    for (size_t i = 0; i < count; i++) {
        candidate_line_t c;
        if (candidate_line_parse(lines[i], &c) == 0 && c.port == port && strcmp(c.ip, ip) == 0)
            return true;
    }
    return false;
}

size_t portmap_add_candidates(portmap_t *self, char **lines, size_t count, size_t max)
{
    int64_t give_up = zclock_mono() + PORTMAP_FIRST_WAIT_MS;
    while (self && atomic_load(&self->discovering) && zclock_mono() < give_up)
        zclock_sleep(20);
    if (!portmap_ready(self))
        return 0;
    size_t added = 0, hosts = count;
    for (size_t i = 0; i < hosts && count + added < max; i++) {
        candidate_line_t host;
        struct in_addr v4;
        if (candidate_line_parse(lines[i], &host) != 0 || !host.udp || strcmp(host.type, "host") != 0 ||
            inet_pton(AF_INET, host.ip, &v4) != 1)
            continue;
        char external_ip[INET_ADDRSTRLEN];
        uint16_t external_port = request_mapping(self, host.ip, host.port, external_ip);
        if (!external_port || has_address(lines, count + added, external_ip, external_port))
            continue;
        char foundation[16];
        snprintf(foundation, sizeof foundation, "wmap%zu", added + 1);
        char *line = candidate_line_srflx(foundation, host.component,
                                          candidate_priority(CANDIDATE_PREF_MAPPED, 65535, host.component),
                                          external_ip, external_port, host.ip, host.port);
        if (line)
            lines[count + added++] = line;
    }
    return added;
}
