// natprobe.c — NAT behaviour discovery. See natprobe.h.
//
// The tests, all from one UDP socket (RFC 5780 sections 4.3 and 4.4; P is the server's primary address,
// A its alternate one from OTHER-ADDRESS or CHANGED-ADDRESS):
//   T1  P                       -> mapped M1: behind a NAT unless M1 is one of our addresses and our port
//   F2  P, change IP and port   -> an answer from A: endpoint-independent filtering
//   F3  P, change port          -> an answer from P's IP, A's port: address-dependent, none: address-and-port
//   M2  A.ip:P.port             -> M2 == M1: endpoint-independent mapping
//   M3  A.ip:A.port             -> M3 == M2: address-dependent, else address-and-port-dependent
//   H   our own M1              -> our own request comes back: the NAT hairpins
// The filtering tests run before the mapping tests: sending to A first would open the NAT's filter for A.
#include "natprobe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

const char *nat_type_name(nat_type_t type)
{
    switch (type) {
    case NAT_TYPE_OPEN: return "open";
    case NAT_TYPE_FIREWALLED: return "firewalled";
    case NAT_TYPE_FULL_CONE: return "full-cone";
    case NAT_TYPE_RESTRICTED_CONE: return "restricted-cone";
    case NAT_TYPE_PORT_RESTRICTED_CONE: return "port-restricted-cone";
    case NAT_TYPE_SYMMETRIC: return "symmetric";
    case NAT_TYPE_UDP_BLOCKED: return "udp-blocked";
    case NAT_TYPE_UNKNOWN: break;
    }
    return "unknown";
}

const char *nat_behaviour_name(nat_behaviour_t b)
{
    switch (b) {
    case NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT: return "endpoint-independent";
    case NAT_BEHAVIOUR_ADDRESS_DEPENDENT: return "address-dependent";
    case NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT: return "address-and-port-dependent";
    case NAT_BEHAVIOUR_UNKNOWN: break;
    }
    return "unknown";
}

void natprobe_options_default(natprobe_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->timeout_ms = 1000;
}

int natprobe_resolve(const char *server, struct sockaddr_in *out, char *err, size_t err_len)
{
    char host[NATPROBE_TEXT];
    if (!server || !server[0] || strlen(server) >= sizeof host) {
        snprintf(err, err_len, "not a host:port");
        return -1;
    }
    snprintf(host, sizeof host, "%s", server);
    if (host[0] == '[') {
        snprintf(err, err_len, "IPv6 servers are not probed (IPv4 only)");
        return -1;
    }
    char *colon = strrchr(host, ':');
    if (!colon || colon == host || strchr(host, ':') != colon) {
        snprintf(err, err_len, "not a host:port");
        return -1;
    }
    *colon = '\0';
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || !end || *end || end == colon + 1 || port <= 0 || port > 65535) {
        snprintf(err, err_len, "bad port '%s'", colon + 1);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc != 0 || !found) {
        snprintf(err, err_len, "cannot resolve '%s' to IPv4: %s", host, rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    memcpy(out, found->ai_addr, sizeof *out);
    out->sin_port = htons((uint16_t)port);
    freeaddrinfo(found);
    return 0;
}

// --- one socket, transactions on it (lib/stun_client.c) ---

// A Binding request from s to `to` (with CHANGE-REQUEST flags, or to our own address for the hairpin test),
// waiting up to timeout_ms, retransmitting at 100, 200, 400... ms. Returns whether it was answered (t->msg).
static bool transact(stun_socket_t *s, const struct sockaddr_in *to, uint8_t change_flags, bool want_request,
                     int timeout_ms, stun_transaction_t *t)
{
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    opt.timeout_ms = timeout_ms;
    opt.change_flags = change_flags;
    opt.want_request = want_request;
    return stun_client_binding(s, (const struct sockaddr *)to, sizeof *to, &opt, t) == STUN_CLIENT_ANSWERED;
}

// Where t's answer came from (an IPv4 socket's answers are IPv4).
static const struct sockaddr_in *answer_from(const stun_transaction_t *t)
{
    return (const struct sockaddr_in *)&t->from;
}

// --- local addresses ---

static void collect_local_addresses(natprobe_result_t *r, struct in_addr *addrs, int *count)
{
    struct ifaddrs *list = NULL;
    *count = 0;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *i = list; i && *count < NATPROBE_MAX_LOCAL; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
            continue;
        struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        addrs[*count] = a;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, ip, sizeof ip);
        snprintf(r->local_addresses[*count], STUN_ADDR_TEXT, "%s", ip);
        (*count)++;
    }
    r->local_count = *count;
    freeifaddrs(list);
}

