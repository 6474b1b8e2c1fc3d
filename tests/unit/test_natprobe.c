// test_natprobe.c — lib/natprobe.c against STUN servers on loopback, run in a thread of this test: a
// server on 127.0.0.1 and 127.0.0.2 with two ports each (RFC 5780, honouring CHANGE-REQUEST) that plays
// a NAT in front of the client: it reports a mapped address on 127.0.0.9 that depends on which of its
// sockets was asked (endpoint-independent, address-dependent or address-and-port-dependent mapping) and
// drops the answers the NAT's filter would drop. The probe must name each NAT type from that behaviour,
// fail over from a silent and a lying server, pick the first live server for weft-nat, and say
// udp-blocked when nothing answers. Plus the classification table and the JSON. Loopback only.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "natprobe.h"

typedef enum { LIE_NONE, LIE_WRONG_TXID, LIE_GARBAGE } lie_t;

typedef struct {
    int fd[4];                  // [ip][port]: 0 = 127.0.0.1:A, 1 = 127.0.0.1:B, 2 = 127.0.0.2:A, 3 = 127.0.0.2:B
    uint16_t port_a, port_b;
    bool nat;                   // report 127.0.0.9 as the mapped address (the client is "behind a NAT")
    nat_behaviour_t mapping;
    nat_behaviour_t filtering;
    bool alternate;             // send OTHER-ADDRESS
    bool rfc3489;               // answer as an RFC 3489 server: MAPPED-ADDRESS and CHANGED-ADDRESS only
    lie_t lie;
    atomic_bool stop;
    pthread_t thread;
} fake_server_t;

static int bind_udp(const char *ip, uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    if (bound)
        *bound = ntohs(a.sin_port);
    return fd;
}

static void answer(fake_server_t *s, int at, const uint8_t *req, size_t len, const struct sockaddr_in *from)
{
    stun_message_t m;
    if (stun_decode(req, len, &m, NULL, 0) != 0 || m.type != STUN_BINDING_REQUEST)
        return;
    int ip = at / 2, port = at % 2;
    bool change_ip = m.change_flags & STUN_CHANGE_IP, change_port = m.change_flags & STUN_CHANGE_PORT;
    // the NAT's filter: would an answer from the changed address get through?
    if (s->filtering == NAT_BEHAVIOUR_ADDRESS_DEPENDENT && change_ip)
        return;
    if (s->filtering == NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT && (change_ip || change_port))
        return;
    int out = (change_ip ? 1 - ip : ip) * 2 + (change_port ? 1 - port : port);

    stun_addr_t mapped;
    stun_addr_from_sockaddr(&mapped, from);
    if (s->nat) {
        uint8_t public_ip[4] = {127, 0, 0, 9};
        memcpy(mapped.addr, public_ip, 4);
        mapped.port = (uint16_t)(mapped.port + 1000);   // not our own port: 127.0.0.9 is local too
        if (s->mapping == NAT_BEHAVIOUR_ADDRESS_DEPENDENT)
            mapped.port = (uint16_t)(mapped.port + 7 * ip);
        else if (s->mapping == NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT)
            mapped.port = (uint16_t)(mapped.port + 7 * ip + 3 * port);
    }
    stun_addr_t other = {.family = AF_INET, .addr = {127, 0, 0, 2}, .port = s->port_b};
    uint8_t txid[STUN_TXID_LEN];
    memcpy(txid, m.txid, sizeof txid);
    if (s->lie == LIE_WRONG_TXID)
        txid[0] ^= 0xff;
    uint8_t buf[STUN_MAX_MESSAGE];
    size_t n;
    if (s->rfc3489) {
        // header (the 16-byte RFC 3489 transaction id echoed), MAPPED-ADDRESS, CHANGED-ADDRESS
        uint8_t head[8] = {0x01, 0x01, 0x00, 24};
        memcpy(buf, head, 4);
        memcpy(buf + 4, req + 4, 16);
        const stun_addr_t *addrs[2] = {&mapped, &other};
        for (int k = 0; k < 2; k++) {
            uint8_t *a = buf + 20 + 12 * k;
            a[0] = 0x00, a[1] = k == 0 ? 0x01 : 0x05, a[2] = 0x00, a[3] = 8;
            a[4] = 0, a[5] = 0x01, a[6] = (uint8_t)(addrs[k]->port >> 8), a[7] = (uint8_t)addrs[k]->port;
            memcpy(a + 8, addrs[k]->addr, 4);
        }
        n = 44;
    } else {
        n = stun_build_binding_response(txid, &mapped, s->alternate ? &other : NULL, "fake", buf, sizeof buf);
    }
    if (s->lie == LIE_GARBAGE)
        buf[n - 1] ^= 0x55;   // FINGERPRINT no longer matches
    sendto(s->fd[out], buf, n, 0, (const struct sockaddr *)from, sizeof *from);
}

