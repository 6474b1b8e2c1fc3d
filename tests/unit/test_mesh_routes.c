// test_mesh_routes.c — unit tests for lib/mesh_routes.c, the distance-vector core of mesh routing: up to
// 41 nodes, each its own mesh_routes_t, pass their announcement frames to each other in one process with
// a fake clock (no sockets). Three nodes relaying A->C through B and going direct when A–C comes up;
// poisoned reverse; loop, forged, stale, oversized and garbage announcements; max_hops 1; relay false;
// link down; route timeout and withdrawals; hysteresis; five nodes reconverging after the relay in use
// dies, and no count to infinity after a member dies or leaves; multi-frame tables; restore.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mesh_frame.h"
#include "mesh_routes.h"
#include "node.pb-c.h"

#define NET_MAX 41
#define TIMEOUT_MS 300000

typedef struct {
    size_t n;
    mesh_routes_t *r[NET_MAX];
    uint8_t id[NET_MAX][32];
    bool up[NET_MAX][NET_MAX];
    int64_t now;
    uint64_t seq;
    size_t bad;         // entries refused in exchanges: 0 unless a test expects some (bad_ok)
    bool bad_ok;
} net_t;

static mesh_routes_config_t default_cfg(void)
{
    return (mesh_routes_config_t){.max_hops = 8, .split_horizon = true, .relay = true, .route_timeout_ms = TIMEOUT_MS};
}

static void make_id(uint8_t id[32], size_t i)
{
    for (size_t k = 0; k < 32; k++)
        id[k] = (uint8_t)(0x10 * (i + 1) + k);
    id[0] = (uint8_t)(i + 1);           // distinct first 8 bytes
}

// n nodes, all members of each other, no links; cfgs[i] or the default.
static net_t *net_new(size_t n, const mesh_routes_config_t *cfgs)
{
    net_t *net = calloc(1, sizeof *net);
    assert_non_null(net);
    net->n = n;
    net->now = 1000;
    net->seq = 1700000000000ull;
    for (size_t i = 0; i < n; i++)
        make_id(net->id[i], i);
    for (size_t i = 0; i < n; i++) {
        mesh_routes_config_t cfg = cfgs ? cfgs[i] : default_cfg();
        net->r[i] = mesh_routes_new(net->id[i], &cfg);
        assert_non_null(net->r[i]);
        mesh_routes_set_members(net->r[i], (const uint8_t (*)[32])net->id, n, net->now);
    }
    return net;
}

static void net_free(net_t *net)
{
    if (!net->bad_ok)
        assert_int_equal(net->bad, 0);
    for (size_t i = 0; i < net->n; i++)
        mesh_routes_destroy(&net->r[i]);
    assert_null(net->r[0]);
    free(net);
}

static void link_set(net_t *net, size_t a, size_t b, bool up, uint32_t rtt)
{
    net->up[a][b] = net->up[b][a] = up;
    mesh_routes_link(net->r[a], net->id[b], up, rtt, net->now);
    mesh_routes_link(net->r[b], net->id[a], up, rtt, net->now);
}

typedef struct {
    net_t *net;
    size_t from, to;
    size_t frames;
    size_t bad;
    mesh_drop_t worst;
} delivery_t;

static void deliver_frame(void *ctx, const uint8_t *frame, size_t len)
{
    delivery_t *d = ctx;
    assert_true(len >= 1 && len <= MESH_ANNOUNCE_MAX);
    assert_int_equal(frame[0], MESH_FRAME_ANNOUNCE);
    size_t bad = 0;
    mesh_drop_t why = mesh_routes_receive(d->net->r[d->to], d->net->id[d->from], frame + 1, len - 1,
                                          d->net->now, &bad, NULL);
    if (why != MESH_DROP_NONE)
        d->worst = why;
    d->bad += bad;
    d->frames++;
}

// from announces to `to`; returns the entries `to` refused.
static size_t send_one(net_t *net, size_t from, size_t to)
{
    delivery_t d = {.net = net, .from = from, .to = to};
    mesh_routes_announce(net->r[from], net->id[to], net->seq, false, deliver_frame, &d);
    assert_int_equal(d.worst, MESH_DROP_NONE);
    assert_true(d.frames >= 1);
    return d.bad;
}

// One exchange: a second passes, every node announces to every neighbour (links both ways up).
static void exchange(net_t *net)
{
    net->now += 1000;
    net->seq += 1000;
    for (size_t i = 0; i < net->n; i++) {
        mesh_routes_tick(net->r[i], net->now);
        for (size_t j = 0; j < net->n; j++)
            if (net->up[i][j])
                net->bad += send_one(net, i, j);
    }
}

static const mesh_route_t *best(net_t *net, size_t at, size_t dest)
{
    return mesh_routes_best(net->r[at], net->id[dest]);
}

