// log.c — see log.h.
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char log_service[32] = "weft";
static _Thread_local char log_thread_name[32];
static log_level_t log_min_level = LOG_LEVEL_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *service_name, log_level_t level)
{
    snprintf(log_service, sizeof log_service, "%s", service_name ? service_name : "weft");
    log_min_level = level;
}

void log_set_level(log_level_t level) { log_min_level = level; }

void log_set_thread_name(const char *name)
{
    snprintf(log_thread_name, sizeof log_thread_name, "%s", name ? name : "");
}

int log_level_parse(const char *text, log_level_t *level)
{
    for (int i = 0; i <= LOG_LEVEL_ERROR; i++) {
        if (text && strcasecmp(text, level_names[i]) == 0) {
            *level = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    if (level < log_min_level)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    // one fprintf per line so concurrent threads do not interleave within a line
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, now.tv_nsec / 1000000, level_names[level],
            log_thread_name[0] ? log_thread_name : log_service, line);
}
