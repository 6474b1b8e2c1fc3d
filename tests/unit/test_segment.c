// test_segment.c — services/device/segment.c without a TUN: TCP super-packets built by hand (IPv4 with and
// without options, IPv6), split and checked segment by segment with an independent checksum verifier;
// checksum completion (NEEDS_CSUM) for UDP and TCP; malformed inputs rejected; random input never crashes.
// Also the device.offload key of weft.yaml (bool, default true, WEFT_DEVICE_OFFLOAD).
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "segment.h"

#define MTU 1400
#define F_FIN 0x01
#define F_SYN 0x02
#define F_PSH 0x08
#define F_ACK 0x10
#define F_ECE 0x40
#define F_CWR 0x80

#include "packet_bytes.h"

static bool ipv4_header_ok(const uint8_t *ip)
{
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    return fold(sum_be16(ip, ihl, 0)) == 0xffff;
}

// Sum of the pseudo-header of a transport packet of l4_len bytes, protocol proto.
static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
    uint32_t s;
    if ((ip[0] >> 4) == 4)
        s = sum_be16(ip + 12, 8, 0);
    else
        s = sum_be16(ip + 8, 32, 0);
    return s + proto + (uint32_t)l4_len;
}

// Does the transport checksum of the packet (IP header of ip_len bytes) verify?
static bool l4_ok(const uint8_t *pkt, size_t len, size_t ip_len, uint8_t proto)
{
    return fold(sum_be16(pkt + ip_len, len - ip_len, pseudo_sum(pkt, proto, len - ip_len))) == 0xffff;
}

// ---- packets built by hand ----
typedef struct {
    uint8_t buf[SEGMENT_MAX_PACKET];
    size_t len, ip_len, tcp_len;
} pkt_t;

// An IPv4 (opt_len bytes of options) or IPv6 TCP packet with tcp_opt bytes of TCP options, flags and
// payload_len bytes of a recognisable payload. Lengths are those of the whole (super-)packet.
static void build_tcp(pkt_t *p, int version, size_t ip_opt, size_t tcp_opt, uint8_t flags, size_t payload_len)
{
    memset(p, 0, sizeof *p);
    uint8_t *b = p->buf;
    if (version == 4) {
        p->ip_len = 20 + ip_opt;
        b[0] = (uint8_t)(0x40 | (p->ip_len / 4));
        b[1] = 0x02;                        // ECT(0)
        wr16(b + 4, 0xfffe);                // id: wraps during the test
        wr16(b + 6, 0x4000);                // DF
        b[8] = 64;
        b[9] = 6;
        memcpy(b + 12, (uint8_t[]){10, 100, 0, 1}, 4);
        memcpy(b + 16, (uint8_t[]){10, 100, 0, 2}, 4);
        for (size_t i = 0; i < ip_opt; i++)
            b[20 + i] = 1;                  // NOP options
    } else {
        p->ip_len = 40;
        b[0] = 0x60;
        b[6] = 6;
        b[7] = 64;
        for (int i = 0; i < 16; i++) {
            b[8 + i] = (uint8_t)(i == 0 ? 0xfd : i * 7 + 1);
            b[24 + i] = (uint8_t)(i == 0 ? 0xfd : 0xff - i * 3);
        }
    }
    uint8_t *t = b + p->ip_len;
    p->tcp_len = 20 + tcp_opt;
    wr16(t, 40000);
    wr16(t + 2, 5201);
    wr32(t + 4, 0xffffe000u);               // seq: wraps during the test
    wr32(t + 8, 0x12345678u);
    t[12] = (uint8_t)((p->tcp_len / 4) << 4);
    t[13] = flags;
    wr16(t + 14, 501);
    for (size_t i = 0; i < tcp_opt; i++)
        t[20 + i] = 1;
    wr16(t + 16, 0xbeef);                   // garbage: segmentation computes the checksum itself
    size_t hdrs = p->ip_len + p->tcp_len;
    for (size_t i = 0; i < payload_len; i++)
        b[hdrs + i] = (uint8_t)(i * 31 + (i >> 8));
    p->len = hdrs + payload_len;
    if (version == 4)
        wr16(b + 2, (uint16_t)p->len);
    else
        wr16(b + 4, (uint16_t)(p->len - 40));
}

static segment_vnet_hdr_t tso_hdr(const pkt_t *p, int version, uint16_t gso_size)
{
    segment_vnet_hdr_t h = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
        .gso_type = version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
        .hdr_len = (uint16_t)(p->ip_len + p->tcp_len),
        .gso_size = gso_size,
        .csum_start = (uint16_t)p->ip_len,
        .csum_offset = 16,
    };
    return h;
}

