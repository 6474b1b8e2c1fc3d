// predict.c — learning our NAT's port allocation and offering predicted srflx candidates (see predict.h).
#include "predict.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "candidate_line.h"
#include "log.h"
#include "natprobe.h"
#include "stun_client.h"

#define PREDICT_RETRANSMIT_MS 250

typedef struct {
    struct sockaddr_in servers[PREDICT_MAX_SERVERS];
    int server_count;
    _Atomic int *kind, *step;
    _Atomic uint32_t *public_ip;    // network order
    _Atomic int *last_port;
    _Atomic int64_t *probed_ms;     // monotonic: when the last probe found sequential ports
    _Atomic bool stop;              // set before the thread is told to end: a probe in progress gives up
} probe_args_t;

struct predict {
    zactor_t *actor;
    probe_args_t args;
    _Atomic int kind;
    _Atomic int step;
    _Atomic uint32_t public_ip;
    _Atomic int last_port;
    _Atomic int64_t probed_ms;
};

const char *predict_kind_name(predict_kind_t kind)
{
    switch (kind) {
    case PREDICT_INDEPENDENT: return "endpoint-independent mapping";
    case PREDICT_SEQUENTIAL: return "symmetric, sequential ports";
    case PREDICT_RANDOM: return "symmetric, random ports";
    case PREDICT_UNKNOWN:
    default: return "unknown";
    }
}

predict_kind_t predict_classify(const uint16_t *ports, size_t count, int *step)
{
    *step = 0;
    if (count < 3)
        return PREDICT_UNKNOWN;
    if (ports[0] == ports[1])
        return PREDICT_INDEPENDENT;
    int smallest = 0, sign = 0;
    for (size_t i = 1; i < count; i++) {
        int d = (int)ports[i] - (int)ports[i - 1];
        int s = d > 0 ? 1 : -1;
        if (d == 0 || d > PREDICT_MAX_GAP || d < -PREDICT_MAX_GAP || (sign && s != sign))
            return PREDICT_RANDOM;
        sign = s;
        if (!smallest || abs(d) < abs(smallest))
            smallest = d;
    }
    *step = smallest;
    return PREDICT_SEQUENTIAL;
}

// ---------------------------------------------------------------- the probe (its own thread)

// One Binding request from s to `to`, retransmitted every PREDICT_RETRANSMIT_MS, for at most
// PREDICT_BINDING_MS (lib/stun_client.c). Returns 0 with a success response that has an IPv4 mapped
// address in *msg, or -1.
static int binding(probe_args_t *args, stun_socket_t *s, const struct sockaddr_in *to, stun_message_t *msg)
{
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    opt.timeout_ms = PREDICT_BINDING_MS;
    opt.retransmit_ms = opt.max_retransmit_ms = PREDICT_RETRANSMIT_MS;
    opt.stop = &args->stop;
    stun_transaction_t t;
    if (stun_client_binding(s, (const struct sockaddr *)to, sizeof *to, &opt, &t) != STUN_CLIENT_ANSWERED ||
        t.msg.type != STUN_BINDING_SUCCESS || !stun_mapped_address(&t.msg) ||
        stun_mapped_address(&t.msg)->family != AF_INET)
        return -1;
    *msg = t.msg;
    return 0;
}

static void addr_text(const struct sockaddr_in *a, char out[32])
{
    char ip[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, 32, "%s:%u", ip, ntohs(a->sin_port));
}

