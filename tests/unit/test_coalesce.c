// test_coalesce.c — services/device/coalesce.c without a TUN: runs of TCP segments built by hand (with
// correct IPv4 and TCP checksums, as the sender's kernel or segment.c makes them) are pushed in order and
// what comes out is checked: which packets merge and where runs stop (PSH, gaps, ack, flow, options,
// flags, a shorter segment, size limits), the virtio_net_hdr and the merged headers, packets that pass
// through unchanged and in order, and a round trip: segment.c cuts each merged packet back into the
// original segments, byte for byte.
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coalesce.h"
#include "segment.h"

#define MTU 1400
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define F_ECE 0x40
#define F_CWR 0x80

#include "packet_bytes.h"

static uint32_t pseudo_sum(const uint8_t *ip, size_t l4_len)
{
    uint32_t s = (ip[0] >> 4) == 4 ? sum_be16(ip + 12, 8, 0) : sum_be16(ip + 8, 32, 0);
    return s + 6 + (uint32_t)l4_len;
}

// ---- segments built by hand ----
#define MAX_SEGS 80
typedef struct {
    uint8_t buf[MTU + 64];
    size_t len, ip_len, hdrs_len;
} seg_t;

typedef struct {
    int version;
    size_t tcp_opt;          // bytes of TCP options (a multiple of 4; timestamps-like bytes)
    uint32_t seq, ack;
    uint16_t sport, ip_id;
} flow_t;

static const flow_t FLOW4 = {4, 12, 0xffffd000u, 0x12345678u, 40000, 0xfff0};
static const flow_t FLOW6 = {6, 12, 0x7ffff000u, 0x9abcdef0u, 40001, 0};

// One segment of flow f with payload_len bytes (payload byte i of the stream: f(seq + i)) and flags.
static void build(seg_t *s, const flow_t *f, uint32_t seq, uint16_t ip_id, uint8_t flags, size_t payload_len)
{
    memset(s, 0, sizeof *s);
    uint8_t *b = s->buf;
    if (f->version == 4) {
        s->ip_len = 20;
        b[0] = 0x45;
        b[1] = 0x02;
        wr16(b + 4, ip_id);
        wr16(b + 6, 0x4000);
        b[8] = 64;
        b[9] = 6;
        memcpy(b + 12, (uint8_t[]){10, 100, 0, 1}, 4);
        memcpy(b + 16, (uint8_t[]){10, 100, 0, 2}, 4);
    } else {
        s->ip_len = 40;
        b[0] = 0x60;
        b[1] = 0x01;               // flow label 0x12345
        b[2] = 0x23;
        b[3] = 0x45;
        b[6] = 6;
        b[7] = 64;
        for (int i = 0; i < 16; i++) {
            b[8 + i] = (uint8_t)(i == 0 ? 0xfd : i * 7 + 1);
            b[24 + i] = (uint8_t)(i == 0 ? 0xfd : 0xff - i * 3);
        }
    }
    uint8_t *t = b + s->ip_len;
    size_t tcp_len = 20 + f->tcp_opt;
    wr16(t, f->sport);
    wr16(t + 2, 5201);
    wr32(t + 4, seq);
    wr32(t + 8, f->ack);
    t[12] = (uint8_t)((tcp_len / 4) << 4);
    t[13] = flags;
    wr16(t + 14, 501);
    if (f->tcp_opt >= 12) {        // NOP NOP TS(10)
        t[20] = 1;
        t[21] = 1;
        t[22] = 8;
        t[23] = 10;
        wr32(t + 24, 0x01020304);
        wr32(t + 28, 0x05060708);
    }
    s->hdrs_len = s->ip_len + tcp_len;
    for (size_t i = 0; i < payload_len; i++) {
        uint32_t x = seq + (uint32_t)i;
        b[s->hdrs_len + i] = (uint8_t)(x * 31 + (x >> 8));
    }
    s->len = s->hdrs_len + payload_len;
    if (f->version == 4) {
        wr16(b + 2, (uint16_t)s->len);
        wr16(b + 10, (uint16_t)~fold(sum_be16(b, 20, 0)));
    } else {
        wr16(b + 4, (uint16_t)(s->len - 40));
    }
    wr16(t + 16, (uint16_t)~fold(sum_be16(t, s->len - s->ip_len, pseudo_sum(b, s->len - s->ip_len))));
}