// Captures the frames of one announcement, decoded.
typedef struct {
    Weft__RouteAnnouncement *a[16];
    size_t frames;
} capture_t;

static void capture_frame(void *ctx, const uint8_t *frame, size_t len)
{
    capture_t *c = ctx;
    assert_true(len <= MESH_ANNOUNCE_MAX);
    assert_int_equal(frame[0], MESH_FRAME_ANNOUNCE);
    assert_true(c->frames < 16);
    c->a[c->frames] = weft__route_announcement__unpack(NULL, len - 1, frame + 1);
    assert_non_null(c->a[c->frames]);
    c->frames++;
}

static void capture_free(capture_t *c)
{
    for (size_t i = 0; i < c->frames; i++)
        weft__route_announcement__free_unpacked(c->a[i], NULL);
}

static const Weft__RouteEntry *capture_entry(const capture_t *c, const uint8_t dest[32])
{
    for (size_t f = 0; f < c->frames; f++)
        for (size_t i = 0; i < c->a[f]->n_routes; i++)
            if (memcmp(c->a[f]->routes[i]->dest.data, dest, 32) == 0)
                return c->a[f]->routes[i];
    return NULL;
}

static uint64_t short_of(const uint8_t id[32])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | id[i];
    return v;
}

// ---------------------------------------------------------------- hand-made announcements

typedef struct {
    Weft__RouteAnnouncement a;
    Weft__RouteEntry e[70];
    Weft__RouteEntry *ptrs[70];
    uint64_t path[70][20];
    uint8_t buf[4096];
} forge_t;

static void forge_init(forge_t *f, uint64_t seq)
{
    memset(f, 0, sizeof *f);
    weft__route_announcement__init(&f->a);
    f->a.seq = seq;
    f->a.relay = true;
    f->a.routes = f->ptrs;
}

// Adds an entry: dest, hops, path of `path_len` short ids from ids[] (indexes into net->id).
static Weft__RouteEntry *forge_entry(forge_t *f, net_t *net, size_t dest, uint32_t hops, const size_t *path,
                                     size_t path_len)
{
    size_t k = f->a.n_routes++;
    Weft__RouteEntry *e = &f->e[k];
    weft__route_entry__init(e);
    e->dest.data = net->id[dest];
    e->dest.len = 32;
    e->hops = hops;
    e->latency_ms = 5 * hops;
    for (size_t i = 0; i < path_len; i++)
        f->path[k][i] = short_of(net->id[path[i]]);
    e->path = f->path[k];
    e->n_path = path_len;
    f->ptrs[k] = e;
    return e;
}

static size_t forge_pack(forge_t *f)
{
    assert_true(weft__route_announcement__get_packed_size(&f->a) <= sizeof f->buf);
    return weft__route_announcement__pack(&f->a, f->buf);
}

static mesh_drop_t forge_send(forge_t *f, net_t *net, size_t from, size_t to, size_t *bad)
{
    size_t len = forge_pack(f);
    return mesh_routes_receive(net->r[to], net->id[from], f->buf, len, net->now, bad, NULL);
}

enum { A = 0, B = 1, C = 2, D = 3, E = 4 };

// A–B (10 ms) and B–C (20 ms) up, A–C not, after two exchanges.
static net_t *line_abc(const mesh_routes_config_t *cfgs)
{
    net_t *net = net_new(3, cfgs);
    link_set(net, A, B, true, 10);
    link_set(net, B, C, true, 20);
    exchange(net);
    exchange(net);
    return net;
}

// ---------------------------------------------------------------- tests

static void test_relay_through_b(void **state)
{
    (void)state;
    net_t *net = line_abc(NULL);
    const mesh_route_t *r = best(net, A, C);
    assert_non_null(r);
    assert_memory_equal(r->via, net->id[B], 32);
    assert_int_equal(r->hops, 2);
    assert_int_equal(r->latency_ms, 30);
    assert_int_equal(r->metric, 30 + 2 * 100);
    r = best(net, A, B);
    assert_non_null(r);
    assert_memory_equal(r->via, net->id[B], 32);
    assert_int_equal(r->hops, 1);
    assert_int_equal(r->metric, 110);
    r = best(net, C, A);
    assert_non_null(r);
    assert_memory_equal(r->via, net->id[B], 32);
    assert_int_equal(r->hops, 2);
    assert_int_equal(mesh_routes_count(net->r[A]), 2);
    assert_int_equal(mesh_routes_count(net->r[B]), 2);
    assert_true(mesh_routes_changed(net->r[A]));
    mesh_routes_clear_changed(net->r[A]);
    assert_false(mesh_routes_changed(net->r[A]));
    exchange(net);      // nothing new
    assert_false(mesh_routes_changed(net->r[A]));

    // A–C comes up (50 ms: 150 against 230): direct at once
    link_set(net, A, C, true, 50);
    r = best(net, A, C);
    assert_memory_equal(r->via, net->id[C], 32);
    assert_int_equal(r->hops, 1);
    assert_int_equal(r->metric, 150);
    assert_int_equal(r->changed_ms, net->now);
    assert_true(mesh_routes_changed(net->r[A]));
    exchange(net);
    assert_int_equal(best(net, C, A)->hops, 1);
    net_free(net);
}