// The source address the kernel picks toward `to` (a connected UDP socket sends nothing).
static void source_address_toward(const struct sockaddr_in *to, struct in_addr *out)
{
    out->s_addr = htonl(INADDR_ANY);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) == 0 &&
        getsockname(fd, (struct sockaddr *)&local, &len) == 0)
        *out = local.sin_addr;
    close(fd);
}

// --- classification ---

void natprobe_classify(natprobe_result_t *r)
{
    const char *advice;
    r->reachable = false;
    if (r->used < 0) {
        r->type = NAT_TYPE_UDP_BLOCKED;
        advice = "No STUN server answered: UDP to them is blocked on this network, or they are down. Check "
                 "nat.stun_servers; peers can then only be reached through a TURN relay over TCP.";
    } else if (!r->behind_nat) {
        if (r->filtering == NAT_BEHAVIOUR_ADDRESS_DEPENDENT ||
            r->filtering == NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT) {
            r->type = NAT_TYPE_FIREWALLED;
            advice = "No NAT, but a firewall drops unsolicited inbound UDP: peers still connect by hole punching "
                     "(ICE); allow inbound UDP to make this node reachable from everyone.";
        } else {
            r->type = NAT_TYPE_OPEN;
            r->reachable = true;
            advice = "No NAT: this node's address is public and peers reach it directly.";
        }
    } else if (r->mapping == NAT_BEHAVIOUR_ADDRESS_DEPENDENT ||
               r->mapping == NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT) {
        r->type = NAT_TYPE_SYMMETRIC;
        advice = "Symmetric NAT: every destination gets a new public port, so only peers that are open, full-cone "
                 "or restricted-cone connect directly; peers behind port-restricted or symmetric NATs need a TURN "
                 "relay (nat.turn_servers). Forwarding a UDP port or UPnP/NAT-PMP on the router avoids the relay.";
    } else if (r->mapping == NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT && r->filtering == NAT_BEHAVIOUR_UNKNOWN) {
        r->type = NAT_TYPE_UNKNOWN;
        advice = "A cone NAT (endpoint-independent mapping; filtering not tested): peers connect directly by hole "
                 "punching (ICE), except possibly peers behind a symmetric NAT, which may need a TURN relay. A STUN "
                 "server with two addresses (RFC 5780) tells the exact type.";
    } else if (r->mapping == NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT && r->filtering == NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT) {
        r->type = NAT_TYPE_FULL_CONE;
        r->reachable = true;
        advice = "Full-cone NAT: once weft has sent from a port, anyone can reach it there; peers connect directly.";
    } else if (r->mapping == NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT && r->filtering == NAT_BEHAVIOUR_ADDRESS_DEPENDENT) {
        r->type = NAT_TYPE_RESTRICTED_CONE;
        advice = "Restricted-cone NAT: peers connect directly by hole punching (ICE), symmetric ones included. "
                 "Forward a UDP port to be reachable without it.";
    } else if (r->mapping == NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT &&
               r->filtering == NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT) {
        r->type = NAT_TYPE_PORT_RESTRICTED_CONE;
        advice = "Port-restricted-cone NAT: peers connect directly by hole punching (ICE), except peers behind a "
                 "symmetric NAT, which need a TURN relay (nat.turn_servers). Forward a UDP port or enable "
                 "UPnP/NAT-PMP on the router to be reachable from everyone.";
    } else {
        r->type = NAT_TYPE_UNKNOWN;
        advice = "Behind a NAT whose behaviour could not be tested (see note). Configure a TURN relay to be safe, "
                 "and a STUN server with two addresses (RFC 5780) to find out.";
    }
    snprintf(r->advice, sizeof r->advice, "%s", advice);
}

// --- the probe ---

static void note(natprobe_result_t *r, const char *text)
{
    if (!r->note[0])
        snprintf(r->note, sizeof r->note, "%s", text);
}

