// supervisor.c — see supervisor.h. One thread: signals are blocked and taken with sigtimedwait, so
// child exits, stop requests and restart timers are handled in one plain loop.
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "service_report.h"

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 10000
#define BACKOFF_RESET_AFTER_MS 30000

typedef struct {
    char name[32];
    char *argv[SUPERVISOR_MAX_ARGS + 1];
    char ready_socket[256];
    pid_t pid;               // 0 when not running
    int64_t started_ms;
    long log_start;          // its log's size when this run started: the run's own lines follow
    int64_t restart_at_ms;   // when to start it again (0 = not scheduled)
    int backoff_ms;
    unsigned restarts;
} child_t;

struct supervisor {
    char run_dir[512];
    char log_dir[512];
    child_t children[SUPERVISOR_MAX_CHILDREN];
    int count;
};

supervisor_t *supervisor_new(const char *run_dir, const char *log_dir)
{
    supervisor_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->run_dir, sizeof self->run_dir, "%s", run_dir);
    snprintf(self->log_dir, sizeof self->log_dir, "%s", log_dir);
    return self;
}

void supervisor_destroy(supervisor_t **self)
{
    if (!self || !*self)
        return;
    for (int i = 0; i < (*self)->count; i++)
        for (int a = 0; (*self)->children[i].argv[a]; a++)
            free((*self)->children[i].argv[a]);
    free(*self);
    *self = NULL;
}

int supervisor_add(supervisor_t *self, const char *name, const char *const argv[], const char *ready_socket)
{
    if (self->count == SUPERVISOR_MAX_CHILDREN)
        return -1;
    child_t *c = &self->children[self->count];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    for (int a = 0; argv[a] && a < SUPERVISOR_MAX_ARGS; a++)
        c->argv[a] = strdup(argv[a]);
    if (ready_socket)
        snprintf(c->ready_socket, sizeof c->ready_socket, "%s", ready_socket);
    c->backoff_ms = BACKOFF_FIRST_MS;
    self->count++;
    service_report_start(self->run_dir, self->log_dir, c->name);  // what an earlier run recorded is gone
    return 0;
}

static void write_pid_file(const supervisor_t *self, const child_t *c)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.pid", self->run_dir, c->name);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", (int)c->pid);
        fclose(f);
    }
}

void supervisor_redirect_stdio(const char *log_path)
{
    int fd = log_to_journal() ? -1 : open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);  // journal: keep it
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        close(devnull);
    }
}

static int start_child(supervisor_t *self, child_t *c)
{
    char log_path[700];
    snprintf(log_path, sizeof log_path, "%s/%s.log", self->log_dir, c->name);
    c->log_start = service_report_log_size(self->log_dir, c->name);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot fork for %s: %s", c->name, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t hup;  // SIGHUP stays blocked until the service's log takes it (log_init), never kills it
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        sigprocmask(SIG_SETMASK, &hup, NULL);
        setpgid(0, 0);  // a Ctrl-C on the terminal reaches the supervisor, which stops children in order
        supervisor_redirect_stdio(log_path);
        execvp(c->argv[0], c->argv);
        fprintf(stderr, "cannot run %s: %s\n", c->argv[0], strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    c->started_ms = clock_now_ms();
    c->restart_at_ms = 0;
    write_pid_file(self, c);
    log_info("started %s (pid %d)", c->name, (int)pid);
    return 0;
}

static bool socket_accepts(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

static void wait_ready(supervisor_t *self, child_t *c)
{
    if (!c->ready_socket[0])
        return;
    for (int i = 0; i < 100; i++) {  // up to 10 s
        if (socket_accepts(c->ready_socket))
            return;
        if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
            log_error("%s exited while starting; see its log", c->name);
            c->pid = 0;
            c->restart_at_ms = clock_now_ms() + c->backoff_ms;
            c->restarts++;
            c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
            service_report_ended(self->run_dir, self->log_dir, c->name, c->restarts, "exited while starting",
                                 c->log_start);
            return;
        }
        usleep(100 * 1000);
    }
    log_warn("%s is not ready after 10 s; carrying on", c->name);
}

static child_t *child_by_pid(supervisor_t *self, pid_t pid)
{
    for (int i = 0; i < self->count; i++)
        if (self->children[i].pid == pid)
            return &self->children[i];
    return NULL;
}

static void reap_children(supervisor_t *self, bool stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        child_t *c = child_by_pid(self, pid);
        if (!c)
            continue;
        c->pid = 0;
        if (stopping)
            continue;
        int64_t now = clock_now_ms();
        if (now - c->started_ms > BACKOFF_RESET_AFTER_MS)
            c->backoff_ms = BACKOFF_FIRST_MS;
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
        log_warn("%s (pid %d) %s; restarting in %d ms", c->name, (int)pid, how, c->backoff_ms);
        c->restart_at_ms = now + c->backoff_ms;
        c->restarts++;
        service_report_ended(self->run_dir, self->log_dir, c->name, c->restarts, how, c->log_start);  // why
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    }
}

static void stop_all(supervisor_t *self)
{
    // services first (reverse start order), the store they write to last
    for (int i = self->count - 1; i >= 0; i--) {
        child_t *c = &self->children[i];
        if (!c->pid)
            continue;
        kill(c->pid, SIGTERM);
        for (int t = 0; t < 50 && c->pid; t++) {  // 5 s grace
            usleep(100 * 1000);
            reap_children(self, true);
        }
        if (c->pid) {
            log_warn("%s did not stop within 5 s; killing it", c->name);
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            c->pid = 0;
        }
        char path[700];
        snprintf(path, sizeof path, "%s/%s.pid", self->run_dir, c->name);
        unlink(path);
    }
}

int supervisor_run(supervisor_t *self)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    log_leave_sighup();  // taken here, below, and passed on

    for (int i = 0; i < self->count; i++) {
        if (start_child(self, &self->children[i]) == 0)
            wait_ready(self, &self->children[i]);
    }
    for (;;) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("stopping on signal %d", sig);
            break;
        }
        if (sig == SIGHUP) {  // logrotate: every process reopens its log file
            log_reopen();
            for (int i = 0; i < self->count; i++)
                if (self->children[i].pid)
                    kill(self->children[i].pid, SIGHUP);
            log_info("SIGHUP: log files reopened");
        }
        reap_children(self, false);
        int64_t now = clock_now_ms();
        for (int i = 0; i < self->count; i++) {
            child_t *c = &self->children[i];
            if (!c->pid && c->restart_at_ms && now >= c->restart_at_ms) {
                if (start_child(self, c) == 0)
                    wait_ready(self, c);
                else
                    c->restart_at_ms = now + c->backoff_ms;
            }
        }
    }
    stop_all(self);
    return 0;
}