static void test_poisoned_reverse(void **state)
{
    (void)state;
    net_t *net = line_abc(NULL);
    // C's route to A goes through B: told to B as unreachable, to nobody else as such
    capture_t c = {0};
    mesh_routes_announce(net->r[C], net->id[B], net->seq, false, capture_frame, &c);
    assert_int_equal(c.frames, 1);
    const Weft__RouteEntry *e = capture_entry(&c, net->id[A]);
    assert_non_null(e);
    assert_true(e->unreachable);
    e = capture_entry(&c, net->id[C]);      // C's own entry
    assert_non_null(e);
    assert_false(e->unreachable);
    assert_int_equal(e->hops, 0);
    assert_int_equal(e->n_path, 1);
    assert_true(e->path[0] == short_of(net->id[C]));
    assert_null(capture_entry(&c, net->id[B]));   // B's own route is not told to B
    assert_false(c.a[0]->more);
    assert_true(c.a[0]->relay);
    capture_free(&c);

    // B's announcement to A: C reachable through B, path [B, C]
    capture_t b = {0};
    mesh_routes_announce(net->r[B], net->id[A], net->seq, true, capture_frame, &b);
    e = capture_entry(&b, net->id[C]);
    assert_non_null(e);
    assert_false(e->unreachable);
    assert_int_equal(e->hops, 1);
    assert_int_equal(e->latency_ms, 20);
    assert_int_equal(e->n_path, 2);
    assert_true(e->path[0] == short_of(net->id[B]) && e->path[1] == short_of(net->id[C]));
    assert_true(b.a[0]->request);
    capture_free(&b);
    net_free(net);

    // without split horizon the route goes back as it is, and B's path vector refuses it
    mesh_routes_config_t cfgs[3] = {default_cfg(), default_cfg(), default_cfg()};
    cfgs[C].split_horizon = false;
    net = line_abc(cfgs);
    assert_true(net->bad > 0);      // B refused C's route to A through itself in every exchange
    net->bad_ok = true;
    uint64_t loops = mesh_routes_entry_drops(net->r[B])[MESH_DROP_LOOP];
    capture_t p = {0};
    mesh_routes_announce(net->r[C], net->id[B], net->seq, false, capture_frame, &p);
    e = capture_entry(&p, net->id[A]);
    assert_non_null(e);
    assert_false(e->unreachable);
    assert_int_equal(e->hops, 2);
    capture_free(&p);
    net->seq++;
    assert_int_equal(send_one(net, C, B), 1);
    assert_int_equal(mesh_routes_entry_drops(net->r[B])[MESH_DROP_LOOP], loops + 1);
    assert_int_equal(best(net, B, A)->hops, 1);
    net_free(net);
}

static void test_loop_refused(void **state)
{
    (void)state;
    net_t *net = line_abc(NULL);
    // B claims a route to C through A: A must not use it (it would loop through itself)
    link_set(net, B, C, false, 0);
    exchange(net);
    assert_null(best(net, A, C));
    forge_t f;
    forge_init(&f, net->seq + 1);
    size_t self_path[] = {B};
    forge_entry(&f, net, B, 0, self_path, 1);
    size_t loop_path[] = {B, A, C};
    forge_entry(&f, net, C, 2, loop_path, 3);
    size_t bad = 99;
    assert_int_equal(forge_send(&f, net, B, A, &bad), MESH_DROP_NONE);
    assert_int_equal(bad, 1);
    assert_int_equal(mesh_routes_entry_drops(net->r[A])[MESH_DROP_LOOP], 1);
    assert_null(best(net, A, C));
    // an id twice in the path is a loop elsewhere: refused as well
    forge_init(&f, net->seq + 2);
    size_t twice[] = {B, C, B, C};
    forge_entry(&f, net, C, 3, twice, 4);
    assert_int_equal(forge_send(&f, net, B, A, &bad), MESH_DROP_NONE);
    assert_int_equal(bad, 1);
    assert_int_equal(mesh_routes_entry_drops(net->r[A])[MESH_DROP_LOOP], 2);
    assert_null(best(net, A, C));
    net_free(net);
}