static void *serve(void *arg)
{
    fake_server_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p[4];
        for (int i = 0; i < 4; i++)
            p[i] = (struct pollfd){.fd = s->fd[i], .events = POLLIN};
        if (poll(p, 4, 20) <= 0)
            continue;
        for (int i = 0; i < 4; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            uint8_t buf[STUN_MAX_MESSAGE];
            struct sockaddr_in from;
            socklen_t len = sizeof from;
            ssize_t n = recvfrom(s->fd[i], buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
            if (n > 0)
                answer(s, i, buf, (size_t)n, &from);
        }
    }
    return NULL;
}

static fake_server_t *fake_start(bool nat, nat_behaviour_t mapping, nat_behaviour_t filtering, bool alternate,
                                 lie_t lie)
{
    fake_server_t *s = calloc(1, sizeof *s);
    s->nat = nat;
    s->mapping = mapping;
    s->filtering = filtering;
    s->alternate = alternate;
    s->lie = lie;
    // the same two port numbers on both addresses; retry when the second address has one taken
    for (int attempt = 0; attempt < 20; attempt++) {
        s->fd[0] = bind_udp("127.0.0.1", 0, &s->port_a);
        s->fd[1] = bind_udp("127.0.0.1", 0, &s->port_b);
        s->fd[2] = bind_udp("127.0.0.2", s->port_a, NULL);
        s->fd[3] = bind_udp("127.0.0.2", s->port_b, NULL);
        if (s->fd[0] >= 0 && s->fd[1] >= 0 && s->fd[2] >= 0 && s->fd[3] >= 0)
            break;
        for (int i = 0; i < 4; i++)
            if (s->fd[i] >= 0)
                close(s->fd[i]);
    }
    assert_true(s->fd[3] >= 0);
    pthread_create(&s->thread, NULL, serve, s);
    return s;
}

static void fake_stop(fake_server_t **sp)
{
    fake_server_t *s = *sp;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < 4; i++)
        close(s->fd[i]);
    free(s);
    *sp = NULL;
}

static void server_name(const fake_server_t *s, char *out, size_t len)
{
    snprintf(out, len, "127.0.0.1:%u", s->port_a);
}

static natprobe_result_t *probe(const char *const *servers, int count, int *rc)
{
    natprobe_options_t opt;
    natprobe_options_default(&opt);
    opt.timeout_ms = 250;
    natprobe_result_t *r = calloc(1, sizeof *r);
    *rc = natprobe_run(servers, count, &opt, r);
    return r;
}

