// fuzz_route_announce.c — libFuzzer target for mesh routing's announcement decoder (lib/mesh_routes.c):
// arbitrary bytes are a RouteAnnouncement (the bytes after the MESH_FRAME_ANNOUNCE byte) from a member
// whose link is up, into a fresh route table with five members. Then, whatever was accepted:
//   - every best route is to a member, 1..max_hops hops, via == dest exactly when direct, its metric is
//     latency + 100 x hops, and its prefixes are valid "a.b.c.d/len" strings;
//   - the announcement this node builds for another neighbour fits MESH_ANNOUNCE_MAX per frame and that
//     neighbour (a second table) takes every frame with no entry refused (no forged path, no loop);
//   - after the announcer's link goes down, no route through it is left.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_route_announce && ./bin/fuzz_route_announce fuzz/corpus/route_announce
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh_frame.h"
#include "mesh_routes.h"
#include "route_table.h"

// Our node id, the announcer's and three more members; the seeds use the same (fuzz/make_corpus.c).
#define SELF 0x11
#define FROM 0xaa
#define OTHER 0xbb
static const uint8_t member_bytes[] = {SELF, FROM, OTHER, 0xcc, 0xdd};
#define MEMBERS (sizeof member_bytes)

static uint8_t ids[MEMBERS][32];
static const mesh_routes_config_t cfg = {.max_hops = 8, .split_horizon = true, .relay = true, .route_timeout_ms = 300000};

// ctx: the table's own id, which is no destination
static void check_route(const mesh_route_t *r, void *ctx)
{
    bool member = false;
    for (size_t i = 0; i < MEMBERS; i++)
        member |= memcmp(r->dest, ids[i], 32) == 0 && memcmp(r->dest, ctx, 32) != 0;
    bool direct = memcmp(r->dest, r->via, 32) == 0;
    if (!member || r->hops < 1 || r->hops > cfg.max_hops || direct != (r->hops == 1) ||
        r->metric != r->latency_ms + 100 * r->hops || r->prefix_count > MESH_MAX_PREFIXES)
        abort();
    for (size_t i = 0; i < r->prefix_count; i++) {
        uint32_t addr;
        int len;
        if (strnlen(r->prefixes[i], 20) == 20 || ipv4_prefix_from_text(r->prefixes[i], &addr, &len) != 0)
            abort();
    }
}

static void no_route_via_from(const mesh_route_t *r, void *ctx)
{
    (void)ctx;
    if (memcmp(r->via, ids[1], 32) == 0)
        abort();
}

static void into_other(void *ctx, const uint8_t *frame, size_t len)
{
    mesh_routes_t *other = ctx;
    if (len < 1 || len > MESH_ANNOUNCE_MAX || frame[0] != MESH_FRAME_ANNOUNCE)
        abort();
    size_t bad = 0;
    if (mesh_routes_receive(other, ids[0], frame + 1, len - 1, 2000, &bad, NULL) != MESH_DROP_NONE || bad != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < MEMBERS; i++)
        memset(ids[i], member_bytes[i], 32);
    mesh_routes_t *self = mesh_routes_new(ids[0], &cfg);
    mesh_routes_t *other = mesh_routes_new(ids[2], &cfg);
    if (!self || !other)
        abort();
    mesh_routes_set_members(self, (const uint8_t (*)[32])ids, MEMBERS, 1000);
    mesh_routes_set_members(other, (const uint8_t (*)[32])ids, MEMBERS, 1000);
    mesh_routes_link(self, ids[1], true, 7, 1000);
    mesh_routes_link(self, ids[2], true, 3, 1000);
    mesh_routes_link(other, ids[0], true, 3, 1000);

    size_t bad = 0;
    bool request = false;
    mesh_drop_t why = mesh_routes_receive(self, ids[1], data, size, 1000, &bad, &request);
    if ((unsigned)why >= MESH_DROP_COUNT || !mesh_drop_name(why)[0] || (why != MESH_DROP_NONE && bad != 0))
        abort();
    mesh_routes_foreach(self, check_route, ids[0]);

    mesh_routes_tick(self, 2000);
    mesh_routes_announce(self, ids[2], 1700000000000ull, request, into_other, other);
    mesh_routes_foreach(other, check_route, ids[2]);

    mesh_routes_link(self, ids[1], false, 0, 3000);
    mesh_routes_foreach(self, no_route_via_from, NULL);

    mesh_routes_destroy(&self);
    mesh_routes_destroy(&other);
    return 0;
}