static void test_forged_refused(void **state)
{
    (void)state;
    net_t *net = net_new(4, NULL);
    link_set(net, A, B, true, 10);
    forge_t f;
    forge_init(&f, net->seq);
    size_t p_bc[] = {B, C}, p_cc[] = {C, C}, p_bd[] = {B, D}, p_bxc[] = {B, D, C}, p_c[] = {C};
    forge_entry(&f, net, B, 1, (size_t[]){B}, 1);          // own entry with hops 1
    forge_entry(&f, net, C, 1, p_cc, 2);                   // path does not start at the announcer
    forge_entry(&f, net, C, 1, p_bd, 2);                   // path does not end at dest
    forge_entry(&f, net, C, 1, p_bxc, 3);                  // path longer than hops + 1
    forge_entry(&f, net, C, 0, p_c, 1);                    // hops 0 for another node
    forge_entry(&f, net, D, 2, p_bd, 2);                   // path shorter than hops + 1
    size_t bad = 0;
    assert_int_equal(forge_send(&f, net, B, A, &bad), MESH_DROP_NONE);
    assert_int_equal(bad, 6);
    assert_int_equal(mesh_routes_entry_drops(net->r[A])[MESH_DROP_FORGED], 6);
    assert_null(best(net, A, C));
    assert_null(best(net, A, D));

    // an entry for a non-member is refused; an entry for ourselves is skipped; a good one is used
    forge_init(&f, net->seq + 1);
    Weft__RouteEntry *e = forge_entry(&f, net, C, 1, p_bc, 2);
    uint8_t stranger[32];
    memset(stranger, 0x77, 32);
    Weft__RouteEntry *s = forge_entry(&f, net, C, 1, p_bc, 2);
    s->dest.data = stranger;
    size_t p_ba[] = {B, A};
    forge_entry(&f, net, A, 1, p_ba, 2);
    assert_int_equal(forge_send(&f, net, B, A, &bad), MESH_DROP_NONE);
    assert_int_equal(bad, 1);
    assert_int_equal(mesh_routes_entry_drops(net->r[A])[MESH_DROP_NOT_MEMBER], 1);
    assert_int_equal(mesh_routes_entry_drops(net->r[A])[MESH_DROP_LOOP], 0);
    assert_non_null(best(net, A, C));
    assert_int_equal(best(net, A, C)->hops, 2);
    assert_int_equal(best(net, A, C)->latency_ms, 10 + e->latency_ms);
    net_free(net);
}

static void test_stale_refused(void **state)
{
    (void)state;
    net_t *net = net_new(3, NULL);
    link_set(net, A, B, true, 10);
    forge_t f;
    forge_init(&f, 5000);
    size_t p_bc[] = {B, C};
    forge_entry(&f, net, C, 1, p_bc, 2);
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_NONE);
    assert_non_null(best(net, A, C));
    // an older table that no longer has C: stale, C stays
    forge_init(&f, 4999);
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_STALE);
    assert_non_null(best(net, A, C));
    // the same seq again (a later frame of the same table) is fine, and only refreshes
    forge_init(&f, 5000);
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_NONE);
    assert_non_null(best(net, A, C));
    // a newer full table without C removes it
    forge_init(&f, 5001);
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_NONE);
    assert_null(best(net, A, C));
    net_free(net);
}

static void test_max_hops_one(void **state)
{
    (void)state;
    mesh_routes_config_t cfgs[3];
    for (int i = 0; i < 3; i++) {
        cfgs[i] = default_cfg();
        cfgs[i].max_hops = 1;
    }
    net_t *net = line_abc(cfgs);
    assert_null(best(net, A, C));
    assert_null(best(net, C, A));
    assert_int_equal(mesh_routes_count(net->r[A]), 1);
    assert_int_equal(mesh_routes_count(net->r[B]), 2);
    capture_t c = {0};
    mesh_routes_announce(net->r[B], net->id[A], net->seq, false, capture_frame, &c);
    assert_int_equal(c.a[0]->n_routes, 1);      // only itself: nothing it knows is one hop from A
    capture_free(&c);
    net_free(net);

    // a node with max_hops 1 uses no relayed route even when its neighbours announce them
    cfgs[A].max_hops = 1;
    cfgs[B].max_hops = cfgs[C].max_hops = 8;
    net = line_abc(cfgs);
    assert_null(best(net, A, C));
    assert_non_null(best(net, C, A));
    net_free(net);
}

