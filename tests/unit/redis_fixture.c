// redis_fixture.c — see redis_fixture.h.
#include "redis_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int redis_fixture_start(redis_fixture_t *r)
{
    unlink(r->sock);
    r->pid = fork();
    if (r->pid < 0) {
        r->pid = 0;
        return -1;
    }
    if (r->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->sock, "--save", "", "--appendonly",
               r->aof ? "yes" : "no", "--appendfsync", "everysec", "--dir", r->dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && access(r->sock, F_OK) != 0; i++)
        usleep(50 * 1000);
    if (access(r->sock, F_OK) == 0)
        return 0;
    redis_fixture_kill(r, SIGKILL);
    return -1;
}

int redis_fixture_setup(redis_fixture_t *r, const char *name, bool aof)
{
    r->pid = 0;
    r->aof = aof;
    snprintf(r->dir, sizeof r->dir, "/tmp/weft-%s.XXXXXX", name);
    if (!mkdtemp(r->dir))
        return -1;
    snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
    snprintf(r->url, sizeof r->url, "unix://%s", r->sock);
    if (redis_fixture_start(r) == 0)
        return 0;
    redis_fixture_teardown(r);
    return -1;
}

void redis_fixture_kill(redis_fixture_t *r, int sig)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, sig);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

int redis_fixture_teardown(redis_fixture_t *r)
{
    redis_fixture_kill(r, SIGTERM);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
    return system(cmd) == 0 ? 0 : -1;
}
