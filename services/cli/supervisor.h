// supervisor.h — runs a set of child processes (redis-server and weft services), restarts any that
// exits with backoff (0.2 s doubling to 10 s, reset after 30 s up), and stops them all on SIGTERM/SIGINT.
// Used by `weft up` for a node and by `weft hub` for a hub.
#ifndef WEFT_SUPERVISOR_H
#define WEFT_SUPERVISOR_H

#include <stdbool.h>
#include <sys/types.h>

#define SUPERVISOR_MAX_CHILDREN 8
#define SUPERVISOR_MAX_ARGS 24

typedef struct supervisor supervisor_t;

supervisor_t *supervisor_new(const char *run_dir, const char *log_dir);
void supervisor_destroy(supervisor_t **self);

// Adds a child. argv is copied; log output goes to <log_dir>/<name>.log; its pid to <run_dir>/<name>.pid;
// its restarts and how it last ended to <run_dir>/<name>.state (service_report.h).
// ready_socket: when not NULL, a unix socket path the child creates when ready (redis): start() waits
// for it before starting the next child.
int supervisor_add(supervisor_t *self, const char *name, const char *const argv[], const char *ready_socket);

// Points stdout and stderr at log_path (appending) and stdin at /dev/null: for daemons and children.
void supervisor_redirect_stdio(const char *log_path);

// Starts every child in order, then supervises until SIGTERM or SIGINT. Returns 0 on a clean stop.
int supervisor_run(supervisor_t *self);

#endif