// n segments of flow f, payload `size` each, consecutive seq and IPv4 ids; flags ACK (+ last_flags on the last).
static void build_run(seg_t *segs, size_t n, const flow_t *f, size_t size, uint8_t last_flags)
{
    uint32_t seq = f->seq;
    for (size_t i = 0; i < n; i++) {
        build(&segs[i], f, seq, (uint16_t)(f->ip_id + i), (uint8_t)(F_ACK | (i + 1 == n ? last_flags : 0)), size);
        seq += (uint32_t)size;
    }
}

// Recomputes the checksums of a segment changed by a test.
static void rechecksum(seg_t *s)
{
    uint8_t *b = s->buf, *t = b + s->ip_len;
    if (s->ip_len == 20) {
        wr16(b + 10, 0);
        wr16(b + 10, (uint16_t)~fold(sum_be16(b, 20, 0)));
    }
    wr16(t + 16, 0);
    wr16(t + 16, (uint16_t)~fold(sum_be16(t, s->len - s->ip_len, pseudo_sum(b, s->len - s->ip_len))));
}

// ---- what comes out ----
typedef struct {
    uint8_t vnet[SEGMENT_VNET_HDR_LEN];
    uint8_t *pkt;
    const uint8_t *orig;       // the pointer emitted
    size_t len, segments;
} got_t;

typedef struct {
    got_t out[MAX_SEGS];
    size_t count;
} sink_t;

static void collect(void *arg, const coalesce_out_t *o)
{
    sink_t *s = arg;
    assert_true(s->count < MAX_SEGS);
    got_t *g = &s->out[s->count++];
    memcpy(g->vnet, o->vnet, sizeof g->vnet);
    g->pkt = malloc(o->len);
    assert_non_null(g->pkt);
    memcpy(g->pkt, o->pkt, o->len);
    g->orig = o->pkt;
    g->len = o->len;
    g->segments = o->segments;
}

static void sink_free(sink_t *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->out[i].pkt);
    s->count = 0;
}

static void push_all(sink_t *sink, seg_t *segs, size_t n)
{
    coalesce_t *c = coalesce_new();
    assert_non_null(c);
    sink->count = 0;
    for (size_t i = 0; i < n; i++)
        coalesce_push(c, segs[i].buf, segs[i].len, collect, sink);
    coalesce_flush(c, collect, sink);
    coalesce_flush(c, collect, sink);  // nothing pending: no output
    coalesce_destroy(&c);
    assert_null(c);
}

static bool vnet_zero(const got_t *g)
{
    static const uint8_t z[SEGMENT_VNET_HDR_LEN];
    return memcmp(g->vnet, z, sizeof z) == 0;
}

// A single output must be the pushed packet itself, unchanged, with a zeroed header.
static void check_single(const got_t *g, const seg_t *s)
{
    assert_int_equal(g->segments, 1);
    assert_true(vnet_zero(g));
    assert_ptr_equal(g->orig, s->buf);
    assert_int_equal(g->len, s->len);
    assert_memory_equal(g->pkt, s->buf, s->len);
}

