// service.h — what every weft service process shares: the command line (--home, --help), config and
// log set-up, the actor that does the work, its inbox (PULL) and control (REP) sockets, the counters it
// reports on the control socket, and PUSH sockets to other services' inboxes.
//
// A service is a CZMQ actor: `void xxx_actor(zsock_t *pipe, void *args)` with args a service_t*.
// service_main() runs one actor as a process; the same actor can run as a thread beside others in one
// process, connected over inproc:// endpoints.
#ifndef WEFT_SERVICE_H
#define WEFT_SERVICE_H

#include <czmq.h>
#include <stdint.h>

#include "config.h"
#include "service_id.h"

#define SERVICE_MAX_COUNTERS 96

typedef struct {
    const char *name;
    uint64_t value;
} service_counter_t;

typedef struct {
    service_id_t id;
    const char *name;               // "device", ...
    weft_config_t config;
    int64_t started_ms;             // monotonic
    service_counter_t counters[SERVICE_MAX_COUNTERS];
    size_t counter_count;
    char detail[512];               // one line of state for `weft status`
    char inbox_also[CONFIG_STR];    // a second endpoint the inbox binds (co-located: the ipc one), or ""
} service_t;

// Fills svc for service `id`: loads the node's config from `home` and sets up logging. level_text
// overrides log.level when not NULL. Returns 0, or -1 / -2 (bad level: a usage error) with err filled.
int service_load(service_t *svc, service_id_t id, const char *home, const char *level_text, char *err,
                 size_t err_len);

// Returns the counter called `name` (a string literal), registering it at zero on first use.
uint64_t *service_counter(service_t *svc, const char *name);

// Sockets. Each returns NULL and logs the endpoint and reason on failure.
zsock_t *service_bind_inbox(service_t *svc);
zsock_t *service_bind_control(service_t *svc);
zsock_t *service_connect_inbox(service_t *svc, service_id_t to);   // PUSH, non-blocking sends

// Answers the request waiting on `control` with this service's ServiceStatus (or an error status for a
// malformed request). Never blocks: the request is already there when the poller says so.
void service_handle_control(service_t *svc, zsock_t *control);

// For an actor whose set-up failed: signal the pipe, report FATAL and wait for $TERM.
void service_actor_fail(zsock_t *pipe, const char *why);

// True when the pipe said $TERM (the caller should return).
bool service_pipe_terminated(zsock_t *pipe);

// Runs one service as a process (services/node runs several as threads of one process). `summary` is the one-line --help description.
int service_main(int argc, char **argv, service_id_t id, const char *summary, zactor_fn *actor);

#endif
