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

#include "redis_fixture.h"
#include "store.h"

static redis_fixture_t redis;

static int setup(void **state)
{
    (void)state;
    return redis_fixture_setup(&redis, "store-restart", true);
}

static int teardown(void **state)
{
    (void)state;
    return redis_fixture_teardown(&redis);
}

static void test_restart_seen_once(void **state)
{
    (void)state;
    char err[256];
    store_t *store = store_connect(redis.url, err, sizeof err);
    assert_non_null(store);
    assert_int_equal(store_exec(store, "SET weft:test 1"), 0);
    assert_false(store_restarted(store));   // same Redis: nothing to rewrite

    redis_fixture_kill(&redis, SIGKILL);
    sleep(1);                                // idle past the ping interval
    assert_false(store_restarted(store));    // down: no rewrite yet
    assert_int_equal(redis_fixture_start(&redis), 0);
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
    store_t *store = store_connect(redis.url, err, sizeof err);
    assert_non_null(store);
    redis_fixture_kill(&redis, SIGKILL);
    assert_int_equal(redis_fixture_start(&redis), 0);
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