// One NAT played by the fake server (as an RFC 5780 or an RFC 3489 server); the probe must name it.
static void expect_type_from(bool rfc3489, bool nat, nat_behaviour_t mapping, nat_behaviour_t filtering,
                             nat_type_t want)
{
    fake_server_t *s = fake_start(nat, mapping, filtering, true, LIE_NONE);
    s->rfc3489 = rfc3489;
    char name[64];
    server_name(s, name, sizeof name);
    const char *servers[] = {name};
    int rc;
    natprobe_result_t *r = probe(servers, 1, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(nat_type_name(r->type), nat_type_name(want));
    assert_int_equal(r->behind_nat, nat);
    assert_int_equal(r->filtering, filtering);
    assert_int_equal(r->mapping, nat ? mapping : NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT);
    assert_int_equal(r->rfc5780, !rfc3489);
    assert_non_null(strstr(r->alternate, "127.0.0.2:"));
    assert_string_equal(r->note, "");
    if (nat) {
        assert_non_null(strstr(r->public_address, "127.0.0.9:"));
        assert_int_equal(r->hairpin, 0);   // nothing answers on 127.0.0.9
    } else {
        assert_string_equal(r->public_address, r->local_endpoint);
        assert_int_equal(r->hairpin, -1);
    }
    free(r);
    fake_stop(&s);
}

static void expect_type(bool nat, nat_behaviour_t mapping, nat_behaviour_t filtering, nat_type_t want)
{
    expect_type_from(false, nat, mapping, filtering, want);
}

static void test_nat_types(void **state)
{
    (void)state;
    const nat_behaviour_t EI = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, AD = NAT_BEHAVIOUR_ADDRESS_DEPENDENT,
                          APD = NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
    expect_type(false, EI, EI, NAT_TYPE_OPEN);
    expect_type(false, EI, APD, NAT_TYPE_FIREWALLED);
    expect_type(true, EI, EI, NAT_TYPE_FULL_CONE);
    expect_type(true, EI, AD, NAT_TYPE_RESTRICTED_CONE);
    expect_type(true, EI, APD, NAT_TYPE_PORT_RESTRICTED_CONE);
    expect_type(true, AD, APD, NAT_TYPE_SYMMETRIC);
    expect_type(true, APD, APD, NAT_TYPE_SYMMETRIC);
}

// The same tests against an RFC 3489 server (CHANGED-ADDRESS, no XOR-MAPPED-ADDRESS).
static void test_nat_types_rfc3489(void **state)
{
    (void)state;
    const nat_behaviour_t EI = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, AD = NAT_BEHAVIOUR_ADDRESS_DEPENDENT,
                          APD = NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
    expect_type_from(true, false, EI, EI, NAT_TYPE_OPEN);
    expect_type_from(true, true, EI, AD, NAT_TYPE_RESTRICTED_CONE);
    expect_type_from(true, true, EI, APD, NAT_TYPE_PORT_RESTRICTED_CONE);
    expect_type_from(true, true, APD, APD, NAT_TYPE_SYMMETRIC);
}

// Servers without an alternate address: the mapping is compared across two servers on different IPs.
static void test_mapping_across_servers(void **state)
{
    (void)state;
    const nat_behaviour_t mappings[] = {NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, NAT_BEHAVIOUR_ADDRESS_DEPENDENT};
    for (int k = 0; k < 2; k++) {
        fake_server_t *x = fake_start(true, mappings[k], NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, false, LIE_NONE);
        fake_server_t *y = fake_start(true, mappings[k], NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, false, LIE_NONE);
        char nx[64], ny[64];
        server_name(x, nx, sizeof nx);
        snprintf(ny, sizeof ny, "127.0.0.2:%u", y->port_a);   // another IP: y answers as its second address
        const char *servers[] = {nx, ny};
        int rc;
        natprobe_result_t *r = probe(servers, 2, &rc);
        assert_int_equal(rc, 0);
        assert_int_equal(r->used, 0);
        assert_int_equal(r->mapping, mappings[k]);
        assert_int_equal(r->filtering, NAT_BEHAVIOUR_UNKNOWN);
        assert_non_null(strstr(r->note, "mapping compared with 127.0.0.2:"));
        assert_int_equal(r->type, k == 0 ? NAT_TYPE_UNKNOWN : NAT_TYPE_SYMMETRIC);
        if (k == 0)
            assert_non_null(strstr(r->advice, "cone NAT"));
        free(r);
        fake_stop(&x);
        fake_stop(&y);
    }
}

static void test_failover(void **state)
{
    (void)state;
    // a bound socket that never answers, two liars, then a good server without an alternate address
    uint16_t silent_port;
    int silent = bind_udp("127.0.0.1", 0, &silent_port);
    fake_server_t *wrong = fake_start(false, 0, 0, true, LIE_WRONG_TXID);
    fake_server_t *garbage = fake_start(false, 0, 0, true, LIE_GARBAGE);
    fake_server_t *good = fake_start(false, 0, 0, false, LIE_NONE);
    char n0[64], n1[64], n2[64], n3[64];
    snprintf(n0, sizeof n0, "127.0.0.1:%u", silent_port);
    server_name(wrong, n1, sizeof n1);
    server_name(garbage, n2, sizeof n2);
    server_name(good, n3, sizeof n3);
    const char *servers[] = {"not-a-server", "[::1]:3478", n0, n1, n2, n3};
    int rc;
    natprobe_result_t *r = probe(servers, 6, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(r->used, 5);
    assert_int_equal(r->server_count, 6);
    assert_non_null(strstr(r->servers[0].error, "host:port"));
    assert_non_null(strstr(r->servers[1].error, "IPv4 only"));
    assert_non_null(strstr(r->servers[2].error, "no answer in 250 ms"));
    assert_non_null(strstr(r->servers[3].error, "wrong transaction id"));
    assert_non_null(strstr(r->servers[4].error, "FINGERPRINT"));
    assert_true(r->servers[5].answered);
    assert_int_equal(r->type, NAT_TYPE_OPEN);
    assert_int_equal(r->filtering, NAT_BEHAVIOUR_UNKNOWN);   // no alternate address: not tested
    assert_non_null(strstr(r->note, "alternate address"));
    free(r);

    // weft-nat's pick: the first live server, as a numeric address
    char ip[64] = "", err[512] = "";
    unsigned port = 0;
    assert_int_equal(natprobe_first_alive(servers, 6, 250, ip, sizeof ip, &port, err, sizeof err), 5);
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(port, good->port_a);
    assert_non_null(strstr(err, n0));   // what the skipped ones did, for the log

    // nothing alive: -1, udp-blocked, a reason for each
    const char *dead[] = {n0, n1};
    r = probe(dead, 2, &rc);
    assert_int_equal(rc, -1);
    assert_int_equal(r->type, NAT_TYPE_UDP_BLOCKED);
    assert_false(r->reachable);
    assert_true(r->servers[0].error[0] && r->servers[1].error[0]);
    free(r);
    assert_int_equal(natprobe_first_alive(dead, 2, 200, ip, sizeof ip, &port, err, sizeof err), -1);
    assert_int_equal(natprobe_first_alive(NULL, 0, 200, ip, sizeof ip, &port, err, sizeof err), -1);
    assert_non_null(strstr(err, "no STUN server"));

    fake_stop(&wrong);
    fake_stop(&garbage);
    fake_stop(&good);
    close(silent);
}

static void test_classify(void **state)
{
    (void)state;
    natprobe_result_t r;
    memset(&r, 0, sizeof r);
    r.used = -1;
    natprobe_classify(&r);
    assert_int_equal(r.type, NAT_TYPE_UDP_BLOCKED);
    assert_non_null(strstr(r.advice, "TURN"));
    r.used = 0;
    r.behind_nat = true;
    r.mapping = NAT_BEHAVIOUR_UNKNOWN;
    natprobe_classify(&r);
    assert_int_equal(r.type, NAT_TYPE_UNKNOWN);
    assert_false(r.reachable);
    r.mapping = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
    r.filtering = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
    natprobe_classify(&r);
    assert_int_equal(r.type, NAT_TYPE_FULL_CONE);
    assert_true(r.reachable);
    r.filtering = NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
    natprobe_classify(&r);
    assert_int_equal(r.type, NAT_TYPE_PORT_RESTRICTED_CONE);
    assert_false(r.reachable);
    assert_non_null(strstr(r.advice, "symmetric"));
    r.mapping = NAT_BEHAVIOUR_ADDRESS_DEPENDENT;
    natprobe_classify(&r);
    assert_int_equal(r.type, NAT_TYPE_SYMMETRIC);
    assert_non_null(strstr(r.advice, "TURN"));
    r.behind_nat = false;
    r.filtering = NAT_BEHAVIOUR_UNKNOWN;
    natprobe_classify(&r);
    assert_int_equal(r.type, NAT_TYPE_OPEN);
    assert_string_equal(nat_type_name((nat_type_t)99), "unknown");
    assert_string_equal(nat_behaviour_name(NAT_BEHAVIOUR_ADDRESS_DEPENDENT), "address-dependent");
}

static void test_json(void **state)
{
    (void)state;
    natprobe_result_t r;
    memset(&r, 0, sizeof r);
    r.used = 0;
    r.server_count = 1;
    snprintf(r.servers[0].server, sizeof r.servers[0].server, "stun.example:3478");
    r.servers[0].answered = true;
    r.servers[0].rtt_ms = 3;
    r.hairpin = -1;
    r.behind_nat = true;
    r.mapping = r.filtering = NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
    snprintf(r.server_software, sizeof r.server_software, "quote\" and \\ backslash");
    natprobe_classify(&r);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    json_t j;
    json_init(&j, f);
    natprobe_write_json(&r, &j);
    fclose(f);
    assert_non_null(strstr(text, "\"nat_type\":\"full-cone\""));
    assert_non_null(strstr(text, "\"hairpin\":null"));
    assert_non_null(strstr(text, "\"software\":\"quote\\\" and \\\\ backslash\""));
    assert_non_null(strstr(text, "\"servers\":[{\"server\":\"stun.example:3478\""));
    assert_non_null(strstr(text, "\"rtt_ms\":3"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_nat_types),
        cmocka_unit_test(test_nat_types_rfc3489),
        cmocka_unit_test(test_mapping_across_servers),
        cmocka_unit_test(test_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
