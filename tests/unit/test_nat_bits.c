// test_nat_bits.c — weft-nat's pieces that need no network: TURN URL parsing and the server lists
// (ice_settings.c), the server choice with failover and the hub's credentials (nat_servers.c), the probe
// datagram (path_probe.c), and the STUN and TURN probes' reading of answers (stun_probe.c on
// lib/stun_client.c, turn_probe.c) built with libnice's STUN code as a server would, plus a probe of a port
// nobody answers on.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <stun/stunagent.h>
#include <stun/usages/bind.h>
#include <stun/usages/turn.h>

#include "ice_settings.h"
#include "nat_servers.h"
#include "path_probe.h"
#include "stun_probe.h"
#include "turn_probe.h"

static void test_parse_turn(void **state)
{
    (void)state;
    ice_turn_server_t t;
    char why[160];
    assert_int_equal(ice_settings_parse_turn("turn://u:p@127.0.0.1:3478", NULL, NULL, &t, why, sizeof why), 0);
    assert_string_equal(t.user, "u");
    assert_string_equal(t.pass, "p");
    assert_string_equal(t.ip, "127.0.0.1");
    assert_int_equal(t.port, 3478);
    assert_false(t.tcp);
    assert_string_equal(t.name, "127.0.0.1:3478");
    assert_int_equal(ice_settings_parse_turn("turn://u:p@ss@127.0.0.1:3478?transport=tcp", NULL, NULL, &t, why,
                                             sizeof why), 0);
    assert_string_equal(t.pass, "p@ss");   // the last '@' ends the password
    assert_true(t.tcp);
    assert_string_equal(t.name, "127.0.0.1:3478/tcp");
    assert_int_equal(ice_settings_parse_turn("turn://u:p@127.0.0.1:3478?transport=udp", NULL, NULL, &t, why,
                                             sizeof why), 0);
    assert_false(t.tcp);
    // the hub's entries: host:port, credentials given apart
    assert_int_equal(ice_settings_parse_turn("127.0.0.1:3478", "1700000000:ab", "pw", &t, why, sizeof why), 0);
    assert_string_equal(t.user, "1700000000:ab");
    // refused, with a reason and never the password in it
    assert_int_equal(ice_settings_parse_turn("127.0.0.1:3478", NULL, NULL, &t, why, sizeof why), -1);
    assert_int_equal(ice_settings_parse_turn("turn://127.0.0.1:3478", NULL, NULL, &t, why, sizeof why), -1);
    assert_int_equal(ice_settings_parse_turn("turn://u:secret@127.0.0.1:3478?transport=tls", NULL, NULL, &t, why,
                                             sizeof why), -1);
    assert_null(strstr(why, "secret"));
    assert_int_equal(ice_settings_parse_turn("turn://u:secret@127.0.0.1:0", NULL, NULL, &t, why, sizeof why), -1);
    assert_int_equal(ice_settings_parse_turn("turn://u:secret@127.0.0.1:70000", NULL, NULL, &t, why, sizeof why), -1);
    assert_int_equal(ice_settings_parse_turn("turn://u:secret@127.0.0.1", NULL, NULL, &t, why, sizeof why), -1);
    assert_null(strstr(why, "secret"));
    assert_int_equal(ice_settings_parse_turn("turn://nocolon@127.0.0.1:1", NULL, NULL, &t, why, sizeof why), -1);
}

// nat.stun_servers / nat.turn_servers in order (bad entries left out) and connection.direct / .relay
static void test_settings_from_config(void **state)
{
    (void)state;
    static weft_config_t cfg;
    config_defaults(&cfg, "/tmp/weft-test-home");
    snprintf(cfg.stun_servers[0], CONFIG_STR, "127.0.0.1:3478");
    snprintf(cfg.stun_servers[1], CONFIG_STR, "no-port");
    snprintf(cfg.stun_servers[2], CONFIG_STR, "stun:127.0.0.2:3479");
    cfg.stun_server_count = 3;
    snprintf(cfg.turn_servers[0], CONFIG_STR, "turn://a:b@127.0.0.1:3480?transport=tcp");
    snprintf(cfg.turn_servers[1], CONFIG_STR, "turn://broken");
    cfg.turn_server_count = 2;
    ice_settings_t s;
    assert_int_equal(ice_settings_from_config(&s, &cfg), -1);   // something was left out
    assert_int_equal(s.stun_count, 2);
    assert_string_equal(s.stun[1].name, "127.0.0.2:3479");
    assert_int_equal(s.turn_count, 1);
    assert_true(s.turn[0].tcp);
    assert_true(s.direct && s.relay_allowed && !s.relay_only && s.ice_tcp);
    snprintf(cfg.connection_relay, sizeof cfg.connection_relay, "only");
    ice_settings_from_config(&s, &cfg);
    assert_true(s.relay_only && s.relay_allowed);
    snprintf(cfg.connection_relay, sizeof cfg.connection_relay, "never");
    ice_settings_from_config(&s, &cfg);
    assert_true(!s.relay_allowed && !s.relay_only);
    snprintf(cfg.connection_relay, sizeof cfg.connection_relay, "allow");
    cfg.connection_direct = false;
    ice_settings_from_config(&s, &cfg);
    assert_true(s.relay_only);
}