// A merged output of segs[0..n): header fields, lengths, payload, and segment.c cuts it back into segs.
static void check_merged(const got_t *g, const seg_t *segs, size_t n)
{
    assert_int_equal(g->segments, n);
    assert_true(n >= 2);
    const seg_t *f = &segs[0];
    size_t gso = f->len - f->hdrs_len, total = f->hdrs_len;
    for (size_t i = 0; i < n; i++)
        total += segs[i].len - segs[i].hdrs_len;
    assert_int_equal(g->len, total);

    segment_vnet_hdr_t h;
    segment_vnet_hdr_decode(&h, g->vnet);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.gso_type, f->ip_len == 20 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
    assert_int_equal(h.hdr_len, f->hdrs_len);
    assert_int_equal(h.gso_size, gso);
    assert_int_equal(h.csum_start, f->ip_len);
    assert_int_equal(h.csum_offset, 16);

    const uint8_t *p = g->pkt, *t = p + f->ip_len;
    if (f->ip_len == 20) {
        assert_int_equal(rd16(p + 2), total);
        assert_int_equal(fold(sum_be16(p, 20, 0)), 0xffff);            // IPv4 header checksum valid
        assert_memory_equal(p + 4, f->buf + 4, 6);                       // id, DF, TTL, protocol
    } else {
        assert_int_equal(rd16(p + 4), total - 40);
    }
    // TCP checksum field: the folded, uncomplemented pseudo-header sum (CHECKSUM_PARTIAL convention)
    assert_int_equal(rd16(t + 16), fold(pseudo_sum(p, total - f->ip_len)));
    // and finishing it as the kernel would (complement of the sum over [csum_start, end)) gives a valid one
    {
        static uint8_t tmp[SEGMENT_MAX_PACKET];
        memcpy(tmp, p, total);
        uint8_t *tt = tmp + f->ip_len;
        wr16(tt + 16, (uint16_t)~fold(sum_be16(tt, total - f->ip_len, 0)));
        assert_int_equal(fold(sum_be16(tt, total - f->ip_len, pseudo_sum(tmp, total - f->ip_len))), 0xffff);
    }
    assert_int_equal(rd32(t + 4), rd32(f->buf + f->ip_len + 4));
    uint8_t want_flags = (uint8_t)(f->buf[f->ip_len + 13] | (segs[n - 1].buf[f->ip_len + 13] & F_PSH));
    assert_int_equal(t[13], want_flags);
    size_t off = f->hdrs_len;
    for (size_t i = 0; i < n; i++) {
        size_t pl = segs[i].len - segs[i].hdrs_len;
        assert_memory_equal(p + off, segs[i].buf + segs[i].hdrs_len, pl);
        off += pl;
    }

    // round trip: segment.c (the read path) cuts the super-packet back into the very same segments
    segment_iter_t it;
    const char *why = NULL;
    if (segment_begin(&it, &h, p, g->len, MTU, &why) != 0)
        fail_msg("segment.c rejected the merged packet: %s", why);
    static uint8_t out[SEGMENT_MAX_PACKET];
    size_t i = 0, len;
    while ((len = segment_next_len(&it)) > 0) {
        assert_true(i < n);
        assert_int_equal(segment_next(&it, out), len);
        assert_int_equal(len, segs[i].len);
        assert_memory_equal(out, segs[i].buf, len);
        i++;
    }
    assert_int_equal(i, n);
}

static seg_t segs[MAX_SEGS];

static void test_merges_equal_run(void **state)
{
    (void)state;
    sink_t sink = {0};
    build_run(segs, 5, &FLOW4, 1000, 0);
    push_all(&sink, segs, 5);
    assert_int_equal(sink.count, 1);
    check_merged(&sink.out[0], segs, 5);
    sink_free(&sink);

    build_run(segs, 2, &FLOW4, 1348, 0);    // two is a run too
    push_all(&sink, segs, 2);
    assert_int_equal(sink.count, 1);
    check_merged(&sink.out[0], segs, 2);
    sink_free(&sink);
}

static void test_single_passes_unchanged(void **state)
{
    (void)state;
    sink_t sink = {0};
    build_run(segs, 1, &FLOW4, 1000, 0);
    push_all(&sink, segs, 1);
    assert_int_equal(sink.count, 1);
    check_single(&sink.out[0], &segs[0]);
    sink_free(&sink);
}

static void test_ipv6(void **state)
{
    (void)state;
    sink_t sink = {0};
    build_run(segs, 7, &FLOW6, 1328, F_PSH);
    push_all(&sink, segs, 7);
    assert_int_equal(sink.count, 1);
    check_merged(&sink.out[0], segs, 7);
    sink_free(&sink);
}

static void test_psh_ends_run(void **state)
{
    (void)state;
    sink_t sink = {0};
    build_run(segs, 6, &FLOW4, 1000, 0);
    segs[2].buf[20 + 13] |= F_PSH;
    rechecksum(&segs[2]);
    push_all(&sink, segs, 6);
    assert_int_equal(sink.count, 2);
    check_merged(&sink.out[0], segs, 3);
    assert_int_equal(sink.out[0].pkt[20 + 13], F_ACK | F_PSH);
    // segs[3..5] have the ids fff3..fff5 and go out as their own run
    check_merged(&sink.out[1], segs + 3, 3);
    sink_free(&sink);

    // PSH on the first segment: it goes out alone
    build_run(segs, 3, &FLOW4, 1000, 0);
    segs[0].buf[20 + 13] |= F_PSH;
    rechecksum(&segs[0]);
    push_all(&sink, segs, 3);
    assert_int_equal(sink.count, 2);
    check_single(&sink.out[0], &segs[0]);
    check_merged(&sink.out[1], segs + 1, 2);
    sink_free(&sink);
}