static void test_relay_false(void **state)
{
    (void)state;
    mesh_routes_config_t cfgs[3] = {default_cfg(), default_cfg(), default_cfg()};
    cfgs[B].relay = false;
    net_t *net = line_abc(cfgs);
    assert_null(best(net, A, C));
    assert_null(best(net, C, A));
    assert_non_null(best(net, A, B));
    assert_non_null(best(net, B, C));       // B still reaches both directly
    capture_t c = {0};
    mesh_routes_announce(net->r[B], net->id[A], net->seq, false, capture_frame, &c);
    assert_int_equal(c.frames, 1);
    assert_int_equal(c.a[0]->n_routes, 1);
    assert_false(c.a[0]->relay);
    assert_memory_equal(c.a[0]->routes[0]->dest.data, net->id[B], 32);
    capture_free(&c);

    // entries from an announcer that says relay false are not used even if it sends them
    forge_t f;
    forge_init(&f, net->seq + 10);
    f.a.relay = false;
    size_t p_bc[] = {B, C};
    forge_entry(&f, net, C, 1, p_bc, 2);
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_NONE);
    assert_null(best(net, A, C));
    net_free(net);
}

static void test_link_down(void **state)
{
    (void)state;
    net_t *net = line_abc(NULL);
    assert_non_null(best(net, A, C));
    mesh_routes_clear_changed(net->r[A]);
    link_set(net, A, B, false, 0);
    assert_null(best(net, A, C));           // at once, before any announcement
    assert_null(best(net, A, B));
    assert_int_equal(mesh_routes_count(net->r[A]), 0);
    assert_true(mesh_routes_changed(net->r[A]));
    // B–C down: B's next announcement to A... (link A–B back) no longer carries C
    link_set(net, A, B, true, 10);
    assert_null(best(net, A, C));           // what B said before the link went down does not come back
    link_set(net, B, C, false, 0);
    exchange(net);
    assert_null(best(net, A, C));
    assert_non_null(best(net, A, B));
    // an announcement from a member whose link is down is refused
    forge_t f;
    forge_init(&f, net->seq + 10);
    assert_int_equal(forge_send(&f, net, C, A, NULL), MESH_DROP_NOT_NEIGHBOUR);
    net_free(net);
}

static void count_neighbour(const uint8_t id[32], void *ctx)
{
    (void)id;
    (*(size_t *)ctx)++;
}

static void test_route_timeout_and_withdrawal(void **state)
{
    (void)state;
    net_t *net = line_abc(NULL);
    int64_t heard = net->now;
    // B goes quiet (link still up): A keeps the route until route_timeout after the last announcement
    net->now = heard + TIMEOUT_MS - 1;
    assert_false(mesh_routes_tick(net->r[A], net->now));
    assert_non_null(best(net, A, C));
    assert_int_equal(best(net, A, C)->refreshed_ms, heard);
    net->now = heard + TIMEOUT_MS;
    assert_true(mesh_routes_tick(net->r[A], net->now));
    assert_null(best(net, A, C));
    assert_non_null(best(net, A, B));       // the direct route lives as long as the link
    // A now withdraws C towards its neighbours, for one route_timeout
    capture_t c = {0};
    mesh_routes_announce(net->r[A], net->id[B], net->seq, false, capture_frame, &c);
    const Weft__RouteEntry *e = capture_entry(&c, net->id[C]);
    assert_non_null(e);
    assert_true(e->unreachable);
    capture_free(&c);
    net->now += TIMEOUT_MS;
    mesh_routes_tick(net->r[A], net->now);
    capture_t later = {0};
    mesh_routes_announce(net->r[A], net->id[B], net->seq, false, capture_frame, &later);
    assert_null(capture_entry(&later, net->id[C]));
    capture_free(&later);
    size_t neighbours = 0;
    mesh_routes_foreach_neighbour(net->r[A], count_neighbour, &neighbours);
    assert_int_equal(neighbours, 1);
    net_free(net);
}

static void test_hysteresis(void **state)
{
    (void)state;
    net_t *net = line_abc(NULL);            // A->C via B: 230
    // a direct A–C at 125 ms (225): better by 5, not by more than max(5, 23): stays via B
    link_set(net, A, C, true, 125);
    exchange(net);
    assert_memory_equal(best(net, A, C)->via, net->id[B], 32);
    assert_int_equal(best(net, A, C)->metric, 230);
    // 120 ms (220): still within 23 of 230
    link_set(net, A, C, true, 120);
    assert_memory_equal(best(net, A, C)->via, net->id[B], 32);
    // 100 ms (200): better by 30: direct
    link_set(net, A, C, true, 100);
    assert_memory_equal(best(net, A, C)->via, net->id[C], 32);
    // and back: B's path at 230 does not win against 200 + jitter
    link_set(net, A, C, true, 115);             // 215
    exchange(net);
    assert_memory_equal(best(net, A, C)->via, net->id[C], 32);
    // small metric moves of the route in use do not make an update due; large ones do
    mesh_routes_clear_changed(net->r[A]);
    link_set(net, A, C, true, 118);
    assert_false(mesh_routes_changed(net->r[A]));
    assert_int_equal(best(net, A, C)->metric, 218);
    link_set(net, A, C, true, 160);             // 260 against 230: B's path wins by 30 > 26
    assert_true(mesh_routes_changed(net->r[A]));
    assert_memory_equal(best(net, A, C)->via, net->id[B], 32);
    net_free(net);
}