static ice_settings_t two_of_each(void)
{
    ice_settings_t s;
    memset(&s, 0, sizeof s);
    char why[160];
    for (int i = 0; i < 2; i++) {
        snprintf(s.stun[i].name, sizeof s.stun[i].name, "127.0.0.%d:3478", i + 1);
        snprintf(s.stun[i].ip, sizeof s.stun[i].ip, "127.0.0.%d", i + 1);
        s.stun[i].port = 3478;
        char url[64];
        snprintf(url, sizeof url, "turn://u%d:p@127.0.0.%d:3480", i + 1, i + 1);
        assert_int_equal(ice_settings_parse_turn(url, NULL, NULL, &s.turn[i], why, sizeof why), 0);
    }
    s.stun_count = s.turn_count = 2;
    s.relay_allowed = s.direct = true;
    return s;
}

static void test_server_failover(void **state)
{
    (void)state;
    ice_settings_t s = two_of_each();
    nat_servers_t ns;
    memset(&ns, 0, sizeof ns);
    ns.stun_index = -1;   // nat_servers_start without the probe thread
    const ice_stun_server_t *stun;
    const ice_turn_server_t *turn;
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_ptr_equal(turn, &s.turn[0]);
    assert_null(stun);                      // no probe answered yet, and TURN alone while it works
    nat_servers_on_gathered(&ns, &s, 1000, s.turn[0].name, false);   // no relay from #1
    assert_non_null(strstr(ns.status, "TURN server #1 127.0.0.1:3480 (user u1) gave no relay address"));
    assert_non_null(strstr(ns.status, "trying #2 127.0.0.2:3480"));
    ns.stun_index = 1;
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_ptr_equal(turn, &s.turn[1]);
    assert_null(stun);
    nat_servers_on_gathered(&ns, &s, 1000, s.turn[0].name, false);   // a late agent of #1: no second move
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_ptr_equal(turn, &s.turn[1]);
    nat_servers_on_gathered(&ns, &s, 1000, s.turn[1].name, false);   // #2 fails too: every one failed
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_ptr_equal(turn, &s.turn[0]);
    assert_ptr_equal(stun, &s.stun[1]);     // now STUN as well
    nat_servers_on_gathered(&ns, &s, 1000, s.turn[0].name, true);    // #1 works again
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_null(stun);
    // a trial's STUN server: the probed one
    ice_stun_server_t storage;
    assert_ptr_equal(nat_servers_pick_stun_only(&ns, &s, 1000, &storage), &s.stun[1]);
    ns.stun_index = -1;                     // none answered: the TURN server as a STUN server
    const ice_stun_server_t *as_stun = nat_servers_pick_stun_only(&ns, &s, 1000, &storage);
    assert_ptr_equal(as_stun, &storage);
    assert_string_equal(storage.ip, "127.0.0.1");
    assert_int_equal(storage.port, 3480);
    // connection.relay never: no TURN at all
    s.relay_allowed = false;
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_null(turn);
}