// F2 and F3: how the NAT filters what it did not ask for.
static void test_filtering(stun_socket_t *p, const struct sockaddr_in *primary, const struct sockaddr_in *alternate,
                           int timeout_ms, natprobe_result_t *r)
{
    stun_transaction_t reply;
    bool answered = transact(p, primary, STUN_CHANGE_IP | STUN_CHANGE_PORT, false, timeout_ms, &reply);
    if (answered) {
        if (reply.msg.type == STUN_BINDING_ERROR) {
            note(r, "the server refused CHANGE-REQUEST: filtering not tested");
            return;
        }
        if (answer_from(&reply)->sin_addr.s_addr == primary->sin_addr.s_addr) {
            note(r, "the server answered CHANGE-REQUEST from the same address: filtering not tested");
            return;
        }
        r->filtering = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
        return;
    }
    answered = transact(p, primary, STUN_CHANGE_PORT, false, timeout_ms, &reply);
    if (answered && reply.msg.type == STUN_BINDING_SUCCESS && answer_from(&reply)->sin_port == alternate->sin_port &&
        answer_from(&reply)->sin_addr.s_addr == primary->sin_addr.s_addr) {
        r->filtering = NAT_BEHAVIOUR_ADDRESS_DEPENDENT;
        return;
    }
    if (answered && reply.msg.type == STUN_BINDING_SUCCESS && answer_from(&reply)->sin_port == primary->sin_port) {
        note(r, "the server answered a port change from the same port: filtering not tested");
        return;
    }
    r->filtering = NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
}

// M2 and M3: does the public address depend on where we send?
static void test_mapping(stun_socket_t *p, const struct sockaddr_in *primary, const struct sockaddr_in *alternate,
                         const stun_addr_t *m1, int timeout_ms, natprobe_result_t *r)
{
    struct sockaddr_in alt_ip_primary_port = *alternate;
    alt_ip_primary_port.sin_port = primary->sin_port;
    stun_transaction_t reply;
    if (!transact(p, &alt_ip_primary_port, 0, false, timeout_ms, &reply) || !stun_mapped_address(&reply.msg)) {
        note(r, "the server's alternate address did not answer: mapping not tested");
        return;
    }
    stun_addr_t m2 = *stun_mapped_address(&reply.msg);
    if (stun_addr_equal(&m2, m1)) {
        r->mapping = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
        return;
    }
    if (!transact(p, alternate, 0, false, timeout_ms, &reply) || !stun_mapped_address(&reply.msg)) {
        // M2 already differs from M1: the mapping depends at least on the address
        r->mapping = NAT_BEHAVIOUR_ADDRESS_DEPENDENT;
        note(r, "the server's alternate port did not answer: address-dependent or stricter");
        return;
    }
    stun_addr_t m3 = *stun_mapped_address(&reply.msg);
    r->mapping = stun_addr_equal(&m3, &m2) ? NAT_BEHAVIOUR_ADDRESS_DEPENDENT : NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
}

// Without an alternate address: the mapping compared across two servers on different IPs (the next ones in
// the list). Equal mapped addresses: endpoint-independent; different: at least address-dependent.
// Returns whether another server answered.
static bool test_mapping_across_servers(stun_socket_t *p, const char *const *servers, int count,
                                        const struct sockaddr_in *primary, const stun_addr_t *m1, int timeout_ms,
                                        natprobe_result_t *r)
{
    for (int j = r->used + 1; j < count; j++) {
        struct sockaddr_in other;
        char why[NATPROBE_TEXT];
        if (natprobe_resolve(servers[j], &other, why, sizeof why) != 0 ||
            other.sin_addr.s_addr == primary->sin_addr.s_addr)
            continue;
        stun_transaction_t reply;
        if (!transact(p, &other, 0, false, timeout_ms, &reply) || reply.msg.type != STUN_BINDING_SUCCESS ||
            !stun_mapped_address(&reply.msg) || stun_mapped_address(&reply.msg)->family != AF_INET)
            continue;
        bool same = stun_addr_equal(stun_mapped_address(&reply.msg), m1);
        r->mapping = same ? NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT : NAT_BEHAVIOUR_ADDRESS_DEPENDENT;
        char text[NATPROBE_TEXT];
        snprintf(text, sizeof text, "the server has no alternate address: mapping compared with %.100s (%s), "
                 "filtering not tested", servers[j], same ? "the same public address" : "another public address");
        note(r, text);
        return true;
    }
    return false;
}

