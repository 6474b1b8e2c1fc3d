// test_stun.c — the STUN codec (lib/stun.c): the RFC 5769 test vectors (request, IPv4 and IPv6
// responses: FINGERPRINT, XOR-MAPPED-ADDRESS, SOFTWARE), our own requests and responses round-tripped,
// RFC 3489-style answers, and malformed messages rejected with a reason (every truncation of a good one,
// lengths that lie, bad address families, a wrong FINGERPRINT).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "stun.h"

// RFC 5769 2.1: sample request (PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT)
static const uint8_t rfc5769_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
    0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 'S',  'T',  'U',  'N',  ' ',  't',  'e',  's',  't',  ' ',  'c',  'l',
    'i',  'e',  'n',  't',  0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f,
    0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
    0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

// RFC 5769 2.2: sample IPv4 response, mapped 192.0.2.1:32853
static const uint8_t rfc5769_response_v4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

// RFC 5769 2.3: sample IPv6 response, mapped [2001:db8:1234:5678:11:2233:4455:6677]:32853
static const uint8_t rfc5769_response_v6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
    0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25,
    0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb,
    0x0b, 0x4c};

static const uint8_t rfc5769_txid[STUN_TXID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                                    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static void test_rfc5769_request(void **state)
{
    (void)state;
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(rfc5769_request, sizeof rfc5769_request, &m, err, sizeof err), 0);
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    assert_true(m.magic_cookie);
    assert_memory_equal(m.txid, rfc5769_txid, STUN_TXID_LEN);
    assert_string_equal(m.software, "STUN test client");
    assert_true(m.has_integrity);
    assert_true(m.has_fingerprint);
    // PRIORITY (0x0024) and USERNAME are comprehension-required and not ours to interpret
    assert_int_equal(m.unknown_required, 2);
}

static void test_rfc5769_response_ipv4(void **state)
{
    (void)state;
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(rfc5769_response_v4, sizeof rfc5769_response_v4, &m, err, sizeof err), 0);
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_string_equal(m.software, "test vector");   // 11 bytes; the 12th is padding
    assert_true(m.has_fingerprint);
    const stun_addr_t *a = stun_mapped_address(&m);
    assert_non_null(a);
    char text[STUN_ADDR_TEXT];
    stun_addr_to_text(a, text);
    assert_string_equal(text, "192.0.2.1:32853");
    assert_null(stun_alternate_address(&m));
}

static void test_rfc5769_response_ipv6(void **state)
{
    (void)state;
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(rfc5769_response_v6, sizeof rfc5769_response_v6, &m, err, sizeof err), 0);
    char text[STUN_ADDR_TEXT];
    stun_addr_to_text(stun_mapped_address(&m), text);
    assert_string_equal(text, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

static void test_fingerprint_mismatch_rejected(void **state)
{
    (void)state;
    uint8_t copy[sizeof rfc5769_response_v4];
    memcpy(copy, rfc5769_response_v4, sizeof copy);
    copy[sizeof copy - 1] ^= 1;
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(copy, sizeof copy, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "FINGERPRINT"));
    // a changed byte covered by the CRC too
    memcpy(copy, rfc5769_response_v4, sizeof copy);
    copy[30] ^= 0x20;
    assert_int_equal(stun_decode(copy, sizeof copy, &m, err, sizeof err), -1);
}

static void test_request_round_trip(void **state)
{
    (void)state;
    stun_request_t req = {.change_flags = STUN_CHANGE_IP | STUN_CHANGE_PORT, .software = "weft", .fingerprint = true};
    stun_new_txid(req.txid);
    uint8_t buf[STUN_MAX_MESSAGE];
    size_t len = stun_build_binding_request(&req, buf, sizeof buf);
    // header + CHANGE-REQUEST (8) + SOFTWARE (8) + FINGERPRINT (8)
    assert_int_equal(len, 20 + 8 + 8 + 8);
    assert_true(stun_looks_like(buf, len));
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(buf, len, &m, err, sizeof err), 0);
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    assert_memory_equal(m.txid, req.txid, STUN_TXID_LEN);
    assert_true(m.has_change_request);
    assert_int_equal(m.change_flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
    assert_string_equal(m.software, "weft");
    assert_true(m.has_fingerprint);
    // a plain request has no attributes at all
    stun_request_t plain = {0};
    assert_int_equal(stun_build_binding_request(&plain, buf, sizeof buf), 20);
    // too small a buffer: 0, never an overflow
    assert_int_equal(stun_build_binding_request(&req, buf, 30), 0);
    assert_int_equal(stun_build_binding_request(&req, buf, 10), 0);
}

