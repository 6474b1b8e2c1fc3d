// test_nat_predict.c — weft-nat's extra candidates: candidate_line parsing and writing, the port
// prediction's classification of probed ports, the predicted lines, and that libnice parses every line
// we add as the server-reflexive candidate we mean.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nice/agent.h>

#include "candidate_line.h"
#include "predict.h"

static const char *HOST = "a=candidate:1 1 UDP 2013266431 10.0.1.10 46815 typ host";
static const char *SRFLX = "a=candidate:2 1 UDP 1677721855 198.18.11.2 40039 typ srflx raddr 10.0.1.10 rport 46815";

static void test_parse_host_and_srflx(void **state)
{
    (void)state;
    candidate_line_t c;
    assert_int_equal(candidate_line_parse(HOST, &c), 0);
    assert_string_equal(c.foundation, "1");
    assert_int_equal(c.component, 1);
    assert_true(c.udp);
    assert_int_equal(c.priority, 2013266431u);
    assert_string_equal(c.ip, "10.0.1.10");
    assert_int_equal(c.port, 46815);
    assert_string_equal(c.type, "host");
    assert_string_equal(c.raddr, "");
    assert_int_equal(candidate_line_parse(SRFLX + 2, &c), 0);   // without "a="
    assert_string_equal(c.type, "srflx");
    assert_string_equal(c.raddr, "10.0.1.10");
    assert_int_equal(c.rport, 46815);
    assert_int_equal(candidate_line_parse("a=candidate:3 1 TCP 1015022079 10.0.1.10 9 typ host tcptype active", &c), 0);
    assert_false(c.udp);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    candidate_line_t c;
    const char *bad[] = {
        "",
        "a=candidate:",
        "a=candidate:1 1 UDP 2013266431 10.0.1.10 46815 host",          // no "typ"
        "a=candidate:1 0 UDP 2013266431 10.0.1.10 46815 typ host",      // component 0
        "a=candidate:1 1 UDP 2013266431 10.0.1.10 65536 typ host",      // port too large
        "a=candidate:1 1 UDP -5 10.0.1.10 46815 typ host",               // negative priority
        "a=candidate:1 1 UDP 99999999999 10.0.1.10 46815 typ host",      // priority over 32 bits
        "a=candidate:1 1 UDP 1 10.0.1.10 46815 typ srflx raddr",         // extension without a value
        "a=candidate:1 1 UDP 1 10.0.1.10 46815 typ srflx rport 70000",   // bad rport
        "a=ice-ufrag:abcd",
        "a=candidate:123456789012345678901234567890123 1 UDP 1 1.2.3.4 5 typ host",   // foundation too long
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(candidate_line_parse(bad[i], &c), -1);
}

static void test_priority(void **state)
{
    (void)state;
    // RFC 5245 4.1.2.1: (2^24) type + (2^8) local + (256 - component)
    assert_int_equal(candidate_priority(126, 65535, 1), 2130706431u);
    assert_int_equal(candidate_priority(100, 65535, 1), 1694498815u);
    assert_true(candidate_priority(CANDIDATE_PREF_MAPPED, 65535, 1) > candidate_priority(CANDIDATE_PREF_SRFLX, 65535, 1));
    assert_true(candidate_priority(CANDIDATE_PREF_PREDICTED, 65535, 1) < candidate_priority(CANDIDATE_PREF_SRFLX, 0, 1));
}

static void test_classify(void **state)
{
    (void)state;
    int step = -99;
    const uint16_t cone[] = {50000, 50000, 41000, 41000};
    assert_int_equal(predict_classify(cone, 4, &step), PREDICT_INDEPENDENT);
    assert_int_equal(step, 0);
    const uint16_t seq[] = {40000, 40001, 40002, 40003};
    assert_int_equal(predict_classify(seq, 4, &step), PREDICT_SEQUENTIAL);
    assert_int_equal(step, 1);
    // another flow took a port in between: the smallest gap is the step
    const uint16_t gaps[] = {40022, 40024, 40025, 40026};
    assert_int_equal(predict_classify(gaps, 4, &step), PREDICT_SEQUENTIAL);
    assert_int_equal(step, 1);
    const uint16_t two[] = {30000, 30002, 30004, 30008};
    assert_int_equal(predict_classify(two, 4, &step), PREDICT_SEQUENTIAL);
    assert_int_equal(step, 2);
    const uint16_t down[] = {40010, 40009, 40008, 40006};
    assert_int_equal(predict_classify(down, 4, &step), PREDICT_SEQUENTIAL);
    assert_int_equal(step, -1);
    const uint16_t random1[] = {47848, 37718, 51987, 2000};
    assert_int_equal(predict_classify(random1, 4, &step), PREDICT_RANDOM);
    assert_int_equal(step, 0);
    const uint16_t back_and_forth[] = {40000, 40001, 39999, 40002};   // small gaps, no direction
    assert_int_equal(predict_classify(back_and_forth, 4, &step), PREDICT_RANDOM);
    const uint16_t repeat[] = {40000, 40001, 40001, 40002};           // a port twice: not sequential
    assert_int_equal(predict_classify(repeat, 4, &step), PREDICT_RANDOM);
    const uint16_t big_gap[] = {40000, 40001, 40002, 40002 + PREDICT_MAX_GAP + 1};
    assert_int_equal(predict_classify(big_gap, 4, &step), PREDICT_RANDOM);
    assert_int_equal(predict_classify(seq, 2, &step), PREDICT_UNKNOWN);
}

static void free_lines(char **lines, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        free(lines[i]);
}

static void test_predicted_lines(void **state)
{
    (void)state;
    char *lines[32] = {(char *)HOST, (char *)SRFLX};
    size_t added = predict_lines(1, lines, 2, 32);
    assert_int_equal(added, PREDICT_COUNT);
    for (size_t k = 1; k <= added; k++) {
        candidate_line_t c;
        assert_int_equal(candidate_line_parse(lines[1 + k], &c), 0);
        assert_string_equal(c.type, "srflx");
        assert_string_equal(c.ip, "198.18.11.2");
        assert_int_equal(c.port, 40039 + k);
        assert_string_equal(c.raddr, "10.0.1.10");   // the same base as our srflx
        assert_int_equal(c.rport, 46815);
        char foundation[16];
        snprintf(foundation, sizeof foundation, "wpre%zu", k);
        assert_string_equal(c.foundation, foundation);   // each its own: none waits frozen behind another
    }
    free_lines(lines, 2, 2 + added);
    // bounded by max, by the port range, and nothing without a srflx line or a step
    assert_int_equal(predict_lines(1, lines, 2, 5), 3);
    free_lines(lines, 2, 5);
    assert_int_equal(predict_lines(0, lines, 2, 32), 0);
    assert_int_equal(predict_lines(1, lines, 1, 32), 0);
    char *high[2] = {"a=candidate:2 1 UDP 1 198.18.11.2 65533 typ srflx raddr 10.0.1.10 rport 1000", NULL};
    assert_int_equal(predict_lines(1, high, 1, 2), 1);   // one line fits below max
    free(high[1]);
    char *top[12] = {"a=candidate:2 1 UDP 1 198.18.11.2 65533 typ srflx raddr 10.0.1.10 rport 1000"};
    assert_int_equal(predict_lines(1, top, 1, 12), 2);   // 65534, 65535, then out of range
    free_lines(top, 1, 3);
    char *low[12] = {"a=candidate:2 1 UDP 1 198.18.11.2 1026 typ srflx raddr 10.0.1.10 rport 1000"};
    assert_int_equal(predict_lines(-1, low, 1, 12), 2);   // 1025, 1024: no privileged ports
    free_lines(low, 1, 3);
    // a NULL predictor (prediction off) adds nothing
    assert_int_equal(predict_add_candidates(NULL, lines, 2, 32), 0);
}

// no srflx line (the agent had no STUN server yet): the ports after the probe's last one, on the host base
static void test_predicted_lines_without_srflx(void **state)
{
    (void)state;
    char *lines[32] = {(char *)HOST};
    size_t added = predict_lines_after(1, "198.18.11.2", 40020, lines, 1, 32);
    assert_int_equal(added, PREDICT_COUNT);
    candidate_line_t c;
    assert_int_equal(candidate_line_parse(lines[1], &c), 0);
    assert_string_equal(c.type, "srflx");
    assert_string_equal(c.ip, "198.18.11.2");
    assert_int_equal(c.port, 40021);
    assert_string_equal(c.raddr, "10.0.1.10");
    assert_int_equal(c.rport, 46815);
    assert_int_equal(candidate_line_parse(lines[added], &c), 0);
    assert_int_equal(c.port, 40020 + PREDICT_COUNT);
    free_lines(lines, 1, 1 + added);
    // no host line either, or no step: nothing
    char *tcp_only[4] = {"a=candidate:3 1 TCP 1015022079 10.0.1.10 9 typ host tcptype active"};
    assert_int_equal(predict_lines_after(1, "198.18.11.2", 40020, tcp_only, 1, 4), 0);
    assert_int_equal(predict_lines_after(0, "198.18.11.2", 40020, lines, 1, 32), 0);
    // our own added srflx lines are never the base of more predictions
    char *ours[4] = {"a=candidate:wmap1 1 UDP 1 198.18.11.2 5000 typ srflx raddr 10.0.1.10 rport 5000"};
    assert_int_equal(predict_lines(1, ours, 1, 4), 0);
}

// libnice must take each added line as a server-reflexive candidate with its base (what the peer's agent
// does with our offer)
static void test_libnice_parses_added_lines(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    NiceAgent *agent = nice_agent_new(ctx, NICE_COMPATIBILITY_RFC5245);
    guint stream = nice_agent_add_stream(agent, 1);
    assert_true(stream > 0);
    char *lines[32] = {(char *)HOST, (char *)SRFLX};
    size_t added = predict_lines(1, lines, 2, 32);
    lines[2 + added] = candidate_line_srflx("wmap1", 1, candidate_priority(CANDIDATE_PREF_MAPPED, 65535, 1),
                                            "198.18.11.2", 46815, "10.0.1.10", 46815);
    assert_non_null(lines[2 + added]);
    for (size_t i = 2; i < 3 + added; i++) {
        NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(agent, stream, lines[i]);
        assert_non_null(c);
        assert_int_equal(c->type, NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE);
        assert_int_equal(c->transport, NICE_CANDIDATE_TRANSPORT_UDP);
        assert_int_equal(c->component_id, 1);
        char ip[NICE_ADDRESS_STRING_LEN];
        nice_address_to_string(&c->base_addr, ip);
        assert_string_equal(ip, "10.0.1.10");
        assert_int_equal(nice_address_get_port(&c->base_addr), 46815);
        nice_candidate_free(c);
    }
    free_lines(lines, 2, 3 + added);
    g_object_unref(agent);
    g_main_context_unref(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_host_and_srflx),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_predicted_lines),
        cmocka_unit_test(test_predicted_lines_without_srflx),
        cmocka_unit_test(test_libnice_parses_added_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
