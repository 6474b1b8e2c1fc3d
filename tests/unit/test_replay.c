/*
 * test_replay.c - cmocka tests for lib/replay.c: window edges, duplicates,
 * far jumps, the reject_after bound, check-without-update, and a randomised
 * comparison against a trivially correct reference model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "replay.h"

#define W ((uint64_t)REPLAY_WINDOW_SIZE)
#define NO_LIMIT UINT64_MAX

static void test_window_is_at_least_2048(void **state)
{
    (void)state;
    assert_true(REPLAY_WINDOW_SIZE >= 2048);
    assert_int_equal(sizeof(((replay_window_t *)0)->bitmap) * 8, REPLAY_WINDOW_SIZE + 64);
}

static void test_sequential_and_duplicates(void **state)
{
    replay_window_t w;
    (void)state;

    replay_init(&w);
    for (uint64_t c = 0; c < 10000; c++) {
        assert_true(replay_check_and_update(&w, c, NO_LIMIT));
        assert_false(replay_check_and_update(&w, c, NO_LIMIT)); /* immediate duplicate */
        if (c > 0)
            assert_false(replay_check_and_update(&w, c - 1, NO_LIMIT));
    }
    /* Everything still inside the window is remembered as seen. */
    for (uint64_t c = 9999 - W; c < 10000; c++)
        assert_false(replay_check(&w, c, NO_LIMIT));
}

static void test_counter_zero_first_and_late(void **state)
{
    replay_window_t w;
    (void)state;

    replay_init(&w);
    assert_true(replay_check_and_update(&w, 0, NO_LIMIT));
    assert_false(replay_check_and_update(&w, 0, NO_LIMIT));

    /* 0 arriving after later counters (still inside the window). */
    replay_init(&w);
    assert_true(replay_check_and_update(&w, 5, NO_LIMIT));
    assert_true(replay_check_and_update(&w, 0, NO_LIMIT));
    assert_false(replay_check_and_update(&w, 0, NO_LIMIT));
    assert_false(replay_check_and_update(&w, 5, NO_LIMIT));
}

static void test_out_of_order_within_window(void **state)
{
    replay_window_t w;
    (void)state;

    replay_init(&w);
    /* Even counters first, then the odd ones in reverse order. */
    for (uint64_t c = 0; c <= 2000; c += 2)
        assert_true(replay_check_and_update(&w, c, NO_LIMIT));
    for (uint64_t k = 0; k < 1000; k++)
        assert_true(replay_check_and_update(&w, 1999 - 2 * k, NO_LIMIT));
    for (uint64_t c = 0; c <= 2000; c++)
        assert_false(replay_check(&w, c, NO_LIMIT));
}

/* For many alignments of the newest counter within a 64-bit word, the
 * counter exactly W behind is accepted and W+1 behind is rejected. */
static void test_exact_window_edge(void **state)
{
    static const uint64_t tops[] = { 2048, 2049, 2111, 2112, 2113, 4095, 4096, 4159, 4160,
                                     100000, 100063, (uint64_t)1 << 40, UINT64_MAX - 1 };
    (void)state;

    for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
        replay_window_t w;
        uint64_t top = tops[i];

        replay_init(&w);
        assert_true(replay_check_and_update(&w, top, NO_LIMIT));
        if (top > W)
            assert_false(replay_check(&w, top - W - 1, NO_LIMIT)); /* just beyond */
        assert_true(replay_check(&w, top - W, NO_LIMIT));      /* exactly at edge */
        assert_true(replay_check_and_update(&w, top - W, NO_LIMIT));
        assert_false(replay_check(&w, top - W, NO_LIMIT));
        assert_true(replay_check_and_update(&w, top - W + 1, NO_LIMIT));
        assert_true(replay_check_and_update(&w, top - 1, NO_LIMIT));
        assert_false(replay_check_and_update(&w, top, NO_LIMIT));

        /* One step further: the edge counter falls out, its successor stays.
         * (UINT64_MAX itself is always >= the limit, so skip that case.) */
        if (top + 1 == UINT64_MAX)
            continue;
        assert_true(replay_check_and_update(&w, top + 1, NO_LIMIT));
        assert_false(replay_check(&w, top - W, NO_LIMIT));     /* now too old */
        assert_false(replay_check(&w, top - W + 1, NO_LIMIT)); /* seen, still inside */
        assert_true(replay_check(&w, top - W + 2, NO_LIMIT));  /* not seen, inside */
    }
}

static void test_old_beyond_window(void **state)
{
    replay_window_t w;
    (void)state;

    replay_init(&w);
    assert_true(replay_check_and_update(&w, 5000, NO_LIMIT));
    assert_false(replay_check_and_update(&w, 0, NO_LIMIT));
    assert_false(replay_check_and_update(&w, 5000 - W - 1, NO_LIMIT));
    assert_false(replay_check_and_update(&w, 1234, NO_LIMIT));
    assert_true(replay_check_and_update(&w, 5000 - W, NO_LIMIT));
}

static void test_far_future_then_old(void **state)
{
    replay_window_t w;
    const uint64_t far = 1000000;
    (void)state;

    replay_init(&w);
    for (uint64_t c = 0; c < 100; c++)
        assert_true(replay_check_and_update(&w, c, NO_LIMIT));
    assert_true(replay_check_and_update(&w, far, NO_LIMIT));
    /* All the earlier ones are now far too old. */
    for (uint64_t c = 0; c < 200; c++)
        assert_false(replay_check_and_update(&w, c, NO_LIMIT));
    /* Everything in (far - W .. far) is new and accepted exactly once. */
    for (uint64_t c = far - W; c < far; c++)
        assert_true(replay_check_and_update(&w, c, NO_LIMIT));
    for (uint64_t c = far - W; c <= far; c++)
        assert_false(replay_check_and_update(&w, c, NO_LIMIT));
    assert_false(replay_check_and_update(&w, far - W - 1, NO_LIMIT));
}