// Splits p and checks every segment against the original.
static void check_split(const pkt_t *p, int version, segment_vnet_hdr_t h, size_t want_segments)
{
    segment_iter_t it;
    const char *why = NULL;
    if (segment_begin(&it, &h, p->buf, p->len, MTU, &why) != 0)
        fail_msg("rejected: %s", why);
    size_t hdrs = p->ip_len + p->tcp_len, payload = p->len - hdrs, gso = h.gso_size;
    const uint8_t *ot = p->buf + p->ip_len;
    uint8_t orig_flags = ot[13];
    size_t i = 0, off = 0;
    static uint8_t out[SEGMENT_MAX_PACKET];
    size_t want_len;
    while ((want_len = segment_next_len(&it)) > 0) {
        memset(out, 0xa5, sizeof out);
        size_t n = segment_next(&it, out);
        assert_int_equal(n, want_len);
        size_t seg_payload = payload - off < gso ? payload - off : gso;
        assert_int_equal(n, hdrs + seg_payload);
        assert_true(n <= MTU);
        bool first = i == 0, last = off + seg_payload == payload;
        if (version == 4) {
            assert_int_equal(rd16(out + 2), n);
            assert_int_equal(rd16(out + 4), (uint16_t)(rd16(p->buf + 4) + i));
            assert_true(ipv4_header_ok(out));
            assert_memory_equal(out + 20, p->buf + 20, p->ip_len - 20);   // options copied
            assert_memory_equal(out + 12, p->buf + 12, 8);
        } else {
            assert_int_equal(rd16(out + 4), n - 40);
            assert_memory_equal(out, p->buf, 4);
            assert_memory_equal(out + 6, p->buf + 6, 34);
        }
        const uint8_t *t = out + p->ip_len;
        assert_int_equal(rd32(t + 4), (uint32_t)(rd32(ot + 4) + off));
        assert_int_equal(rd32(t + 8), rd32(ot + 8));
        uint8_t want_flags = orig_flags;
        if (!last)
            want_flags &= (uint8_t)~(F_FIN | F_PSH);
        if (!first)
            want_flags &= (uint8_t)~F_CWR;
        assert_int_equal(t[13], want_flags);
        assert_memory_equal(t + 20, ot + 20, p->tcp_len - 20);            // TCP options copied
        assert_true(l4_ok(out, n, p->ip_len, 6));
        assert_memory_equal(out + hdrs, p->buf + hdrs + off, seg_payload);
        assert_int_equal(out[n], 0xa5);                                   // nothing written past the end
        off += seg_payload;
        i++;
    }
    assert_int_equal(i, want_segments);
    assert_int_equal(off, payload);
    assert_int_equal(segment_next(&it, out), 0);
}

static void test_ipv4_three_and_a_half_segments(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 12, F_ACK | F_PSH | F_FIN, 1000 * 3 + 500);
    check_split(&p, 4, tso_hdr(&p, 4, 1000), 4);
}

static void test_ipv4_options(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 8, 0, F_ACK | F_PSH, 1300 * 3 + 650);
    check_split(&p, 4, tso_hdr(&p, 4, 1300), 4);
    // the full MTU: 28 + 20 + 1352 = 1400
    build_tcp(&p, 4, 8, 0, F_ACK, 1352 * 3 + 676);
    check_split(&p, 4, tso_hdr(&p, 4, 1352), 4);
}

static void test_ipv6_three_and_a_half_segments(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 6, 0, 12, F_ACK | F_PSH | F_FIN, 1200 * 3 + 600);
    check_split(&p, 6, tso_hdr(&p, 6, 1200), 4);
}

static void test_ecn_cwr_only_on_first(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 0, F_ACK | F_CWR | F_ECE | F_PSH, 700 * 3 + 350);
    segment_vnet_hdr_t h = tso_hdr(&p, 4, 700);
    h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    check_split(&p, 4, h, 4);
}

static void test_largest_super_packet(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 12, F_ACK | F_PSH, 65535 - 52);   // 64 KiB read, MSS 1348
    check_split(&p, 4, tso_hdr(&p, 4, 1348), (65535 - 52 + 1347) / 1348);
    build_tcp(&p, 6, 0, 12, F_ACK | F_PSH, 65535 - 32);   // IPv6: payload length 65535
    check_split(&p, 6, tso_hdr(&p, 6, 1328), (65535 - 32 + 1327) / 1328);
}