static void test_response_round_trip(void **state)
{
    (void)state;
    uint8_t txid[STUN_TXID_LEN];
    stun_new_txid(txid);
    stun_addr_t mapped = {.family = AF_INET, .addr = {203, 0, 113, 7}, .port = 40001};
    stun_addr_t other = {.family = AF_INET, .addr = {203, 0, 113, 8}, .port = 3479};
    uint8_t buf[STUN_MAX_MESSAGE];
    size_t len = stun_build_binding_response(txid, &mapped, &other, "test server", buf, sizeof buf);
    assert_true(len > 20);
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(buf, len, &m, err, sizeof err), 0);
    assert_int_equal(m.type, STUN_BINDING_SUCCESS);
    assert_memory_equal(m.txid, txid, STUN_TXID_LEN);
    assert_true(stun_addr_equal(&m.xor_mapped, &mapped));
    assert_true(stun_addr_equal(&m.mapped, &mapped));
    assert_true(stun_addr_equal(stun_alternate_address(&m), &other));
    assert_string_equal(m.software, "test server");
    // sockaddr conversions
    struct sockaddr_in sin;
    assert_int_equal(stun_addr_to_sockaddr(&mapped, &sin), 0);
    assert_int_equal(ntohs(sin.sin_port), 40001);
    stun_addr_t back;
    stun_addr_from_sockaddr(&back, &sin);
    assert_true(stun_addr_equal(&back, &mapped));
    stun_addr_t v6 = {.family = AF_INET6, .port = 1};
    assert_int_equal(stun_addr_to_sockaddr(&v6, &sin), -1);
}

// An RFC 3489 answer: no magic cookie, MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS, no padding needed.
static void test_rfc3489_response(void **state)
{
    (void)state;
    uint8_t buf[] = {0x01, 0x01, 0x00, 0x30, 0x11, 0x22, 0x33, 0x44, 1,   2,    3,    4,    5,    6, 7, 8,
                     9,    10,   11,   12,   0x00, 0x01, 0x00, 0x08, 0,   0x01, 0x9c, 0x40, 192, 0, 2, 9,
                     0x00, 0x04, 0x00, 0x08, 0,    0x01, 0x0d, 0x96, 198, 51,   100,  1,    0x00, 0x05, 0x00, 0x08,
                     0,    0x01, 0x0d, 0x97, 198,  51,   100,  2,    0x00, 0x20, 0x00, 0x08, 0,   0x01, 0, 0,
                     0,    0,    0,    0};
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(buf, sizeof buf, &m, err, sizeof err), 0);
    assert_false(m.magic_cookie);
    assert_int_equal(m.cookie_word, 0x11223344u);
    assert_int_equal(m.xor_mapped.family, 0);   // XOR-MAPPED-ADDRESS ignored without the cookie
    char text[STUN_ADDR_TEXT];
    stun_addr_to_text(stun_mapped_address(&m), text);
    assert_string_equal(text, "192.0.2.9:40000");
    stun_addr_to_text(stun_alternate_address(&m), text);
    assert_string_equal(text, "198.51.100.2:3479");
    stun_addr_to_text(&m.source_address, text);
    assert_string_equal(text, "198.51.100.1:3478");
}