// Four Bindings (see predict.h). Returns the kind; *step when sequential.
static predict_kind_t probe(probe_args_t *args, int *step)
{
    *step = 0;
    stun_socket_t s1, s2;
    char err[128];
    bool open1 = stun_socket_open(&s1, AF_INET, err, sizeof err) == 0;
    bool open2 = open1 && stun_socket_open(&s2, AF_INET, err, sizeof err) == 0;
    if (!open2)
        log_warn("port prediction: %s", err);
    predict_kind_t kind = PREDICT_UNKNOWN;
    stun_message_t m[PREDICT_PROBE_PORTS];
    int used = -1;
    for (int i = 0; open2 && i < args->server_count && used < 0; i++)
        if (binding(args, &s1, &args->servers[i], &m[0]) == 0)
            used = i;
    struct sockaddr_in second;
    const stun_addr_t *alt = used >= 0 ? stun_alternate_address(&m[0]) : NULL;
    bool have_second = false;
    if (alt && stun_addr_to_sockaddr(alt, &second) == 0)
        have_second = true;
    else if (used >= 0 && used + 1 < args->server_count) {
        second = args->servers[used + 1];
        have_second = true;
    }
    if (used < 0) {
        log_info("port prediction: no STUN server answered; not predicting");
    } else if (!have_second) {
        log_info("port prediction: the STUN server gives no other address and no second server is configured; "
                 "cannot tell how the NAT maps ports");
    } else if (binding(args, &s1, &second, &m[1]) != 0 || binding(args, &s2, &args->servers[used], &m[2]) != 0 ||
               binding(args, &s2, &second, &m[3]) != 0) {
        char text[32];
        addr_text(&second, text);
        log_info("port prediction: %s or the server did not answer; cannot tell how the NAT maps ports", text);
    } else {
        uint16_t ports[PREDICT_PROBE_PORTS];
        for (int i = 0; i < PREDICT_PROBE_PORTS; i++)
            ports[i] = stun_mapped_address(&m[i])->port;
        kind = predict_classify(ports, PREDICT_PROBE_PORTS, step);
        struct sockaddr_in mapped;
        if (kind == PREDICT_SEQUENTIAL && stun_addr_to_sockaddr(stun_mapped_address(&m[3]), &mapped) == 0) {
            atomic_store(args->public_ip, mapped.sin_addr.s_addr);
            atomic_store(args->last_port, ports[PREDICT_PROBE_PORTS - 1]);
            atomic_store(args->probed_ms, zclock_mono());
        }
        log_info("port prediction: public ports %u, %u (socket 1), %u, %u (socket 2), to two destinations each: "
                 "%s%s", ports[0], ports[1], ports[2], ports[3], predict_kind_name(kind),
                 kind == PREDICT_SEQUENTIAL ? "; offering predicted ports" : "");
    }
    if (open1)
        stun_socket_close(&s1);
    if (open2)
        stun_socket_close(&s2);
    return kind;
}

static void probe_actor(zsock_t *pipe, void *data)
{
    probe_args_t *args = data;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    int64_t next_probe = 0;
    while (poller) {
        int64_t now = zclock_mono();
        if (now >= next_probe) {
            int step;
            predict_kind_t kind = probe(args, &step);
            atomic_store(args->step, step);
            atomic_store(args->kind, (int)kind);
            next_probe = zclock_mono() + PREDICT_REPROBE_MS;
        }
        int64_t wait = next_probe - zclock_mono();
        zsock_t *which = zpoller_wait(poller, wait < 0 ? 0 : wait > 60000 ? 60000 : (int)wait);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            bool term = !command || strcmp(command, "$TERM") == 0;
            zstr_free(&command);
            if (term)
                break;
        } else if (!which && zpoller_terminated(poller)) {
            break;
        }
    }
    zpoller_destroy(&poller);
}

// ---------------------------------------------------------------- actor side

predict_t *predict_new(const char servers[][CONFIG_STR], int count)
{
    if (count <= 0)
        return NULL;
    predict_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    for (int i = 0; i < count && self->args.server_count < PREDICT_MAX_SERVERS; i++) {
        char why[NATPROBE_TEXT];
        if (natprobe_resolve(servers[i], &self->args.servers[self->args.server_count], why, sizeof why) == 0)
            self->args.server_count++;
        else
            log_warn("port prediction: STUN server '%s' skipped: %s", servers[i], why);
    }
    if (self->args.server_count == 0) {
        log_info("port prediction: no IPv4 STUN server; not predicting");
        free(self);
        return NULL;
    }
    self->args.kind = &self->kind;
    self->args.step = &self->step;
    self->args.public_ip = &self->public_ip;
    self->args.last_port = &self->last_port;
    self->args.probed_ms = &self->probed_ms;
    atomic_store(&self->probed_ms, INT64_MIN / 2);
    self->actor = zactor_new(probe_actor, &self->args);
    if (!self->actor) {
        log_error("port prediction: cannot start its thread");
        free(self);
        return NULL;
    }
    return self;
}

