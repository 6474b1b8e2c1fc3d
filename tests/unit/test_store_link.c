// test_store_link.c — lib/store_link.c, the one lazy Redis connection policy of the services, against a
// real redis-server on a unix socket (tests/unit/redis_fixture.h): while Redis is down an attempt is made
// only when the back-off allows (1 s, doubling to 10 s); the first attempt after it is due connects
// (STORE_LINK_NEW, once), then STORE_LINK_UP; a lost connection is closed and retried after 1 s.
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "redis_fixture.h"
#include "store_link.h"

static redis_fixture_t redis;

static int setup(void **state)
{
    (void)state;
    return redis_fixture_setup(&redis, "store-link", false);
}

static int teardown(void **state)
{
    (void)state;
    return redis_fixture_teardown(&redis);
}

// The wait the link asks for now, in ms (rounded to the clock's step).
static int64_t wait_ms(const store_link_t *link)
{
    return link->next_attempt_ms - clock_now_ms();
}

static void test_connects_at_once_when_up(void **state)
{
    (void)state;
    store_link_t link;
    store_link_init(&link, redis.url);
    store_t *store = NULL;
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_NEW);
    assert_non_null(store);
    assert_int_equal(store_exec(store, "SET weft:test 1"), 0);
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_UP);   // said once
    store_destroy(&store);
}

static void test_backs_off_while_down(void **state)
{
    (void)state;
    redis_fixture_kill(&redis, SIGKILL);
    store_link_t link;
    store_link_init(&link, redis.url);
    store_t *store = NULL;
    int64_t want[] = {1000, 2000, 4000, 8000, 10000, 10000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        link.next_attempt_ms = 0;   // the previous wait is over
        assert_int_equal(store_link_connect(&link, &store), STORE_LINK_DOWN);
        assert_null(store);
        int64_t wait = wait_ms(&link);
        assert_true(wait > want[i] - 100 && wait <= want[i]);
        // not due: no attempt, the back-off stays where it is
        int64_t next = link.next_attempt_ms, retry = link.retry_ms;
        assert_int_equal(store_link_connect(&link, &store), STORE_LINK_DOWN);
        assert_int_equal(link.next_attempt_ms, next);
        assert_int_equal(link.retry_ms, retry);
    }

    // Redis is back: nothing before the wait is over, then the connection (and the back-off starts over)
    assert_int_equal(redis_fixture_start(&redis), 0);
    link.next_attempt_ms = clock_now_ms() + 300;
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_DOWN);
    assert_null(store);
    usleep(400 * 1000);
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_NEW);
    assert_non_null(store);
    assert_int_equal(link.retry_ms, STORE_LINK_FIRST_RETRY_MS);
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_UP);
    store_destroy(&store);
}

static void test_lost_connection_is_retried_after_a_second(void **state)
{
    (void)state;
    store_link_t link;
    store_link_init(&link, redis.url);
    store_t *store = NULL;
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_NEW);
    store_link_lost(&link, &store, "the test key");
    assert_null(store);
    int64_t wait = wait_ms(&link);
    assert_true(wait > 900 && wait <= 1000);
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_DOWN);   // not yet
    link.next_attempt_ms = 0;
    assert_int_equal(store_link_connect(&link, &store), STORE_LINK_NEW);    // Redis never left
    store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connects_at_once_when_up),
        cmocka_unit_test(test_backs_off_while_down),
        cmocka_unit_test(test_lost_connection_is_retried_after_a_second),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
