// service_report.h — what went wrong with the processes of a node (or hub) since `weft up`. The
// supervisor records in <run_dir>/<name>.state (kept after the node stops, so the last run can still be
// read) how often it restarted each child, how it last ended and why: the first error its log got in that
// run (a cascade starts with its cause: "cannot bind ...", then "stopping: ..."). Read by `weft up --wait`
// (a service that crash-loops fails the wait), and by node_view.c for `weft status` and the HTTP API.
#ifndef WEFT_SERVICE_REPORT_H
#define WEFT_SERVICE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    unsigned restarts;        // times the supervisor restarted it since `weft up`
    char last_exit[96];       // "exited with status 1", "killed by signal 9"; "" if it never ended
    char last_error[512];     // "device: cannot create TUN device weft0: ...": why it last ended, or else
                              // the last error in its log since `weft up` ("" none)
} service_report_t;

// The size of <log_dir>/<name>.log now (0 if none): where a run's lines start.
long service_report_log_size(const char *log_dir, const char *name);
// The supervisor: a child is added for a new `weft up` (the record starts over), and a run of it that
// began when its log had run_start bytes ended (how: "exited with status 1").
void service_report_start(const char *run_dir, const char *log_dir, const char *name);
void service_report_ended(const char *run_dir, const char *log_dir, const char *name, unsigned restarts,
                          const char *how, long run_start);
// Removes the record of child `name` (an earlier run's, before a new `weft up`).
void service_report_forget(const char *run_dir, const char *name);

// Fills *out for child `name`. Returns false when the supervisor has no record of it (not started by
// `weft up` in this home); last_error is then the last error in its whole log.
bool service_report_read(const char *run_dir, const char *log_dir, const char *name, service_report_t *out);

// An error line of log_path after byte `from` (the first or the last one), without its time stamp and
// level; "" when there is none.
void service_report_log_error(const char *log_path, long from, bool first, char *out, size_t out_len);

#endif
