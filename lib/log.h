// log.h — one line per event on stderr: time, level, service, message. The supervisor (`weft up`)
// sends each service's stderr to its own file under the node's log directory; under systemd (stderr is
// the journal's stream, $JOURNAL_STREAM) every process keeps that one stream and writes lines with a
// syslog priority prefix ("<3>device: ...", sd-daemon(3)) instead, which journald files per priority.
// SIGHUP reopens the log file (logrotate): log_init blocks SIGHUP, and the next log line after one
// arrived takes it and reopens the file stderr was opened on, so a renamed log is followed by a new one.
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <stdbool.h>

typedef enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level_t;

// Names this process in its lines, notes the file stderr writes to (if it is a file) and takes SIGHUP
// for the log: blocked in the calling thread and the threads it starts later, so call it before them.
void log_init(const char *service_name, log_level_t level);
// Names the calling thread in its log lines (services co-located in one process), over log_init's name.
void log_set_thread_name(const char *name);
// parses "debug", "info", "warn", "error"; returns -1 for anything else
int  log_level_parse(const char *text, log_level_t *level);
void log_set_level(log_level_t level);
void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// True when stderr is the systemd journal's stream ($JOURNAL_STREAM names its device and inode).
bool log_to_journal(void);
// For a program that waits for SIGHUP itself (the supervisor): log_write no longer takes it; the program
// calls log_reopen when it gets one.
void log_leave_sighup(void);
// Reopens the log file before the next line is written (async-signal-safe: it only sets a flag).
void log_reopen(void);

// For events that can repeat per packet: true on the 1st, 2nd, 4th, 8th... occurrence, so a flood of the
// same drop logs a few lines with the running count instead of one per packet.
static inline int log_worth_repeating(unsigned long long count) { return count && (count & (count - 1)) == 0; }

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