/* Bits from an earlier lap of the ring must not leak into a new window. */
static void test_ring_wraparound_clears(void **state)
{
    replay_window_t w;
    (void)state;

    for (uint64_t jump = 1; jump <= 3 * (W + 64); jump += 61) {
        replay_init(&w);
        for (uint64_t c = 0; c <= W + 63; c++)
            assert_true(replay_check_and_update(&w, c, NO_LIMIT));
        uint64_t top = W + 63 + jump;
        assert_true(replay_check_and_update(&w, top, NO_LIMIT));
        for (uint64_t c = top - W; c < top; c++) {
            bool seen_before = c <= W + 63;
            assert_int_equal(replay_check(&w, c, NO_LIMIT), !seen_before);
        }
    }
}

static void test_reject_after(void **state)
{
    replay_window_t w;
    (void)state;

    replay_init(&w);
    assert_false(replay_check_and_update(&w, 100, 100));
    assert_false(replay_check_and_update(&w, 101, 100));
    assert_false(replay_check_and_update(&w, UINT64_MAX, 100));
    assert_true(replay_check_and_update(&w, 99, 100));
    assert_false(replay_check_and_update(&w, 99, 100));
    assert_true(replay_check_and_update(&w, 0, 100));

    replay_init(&w);
    assert_false(replay_check_and_update(&w, 0, 0)); /* limit 0 rejects all */

    /* The top of the 64-bit range works without overflow. */
    replay_init(&w);
    assert_false(replay_check_and_update(&w, UINT64_MAX, UINT64_MAX));
    assert_true(replay_check_and_update(&w, UINT64_MAX - 1, UINT64_MAX));
    assert_true(replay_check_and_update(&w, UINT64_MAX - 1 - W, UINT64_MAX));
    assert_false(replay_check_and_update(&w, UINT64_MAX - 2 - W, UINT64_MAX));
    assert_false(replay_check_and_update(&w, 0, UINT64_MAX));

    /* A rejected counter above the limit does not move the window. */
    replay_init(&w);
    assert_true(replay_check_and_update(&w, 10, 1000));
    assert_false(replay_check_and_update(&w, 1000000, 1000));
    assert_true(replay_check_and_update(&w, 9, 1000));
}

static void test_check_does_not_update(void **state)
{
    replay_window_t w;
    (void)state;

    replay_init(&w);
    assert_true(replay_check(&w, 7, NO_LIMIT));
    assert_true(replay_check(&w, 7, NO_LIMIT));
    assert_true(replay_check(&w, 100000, NO_LIMIT));
    assert_true(replay_check(&w, 7, NO_LIMIT)); /* the big check did not slide the window */
    replay_update(&w, 7);
    assert_false(replay_check(&w, 7, NO_LIMIT));
}

static void test_update_too_old_is_ignored(void **state)
{
    replay_window_t w;
    (void)state;

    replay_init(&w);
    replay_update(&w, 10000);
    /* Counter 0 shares its ring slot with live words of the window; a stray
     * update must not mark any live counter as seen. */
    replay_update(&w, 0);
    replay_update(&w, 64);
    for (uint64_t c = 10000 - W; c < 10000; c++)
        assert_true(replay_check(&w, c, NO_LIMIT));
}

/* Reference model: a plain "seen" array plus the documented rule. */
static void test_random_against_model(void **state)
{
    enum { RANGE = 30000 };
    static bool seen[RANGE];
    replay_window_t w;
    uint64_t highest = 0, pos = 0;
    (void)state;

    memset(seen, 0, sizeof(seen));
    replay_init(&w);
    for (int i = 0; i < 300000; i++) {
        /* Random walk, mostly forward, sometimes far back or far forward. */
        int64_t step = (int64_t)randombytes_uniform(3000) - 2600;
        if (randombytes_uniform(100) == 0)
            step = (int64_t)randombytes_uniform(5000);
        int64_t next = (int64_t)pos + step;
        if (next < 0)
            next = 0;
        if (next >= RANGE)
            next = (int64_t)randombytes_uniform(RANGE);
        pos = (uint64_t)next;

        const uint64_t limit = RANGE - 100;
        bool expect = pos < limit && !seen[pos] && pos + W >= highest;
        bool got = replay_check_and_update(&w, pos, limit);
        assert_int_equal(got, expect);
        if (expect) {
            seen[pos] = true;
            if (pos > highest)
                highest = pos;
        }
        if (i % 5000 == 0) { /* occasionally start a new session */
            memset(seen, 0, sizeof(seen));
            replay_init(&w);
            highest = 0;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_is_at_least_2048),
        cmocka_unit_test(test_sequential_and_duplicates),
        cmocka_unit_test(test_counter_zero_first_and_late),
        cmocka_unit_test(test_out_of_order_within_window),
        cmocka_unit_test(test_exact_window_edge),
        cmocka_unit_test(test_old_beyond_window),
        cmocka_unit_test(test_far_future_then_old),
        cmocka_unit_test(test_ring_wraparound_clears),
        cmocka_unit_test(test_reject_after),
        cmocka_unit_test(test_check_does_not_update),
        cmocka_unit_test(test_update_too_old_is_ignored),
        cmocka_unit_test(test_random_against_model),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