static void test_hub_credentials(void **state)
{
    (void)state;
    ice_settings_t s = two_of_each();
    nat_servers_t ns;
    memset(&ns, 0, sizeof ns);
    ns.stun_index = -1;
    char *servers[] = {"127.0.0.9:3478", "127.0.0.9:3478?transport=tcp", "not a server"};
    Weft__TurnCredentials c = WEFT__TURN_CREDENTIALS__INIT;
    c.username = "2000:abcd";
    c.password = "pw";
    c.servers = servers;
    c.n_servers = 3;
    c.expires_unix = 2000;
    c.ttl_s = 60;
    assert_int_equal(nat_servers_take_hub_turn(&ns, &s, &c), 1);
    assert_int_equal(s.hub_turn_count, 2);   // the bad entry is left out
    assert_true(s.hub_turn[1].tcp);
    assert_string_equal(s.hub_turn[0].user, "2000:abcd");
    assert_int_equal(nat_servers_take_hub_turn(&ns, &s, &c), 0);   // the same again
    const ice_stun_server_t *stun;
    const ice_turn_server_t *turn;
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_ptr_equal(turn, &s.hub_turn[0]);   // the hub's first
    const ice_turn_server_t *list[16];
    assert_int_equal(ice_settings_turn_list(&s, 1000, list, 16), 4);
    // expired: left out, and said
    assert_int_equal(ice_settings_turn_list(&s, 2000, list, 16), 2);
    nat_servers_pick(&ns, &s, 2000, &stun, &turn);
    assert_ptr_equal(turn, &s.turn[0]);
    assert_non_null(strstr(ns.status, "TURN credentials from the hub expired"));
    // fresh ones clear the message
    c.username = "3000:abcd";
    c.expires_unix = 3000;
    assert_int_equal(nat_servers_take_hub_turn(&ns, &s, &c), 1);
    assert_null(strstr(ns.status, "expired"));
    // unusable
    c.n_servers = 0;
    assert_int_equal(nat_servers_take_hub_turn(&ns, &s, &c), -1);
}

// The hub's STUN server (PeerList.hub_stun_port): used only when nat.stun_servers has none, at once (no
// probe needed before the first agents), replaced when it moves, dropped when the hub stops offering it.
static void test_hub_stun(void **state)
{
    (void)state;
    ice_settings_t s;
    memset(&s, 0, sizeof s);
    s.direct = true;
    nat_servers_t ns;
    memset(&ns, 0, sizeof ns);
    ns.stun_index = -1;   // no probe thread
    const ice_stun_server_t *stun;
    const ice_turn_server_t *turn;
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://127.0.0.7:7400", 0), 0);   // none offered
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://127.0.0.7:7400", 3478), 1);
    assert_int_equal(s.stun_count, 1);
    assert_true(s.stun_from_hub);
    assert_string_equal(s.stun[0].name, "127.0.0.7:3478");
    assert_string_equal(s.stun[0].ip, "127.0.0.7");
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_ptr_equal(stun, &s.stun[0]);       // the next agent has it, before any probe answered
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://127.0.0.7:7400", 3478), 0);   // every PeerList
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://127.0.0.7:7400", 13478), 1);
    assert_int_equal(s.stun[0].port, 13478);
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://[::1]:7400", 3478), 1);
    assert_string_equal(s.stun[0].ip, "::1");
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://127.0.0.7:7400", 0), 1);   // no longer offered
    assert_int_equal(s.stun_count, 0);
    nat_servers_pick(&ns, &s, 1000, &stun, &turn);
    assert_null(stun);
    // an endpoint without a usable host
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "ipc:///tmp/hub", 3478), -1);
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://:7400", 3478), -1);
    assert_int_equal(s.stun_count, 0);
    // nat.stun_servers configured: the node's own list wins, the hub's is not added
    s = two_of_each();
    int before = s.stun_count;
    assert_int_equal(nat_servers_take_hub_stun(&ns, &s, "tcp://127.0.0.7:7400", 3478), 0);
    assert_int_equal(s.stun_count, before);
    assert_false(s.stun_from_hub);
    assert_string_not_equal(s.stun[0].name, "127.0.0.7:3478");
}

static void test_path_probe(void **state)
{
    (void)state;
    path_probe_t p = {.type = PATH_PROBE_PING, .token = 0x0102030405060708ull, .sent_us = 123456789012};
    uint8_t buf[PATH_PROBE_LEN];
    path_probe_encode(&p, buf);
    assert_int_equal(buf[0], 0x50);
    assert_int_equal(buf[4], 0x08);   // little-endian
    path_probe_t q;
    assert_true(path_probe_decode(buf, sizeof buf, &q));
    assert_int_equal(q.type, PATH_PROBE_PING);
    assert_true(q.token == p.token);
    assert_true(q.sent_us == p.sent_us);
    assert_false(path_probe_decode(buf, sizeof buf - 1, &q));
    buf[2] = 1;
    assert_false(path_probe_decode(buf, sizeof buf, &q));
    buf[2] = 0;
    buf[0] = 4;   // crypto's transport type is never a probe
    assert_false(path_probe_decode(buf, sizeof buf, &q));
    assert_false(path_probe_is_probe_type(buf, sizeof buf));
    buf[0] = PATH_PROBE_PONG;
    assert_true(path_probe_is_probe_type(buf, 1));
    assert_false(path_probe_is_probe_type(buf, 0));
}

