/*
 * test_hub_quota.c - cmocka tests for services/hub/hub_quota.c: the limit holds within a window and
 * resets after it, names are independent, and a table filled by a flood of fresh names (fresh keys)
 * evicts the oldest windows without crashing or resetting a busy name's count early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hub_quota.h"

#define HOUR (3600 * 1000LL)

static void test_limit_and_window(void **state)
{
    (void)state;
    hub_quota_t *q = hub_quota_new(64, HOUR);
    assert_non_null(q);
    int64_t t = 1000;
    int taken = 0;
    for (int i = 0; i < 300; i++) {  // 300 CreateMesh from one address, quota 20
        if (hub_quota_allows(q, "10.99.0.21", 20, t)) {
            hub_quota_count(q, "10.99.0.21", t);
            taken++;
        }
    }
    assert_int_equal(taken, 20);
    assert_int_equal(hub_quota_used(q, "10.99.0.21", t), 20);
    assert_true(hub_quota_allows(q, "10.99.0.22", 20, t));     // another address is not affected
    assert_false(hub_quota_allows(q, "10.99.0.21", 20, t + HOUR - 1));
    assert_true(hub_quota_allows(q, "10.99.0.21", 20, t + HOUR));  // a new window
    assert_int_equal(hub_quota_used(q, "10.99.0.21", t + HOUR), 0);
    hub_quota_destroy(&q);
    assert_null(q);
}

static void test_flood_of_fresh_names(void **state)
{
    (void)state;
    hub_quota_t *q = hub_quota_new(16, HOUR);  // the smallest table: every probe sequence is the whole table
    int64_t t = 0;
    for (int i = 0; i < 5; i++)
        hub_quota_count(q, "busy", t);
    char name[HUB_QUOTA_NAME_MAX];
    for (int i = 0; i < 10000; i++) {  // fresh keys, each used once, later than "busy"
        snprintf(name, sizeof name, "key-%d", i);
        hub_quota_count(q, name, t + 1 + i);
        assert_int_equal(hub_quota_used(q, name, t + 1 + i), 1);
    }
    // "busy" had the oldest window: it gave way (a fresh start, never a crash or a wrong count for others)
    assert_true(hub_quota_used(q, "busy", t + 20000) <= 5);
    // a long name is cut, not overflowed
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    hub_quota_count(q, longname, t);
    assert_int_equal(hub_quota_used(q, longname, t), 1);
    hub_quota_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_window),
        cmocka_unit_test(test_flood_of_fresh_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
