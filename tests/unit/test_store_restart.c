// test_store_restart.c — lib/store.c noticing a restarted Redis (a real redis-server on a unix socket in a
// temporary directory): store_restarted() is false while the same Redis runs, true exactly once after it
// was killed with -9 and started again (new run_id), also for an owner that ran no command in between
// (it pings), and false while Redis is down (nothing to rewrite into yet).
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

static char dir[64], sock[128], url[160];
static pid_t redis_pid;

static int start_redis(void)
{
    unlink(sock);
    redis_pid = fork();
    if (redis_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly",
               "yes", "--appendfsync", "everysec", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
        usleep(50 * 1000);
    return access(sock, F_OK) == 0 ? 0 : -1;
}

static void kill_redis(void)
{
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/weft-store-restart.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof sock, "%s/redis.sock", dir);
    snprintf(url, sizeof url, "unix://%s", sock);
    return start_redis();
}

static int teardown(void **state)
{
    (void)state;
    if (redis_pid > 0)
        kill_redis();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_restart_seen_once(void **state)
{
    (void)state;
    char err[256];
    store_t *store = store_connect(url, err, sizeof err);
    assert_non_null(store);
    assert_int_equal(store_exec(store, "SET weft:test 1"), 0);
    assert_false(store_restarted(store));   // same Redis: nothing to rewrite

    kill_redis();
    sleep(1);                                // idle past the ping interval
    assert_false(store_restarted(store));    // down: no rewrite yet
    assert_int_equal(start_redis(), 0);
    sleep(1);
    assert_true(store_restarted(store));     // the ping reconnects and sees a new run_id
    assert_false(store_restarted(store));    // said once

    // the AOF kept the key across kill -9
    redisReply *r = store_command(store, "GET weft:test");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    store_destroy(&store);
}

static void test_restart_seen_by_a_command(void **state)
{
    (void)state;
    char err[256];
    store_t *store = store_connect(url, err, sizeof err);
    assert_non_null(store);
    kill_redis();
    assert_int_equal(start_redis(), 0);
    // the owner's own write reconnects (it may meet -LOADING while Redis reads its file: retried), and
    // the restart is still reported
    int rc = -1;
    for (int i = 0; i < 100 && rc != 0; i++) {
        rc = store_exec(store, "SET weft:test 2");
        if (rc != 0)
            usleep(20 * 1000);
    }
    assert_int_equal(rc, 0);
    assert_true(store_restarted(store));
    assert_false(store_restarted(store));
    store_destroy(&store);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   // as every weft service: a write to a killed Redis is an error, not a signal
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_seen_once),
        cmocka_unit_test(test_restart_seen_by_a_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