static void test_error_response(void **state)
{
    (void)state;
    uint8_t buf[] = {0x01, 0x11, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42, 1,   2,   3,   4,   5,   6,   7,   8,   9, 10,
                     11,   12,   0x00, 0x09, 0x00, 0x0b, 0,    0,    4,   20,  'U', 'n', 'k', 'n', 'o', 'w', 'n', 0};
    stun_message_t m;
    char err[128] = "";
    assert_int_equal(stun_decode(buf, sizeof buf, &m, err, sizeof err), 0);
    assert_true(m.has_error);
    assert_int_equal(m.error_code, 420);
    assert_string_equal(m.error_reason, "Unknown");
    // an error response without ERROR-CODE is malformed
    uint8_t bare[20] = {0x01, 0x11, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    assert_int_equal(stun_decode(bare, sizeof bare, &m, err, sizeof err), -1);
}

// Every prefix of good messages is rejected (the length field no longer matches) without reading past it.
static void test_truncations_rejected(void **state)
{
    (void)state;
    const uint8_t *msgs[] = {rfc5769_request, rfc5769_response_v4, rfc5769_response_v6};
    size_t lens[] = {sizeof rfc5769_request, sizeof rfc5769_response_v4, sizeof rfc5769_response_v6};
    for (size_t k = 0; k < 3; k++) {
        for (size_t n = 0; n < lens[k]; n++) {
            uint8_t *copy = malloc(n ? n : 1);   // exact size: ASan catches a read past it
            memcpy(copy, msgs[k], n);
            stun_message_t m;
            char err[128] = "";
            assert_int_equal(stun_decode(copy, n, &m, err, sizeof err), -1);
            assert_true(err[0] != '\0');
            free(copy);
        }
    }
    assert_int_equal(stun_decode(NULL, 0, &(stun_message_t){0}, NULL, 0), -1);
}

static void test_malformed_rejected(void **state)
{
    (void)state;
    stun_message_t m;
    char err[128];
    // not STUN: top bits set
    uint8_t rtp[20] = {0x80, 0x01, 0x00, 0x00};
    assert_int_equal(stun_decode(rtp, sizeof rtp, &m, err, sizeof err), -1);
    assert_false(stun_looks_like(rtp, sizeof rtp));
    // length not a multiple of 4
    uint8_t odd[22] = {0x01, 0x01, 0x00, 0x02, 0x21, 0x12, 0xa4, 0x42};
    assert_int_equal(stun_decode(odd, sizeof odd, &m, err, sizeof err), -1);
    // attribute longer than the message
    uint8_t longattr[28] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, [20] = 0x00, 0x20, 0x00, 0x40};
    assert_int_equal(stun_decode(longattr, sizeof longattr, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "runs past"));
    // an attribute value length of 0xffff
    uint8_t huge[28] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, [20] = 0x80, 0x22, 0xff, 0xff};
    assert_int_equal(stun_decode(huge, sizeof huge, &m, err, sizeof err), -1);
    // unknown address family
    uint8_t family[32] = {0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, [20] = 0x00, 0x01, 0x00, 0x08, 0, 0x03};
    assert_int_equal(stun_decode(family, sizeof family, &m, err, sizeof err), -1);
    // IPv4 family with an IPv6-sized value
    uint8_t size[44] = {0x01, 0x01, 0x00, 0x18, 0x21, 0x12, 0xa4, 0x42, [20] = 0x00, 0x20, 0x00, 0x14, 0, 0x01};
    assert_int_equal(stun_decode(size, sizeof size, &m, err, sizeof err), -1);
    // an address attribute of 2 bytes
    uint8_t tiny[28] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, [20] = 0x00, 0x05, 0x00, 0x02};
    assert_int_equal(stun_decode(tiny, sizeof tiny, &m, err, sizeof err), -1);
    // CHANGE-REQUEST of the wrong size, ERROR-CODE too short
    uint8_t change[28] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, [20] = 0x00, 0x03, 0x00, 0x02};
    assert_int_equal(stun_decode(change, sizeof change, &m, err, sizeof err), -1);
    uint8_t ecode[28] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, [20] = 0x00, 0x09, 0x00, 0x02};
    assert_int_equal(stun_decode(ecode, sizeof ecode, &m, err, sizeof err), -1);
    // an attribute after FINGERPRINT
    uint8_t after[sizeof rfc5769_response_v4 + 8];
    memcpy(after, rfc5769_response_v4, sizeof rfc5769_response_v4);
    memcpy(after + sizeof rfc5769_response_v4, (uint8_t[]){0x80, 0x22, 0x00, 0x04, 'a', 'b', 'c', 'd'}, 8);
    after[3] = (uint8_t)(sizeof after - 20);
    assert_int_equal(stun_decode(after, sizeof after, &m, err, sizeof err), -1);
    // control characters in SOFTWARE are not passed on
    uint8_t soft[28] = {0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42,
                        [20] = 0x80, 0x22, 0x00, 0x04, 'a', 0x1b, '\n', 'b'};
    assert_int_equal(stun_decode(soft, sizeof soft, &m, err, sizeof err), 0);
    assert_string_equal(m.software, "a??b");
}

static void test_crc32(void **state)
{
    (void)state;
    // the standard check value of CRC-32
    assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5769_request),       cmocka_unit_test(test_rfc5769_response_ipv4),
        cmocka_unit_test(test_rfc5769_response_ipv6), cmocka_unit_test(test_fingerprint_mismatch_rejected),
        cmocka_unit_test(test_request_round_trip),    cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_rfc3489_response),      cmocka_unit_test(test_error_response),
        cmocka_unit_test(test_truncations_rejected),  cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
