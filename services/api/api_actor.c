// api_actor.c — see api_actor.h. The actor owns the HTTP server and the control socket; the server's
// threads count requests in api_t's atomics, which the actor copies into the service's counters before
// answering a StatusRequest.
#include "api_actor.h"

#include <string.h>

#include "actor_loop.h"
#include "api.h"
#include "log.h"
#include "service.h"

#define API_MAX_BODY 4096   // the node API takes no bodies; anything bigger is not even kept

static void api_register_counters(api_t *api)
{
    service_t *svc = api->svc;
    api->published.requests = service_counter(svc, "http_requests");
    api->published.responses_2xx = service_counter(svc, "http_2xx");
    api->published.responses_4xx = service_counter(svc, "http_4xx");
    api->published.responses_5xx = service_counter(svc, "http_5xx");
    api->published.not_found = service_counter(svc, "http_not_found");
    api->published.bad_method = service_counter(svc, "http_bad_method");
    api->published.network_probes = service_counter(svc, "network_probes");
}

// Before a status answer: the server threads' atomics into the service's counters.
static int publish_counters(void *self)
{
    api_t *api = self;
    *api->published.requests = atomic_load(&api->requests);
    *api->published.responses_2xx = atomic_load(&api->responses_2xx);
    *api->published.responses_4xx = atomic_load(&api->responses_4xx);
    *api->published.responses_5xx = atomic_load(&api->responses_5xx);
    *api->published.not_found = atomic_load(&api->not_found);
    *api->published.bad_method = atomic_load(&api->bad_method);
    *api->published.network_probes = atomic_load(&api->network_probes);
    return 0;
}

void api_actor(zsock_t *pipe, void *args)
{
    service_t *svc = args;
    api_t *api = calloc(1, sizeof *api);
    if (!api) {
        service_actor_fail(pipe, "out of memory");
        return;
    }
    api->svc = svc;
    api->config = &svc->config;
    api_register_counters(api);
    zsock_t *control = service_bind_control(svc);
    if (!control) {
        free(api);
        service_actor_fail(pipe, "cannot bind the control socket");
        return;
    }
    http_server_t *server = NULL;
    const char *listen = svc->config.api_listen;
    if (strcmp(listen, "off") == 0 || !listen[0]) {
        snprintf(svc->detail, sizeof svc->detail, "HTTP API off (api.listen: off)");
        log_info("HTTP API off (api.listen is off)");
    } else {
        char err[256];
        server = http_server_new(listen, api_handle, api, API_MAX_BODY, err, sizeof err);
        if (!server) {
            char why[400];
            snprintf(why, sizeof why, "api.listen %s: %s", listen, err);
            zsock_destroy(&control);
            free(api);
            service_actor_fail(pipe, why);
            return;
        }
        snprintf(svc->detail, sizeof svc->detail, "HTTP API on http://%s", listen);
        log_info("HTTP API listening on http://%s", listen);
    }
    publish_counters(api);
    actor_loop_t *loop = actor_loop_new(pipe, svc, control, api);
    if (!loop) {
        http_server_destroy(&server);
        zsock_destroy(&control);
        free(api);
        service_actor_fail(pipe, "cannot set up the actor loop");
        return;
    }
    actor_loop_before_status(loop, publish_counters);
    zsock_signal(pipe, 0);
    actor_loop_run(loop);   // the HTTP server's threads do the work; the loop answers status and $TERM
    actor_loop_destroy(&loop);
    http_server_destroy(&server);  // waits for the connection threads
    zsock_destroy(&control);
    free(api);
}
