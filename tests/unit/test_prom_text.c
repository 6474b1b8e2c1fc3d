/*
 * test_prom_text.c - cmocka tests for lib/prom_text, the Prometheus text format the node API's and the hub
 * API's /metrics write: label values with quotes, backslashes and newlines escaped, HELP escaped, a family's
 * header written once however often it is started, a family started again after another and bad metric or
 * label names left out instead of breaking the text, float values, weft_build_info.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_text.h"

// A writer on a memory stream; text() closes the stream and returns what was written (freed by the test).
typedef struct {
    char *buf;
    size_t len;
    FILE *out;
    prom_text_t w;
} sink_t;

static void open_sink(sink_t *s)
{
    memset(s, 0, sizeof *s);
    s->out = open_memstream(&s->buf, &s->len);
    assert_non_null(s->out);
    prom_text_init(&s->w, s->out);
}

static char *text(sink_t *s, int expect_end)
{
    assert_int_equal(prom_text_end(&s->w), expect_end);
    assert_int_equal(fclose(s->out), 0);
    return s->buf;
}

static int count(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_label_values_escaped(void **state)
{
    (void)state;
    sink_t s;
    open_sink(&s);
    assert_int_equal(prom_family(&s.w, "weft_peer_connected", PROM_GAUGE, "help"), 0);
    prom_sample(&s.w, 1, "peer_id", "ab", "name", "a \"quoted\" back\\slash\nnew line", NULL);
    char *t = text(&s, 0);
    assert_string_equal(t, "# HELP weft_peer_connected help\n"
                           "# TYPE weft_peer_connected gauge\n"
                           "weft_peer_connected{peer_id=\"ab\",name=\"a \\\"quoted\\\" back\\\\slash\\nnew line\"} 1\n");
    free(t);
}

static void test_help_escaped(void **state)
{
    (void)state;
    sink_t s;
    open_sink(&s);
    prom_family(&s.w, "weft_x_total", PROM_COUNTER, "two\nlines, a \\ and \"quotes\"");
    prom_sample(&s.w, 7, NULL);
    char *t = text(&s, 0);
    // HELP escapes backslash and newline only; quotes stay as they are
    assert_string_equal(t, "# HELP weft_x_total two\\nlines, a \\\\ and \"quotes\"\n"
                           "# TYPE weft_x_total counter\n"
                           "weft_x_total 7\n");
    free(t);
}

static void test_family_written_once(void **state)
{
    (void)state;
    sink_t s;
    open_sink(&s);
    const char *reasons[] = {"replay", "queue_full", "no_route"};
    for (int i = 0; i < 3; i++) {
        // started before each sample, as api_metrics.c does for the drop_<reason> group
        assert_int_equal(prom_family(&s.w, "weft_crypto_drops_total", PROM_COUNTER, "drops"), 0);
        prom_sample(&s.w, (uint64_t)i, "reason", reasons[i], NULL);
    }
    prom_family(&s.w, "weft_up", PROM_GAUGE, "up");
    prom_sample(&s.w, 1, "service", "api", NULL);
    // started again after another family: refused, and its samples are left out
    assert_int_equal(prom_family(&s.w, "weft_crypto_drops_total", PROM_COUNTER, "drops"), -1);
    prom_sample(&s.w, 99, "reason", "late", NULL);
    char *t = text(&s, 0);
    assert_int_equal(count(t, "# TYPE weft_crypto_drops_total counter\n"), 1);
    assert_int_equal(count(t, "# HELP weft_crypto_drops_total "), 1);
    assert_int_equal(count(t, "weft_crypto_drops_total{reason="), 3);
    assert_null(strstr(t, "late"));
    assert_null(strstr(t, " 99\n"));
    assert_non_null(strstr(t, "weft_crypto_drops_total{reason=\"no_route\"} 2\n# HELP weft_up up\n"));
    free(t);
}

static void test_bad_names_left_out(void **state)
{
    (void)state;
    sink_t s;
    open_sink(&s);
    // a stat name from Redis with a space and a brace: the family and its samples are left out
    assert_int_equal(prom_family(&s.w, "weft_hub_bad name{x=\"1\"}_total", PROM_COUNTER, "h"), -1);
    prom_sample(&s.w, 5, NULL);
    assert_int_equal(prom_family(&s.w, "9starts_with_a_digit", PROM_GAUGE, "h"), -1);
    prom_sample(&s.w, 5, NULL);
    assert_int_equal(prom_family(&s.w, "", PROM_GAUGE, "h"), -1);
    char long_name[PROM_NAME_MAX + 8];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(prom_family(&s.w, long_name, PROM_GAUGE, "h"), -1);
    // a bad label name leaves that sample out, not the family's others
    assert_int_equal(prom_family(&s.w, "weft_ok", PROM_GAUGE, "h"), 0);
    prom_sample(&s.w, 1, "bad-label", "v", NULL);
    prom_sample(&s.w, 2, "__reserved", "v", NULL);
    prom_sample(&s.w, 3, "good", "v", NULL);
    char *t = text(&s, 0);
    assert_string_equal(t, "# HELP weft_ok h\n# TYPE weft_ok gauge\nweft_ok{good=\"v\"} 3\n");
    free(t);
}

static void test_no_sample_without_family(void **state)
{
    (void)state;
    sink_t s;
    open_sink(&s);
    prom_sample(&s.w, 1, NULL);
    prom_sample_double(&s.w, 1.5, "a", "b", NULL);
    char *t = text(&s, 0);
    assert_string_equal(t, "");
    free(t);
}

static void test_doubles(void **state)
{
    (void)state;
    sink_t s;
    open_sink(&s);
    prom_family(&s.w, "weft_peer_rtt_seconds", PROM_GAUGE, "rtt");
    prom_sample_double(&s.w, 0.003, "peer_id", "a", NULL);
    prom_sample_double(&s.w, 12345.678, "peer_id", "b", NULL);
    prom_sample_double(&s.w, NAN, "peer_id", "c", NULL);
    prom_sample_double(&s.w, INFINITY, "peer_id", "d", NULL);
    prom_sample_double(&s.w, -INFINITY, "peer_id", "e", NULL);
    char *t = text(&s, 0);
    assert_non_null(strstr(t, "weft_peer_rtt_seconds{peer_id=\"a\"} 0.003\n"));
    assert_non_null(strstr(t, "weft_peer_rtt_seconds{peer_id=\"b\"} 12345.678\n"));
    assert_non_null(strstr(t, "weft_peer_rtt_seconds{peer_id=\"c\"} NaN\n"));
    assert_non_null(strstr(t, "weft_peer_rtt_seconds{peer_id=\"d\"} +Inf\n"));
    assert_non_null(strstr(t, "weft_peer_rtt_seconds{peer_id=\"e\"} -Inf\n"));
    free(t);
}

static void test_build_info(void **state)
{
    (void)state;
    sink_t s;
    open_sink(&s);
    prom_build_info(&s.w);
    prom_build_info(&s.w);   // the same family again, straight after: written once
    char *t = text(&s, 0);
    assert_int_equal(count(t, "# TYPE weft_build_info gauge\n"), 1);
    assert_non_null(strstr(t, "weft_build_info{version=\""));
    assert_null(strstr(t, "version=\"unknown\""));   // the build passes the project's version
    assert_non_null(strstr(t, "\"} 1\n"));
    free(t);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(prom_metric_name_ok("weft_hub_members"));
    assert_true(prom_metric_name_ok("a:b_c9"));
    assert_false(prom_metric_name_ok("weft-hub"));
    assert_false(prom_metric_name_ok("1x"));
    assert_true(prom_label_name_ok("peer_id"));
    assert_false(prom_label_name_ok("a:b"));
    assert_false(prom_label_name_ok("__name__"));
    assert_false(prom_label_name_ok(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_values_escaped), cmocka_unit_test(test_help_escaped),
        cmocka_unit_test(test_family_written_once),  cmocka_unit_test(test_bad_names_left_out),
        cmocka_unit_test(test_no_sample_without_family), cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_build_info),           cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