// The Binding request of transaction t (lib/stun_client.c, as stun_probe sends it), answered by a server
// built from libnice's STUN code: an independent implementation on the other side.
static size_t answer(const stun_transaction_t *t, uint8_t *out, size_t out_len, bool error, bool other_transaction)
{
    uint8_t req_buf[256];
    assert_true(t->request_len > 0 && t->request_len <= sizeof req_buf);
    memcpy(req_buf, t->request, t->request_len);
    size_t req_len = t->request_len;
    if (other_transaction) {   // a request the client never sent
        StunAgent other;
        StunMessage req;
        stun_agent_init(&other, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, 0);
        req_len = stun_usage_bind_create(&other, &req, req_buf, sizeof req_buf);
    }
    StunAgent server;
    stun_agent_init(&server, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, 0);
    StunMessage parsed, resp;
    assert_int_equal(stun_agent_validate(&server, &parsed, req_buf, req_len, NULL, NULL), STUN_VALIDATION_SUCCESS);
    if (error) {
        assert_true(stun_agent_init_error(&server, &resp, out, out_len, &parsed, STUN_ERROR_BAD_REQUEST));
    } else {
        assert_true(stun_agent_init_response(&server, &resp, out, out_len, &parsed));
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(4242);
        inet_pton(AF_INET, "192.0.2.7", &sin->sin_addr);
        assert_int_equal(stun_message_append_xor_addr(&resp, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, &ss, sizeof *sin),
                         STUN_MESSAGE_RETURN_SUCCESS);
    }
    size_t len = stun_agent_finish_message(&server, &resp, NULL, 0);
    assert_true(len > 0);
    return len;
}

// Feeds one datagram to a fresh transaction and reads it as stun_probe does at the end.
static stun_probe_status_t probe_read(stun_transaction_t *t, const uint8_t *buf, size_t len, char *mapped,
                                      char *detail)
{
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(3478)};
    stun_transaction_receive(t, buf, len, (struct sockaddr *)&from, sizeof from);
    return stun_probe_read(t, mapped, 64, detail, 96);
}

static void test_stun_answers(void **state)
{
    (void)state;
    stun_socket_t sock = {.fd = -1};
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    opt.timeout_ms = 2000;
    stun_transaction_t t = {.socket = &sock};
    uint8_t buf[512];
    char mapped[64] = "", detail[96] = "";
    stun_transaction_prepare(&t, &opt);
    size_t len = answer(&t, buf, sizeof buf, false, false);
    assert_int_equal(probe_read(&t, buf, len, mapped, detail), STUN_PROBE_OK);
    assert_string_equal(mapped, "192.0.2.7:4242");
    stun_transaction_prepare(&t, &opt);
    len = answer(&t, buf, sizeof buf, true, false);
    assert_int_equal(probe_read(&t, buf, len, mapped, detail), STUN_PROBE_BAD_ANSWER);
    assert_string_equal(detail, "answered STUN error 400");
    stun_transaction_prepare(&t, &opt);
    len = answer(&t, buf, sizeof buf, false, true);
    assert_int_equal(probe_read(&t, buf, len, mapped, detail), STUN_PROBE_NO_ANSWER);   // not ours: ignored
    assert_int_equal(t.foreign, 1);
    assert_string_equal(detail, "no answer within 2000 ms");
    // what the liar in test_nat_servers.sh sends
    const uint8_t garbage[] = "\x01\x01\x00\x08not-stun-at-all";
    stun_transaction_prepare(&t, &opt);
    assert_int_equal(probe_read(&t, garbage, sizeof garbage - 1, mapped, detail), STUN_PROBE_BAD_ANSWER);
    assert_string_equal(detail, "answered with something that is not STUN (19 bytes)");
    // a good answer with a byte changed: its FINGERPRINT no longer matches (libnice's server sends none)
    stun_transaction_prepare(&t, &opt);
    stun_addr_t public = {.family = AF_INET, .addr = {192, 0, 2, 7}, .port = 4242};
    len = stun_build_binding_response(t.txid, &public, NULL, "test", buf, sizeof buf);
    assert_int_equal(probe_read(&t, buf, len, mapped, detail), STUN_PROBE_OK);
    stun_transaction_prepare(&t, &opt);
    len = stun_build_binding_response(t.txid, &public, NULL, "test", buf, sizeof buf);
    buf[len - 9] ^= 1;
    assert_int_equal(probe_read(&t, buf, len, mapped, detail), STUN_PROBE_BAD_ANSWER);
    assert_non_null(strstr(detail, "does not check (FINGERPRINT mismatch"));
    // a truncated good answer
    stun_transaction_prepare(&t, &opt);
    len = answer(&t, buf, sizeof buf, false, false);
    assert_int_equal(probe_read(&t, buf, len - 5, mapped, detail), STUN_PROBE_BAD_ANSWER);
}

