// log.c — see log.h.
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char log_service[32] = "weft";
static _Thread_local char log_thread_name[32];
static log_level_t log_min_level = LOG_LEVEL_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};
static const int syslog_priorities[] = {7, 6, 4, 3};  // LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR

static bool journal;                 // stderr is the journal's stream: priority prefixes, no time
static char file_path[PATH_MAX];     // the file stderr was opened on ("" when it is not a file)
static bool stdout_too;              // stdout is that same file: reopened with it
static atomic_bool take_sighup;      // log_write takes a pending SIGHUP (log_init, until log_leave_sighup)
static atomic_bool reopen_wanted;

bool log_to_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

// The path of the regular file stderr writes to, and whether stdout is the same file.
static void note_file(void)
{
    file_path[0] = '\0';
    stdout_too = false;
    struct stat err_st, out_st;
    if (journal || fstat(STDERR_FILENO, &err_st) != 0 || !S_ISREG(err_st.st_mode))
        return;
    ssize_t n = readlink("/proc/self/fd/2", file_path, sizeof file_path - 1);
    if (n <= 0 || file_path[0] != '/' || strstr(file_path, " (deleted)")) {
        file_path[0] = '\0';
        return;
    }
    file_path[n] = '\0';
    stdout_too = fstat(STDOUT_FILENO, &out_st) == 0 && out_st.st_dev == err_st.st_dev &&
                 out_st.st_ino == err_st.st_ino;
}

void log_init(const char *service_name, log_level_t level)
{
    snprintf(log_service, sizeof log_service, "%s", service_name ? service_name : "weft");
    log_min_level = level;
    journal = log_to_journal();
    note_file();
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    atomic_store(&take_sighup, true);
}

void log_leave_sighup(void) { atomic_store(&take_sighup, false); }

void log_reopen(void) { atomic_store(&reopen_wanted, true); }

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

// Takes a pending SIGHUP (blocked since log_init, so it waits for us) and, if one came or log_reopen was
// called, reopens the file: a rotated log's old name is followed by a new file of that name.
static void reopen_if_asked(void)
{
    if (atomic_load(&take_sighup)) {
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        struct timespec now = {0, 0};
        if (sigtimedwait(&hup, NULL, &now) == SIGHUP)
            atomic_store(&reopen_wanted, true);
    }
    if (!atomic_exchange(&reopen_wanted, false) || !file_path[0])
        return;
    int fd = open(file_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        fprintf(stderr, "log: cannot reopen %s: %s; writing on to the old file\n", file_path, strerror(errno));
        return;
    }
    if (stdout_too) {
        fflush(stdout);
        dup2(fd, STDOUT_FILENO);
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
}

void log_write(log_level_t level, const char *fmt, ...)
{
    if (level < log_min_level)
        return;
    reopen_if_asked();
    char line[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    const char *who = log_thread_name[0] ? log_thread_name : log_service;
    if (journal) {  // journald stamps the time and keeps the priority
        fprintf(stderr, "<%d>%s: %s\n", syslog_priorities[level], who, line);
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    // one fprintf per line so concurrent threads do not interleave within a line
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, now.tv_nsec / 1000000, level_names[level], who, line);
}