static void check_no_route_to(net_t *net, size_t dest)
{
    for (size_t i = 0; i < net->n; i++)
        if (i != dest)
            assert_null(best(net, i, dest));
}

static void check_hops(net_t *net)
{
    for (size_t i = 0; i < net->n; i++)
        for (size_t j = 0; j < net->n; j++)
            if (i != j && best(net, i, j))
                assert_true(best(net, i, j)->hops <= 4);    // five nodes: no longer path is loop-free
}

static void test_five_nodes(void **state)
{
    (void)state;
    //   A --10-- B --10-- D --10-- E
    //    \--15-- C --15--/
    net_t *net = net_new(5, NULL);
    link_set(net, A, B, true, 10);
    link_set(net, A, C, true, 15);
    link_set(net, B, D, true, 10);
    link_set(net, C, D, true, 15);
    link_set(net, D, E, true, 10);
    for (int i = 0; i < 4; i++)
        exchange(net);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(mesh_routes_count(net->r[i]), 4);
    const mesh_route_t *r = best(net, A, E);
    assert_memory_equal(r->via, net->id[B], 32);
    assert_int_equal(r->hops, 3);
    assert_int_equal(r->metric, 30 + 300);

    // B, the relay in use, dies: its links go down; A reaches E through C within a few exchanges
    link_set(net, A, B, false, 0);
    link_set(net, B, D, false, 0);
    int rounds = 0;
    while (!(best(net, A, E) && best(net, E, A)) && rounds < 5) {
        exchange(net);
        rounds++;
    }
    assert_true(rounds <= 2);
    r = best(net, A, E);
    assert_memory_equal(r->via, net->id[C], 32);
    assert_int_equal(r->hops, 3);
    assert_int_equal(r->metric, 40 + 300);
    assert_memory_equal(best(net, E, A)->via, net->id[D], 32);
    for (int i = 0; i < 3; i++)
        exchange(net);
    check_no_route_to(net, B);              // every path to B went through its links
    check_hops(net);

    // E dies (still a member, its link to D down): no route to it survives, none counts upwards
    link_set(net, D, E, false, 0);
    for (int i = 0; i < 8; i++) {
        exchange(net);
        check_hops(net);
        if (i >= 2)
            check_no_route_to(net, E);
    }
    // and once it leaves the member list, nothing of it remains
    link_set(net, D, E, true, 10);
    exchange(net);
    exchange(net);
    assert_non_null(best(net, A, E));
    for (size_t i = 0; i < 5; i++)
        if (i != E)
            mesh_routes_set_members(net->r[i], (const uint8_t (*)[32])net->id, 4, net->now);  // E is the last
    check_no_route_to(net, E);
    size_t neighbours = 0;
    mesh_routes_foreach_neighbour(net->r[D], count_neighbour, &neighbours);
    assert_int_equal(neighbours, 1);        // C only: B is down, E is gone
    net->up[D][E] = net->up[E][D] = false;
    for (int i = 0; i < 4; i++) {
        exchange(net);
        check_no_route_to(net, E);
    }
    assert_int_equal(mesh_drop_name(MESH_DROP_NONE)[0], 'n');
    net_free(net);
}