int natprobe_run(const char *const *servers, int count, const natprobe_options_t *opt, natprobe_result_t *r)
{
    natprobe_options_t defaults;
    if (!opt) {
        natprobe_options_default(&defaults);
        opt = &defaults;
    }
    int timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 1000;
    memset(r, 0, sizeof *r);
    r->used = -1;
    r->hairpin = -1;
    int64_t started = clock_now_ms();

    struct in_addr locals[NATPROBE_MAX_LOCAL];
    int local_count = 0;
    collect_local_addresses(r, locals, &local_count);

    stun_socket_t p;
    char err[NATPROBE_TEXT];
    if (stun_socket_open(&p, AF_INET, err, sizeof err) != 0) {
        note(r, err);
        natprobe_classify(r);
        r->duration_ms = clock_now_ms() - started;
        return -1;
    }

    // T1 against each server in order until one answers with a mapped address
    struct sockaddr_in primary;
    stun_transaction_t first;
    if (count > NATPROBE_MAX_SERVERS)
        count = NATPROBE_MAX_SERVERS;
    for (int i = 0; i < count && r->used < 0; i++) {
        natprobe_server_t *s = &r->servers[r->server_count++];
        snprintf(s->server, sizeof s->server, "%s", servers[i] ? servers[i] : "");
        s->rtt_ms = -1;
        if (natprobe_resolve(s->server, &primary, s->error, sizeof s->error) != 0)
            continue;
        stun_addr_t a;
        stun_addr_from_sockaddr(&a, &primary);
        stun_addr_to_text(&a, s->address);
        bool answered = transact(&p, &primary, 0, false, timeout_ms, &first);
        if (answered && first.msg.type == STUN_BINDING_ERROR) {
            snprintf(s->error, sizeof s->error, "error response %d %s", first.msg.error_code, first.msg.error_reason);
        } else if (answered && !stun_mapped_address(&first.msg)) {
            snprintf(s->error, sizeof s->error, "a response without a mapped address");
        } else if (answered && stun_mapped_address(&first.msg)->family != AF_INET) {
            snprintf(s->error, sizeof s->error, "a mapped address that is not IPv4");
        } else if (answered) {
            s->answered = true;
            s->rtt_ms = first.rtt_ms;
            r->used = i;
        } else {
            stun_transaction_why_silent(&first, s->error, sizeof s->error);
        }
    }
    if (r->used < 0) {
        stun_socket_close(&p);
        note(r, count ? "no STUN server answered" : "no STUN server configured (nat.stun_servers, --stun)");
        natprobe_classify(r);
        r->duration_ms = clock_now_ms() - started;
        return -1;
    }

    const stun_addr_t *m1 = stun_mapped_address(&first.msg);
    stun_addr_t mapped = *m1;
    stun_addr_to_text(&mapped, r->public_address);
    snprintf(r->server_software, sizeof r->server_software, "%s", first.msg.software);
    struct in_addr source;
    source_address_toward(&primary, &source);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &source, ip, sizeof ip);
    snprintf(r->local_endpoint, sizeof r->local_endpoint, "%s:%u", ip, p.port);
    r->behind_nat = true;
    if (mapped.port == p.port)
        for (int i = 0; i < local_count; i++)
            if (memcmp(&locals[i], mapped.addr, 4) == 0)
                r->behind_nat = false;
    if (!r->behind_nat)
        r->mapping = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;   // no NAT: nothing to map

    if (!opt->skip_behaviour) {
        const stun_addr_t *alt = stun_alternate_address(&first.msg);
        struct sockaddr_in alternate;
        r->rfc5780 = first.msg.other_address.family != 0;
        if (alt)
            stun_addr_to_text(alt, r->alternate);
        if (!alt || stun_addr_to_sockaddr(alt, &alternate) != 0) {
            bool compared = r->behind_nat &&
                            test_mapping_across_servers(&p, servers, count, &primary, &mapped, timeout_ms, r);
            if (!compared)
                note(r, "the server has no alternate address (no OTHER-ADDRESS or CHANGED-ADDRESS): mapping and "
                        "filtering not tested");
        } else if (alternate.sin_addr.s_addr == primary.sin_addr.s_addr || alternate.sin_port == primary.sin_port) {
            note(r, "the server's alternate address shares its IP or port: mapping and filtering not tested");
        } else {
            test_filtering(&p, &primary, &alternate, timeout_ms, r);
            if (r->behind_nat)
                test_mapping(&p, &primary, &alternate, &mapped, timeout_ms, r);
        }
        if (r->behind_nat) {
            struct sockaddr_in self;
            stun_addr_to_sockaddr(&mapped, &self);
            stun_transaction_t echo;
            int wait = timeout_ms / 2 > 200 ? timeout_ms / 2 : 200;
            r->hairpin = transact(&p, &self, 0, true, wait, &echo) ? 1 : 0;
        }
    }
    stun_socket_close(&p);
    natprobe_classify(r);
    r->duration_ms = clock_now_ms() - started;
    return 0;
}