static void test_exact_multiple_and_single_segment(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 0, F_ACK | F_FIN, 1000 * 4);
    check_split(&p, 4, tso_hdr(&p, 4, 1000), 4);
    build_tcp(&p, 4, 0, 0, F_ACK | F_FIN, 999);
    check_split(&p, 4, tso_hdr(&p, 4, 1000), 1);
    build_tcp(&p, 4, 0, 0, F_ACK, 1001);   // odd payload lengths: the odd last byte of the checksum
    check_split(&p, 4, tso_hdr(&p, 4, 1000), 2);
}

// The kernel may give a hdr_len covering the whole first segment (forwarded packets): only a hint.
static void test_hdr_len_is_a_hint(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 12, F_ACK, 3000);
    segment_vnet_hdr_t h = tso_hdr(&p, 4, 1000);
    h.hdr_len = (uint16_t)(p.ip_len + p.tcp_len + 1000);
    check_split(&p, 4, h, 3);
    h.hdr_len = 0;
    check_split(&p, 4, h, 3);
}

// ---- NEEDS_CSUM completion ----
static void run_single(const uint8_t *pkt, size_t len, segment_vnet_hdr_t h, uint8_t *out)
{
    segment_iter_t it;
    const char *why = NULL;
    if (segment_begin(&it, &h, pkt, len, MTU, &why) != 0)
        fail_msg("rejected: %s", why);
    assert_int_equal(segment_next_len(&it), len);
    assert_int_equal(segment_next(&it, out), len);
    assert_int_equal(segment_next_len(&it), 0);
}

static void test_csum_udp(void **state)
{
    (void)state;
    uint8_t pkt[20 + 8 + 33] = {0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 100, 0, 1, 10, 100, 0, 2};
    size_t len = sizeof pkt;
    wr16(pkt + 2, (uint16_t)len);
    wr16(pkt + 20, 5353);
    wr16(pkt + 22, 53);
    wr16(pkt + 24, (uint16_t)(len - 20));
    for (size_t i = 28; i < len; i++)
        pkt[i] = (uint8_t)(i * 13);
    // the kernel's CHECKSUM_PARTIAL: the folded pseudo-header sum, not complemented, in the field
    wr16(pkt + 26, fold(pseudo_sum(pkt, 17, len - 20)));
    segment_vnet_hdr_t h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 6};
    uint8_t out[sizeof pkt];
    run_single(pkt, len, h, out);
    assert_true(l4_ok(out, len, 20, 17));
    assert_int_not_equal(rd16(out + 26), 0);   // 0 would mean "no checksum"
    out[40] ^= 0x10;                             // the verifier does notice a changed bit
    assert_false(l4_ok(out, len, 20, 17));
    out[40] ^= 0x10;
    assert_memory_equal(out, pkt, 26);
    assert_memory_equal(out + 28, pkt + 28, len - 28);
}

static void test_csum_tcp(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 12, F_ACK | F_PSH, 777);
    wr16(p.buf + p.ip_len + 16, fold(pseudo_sum(p.buf, 6, p.len - p.ip_len)));
    segment_vnet_hdr_t h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = (uint16_t)p.ip_len, .csum_offset = 16};
    static uint8_t out[SEGMENT_MAX_PACKET];
    run_single(p.buf, p.len, h, out);
    assert_true(l4_ok(out, p.len, p.ip_len, 6));
    // IPv6 too
    build_tcp(&p, 6, 0, 0, F_ACK, 100);
    wr16(p.buf + 40 + 16, fold(pseudo_sum(p.buf, 6, p.len - 40)));
    h.csum_start = 40;
    run_single(p.buf, p.len, h, out);
    assert_true(l4_ok(out, p.len, 40, 6));
}

static void test_no_csum_needed_is_copied(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 0, F_SYN, 0);
    segment_vnet_hdr_t h = {.flags = VIRTIO_NET_HDR_F_DATA_VALID};
    static uint8_t out[SEGMENT_MAX_PACKET];
    run_single(p.buf, p.len, h, out);
    assert_memory_equal(out, p.buf, p.len);
}

// ---- malformed input ----
static void expect_reject(const segment_vnet_hdr_t *h, const uint8_t *pkt, size_t len, const char *fragment)
{
    segment_iter_t it;
    const char *why = NULL;
    assert_int_equal(segment_begin(&it, h, pkt, len, MTU, &why), -1);
    assert_non_null(why);
    if (fragment && !strstr(why, fragment))
        fail_msg("reason '%s' does not contain '%s'", why, fragment);
    assert_int_equal(segment_next_len(&it), 0);
}