static void test_bad_input(void **state)
{
    (void)state;
    net_t *net = net_new(3, NULL);
    link_set(net, A, B, true, 10);
    uint8_t stranger[32];
    memset(stranger, 0x77, 32);
    uint8_t buf[1300] = {0};
    size_t bad = 7;
    bool request = true;
    assert_int_equal(mesh_routes_receive(net->r[A], stranger, buf, 10, net->now, &bad, &request), MESH_DROP_NOT_MEMBER);
    assert_int_equal(bad, 0);
    assert_false(request);
    assert_int_equal(mesh_routes_receive(net->r[A], net->id[A], buf, 10, net->now, NULL, NULL), MESH_DROP_NOT_MEMBER);
    assert_int_equal(mesh_routes_receive(net->r[A], net->id[C], buf, 10, net->now, NULL, NULL), MESH_DROP_NOT_NEIGHBOUR);
    assert_int_equal(mesh_routes_receive(net->r[A], net->id[B], buf, MESH_ANNOUNCE_MAX, net->now, NULL, NULL),
                     MESH_DROP_OVERSIZED);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(mesh_routes_receive(net->r[A], net->id[B], buf, 100, net->now, NULL, NULL), MESH_DROP_MALFORMED);

    // 65 (empty) entries
    size_t at = 0;
    buf[at++] = 0x08;
    buf[at++] = 0x01;           // seq 1
    for (int i = 0; i < 65; i++) {
        buf[at++] = 0x22;       // field 4 (routes), length-delimited
        buf[at++] = 0x00;
    }
    assert_int_equal(mesh_routes_receive(net->r[A], net->id[B], buf, at, net->now, NULL, NULL), MESH_DROP_OVERSIZED);

    forge_t f;
    size_t p_bc[] = {B, C};
    // a path of 17 ids
    forge_init(&f, 10);
    size_t long_path[17];
    for (int i = 0; i < 17; i++)
        long_path[i] = (i % 2) ? C : B;
    forge_entry(&f, net, C, 16, long_path, 17);
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_OVERSIZED);
    // nine prefixes
    forge_init(&f, 10);
    Weft__RouteEntry *e = forge_entry(&f, net, C, 1, p_bc, 2);
    char *nine[9];
    for (int i = 0; i < 9; i++)
        nine[i] = "10.1.0.0/16";
    e->prefixes = nine;
    e->n_prefixes = 9;
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_OVERSIZED);
    // a prefix with host bits, no length, a length past 32, an empty length, an empty string
    const char *bad_prefixes[] = {"10.1.0.1/16", "10.1.0.0", "10.1.0.0/33", "10.1.0.0/", ""};
    for (size_t i = 0; i < sizeof bad_prefixes / sizeof *bad_prefixes; i++) {
        forge_init(&f, 10);
        e = forge_entry(&f, net, C, 1, p_bc, 2);
        char *one[1] = {(char *)bad_prefixes[i]};
        e->prefixes = one;
        e->n_prefixes = 1;
        assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_MALFORMED);
    }
    // a dest of 31 bytes
    forge_init(&f, 10);
    e = forge_entry(&f, net, C, 1, p_bc, 2);
    e->dest.len = 31;
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_MALFORMED);
    assert_null(best(net, A, C));
    // the good one, with a prefix, is used
    forge_init(&f, 10);
    e = forge_entry(&f, net, C, 1, p_bc, 2);
    char *good[1] = {"192.168.50.0/24"};
    e->prefixes = good;
    e->n_prefixes = 1;
    assert_int_equal(forge_send(&f, net, B, A, NULL), MESH_DROP_NONE);
    assert_int_equal(best(net, A, C)->prefix_count, 1);
    assert_string_equal(best(net, A, C)->prefixes[0], "192.168.50.0/24");

    // random bytes: any answer but a crash; the table holds only members
    uint32_t x = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        x = x * 1103515245u + 12345u;
        len = (x >> 8) % 300;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        mesh_drop_t why = mesh_routes_receive(net->r[A], net->id[B], buf, len, net->now, &bad, &request);
        assert_true(why < MESH_DROP_COUNT);
        assert_string_not_equal(mesh_drop_name(why), "unknown");
    }
    assert_true(mesh_routes_count(net->r[A]) <= 2);

    assert_string_equal(mesh_drop_name(MESH_DROP_MALFORMED), "malformed");
    assert_string_equal(mesh_drop_name(MESH_DROP_OVERSIZED), "oversized");
    assert_string_equal(mesh_drop_name(MESH_DROP_FORGED), "forged");
    assert_string_equal(mesh_drop_name(MESH_DROP_LOOP), "loop");
    assert_string_equal(mesh_drop_name(MESH_DROP_STALE), "stale");
    assert_string_equal(mesh_drop_name(MESH_DROP_NOT_NEIGHBOUR), "not_neighbour");
    assert_string_equal(mesh_drop_name(MESH_DROP_NOT_MEMBER), "not_member");
    net_free(net);
}

static void test_many_frames(void **state)
{
    (void)state;
    // X (0) links to 40 members; its table does not fit one frame. Y (1) learns all of it through X.
    net_t *net = net_new(NET_MAX, NULL);
    for (size_t i = 1; i < NET_MAX; i++)
        mesh_routes_link(net->r[0], net->id[i], true, (uint32_t)i, net->now);
    mesh_routes_link(net->r[1], net->id[0], true, 1, net->now);
    char prefixes[2][256] = {"10.1.0.0/16", "bogus"};
    mesh_routes_set_own_prefixes(net->r[0], (const char (*)[256])prefixes, 2);
    capture_t c = {0};
    mesh_routes_announce(net->r[0], net->id[1], net->seq, false, capture_frame, &c);
    assert_true(c.frames >= 2);
    size_t entries = 0;
    for (size_t i = 0; i < c.frames; i++) {
        assert_int_equal(c.a[i]->more, i + 1 < c.frames);
        assert_int_equal(c.a[i]->seq, net->seq);
        entries += c.a[i]->n_routes;
    }
    assert_int_equal(entries, NET_MAX - 1);   // itself + 39 (not Y)
    const Weft__RouteEntry *own = capture_entry(&c, net->id[0]);
    assert_int_equal(own->n_prefixes, 1);
    assert_string_equal(own->prefixes[0], "10.1.0.0/16");
    capture_free(&c);

    net->up[0][1] = true;
    assert_int_equal(send_one(net, 0, 1), 0);
    assert_int_equal(mesh_routes_count(net->r[1]), NET_MAX - 1);
    const mesh_route_t *r = best(net, 1, 40);
    assert_memory_equal(r->via, net->id[0], 32);
    assert_int_equal(r->latency_ms, 1 + 40);
    r = best(net, 1, 0);
    assert_int_equal(r->prefix_count, 1);
    assert_string_equal(r->prefixes[0], "10.1.0.0/16");

    // a multi-frame table does not remove what it leaves out: that times out (or is withdrawn)
    mesh_routes_link(net->r[0], net->id[40], false, 0, net->now);
    net->seq++;
    assert_int_equal(send_one(net, 0, 1), 0);
    assert_null(best(net, 1, 40));          // X withdrew it
    net_free(net);
}