static void test_last_shorter_ends_run(void **state)
{
    (void)state;
    sink_t sink = {0};
    build_run(segs, 3, &FLOW4, 1000, 0);
    build(&segs[3], &FLOW4, FLOW4.seq + 3000, (uint16_t)(FLOW4.ip_id + 3), F_ACK, 400);
    build(&segs[4], &FLOW4, FLOW4.seq + 3400, (uint16_t)(FLOW4.ip_id + 4), F_ACK, 1000);
    push_all(&sink, segs, 5);
    assert_int_equal(sink.count, 2);
    check_merged(&sink.out[0], segs, 4);
    check_single(&sink.out[1], &segs[4]);
    sink_free(&sink);

    // a longer segment does not join (gso_size is the first one's)
    build(&segs[0], &FLOW4, FLOW4.seq, FLOW4.ip_id, F_ACK, 500);
    build(&segs[1], &FLOW4, FLOW4.seq + 500, (uint16_t)(FLOW4.ip_id + 1), F_ACK, 1000);
    push_all(&sink, segs, 2);
    assert_int_equal(sink.count, 2);
    check_single(&sink.out[0], &segs[0]);
    check_single(&sink.out[1], &segs[1]);
    sink_free(&sink);
}

// Segments 0-2 and 3-5 of a run of 6, with segment 3 changed by `change`: two runs of three (the change
// carries over to 4 and 5), or (`alone`) a run, segment 3 alone, a run of two.
static void check_break(void (*change)(seg_t *s), bool alone)
{
    sink_t sink = {0};
    build_run(segs, 6, &FLOW4, 1000, 0);
    change(&segs[3]);
    rechecksum(&segs[3]);
    push_all(&sink, segs, 6);
    check_merged(&sink.out[0], segs, 3);
    if (alone) {
        assert_int_equal(sink.count, 3);
        check_single(&sink.out[1], &segs[3]);
        check_merged(&sink.out[2], segs + 4, 2);
    } else {
        assert_int_equal(sink.count, 2);
        assert_int_equal(sink.out[1].segments, 3);
        assert_int_equal(sink.out[1].len, segs[3].hdrs_len + 3000);
        assert_memory_equal(sink.out[1].pkt + segs[3].ip_len, segs[3].buf + segs[3].ip_len, 16);  // its TCP header
    }
    sink_free(&sink);
}

static void gap(seg_t *s)
{
    // a lost segment before it: shift the rest of the stream too, so 3..5 are contiguous among themselves
    for (seg_t *p = s; p < segs + 6; p++) {
        uint8_t *t = p->buf + 20;
        wr32(t + 4, rd32(t + 4) + 1000);
        if (p != s)
            rechecksum(p);
    }
}
static void other_ack(seg_t *s)
{
    for (seg_t *p = s; p < segs + 6; p++) {
        wr32(p->buf + 20 + 8, 0x12345679u);
        if (p != s)
            rechecksum(p);
    }
}
static void other_port(seg_t *s) { wr16(s->buf + 20, 40002); }
static void other_addr(seg_t *s) { s->buf[19] = 3; }
static void other_ts(seg_t *s) { s->buf[20 + 27] ^= 1; }
static void other_ttl(seg_t *s) { s->buf[8] = 63; }
static void other_tos(seg_t *s) { s->buf[1] = 0x03; }
static void other_window(seg_t *s) { wr16(s->buf + 20 + 14, 502); }
static void syn(seg_t *s) { s->buf[20 + 13] |= F_SYN; }
static void fin(seg_t *s) { s->buf[20 + 13] |= F_FIN; }
static void rst(seg_t *s) { s->buf[20 + 13] |= F_RST; }
static void ece(seg_t *s) { s->buf[20 + 13] |= F_ECE; }
static void cwr(seg_t *s) { s->buf[20 + 13] |= F_CWR; }
static void no_ack(seg_t *s) { s->buf[20 + 13] &= (uint8_t)~F_ACK; }
static void no_df(seg_t *s) { wr16(s->buf + 6, 0); }