void predict_destroy(predict_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    atomic_store(&(*self_p)->args.stop, true);
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}

predict_kind_t predict_kind(predict_t *self, int *step)
{
    *step = self ? atomic_load(&self->step) : 0;
    return self ? (predict_kind_t)atomic_load(&self->kind) : PREDICT_UNKNOWN;
}

// Up to PREDICT_COUNT srflx lines at ip:port + k * step (k = 1..), based on raddr:rport.
static size_t write_predictions(int step, const char *ip, uint16_t port, unsigned component, const char *raddr,
                                uint16_t rport, char **lines, size_t count, size_t max)
{
    size_t added = 0;
    for (int k = 1; k <= PREDICT_COUNT && count + added < max; k++) {
        long next = (long)port + (long)k * step;
        if (next < 1024 || next > 65535)
            break;
        char foundation[16];
        snprintf(foundation, sizeof foundation, "wpre%d", k);
        char *line = candidate_line_srflx(foundation, component,
                                          candidate_priority(CANDIDATE_PREF_PREDICTED, 65535 - (unsigned)k, component),
                                          ip, (uint16_t)next, raddr, rport);
        if (line)
            lines[count + added++] = line;
    }
    return added;
}

// The first line of the given type ("srflx" with a related address, or "host") for UDP over IPv4 that is
// not one of the lines weft added (foundations "w...").
static bool find_line(char **lines, size_t count, const char *type, candidate_line_t *out)
{
    for (size_t i = 0; i < count; i++) {
        struct in_addr v4;
        if (candidate_line_parse(lines[i], out) == 0 && out->udp && strcmp(out->type, type) == 0 &&
            (strcmp(type, "srflx") != 0 || out->raddr[0]) && inet_pton(AF_INET, out->ip, &v4) == 1 &&
            strncmp(out->foundation, "w", 1) != 0)
            return true;
    }
    return false;
}

size_t predict_lines(int step, char **lines, size_t count, size_t max)
{
    candidate_line_t srflx;
    if (step == 0 || !find_line(lines, count, "srflx", &srflx))
        return 0;
    return write_predictions(step, srflx.ip, srflx.port, srflx.component, srflx.raddr, srflx.rport, lines, count,
                             max);
}

size_t predict_lines_after(int step, const char *public_ip, uint16_t last_port, char **lines, size_t count,
                           size_t max)
{
    candidate_line_t host;
    if (step == 0 || !find_line(lines, count, "host", &host))
        return 0;
    return write_predictions(step, public_ip, last_port, host.component, host.ip, host.port, lines, count, max);
}

size_t predict_add_candidates(predict_t *self, char **lines, size_t count, size_t max)
{
    int step;
    if (predict_kind(self, &step) != PREDICT_SEQUENTIAL)
        return 0;
    size_t added = predict_lines(step, lines, count, max);
    if (!added && zclock_mono() - atomic_load(&self->probed_ms) < PREDICT_FRESH_MS) {
        // no srflx yet (the agent had no STUN server): go on from the probe's last port
        struct in_addr a = {.s_addr = atomic_load(&self->public_ip)};
        char ip[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &a, ip, sizeof ip))
            added = predict_lines_after(step, ip, (uint16_t)atomic_load(&self->last_port), lines, count, max);
    }
    if (added) {
        candidate_line_t first;
        if (candidate_line_parse(lines[count], &first) == 0)
            log_info("port prediction: offering %zu predicted ports from %s:%u on (step %d)", added, first.ip,
                     first.port, step);
    }
    return added;
}