static void test_restore(void **state)
{
    (void)state;
    net_t *net = net_new(4, NULL);
    mesh_route_t saved = {0};
    memcpy(saved.dest, net->id[C], 32);
    memcpy(saved.via, net->id[B], 32);
    saved.hops = 2;
    saved.latency_ms = 30;
    saved.metric = 230;
    saved.refreshed_ms = net->now - 1000;
    strcpy(saved.prefixes[0], "192.168.50.0/24");
    saved.prefix_count = 1;
    mesh_routes_restore(net->r[A], &saved, net->now);
    const mesh_route_t *r = best(net, A, C);
    assert_non_null(r);
    assert_memory_equal(r->via, net->id[B], 32);
    assert_int_equal(r->hops, 2);
    assert_int_equal(r->metric, 230);
    assert_int_equal(r->refreshed_ms, net->now - 1000);
    assert_string_equal(r->prefixes[0], "192.168.50.0/24");
    // used, never announced
    capture_t c = {0};
    mesh_routes_announce(net->r[A], net->id[D], net->seq, false, capture_frame, &c);
    assert_null(capture_entry(&c, net->id[C]));
    capture_free(&c);

    // ignored: via not a member, too many hops, hops and via disagree, already timed out
    mesh_route_t bad = saved;
    memcpy(bad.dest, net->id[D], 32);
    memset(bad.via, 0x77, 32);
    mesh_routes_restore(net->r[A], &bad, net->now);
    memcpy(bad.via, net->id[B], 32);
    bad.hops = 9;
    mesh_routes_restore(net->r[A], &bad, net->now);
    bad.hops = 1;
    mesh_routes_restore(net->r[A], &bad, net->now);
    bad.hops = 2;
    bad.refreshed_ms = net->now - TIMEOUT_MS;
    mesh_routes_restore(net->r[A], &bad, net->now);
    assert_null(best(net, A, D));

    // times out like a learned route
    bad.refreshed_ms = net->now;
    mesh_routes_restore(net->r[A], &bad, net->now);
    assert_non_null(best(net, A, D));
    net->now += TIMEOUT_MS;
    assert_true(mesh_routes_tick(net->r[A], net->now));
    assert_null(best(net, A, D));
    assert_null(best(net, A, C));

    // replaced by what the network says: B's link comes up and its announcement has C
    saved.refreshed_ms = net->now;
    mesh_routes_restore(net->r[A], &saved, net->now);
    assert_non_null(best(net, A, C));
    link_set(net, A, B, true, 10);
    link_set(net, B, C, true, 40);
    exchange(net);
    r = best(net, A, C);
    assert_int_equal(r->latency_ms, 50);
    assert_int_equal(r->refreshed_ms, net->now);
    // a restored route through a link that goes down goes with it
    link_set(net, B, C, false, 0);
    memcpy(saved.via, net->id[D], 32);
    saved.hops = 2;
    saved.refreshed_ms = net->now;
    exchange(net);
    assert_null(best(net, A, C));
    mesh_routes_restore(net->r[A], &saved, net->now);
    assert_non_null(best(net, A, C));
    mesh_routes_link(net->r[A], net->id[D], false, 0, net->now);
    assert_null(best(net, A, C));
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_through_b),
        cmocka_unit_test(test_poisoned_reverse),
        cmocka_unit_test(test_loop_refused),
        cmocka_unit_test(test_forged_refused),
        cmocka_unit_test(test_stale_refused),
        cmocka_unit_test(test_max_hops_one),
        cmocka_unit_test(test_relay_false),
        cmocka_unit_test(test_link_down),
        cmocka_unit_test(test_route_timeout_and_withdrawal),
        cmocka_unit_test(test_hysteresis),
        cmocka_unit_test(test_five_nodes),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_many_frames),
        cmocka_unit_test(test_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
