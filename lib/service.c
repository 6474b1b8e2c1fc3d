// service.c — see service.h.
#include "service.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "wire.h"

uint64_t *service_counter(service_t *svc, const char *name)
{
    for (size_t i = 0; i < svc->counter_count; i++)
        if (strcmp(svc->counters[i].name, name) == 0)
            return &svc->counters[i].value;
    if (svc->counter_count == SERVICE_MAX_COUNTERS) {
        static uint64_t overflow;  // every counter past the limit shares this one; log once
        static bool warned;
        if (!warned)
            log_warn("more than %d counters; '%s' is not reported", SERVICE_MAX_COUNTERS, name);
        warned = true;
        return &overflow;
    }
    svc->counters[svc->counter_count].name = name;
    svc->counters[svc->counter_count].value = 0;
    return &svc->counters[svc->counter_count++].value;
}

static zsock_t *make_socket(int type, const char *endpoint, bool bind, const char *role)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        log_error("cannot create the %s socket", role);
        return NULL;
    }
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 1000);
    zsock_set_rcvhwm(sock, 1000);
    int rc = bind ? zsock_bind(sock, "%s", endpoint) : zsock_connect(sock, "%s", endpoint);
    if (rc < 0) {
        log_error("cannot %s the %s socket to %s: %s", bind ? "bind" : "connect", role, endpoint,
                  zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    return sock;
}

zsock_t *service_bind_inbox(service_t *svc)
{
    zsock_t *inbox = make_socket(ZMQ_PULL, svc->config.inbox[svc->id], true, "inbox");
    if (inbox && svc->inbox_also[0] && zsock_bind(inbox, "%s", svc->inbox_also) < 0) {
        log_error("cannot bind the inbox to %s too: %s", svc->inbox_also, zmq_strerror(zmq_errno()));
        zsock_destroy(&inbox);
    }
    return inbox;
}

zsock_t *service_bind_control(service_t *svc)
{
    return make_socket(ZMQ_REP, svc->config.control[svc->id], true, "control");
}

zsock_t *service_connect_inbox(service_t *svc, service_id_t to)
{
    (void)svc;
    char role[64];
    snprintf(role, sizeof role, "%s inbox", service_name(to));
    return make_socket(ZMQ_PUSH, svc->config.inbox[to], false, role);
}

void service_handle_control(service_t *svc, zsock_t *control)
{
    zframe_t *payload = NULL;
    Weft__Envelope *req = wire_recv(control, &payload);
    zframe_destroy(&payload);

    Weft__ServiceStatus status = WEFT__SERVICE_STATUS__INIT;
    status.service = (char *)svc->name;
    status.pid = (uint32_t)getpid();
    status.uptime_ms = (uint64_t)(clock_now_ms() - svc->started_ms);
    Weft__Counter counters[SERVICE_MAX_COUNTERS];
    Weft__Counter *counter_ptrs[SERVICE_MAX_COUNTERS];
    for (size_t i = 0; i < svc->counter_count; i++) {
        weft__counter__init(&counters[i]);
        counters[i].name = (char *)svc->counters[i].name;
        counters[i].value = svc->counters[i].value;
        counter_ptrs[i] = &counters[i];
    }
    status.n_counters = svc->counter_count;
    status.counters = counter_ptrs;
    if (!req || req->body_case != WEFT__ENVELOPE__BODY_STATUS_REQUEST) {
        (*service_counter(svc, "control_bad_requests"))++;
        status.detail = "error: the control socket takes a StatusRequest envelope";
    } else {
        status.detail = svc->detail;
    }
    Weft__Envelope reply = WEFT__ENVELOPE__INIT;
    reply.body_case = WEFT__ENVELOPE__BODY_STATUS;
    reply.status = &status;
    // REP must answer every request, or the socket stays stuck in the send state
    wire_send(control, &reply, NULL, 0, false);
    if (req)
        weft__envelope__free_unpacked(req, NULL);
}

void service_actor_fail(zsock_t *pipe, const char *why)
{
    log_error("%s", why);
    zsock_signal(pipe, 0);
    zstr_send(pipe, "FATAL");
    while (!service_pipe_terminated(pipe))
        ;
}

bool service_pipe_terminated(zsock_t *pipe)
{
    char *command = zstr_recv(pipe);
    bool term = !command || streq(command, "$TERM");
    zstr_free(&command);
    return term;
}

int service_load(service_t *svc, service_id_t id, const char *home, const char *level_text, char *err,
                 size_t err_len)
{
    memset(svc, 0, sizeof *svc);
    svc->id = id;
    svc->name = service_name(id);
    svc->started_ms = clock_now_ms();
    if (config_load(&svc->config, home, err, err_len) != 0)
        return -1;
    log_level_t level = LOG_LEVEL_INFO;
    const char *text = level_text ? level_text : svc->config.log_level;
    if (log_level_parse(text, &level) != 0) {
        snprintf(err, err_len, "unknown log level '%s' (debug, info, warn, error)", text);
        return -2;
    }
    log_init(svc->name, level);
    mkdir(svc->config.run_dir, 0700);
    return 0;
}

static void usage(FILE *out, const char *prog, const char *summary)
{
    fprintf(out,
            "usage: %s [--home DIR] [--log-level LEVEL]\n"
            "%s\n\n"
            "  --home DIR         the node's home (default $WEFT_HOME, else ~/.weft)\n"
            "  --log-level LEVEL  debug, info, warn or error (default: log.level in weft.yaml)\n"
            "  -h, --help         this help\n\n"
            "Normally started by `weft up`, which restarts it if it dies.\n",
            prog, summary);
}

int service_main(int argc, char **argv, service_id_t id, const char *summary, zactor_fn *actor)
{
    const char *home = NULL, *level_text = NULL;
    static struct option options[] = {{"home", required_argument, 0, 'H'},
                                      {"log-level", required_argument, 0, 'l'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'H': home = optarg; break;
        case 'l': level_text = optarg; break;
        case 'h': usage(stdout, argv[0], summary); return 0;
        default: usage(stderr, argv[0], summary); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        usage(stderr, argv[0], summary);
        return 2;
    }
    service_t *svc = calloc(1, sizeof *svc);
    if (!svc)
        return 1;
    char err[512];
    int loaded = service_load(svc, id, home, level_text, err, sizeof err);
    if (loaded != 0) {
        fprintf(stderr, "weft-%s: %s\n", service_name(id), err);
        free(svc);
        return loaded == -2 ? 2 : 1;
    }
    // hiredis writes to its socket with plain write(): a dead Redis must be an error, not a SIGPIPE
    signal(SIGPIPE, SIG_IGN);
    zsys_init();
    zsys_set_linger(0);
    zactor_t *worker = zactor_new(actor, svc);
    int rc = 0;
    if (!worker) {
        log_error("the actor failed to start");
        rc = 1;
    } else {
        log_info("started (pid %d, home %s)", (int)getpid(), svc->config.home);
        // The actor only speaks on its pipe to report a fatal error; a signal interrupts the wait.
        char *msg = zstr_recv(worker);
        if (msg) {
            log_error("stopping: the actor reported %s", msg);
            rc = 1;
        }
        zstr_free(&msg);
        zactor_destroy(&worker);
        if (!rc)
            log_info("stopped");
    }
    free(svc);
    return rc;
}