static void test_malformed_rejected(void **state)
{
    (void)state;
    static pkt_t p;
    build_tcp(&p, 4, 0, 12, F_ACK, 3500);
    segment_vnet_hdr_t good = tso_hdr(&p, 4, 1000), h;

    for (size_t cut = 0; cut < p.ip_len + p.tcp_len; cut++) {   // truncated headers, at every length
        h = good;
        h.hdr_len = 0;
        wr16(p.buf + 2, (uint16_t)cut);                          // even with a matching total length
        expect_reject(&h, p.buf, cut, NULL);
    }
    wr16(p.buf + 2, (uint16_t)p.len);
    expect_reject(&good, p.buf, p.len - 1, "total length");     // length disagrees with the read
    h = good, h.gso_size = 0;
    expect_reject(&h, p.buf, p.len, "gso_size 0");
    h = good, h.gso_size = (uint16_t)(MTU - p.ip_len - p.tcp_len + 1);
    expect_reject(&h, p.buf, p.len, "MTU");
    h = good, h.hdr_len = (uint16_t)(p.len + 1);
    expect_reject(&h, p.buf, p.len, "hdr_len");
    h = good, h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
    expect_reject(&h, p.buf, p.len, "gso_type");
    h = good, h.gso_type = 5;                                    // VIRTIO_NET_HDR_GSO_UDP_L4
    expect_reject(&h, p.buf, p.len, "gso_type");
    h = good, h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;            // an IPv4 packet
    expect_reject(&h, p.buf, p.len, "IPv6");
    h = good, h.csum_offset = 6;
    expect_reject(&h, p.buf, p.len, "checksum position");
    h = good, h.gso_type = VIRTIO_NET_HDR_GSO_ECN;              // ECN without TCP GSO
    expect_reject(&h, p.buf, p.len, "ECN");

    p.buf[9] = 17;                                               // wrong protocol
    expect_reject(&good, p.buf, p.len, "not TCP");
    p.buf[9] = 6;
    wr16(p.buf + 6, 0x2000);                                     // MF: a fragment
    expect_reject(&good, p.buf, p.len, "fragment");
    wr16(p.buf + 6, 0x4000);
    p.buf[0] = 0x44;                                             // ihl 16 bytes
    expect_reject(&good, p.buf, p.len, "IPv4 header length");
    p.buf[0] = 0x45;
    p.buf[20 + 12] = 0x40;                                       // TCP data offset 16 bytes
    expect_reject(&good, p.buf, p.len, "TCP header length");
    p.buf[20 + 12] = 0xf0;                                       // 60 bytes: fine, but no payload left
    wr16(p.buf + 2, 80);
    expect_reject(&good, p.buf, 80, "payload");

    build_tcp(&p, 6, 0, 0, F_ACK, 3500);
    segment_vnet_hdr_t g6 = tso_hdr(&p, 6, 1000);
    p.buf[6] = 0;                                                // hop-by-hop extension header
    expect_reject(&g6, p.buf, p.len, "extension");
    p.buf[6] = 6;
    wr16(p.buf + 4, 100);
    expect_reject(&g6, p.buf, p.len, "payload length");
    g6.hdr_len = 0;
    expect_reject(&g6, p.buf, 39, "IPv6");

    // NEEDS_CSUM without GSO: the checksum position must be inside the packet
    uint8_t small[40] = {0x45};
    h = (segment_vnet_hdr_t){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 40, .csum_offset = 0};
    expect_reject(&h, small, sizeof small, "checksum position");
    h.csum_start = 20, h.csum_offset = 20;                       // the field would end past the packet
    expect_reject(&h, small, sizeof small, "checksum position");
    h.csum_offset = 7;                                           // odd: not on a 16-bit word
    expect_reject(&h, small, sizeof small, "checksum position");
    h = (segment_vnet_hdr_t){0};
    expect_reject(&h, small, 0, "empty");
}

static uint32_t rnd(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return *x >> 8;
}