static void test_run_breaks(void **state)
{
    (void)state;
    check_break(gap, false);
    check_break(other_ack, false);
    // segment 3 alone in the following: it cannot join 0-2, and 4 cannot join it
    check_break(other_port, true);
    check_break(other_addr, true);
    check_break(other_ts, true);
    check_break(other_ttl, true);
    check_break(other_tos, true);
    check_break(other_window, true);
    check_break(syn, true);
    check_break(fin, true);
    check_break(rst, true);
    check_break(ece, true);
    check_break(cwr, true);
    check_break(no_ack, true);
    check_break(no_df, true);
}

static void test_other_packets_pass_in_order(void **state)
{
    (void)state;
    sink_t sink = {0};
    seg_t *s = segs;
    build_run(s, 3, &FLOW4, 1000, 0);
    // a pure ACK (no payload), a UDP packet, garbage, an IPv4 packet with options: all passed as they are
    build(&s[3], &FLOW4, 1, 7, F_ACK, 0);
    memcpy(&s[4], &s[0], sizeof s[0]);
    s[4].buf[9] = 17;
    s[5].len = 3;
    memset(s[5].buf, 0x45, 3);
    memcpy(&s[6], &s[0], sizeof s[0]);
    s[6].buf[0] = 0x46;
    build_run(s + 7, 2, &FLOW6, 1000, 0);
    coalesce_t *c = coalesce_new();
    for (size_t i = 0; i < 9; i++)
        coalesce_push(c, s[i].buf, s[i].len, collect, &sink);
    coalesce_flush(c, collect, &sink);
    coalesce_destroy(&c);
    assert_int_equal(sink.count, 6);
    check_merged(&sink.out[0], s, 3);
    for (size_t i = 1; i <= 4; i++)
        check_single(&sink.out[i], &s[i + 2]);
    check_merged(&sink.out[5], s + 7, 2);
    sink_free(&sink);
}

static void test_size_and_count_limits(void **state)
{
    (void)state;
    sink_t sink = {0};
    // 1348-byte payloads, 52-byte headers: 48 fit in 65535 (52 + 48 * 1348 = 64756), the 49th does not
    build_run(segs, 60, &FLOW4, 1348, 0);
    push_all(&sink, segs, 60);
    assert_int_equal(sink.count, 2);
    check_merged(&sink.out[0], segs, 48);
    assert_true(sink.out[0].len <= 65535);
    check_merged(&sink.out[1], segs + 48, 12);
    sink_free(&sink);

    // tiny segments: the segment count limit
    build_run(segs, 70, &FLOW4, 10, 0);
    push_all(&sink, segs, 70);
    assert_int_equal(sink.count, 2);
    check_merged(&sink.out[0], segs, COALESCE_MAX_SEGMENTS);
    check_merged(&sink.out[1], segs + COALESCE_MAX_SEGMENTS, 70 - COALESCE_MAX_SEGMENTS);
    sink_free(&sink);
}

// The coalescer is reusable: a run pending at flush time is emitted, and the next batch starts afresh.
static void test_flush_between_batches(void **state)
{
    (void)state;
    sink_t sink = {0};
    build_run(segs, 4, &FLOW4, 1000, 0);
    coalesce_t *c = coalesce_new();
    coalesce_push(c, segs[0].buf, segs[0].len, collect, &sink);
    coalesce_push(c, segs[1].buf, segs[1].len, collect, &sink);
    assert_int_equal(sink.count, 0);
    coalesce_flush(c, collect, &sink);
    assert_int_equal(sink.count, 1);
    coalesce_push(c, segs[2].buf, segs[2].len, collect, &sink);
    coalesce_push(c, segs[3].buf, segs[3].len, collect, &sink);
    coalesce_flush(c, collect, &sink);
    coalesce_destroy(&c);
    assert_int_equal(sink.count, 2);
    check_merged(&sink.out[0], segs, 2);
    check_merged(&sink.out[1], segs + 2, 2);
    sink_free(&sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merges_equal_run),
        cmocka_unit_test(test_single_passes_unchanged),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_psh_ends_run),
        cmocka_unit_test(test_last_shorter_ends_run),
        cmocka_unit_test(test_run_breaks),
        cmocka_unit_test(test_other_packets_pass_in_order),
        cmocka_unit_test(test_size_and_count_limits),
        cmocka_unit_test(test_flush_between_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
