/*
 * test_service_report.c - cmocka tests for lib/service_report: a crash's cause is the first error of that run
 * (not the "stopping" that follows it), errors of earlier `weft up`s are not this one's, a record starts over
 * with each `weft up`, and a log with no error or a rotated log gives no stale answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service_report.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/weft-report.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void log_lines(const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/router.log", dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_cause_of_a_crash_loop(void **state)
{
    (void)state;
    log_lines("2026-01-01T00:00:00.000Z error router: an error of an earlier weft up\n");
    service_report_start(dir, dir, "router");
    service_report_t r;
    assert_true(service_report_read(dir, dir, "router", &r));
    assert_int_equal(r.restarts, 0);
    assert_string_equal(r.last_error, "");  // the earlier run's error is not this one's
    for (unsigned run = 1; run <= 2; run++) {
        long start = service_report_log_size(dir, "router");
        log_lines("2026-01-01T00:00:01.000Z info  router: config loaded\n"
                  "2026-01-01T00:00:01.001Z error router: cannot bind the inbox socket to ipc:///x: No such file\n"
                  "2026-01-01T00:00:01.002Z info  router: started (pid 7)\n"
                  "2026-01-01T00:00:01.003Z error router: stopping: the actor reported FATAL\n");
        service_report_ended(dir, dir, "router", run, "exited with status 1", start);
    }
    assert_true(service_report_read(dir, dir, "router", &r));
    assert_int_equal(r.restarts, 2);
    assert_string_equal(r.last_exit, "exited with status 1");
    assert_string_equal(r.last_error, "router: cannot bind the inbox socket to ipc:///x: No such file");
    service_report_start(dir, dir, "router");  // a new `weft up` starts over
    assert_true(service_report_read(dir, dir, "router", &r));
    assert_int_equal(r.restarts, 0);
    assert_string_equal(r.last_error, "");
}

static void test_running_service_last_error(void **state)
{
    (void)state;
    service_report_start(dir, dir, "router");
    log_lines("2026-01-01T00:00:02.000Z error router: first trouble\n"
              "2026-01-01T00:00:02.001Z warn  router: a warning is no error\n"
              "2026-01-01T00:00:02.002Z error router: latest trouble\n"
              "an unstamped line error router: not a log line\n");
    service_report_t r;
    service_report_read(dir, dir, "router", &r);
    assert_string_equal(r.last_error, "router: latest trouble");
}

static void test_no_record_and_rotated_log(void **state)
{
    (void)state;
    service_report_t r;
    assert_false(service_report_read(dir, dir, "nat", &r));  // never started here: no record, no log
    assert_int_equal(r.restarts, 0);
    assert_string_equal(r.last_error, "");
    char out[128];
    char path[128];
    snprintf(path, sizeof path, "%s/router.log", dir);
    service_report_log_error(path, 1L << 40, true, out, sizeof out);  // past the end: the log was rotated
    assert_string_equal(out, "router: an error of an earlier weft up");
    service_report_forget(dir, "router");
    assert_false(service_report_read(dir, dir, "router", &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cause_of_a_crash_loop, make_dir, NULL),
        cmocka_unit_test(test_running_service_last_error),
        cmocka_unit_test_teardown(test_no_record_and_rotated_log, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
