/*
 * test_mesh_frame.c - cmocka tests for the forward header of mesh frames (lib/mesh_frame.c): a header
 * written by mesh_forward_header parses back to its fields with the datagram in place; the parser refuses
 * frames too short to hold a datagram, another type, nonzero reserved bytes and a destination equal to
 * its source; mesh_frame_is_mesh tells mesh frames from IP packets and keepalives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "mesh_frame.h"

static uint8_t dst[MESH_NODE_ID_LEN], src[MESH_NODE_ID_LEN];

// A forward frame into frame: the header, then datagram_len bytes i*13+1.
static size_t make_frame(uint8_t *frame, uint8_t ttl, size_t datagram_len)
{
    mesh_forward_header(frame, ttl, dst, src);
    for (size_t i = 0; i < datagram_len; i++)
        frame[MESH_FORWARD_HEADER_LEN + i] = (uint8_t)(i * 13 + 1);
    return MESH_FORWARD_HEADER_LEN + datagram_len;
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < MESH_NODE_ID_LEN; i++) {
        dst[i] = (uint8_t)(0xc0 + i);
        src[i] = (uint8_t)(0xa0 + i);
    }
    return 0;
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t frame[MESH_FORWARD_HEADER_LEN + 200];
    const uint8_t ttls[] = {0, 1, 8, 255};
    for (size_t t = 0; t < sizeof ttls; t++) {
        size_t len = make_frame(frame, ttls[t], 200);
        assert_int_equal(frame[0], MESH_FRAME_FORWARD);
        assert_int_equal(frame[1], ttls[t]);
        assert_int_equal(frame[2], 0);
        assert_int_equal(frame[3], 0);
        mesh_forward_t f;
        memset(&f, 0xee, sizeof f);
        assert_int_equal(mesh_forward_parse(frame, len, &f), 0);
        assert_int_equal(f.ttl, ttls[t]);
        assert_ptr_equal(f.dst, frame + 4);
        assert_ptr_equal(f.src, frame + 4 + MESH_NODE_ID_LEN);
        assert_memory_equal(f.dst, dst, MESH_NODE_ID_LEN);
        assert_memory_equal(f.src, src, MESH_NODE_ID_LEN);
        assert_ptr_equal(f.datagram, frame + MESH_FORWARD_HEADER_LEN);
        assert_int_equal(f.datagram_len, 200);
        assert_int_equal(f.datagram[0], 1);
        assert_int_equal(f.datagram[199], (uint8_t)(199 * 13 + 1));
    }
    // the shortest frame: a one-byte datagram
    size_t len = make_frame(frame, 4, 1);
    mesh_forward_t f;
    assert_int_equal(mesh_forward_parse(frame, len, &f), 0);
    assert_int_equal(f.datagram_len, 1);
    assert_int_equal(f.ttl, 4);
}

static void test_refuses_short(void **state)
{
    (void)state;
    uint8_t frame[MESH_FORWARD_HEADER_LEN + 10];
    make_frame(frame, 8, 10);
    mesh_forward_t f;
    for (size_t len = 0; len <= MESH_FORWARD_HEADER_LEN; len++)   // the header alone: an empty datagram
        assert_int_equal(mesh_forward_parse(frame, len, &f), -1);
    assert_int_equal(mesh_forward_parse(NULL, 0, &f), -1);
    assert_int_equal(mesh_forward_parse(frame, MESH_FORWARD_HEADER_LEN + 1, &f), 0);
}

static void test_refuses_wrong_type(void **state)
{
    (void)state;
    uint8_t frame[MESH_FORWARD_HEADER_LEN + 10];
    size_t len = make_frame(frame, 8, 10);
    mesh_forward_t f;
    const uint8_t types[] = {0x00, MESH_FRAME_ANNOUNCE, 0x03, 0x45, 0x82, 0xff};
    for (size_t i = 0; i < sizeof types; i++) {
        frame[0] = types[i];
        assert_int_equal(mesh_forward_parse(frame, len, &f), -1);
    }
    frame[0] = MESH_FRAME_FORWARD;
    assert_int_equal(mesh_forward_parse(frame, len, &f), 0);
}

static void test_refuses_reserved_bytes(void **state)
{
    (void)state;
    uint8_t frame[MESH_FORWARD_HEADER_LEN + 10];
    size_t len = make_frame(frame, 8, 10);
    mesh_forward_t f;
    for (int byte = 2; byte <= 3; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            frame[byte] = (uint8_t)(1u << bit);
            assert_int_equal(mesh_forward_parse(frame, len, &f), -1);
        }
        frame[byte] = 0;
    }
    assert_int_equal(mesh_forward_parse(frame, len, &f), 0);
}

static void test_refuses_dst_equal_src(void **state)
{
    (void)state;
    uint8_t frame[MESH_FORWARD_HEADER_LEN + 10];
    mesh_forward_t f;
    mesh_forward_header(frame, 8, dst, dst);
    memset(frame + MESH_FORWARD_HEADER_LEN, 0x45, 10);
    assert_int_equal(mesh_forward_parse(frame, sizeof frame, &f), -1);
    // one byte apart, first or last: two nodes
    frame[4 + MESH_NODE_ID_LEN] ^= 1;
    assert_int_equal(mesh_forward_parse(frame, sizeof frame, &f), 0);
    frame[4 + MESH_NODE_ID_LEN] ^= 1;
    frame[4 + 2 * MESH_NODE_ID_LEN - 1] ^= 0x80;
    assert_int_equal(mesh_forward_parse(frame, sizeof frame, &f), 0);
}

static void test_is_mesh(void **state)
{
    (void)state;
    const uint8_t announce[] = {MESH_FRAME_ANNOUNCE}, forward[] = {MESH_FRAME_FORWARD, 8},
                  ipv4[] = {0x45, 0}, other[] = {0x03}, zero[] = {0x00};
    assert_true(mesh_frame_is_mesh(announce, sizeof announce));
    assert_true(mesh_frame_is_mesh(forward, sizeof forward));
    assert_false(mesh_frame_is_mesh(ipv4, sizeof ipv4));
    assert_false(mesh_frame_is_mesh(other, sizeof other));
    assert_false(mesh_frame_is_mesh(zero, sizeof zero));
    assert_false(mesh_frame_is_mesh(announce, 0));   // a keepalive
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip, setup),
        cmocka_unit_test_setup(test_refuses_short, setup),
        cmocka_unit_test_setup(test_refuses_wrong_type, setup),
        cmocka_unit_test_setup(test_refuses_reserved_bytes, setup),
        cmocka_unit_test_setup(test_refuses_dst_equal_src, setup),
        cmocka_unit_test_setup(test_is_mesh, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