int natprobe_first_alive(const char *const *servers, int count, int timeout_ms, char *ip, size_t ip_len,
                         unsigned *port, char *err, size_t err_len)
{
    natprobe_options_t opt;
    natprobe_options_default(&opt);
    opt.timeout_ms = timeout_ms;
    opt.skip_behaviour = true;
    natprobe_result_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    natprobe_run(servers, count, &opt, r);
    int used = r->used;
    if (used >= 0) {
        struct sockaddr_in sin;
        char why[NATPROBE_TEXT];
        natprobe_resolve(r->servers[used].server, &sin, why, sizeof why);
        inet_ntop(AF_INET, &sin.sin_addr, ip, (socklen_t)ip_len);
        *port = ntohs(sin.sin_port);
        err[0] = '\0';
    }
    // what each skipped server did, for the caller's log ("a:3478: no answer in 1000 ms; ...")
    size_t n = 0;
    for (int i = 0; i < r->server_count && n < err_len; i++)
        if (!r->servers[i].answered)
            n += (size_t)snprintf(err + n, err_len - n, "%s%s: %s", n ? "; " : "", r->servers[i].server,
                                  r->servers[i].error);
    if (r->server_count == 0 && err_len)
        snprintf(err, err_len, "no STUN server configured");
    free(r);
    return used;
}

void natprobe_write_json(const natprobe_result_t *r, json_t *j)
{
    json_object_begin(j, NULL);
    json_string(j, "nat_type", nat_type_name(r->type));
    json_bool(j, "behind_nat", r->behind_nat);
    json_bool(j, "reachable", r->reachable);
    json_string(j, "public_address", r->public_address);
    json_string(j, "local_endpoint", r->local_endpoint);
    json_array_begin(j, "local_addresses");
    for (int i = 0; i < r->local_count; i++)
        json_string(j, NULL, r->local_addresses[i]);
    json_array_end(j);
    json_string(j, "mapping", nat_behaviour_name(r->mapping));
    json_string(j, "filtering", nat_behaviour_name(r->filtering));
    if (r->hairpin < 0)
        json_null(j, "hairpin");
    else
        json_bool(j, "hairpin", r->hairpin == 1);
    json_string(j, "advice", r->advice);
    json_string(j, "note", r->note);
    if (r->used >= 0) {
        json_object_begin(j, "server");
        json_string(j, "server", r->servers[r->used].server);
        json_string(j, "address", r->servers[r->used].address);
        json_string(j, "software", r->server_software);
        json_bool(j, "rfc5780", r->rfc5780);
        json_string(j, "alternate", r->alternate);
        json_object_end(j);
    } else {
        json_null(j, "server");
    }
    json_array_begin(j, "servers");
    for (int i = 0; i < r->server_count; i++) {
        const natprobe_server_t *s = &r->servers[i];
        json_object_begin(j, NULL);
        json_string(j, "server", s->server);
        json_string(j, "address", s->address);
        json_bool(j, "answered", s->answered);
        json_int(j, "rtt_ms", s->rtt_ms);
        json_string(j, "error", s->error);
        json_object_end(j);
    }
    json_array_end(j);
    json_int(j, "duration_ms", r->duration_ms);
    json_object_end(j);
}
