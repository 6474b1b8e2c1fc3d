// service_report.c — see service_report.h.
#include "service_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_BYTES 65536  // how far back in a log the last error is looked for

typedef struct {
    unsigned restarts;
    long log_offset;          // the log's size when `weft up` added the child: earlier lines are not ours
    char exit[96];
    char error[512];
} state_t;

static void state_path(const char *run_dir, const char *name, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/%s.state", run_dir, name);
}

static void log_path(const char *log_dir, const char *name, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/%s.log", log_dir, name);
}

// The record is "key value" lines, rewritten whole (a new file renamed over the old one).
static void write_state(const char *run_dir, const char *name, const state_t *st)
{
    char path[1024], tmp[1100];
    state_path(run_dir, name, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "restarts %u\nlog_offset %ld\nexit %s\nerror %s\n", st->restarts, st->log_offset, st->exit,
            st->error);
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
}

static bool read_state(const char *run_dir, const char *name, state_t *st)
{
    char path[1024], line[700];
    memset(st, 0, sizeof *st);
    state_path(run_dir, name, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "restarts ", 9) == 0)
            st->restarts = (unsigned)strtoul(line + 9, NULL, 10);
        else if (strncmp(line, "log_offset ", 11) == 0)
            st->log_offset = strtol(line + 11, NULL, 10);
        else if (strncmp(line, "exit ", 5) == 0)
            snprintf(st->exit, sizeof st->exit, "%s", line + 5);
        else if (strncmp(line, "error ", 6) == 0)
            snprintf(st->error, sizeof st->error, "%s", line + 6);
    }
    fclose(f);
    return true;
}

long service_report_log_size(const char *log_dir, const char *name)
{
    char path[1024];
    struct stat st;
    log_path(log_dir, name, path, sizeof path);
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

void service_report_start(const char *run_dir, const char *log_dir, const char *name)
{
    state_t st = {.log_offset = service_report_log_size(log_dir, name)};
    write_state(run_dir, name, &st);
}

void service_report_ended(const char *run_dir, const char *log_dir, const char *name, unsigned restarts,
                          const char *how, long run_start)
{
    state_t st;
    read_state(run_dir, name, &st);
    st.restarts = restarts;
    snprintf(st.exit, sizeof st.exit, "%s", how);
    char path[1024];
    log_path(log_dir, name, path, sizeof path);
    service_report_log_error(path, run_start, true, st.error, sizeof st.error);
    write_state(run_dir, name, &st);
}

void service_report_forget(const char *run_dir, const char *name)
{
    char path[1024];
    state_path(run_dir, name, path, sizeof path);
    unlink(path);
}

// "2026-12-06T17:20:21.123Z error device: text" -> "device: text"; NULL for a line of another level.
static const char *error_text(const char *line)
{
    const char *space = strchr(line, ' ');
    if (!space || strncmp(space + 1, "error ", 6) != 0)
        return NULL;
    const char *text = space + 7;
    while (*text == ' ')
        text++;
    return text;
}

void service_report_log_error(const char *log_path, long from, bool first, char *out, size_t out_len)
{
    out[0] = '\0';
    FILE *f = fopen(log_path, "r");
    struct stat st;
    if (!f)
        return;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return;
    }
    long size = (long)st.st_size;
    if (from < 0 || from > size)  // the log was rotated or cut since: all of it is this run's
        from = 0;
    long start = !first && size - from > TAIL_BYTES ? size - TAIL_BYTES : from;
    char line[2048];
    bool partial = start > from;  // the first line read may be the end of a longer one: skip it
    if (fseek(f, start, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        bool whole = strchr(line, '\n') != NULL;
        line[strcspn(line, "\n")] = '\0';
        const char *text = partial ? NULL : error_text(line);
        if (text) {
            snprintf(out, out_len, "%s", text);
            if (first)
                break;
        }
        partial = !whole;  // the rest of a line longer than the buffer is not a line of its own
    }
    fclose(f);
}

bool service_report_read(const char *run_dir, const char *log_dir, const char *name, service_report_t *out)
{
    memset(out, 0, sizeof *out);
    state_t st;
    bool found = read_state(run_dir, name, &st);
    out->restarts = st.restarts;
    snprintf(out->last_exit, sizeof out->last_exit, "%s", st.exit);
    if (st.error[0]) {
        snprintf(out->last_error, sizeof out->last_error, "%s", st.error);
    } else {
        char path[1024];
        log_path(log_dir, name, path, sizeof path);
        service_report_log_error(path, st.log_offset, false, out->last_error, sizeof out->last_error);
    }
    return found;
}
