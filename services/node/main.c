// main.c — weft-node: several of a node's services as threads of one process. Each service is the
// same actor that runs alone in weft-<service>; here their inboxes are connected over inproc://
// instead of ipc:// (each co-located inbox also binds its usual endpoint, so services running as
// separate processes still reach it). Only endpoint strings change, never the messages.
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_actor.h"
#include "crypto_actor.h"
#include "dataplane_actor.h"
#include "device_actor.h"
#include "discovery_actor.h"
#include "log.h"
#include "nat_actor.h"
#include "router_actor.h"
#include "service.h"

static zactor_fn *const actors[SVC_COUNT] = {
    [SVC_DEVICE] = device_actor, [SVC_ROUTER] = router_actor,       [SVC_CRYPTO] = crypto_actor,
    [SVC_DATAPLANE] = dataplane_actor, [SVC_NAT] = nat_actor, [SVC_DISCOVERY] = discovery_actor,
    [SVC_API] = api_actor,
};

// Runs one service's actor on its thread, with the thread named in the log.
typedef struct {
    zactor_fn *actor;
    service_t *svc;
} colocated_t;

static void colocated_actor(zsock_t *pipe, void *args)
{
    colocated_t *self = args;
    log_set_thread_name(self->svc->name);
    self->actor(pipe, self->svc);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: weft-node [--home DIR] [--services LIST] [--log-level LEVEL]\n"
                 "Runs a node's services as threads of one process, connected over inproc://.\n\n"
                 "  --home DIR        the node's home (default $WEFT_HOME, else ~/.weft)\n"
                 "  --services LIST   comma-separated, from device,router,crypto,dataplane,nat,discovery,api (default: all)\n"
                 "  --log-level LEVEL debug, info, warn or error\n"
                 "Normally started by `weft up --colocate`.\n");
}

// "device,crypto" -> selected[] (NULL: every service); returns -1 naming the bad entry
static int parse_services(const char *list, bool selected[SVC_COUNT])
{
    for (int id = 0; id < SVC_COUNT && !list; id++)
        selected[id] = true;
    if (!list)
        return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int id = service_from_name(name);
        if (id < 0) {
            fprintf(stderr, "weft-node: unknown service '%s' (device, router, crypto, dataplane, nat, discovery, api)\n", name);
            return -1;
        }
        selected[id] = true;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *home = NULL, *level = NULL, *list = NULL;
    static struct option options[] = {{"home", required_argument, 0, 'H'}, {"services", required_argument, 0, 's'},
                                      {"log-level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'H': home = optarg; break;
        case 's': list = optarg; break;
        case 'l': level = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    bool selected[SVC_COUNT] = {false};
    if (optind < argc || parse_services(list, selected) != 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    service_t *svcs[SVC_COUNT] = {NULL};
    char err[512];
    for (int id = 0; id < SVC_COUNT; id++) {
        if (!selected[id])
            continue;
        svcs[id] = calloc(1, sizeof(service_t));
        int rc = svcs[id] ? service_load(svcs[id], (service_id_t)id, home, level, err, sizeof err) : -1;
        if (rc != 0) {
            fprintf(stderr, "weft-node: %s\n", svcs[id] ? err : "out of memory");
            return rc == -2 ? 2 : 1;
        }
    }
    // every co-located service reaches every other co-located inbox over inproc
    for (int id = 0; id < SVC_COUNT; id++) {
        if (!svcs[id])
            continue;
        snprintf(svcs[id]->inbox_also, CONFIG_STR, "%s", svcs[id]->config.inbox[id]);
        for (int to = 0; to < SVC_COUNT; to++)
            if (svcs[to])
                snprintf(svcs[id]->config.inbox[to], CONFIG_STR, "inproc://weft-%s.inbox", service_name(to));
    }
    log_init("node", LOG_LEVEL_INFO);
    zsys_init();
    zsys_set_linger(0);
    zactor_t *workers[SVC_COUNT] = {NULL};
    colocated_t runs[SVC_COUNT];
    zpoller_t *poller = zpoller_new(NULL);
    int rc = 0;
    for (int id = 0; id < SVC_COUNT && !rc; id++) {
        if (!svcs[id])
            continue;
        runs[id] = (colocated_t){actors[id], svcs[id]};
        workers[id] = zactor_new(colocated_actor, &runs[id]);
        if (!workers[id]) {
            log_error("the %s actor failed to start", service_name(id));
            rc = 1;
        } else {
            zpoller_add(poller, workers[id]);
        }
    }
    if (!rc) {
        log_info("started %s as one process (pid %d)", list ? list : "every service", (int)getpid());
        // an actor speaks on its pipe only to report a fatal error; a signal interrupts the wait
        zactor_t *which = zpoller_wait(poller, -1);
        if (which) {
            char *msg = zstr_recv(which);
            log_error("stopping: an actor reported %s", msg ? msg : "an error");
            zstr_free(&msg);
            rc = 1;
        }
    }
    zpoller_destroy(&poller);
    for (int id = SVC_COUNT - 1; id >= 0; id--) {
        zactor_destroy(&workers[id]);
        free(svcs[id]);
    }
    return rc;
}