static void test_stun_probe_no_answer(void **state)
{
    (void)state;
    ice_stun_server_t servers[2];
    memset(servers, 0, sizeof servers);
    snprintf(servers[0].ip, sizeof servers[0].ip, "127.0.0.1");
    servers[0].port = 9;                 // discard: nobody answers (or ICMP refuses)
    snprintf(servers[1].ip, sizeof servers[1].ip, "not-an-address");
    servers[1].port = 3478;
    stun_probe_result_t r;
    stun_probe_run(servers, 2, &r);
    assert_int_equal(r.status[0], STUN_PROBE_NO_ANSWER);
    assert_string_equal(r.detail[0], "no answer within 2000 ms");
    assert_int_equal(r.status[1], STUN_PROBE_UNSENT);
    assert_string_equal(r.detail[1], "cannot send to it: no socket for its address family");
}

// An Allocate from `client` (no credentials yet, as turn_probe's first round), answered 401 as coturn does.
static size_t turn_refusal(StunAgent *client, uint8_t *out, size_t out_len)
{
    uint8_t req_buf[512];
    StunMessage req;
    size_t req_len = stun_usage_turn_create(client, &req, req_buf, sizeof req_buf, NULL,
                                            STUN_USAGE_TURN_REQUEST_PORT_NORMAL, -1, -1, (uint8_t *)"u", 1,
                                            (uint8_t *)"p", 1, STUN_USAGE_TURN_COMPATIBILITY_RFC5766);
    assert_true(req_len > 0);
    StunAgent server;
    stun_agent_init(&server, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, STUN_AGENT_USAGE_IGNORE_CREDENTIALS);
    StunMessage parsed, resp;
    assert_int_equal(stun_agent_validate(&server, &parsed, req_buf, req_len, NULL, NULL), STUN_VALIDATION_SUCCESS);
    assert_true(stun_agent_init_error(&server, &resp, out, out_len, &parsed, STUN_ERROR_UNAUTHORIZED));
    size_t len = stun_agent_finish_message(&server, &resp, NULL, 0);
    assert_true(len > 0);
    return len;
}

static void test_turn_answers(void **state)
{
    (void)state;
    StunAgent client;
    stun_agent_init(&client, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_LONG_TERM_CREDENTIALS | STUN_AGENT_USAGE_NO_INDICATION_AUTH);
    uint8_t buf[512];
    StunMessage msg;
    int code = 0;
    char detail[160];
    size_t len = turn_refusal(&client, buf, sizeof buf);
    assert_int_equal(turn_probe_read_answer(&client, buf, len, &msg, &code, detail, sizeof detail), TURN_PROBE_REFUSED);
    assert_int_equal(code, 401);
    assert_string_equal(detail, "401 wrong or expired credentials");
    // the same answer again: it answers nothing outstanding any more (skipped, not an error)
    assert_int_equal(turn_probe_read_answer(&client, buf, len, &msg, &code, detail, sizeof detail),
                     TURN_PROBE_NO_ANSWER);
    // (a success answer carries MESSAGE-INTEGRITY under the long-term key; turn_probe_run against coturn
    // in the NAT lab covers it: test_nat_servers.sh)
    // garbage: never a crash
    const uint8_t garbage[] = "\x01\x13\x00\x04junk";
    assert_int_equal(turn_probe_read_answer(&client, garbage, sizeof garbage - 1, &msg, &code, detail, sizeof detail),
                     TURN_PROBE_BAD_ANSWER);
    assert_string_equal(turn_probe_error_name(486), "allocation quota reached");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_turn),     cmocka_unit_test(test_server_failover),
        cmocka_unit_test(test_hub_credentials), cmocka_unit_test(test_path_probe),
        cmocka_unit_test(test_stun_answers),   cmocka_unit_test(test_stun_probe_no_answer),
        cmocka_unit_test(test_turn_answers),   cmocka_unit_test(test_settings_from_config),
        cmocka_unit_test(test_hub_stun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