// Random headers and bytes: never a crash (run under ASan/UBSan with WEFT_SANITIZE), and whatever is
// accepted comes out within its bounds.
static void test_random_input_is_safe(void **state)
{
    (void)state;
    static pkt_t p;
    static uint8_t out[SEGMENT_MAX_PACKET + 1];
#define RND() rnd(&x)
    uint32_t x = 12345;
    size_t accepted = 0;
    for (int round = 0; round < 20000; round++) {
        build_tcp(&p, (RND() & 1) ? 4 : 6, (RND() % 3) * 4, (RND() % 4) * 4, (uint8_t)RND(), RND() % 5000);
        segment_vnet_hdr_t h = tso_hdr(&p, (p.buf[0] >> 4) == 4 ? 4 : 6, (uint16_t)(RND() % 1500));
        size_t len = p.len;
        switch (RND() % 6) {
        case 0: len = RND() % (p.len + 1); break;
        case 1: p.buf[RND() % 60] = (uint8_t)RND(); break;
        case 2: h.gso_type = (uint8_t)RND(); break;
        case 3: h.flags = (uint8_t)RND(), h.csum_start = (uint16_t)RND(), h.csum_offset = (uint16_t)(RND() % 64); break;
        case 4: h.hdr_len = (uint16_t)RND(); break;
        default: break;
        }
        segment_iter_t it;
        const char *why = NULL;
        if (segment_begin(&it, &h, p.buf, len, MTU, &why) != 0) {
            assert_non_null(why);
            continue;
        }
        accepted++;
        size_t n, count = 0;
        while ((n = segment_next_len(&it)) > 0) {
            assert_true(n <= len);
            out[n] = 0x5a;
            assert_int_equal(segment_next(&it, out), n);
            assert_int_equal(out[n], 0x5a);
            if (it.gso) {
                assert_true(n <= MTU);
                assert_true(l4_ok(out, n, it.ip_len, 6));
            }
            count++;
        }
        assert_true(count >= 1);
    }
    assert_true(accepted > 1000);
#undef RND
}

// ---- device.offload in weft.yaml ----
static void test_config_offload_key(void **state)
{
    (void)state;
    weft_config_t cfg;
    char err[256] = "";
    config_defaults(&cfg, "/tmp/weft-segment-test");
    assert_true(cfg.device_offload);
    const char *off[] = {"false", "no", "False", "NO"}, *on[] = {"true", "yes", "TRUE", "Yes"};
    char yaml[64];
    for (int i = 0; i < 4; i++) {
        snprintf(yaml, sizeof yaml, "device:\n  offload: %s\n", off[i]);
        assert_int_equal(config_parse(&cfg, yaml, strlen(yaml), "weft.yaml", err, sizeof err), 0);
        assert_false(cfg.device_offload);
        snprintf(yaml, sizeof yaml, "device:\n  offload: %s\n", on[i]);
        assert_int_equal(config_parse(&cfg, yaml, strlen(yaml), "weft.yaml", err, sizeof err), 0);
        assert_true(cfg.device_offload);
    }
    const char *bad = "device:\n  offload: maybe\n";
    assert_int_equal(config_parse(&cfg, bad, strlen(bad), "weft.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "weft.yaml:2: 'device.offload': 'maybe' is not true/false or yes/no"));

    char dir[] = "/tmp/weft-segment-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("WEFT_DEVICE_OFFLOAD", "false", 1);
    assert_int_equal(config_load(&cfg, dir, err, sizeof err), 0);
    assert_false(cfg.device_offload);
    setenv("WEFT_DEVICE_OFFLOAD", "1", 1);
    assert_int_equal(config_load(&cfg, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "WEFT_DEVICE_OFFLOAD"));
    unsetenv("WEFT_DEVICE_OFFLOAD");
    cfg.device_offload = false;   // saved and loaded back
    assert_int_equal(config_save(&cfg, cfg.config_file), 0);
    weft_config_t back;
    assert_int_equal(config_load(&back, dir, err, sizeof err), 0);
    assert_false(back.device_offload);
    unlink(cfg.config_file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_three_and_a_half_segments),
        cmocka_unit_test(test_ipv4_options),
        cmocka_unit_test(test_ipv6_three_and_a_half_segments),
        cmocka_unit_test(test_ecn_cwr_only_on_first),
        cmocka_unit_test(test_largest_super_packet),
        cmocka_unit_test(test_exact_multiple_and_single_segment),
        cmocka_unit_test(test_hdr_len_is_a_hint),
        cmocka_unit_test(test_csum_udp),
        cmocka_unit_test(test_csum_tcp),
        cmocka_unit_test(test_no_csum_needed_is_copied),
        cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_random_input_is_safe),
        cmocka_unit_test(test_config_offload_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
