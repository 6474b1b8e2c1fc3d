// mesh_routes.c — see mesh_routes.h and docs/routing.md. The members are a sorted array (bsearch by id);
// each destination keeps the candidates its neighbours announced (one per neighbour, a short array) and
// its best route. Every change recomputes the best route of every destination: a pass over all
// candidates, which is small next to decoding the announcement that caused it.
#include "mesh_routes.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mesh_frame.h"
#include "node.pb-c.h"
#include "route_table.h"

#define LATENCY_CAP 1000000u            // summed latencies are clamped here (1000 s): no overflow

// A route to a destination learned from a neighbour's announcement (or restored after a restart).
typedef struct {
    uint8_t via[32];                    // the neighbour that announced it
    bool restored;                      // from mesh_routes_restore: hops and latency are totals, no path
    uint32_t hops;                      // from us: the entry's hops + 1
    uint32_t latency_ms;                // from via to dest (restored: from us)
    uint64_t path[MESH_MAX_PATH];       // as announced: via first, dest last (path_len == hops)
    size_t path_len;
    int64_t refreshed_ms;
    char prefixes[MESH_MAX_PREFIXES][20];
    size_t prefix_count;
} cand_t;

typedef struct {
    uint8_t id[32];
    uint64_t short_id;                  // first 8 bytes, little-endian: the id in paths
    // the link to it
    bool link_up;
    uint32_t rtt_ms;
    int64_t link_ms;                    // last link report
    // its announcements, as a neighbour
    bool seq_seen;
    uint64_t last_seq;
    bool relay;
    char prefixes[MESH_MAX_PREFIXES][20];   // from its own entry
    size_t prefix_count;
    // routes to it
    cand_t *cands;
    size_t cand_count, cand_cap;
    bool has_best;
    bool best_restored;
    mesh_route_t best;
    uint64_t best_path[MESH_MAX_PATH];  // the path it was learned with: [dest] for a direct route
    size_t best_path_len;
    bool withdrawn;                     // lost its best route at withdrawn_ms: announced unreachable for a while
    int64_t withdrawn_ms;
    bool listed;                        // scratch: in the announcement being received
} node_t;

struct mesh_routes {
    uint8_t self[32];
    uint64_t self_short;
    mesh_routes_config_t cfg;
    node_t *nodes;                      // sorted by id
    size_t count;
    char own_prefixes[MESH_MAX_PREFIXES][20];
    size_t own_prefix_count;
    bool changed;
    uint64_t entry_drops[MESH_DROP_COUNT];
    uint8_t frame[MESH_ANNOUNCE_MAX];
};

static const char *const drop_names[MESH_DROP_COUNT] = {
    [MESH_DROP_NONE] = "none",
    [MESH_DROP_MALFORMED] = "malformed",
    [MESH_DROP_OVERSIZED] = "oversized",
    [MESH_DROP_FORGED] = "forged",
    [MESH_DROP_LOOP] = "loop",
    [MESH_DROP_STALE] = "stale",
    [MESH_DROP_NOT_NEIGHBOUR] = "not_neighbour",
    [MESH_DROP_NOT_MEMBER] = "not_member",
};

const char *mesh_drop_name(mesh_drop_t why)
{
    return (unsigned)why < MESH_DROP_COUNT ? drop_names[why] : "unknown";
}

static uint64_t short_id(const uint8_t id[32])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | id[i];
    return v;
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, 32); }

static node_t *find(const mesh_routes_t *self, const uint8_t id[32])
{
    if (!self->count)
        return NULL;
    return bsearch(id, self->nodes, self->count, sizeof(node_t), cmp_id);   // id is node_t's first field
}

static uint32_t metric_of(uint32_t latency_ms, uint32_t hops)
{
    return latency_ms + MESH_HOP_COST * hops;   // latency <= LATENCY_CAP, hops <= MESH_MAX_PATH: no overflow
}

static uint32_t hysteresis(uint32_t metric)
{
    return metric / 10 > MESH_HYSTERESIS_MIN ? metric / 10 : MESH_HYSTERESIS_MIN;
}

static uint32_t add_latency(uint32_t a, uint32_t b)
{
    uint64_t s = (uint64_t)a + b;
    return s > LATENCY_CAP ? LATENCY_CAP : (uint32_t)s;
}

// A prefix as it may travel: "a.b.c.d/len" with no host bits, short enough for mesh_route_t.
static bool prefix_ok(const char *text)
{
    uint32_t addr;
    int len;
    return text && strlen(text) < 20 && ipv4_prefix_from_text(text, &addr, &len) == 0;
}

// ---------------------------------------------------------------- candidates

static cand_t *cand_find(node_t *d, const uint8_t via[32], bool restored)
{
    for (size_t i = 0; i < d->cand_count; i++)
        if (d->cands[i].restored == restored && memcmp(d->cands[i].via, via, 32) == 0)
            return &d->cands[i];
    return NULL;
}

static cand_t *cand_put(node_t *d, const uint8_t via[32], bool restored)
{
    cand_t *c = cand_find(d, via, restored);
    if (c)
        return c;
    if (d->cand_count == d->cand_cap) {
        size_t cap = d->cand_cap ? d->cand_cap * 2 : 4;
        cand_t *grown = realloc(d->cands, cap * sizeof *grown);
        if (!grown) {
            log_error("mesh routes: out of memory for a route candidate");
            return NULL;
        }
        d->cands = grown;
        d->cand_cap = cap;
    }
    c = &d->cands[d->cand_count++];
    memset(c, 0, sizeof *c);
    memcpy(c->via, via, 32);
    c->restored = restored;
    return c;
}

static void cand_remove_at(node_t *d, size_t i)
{
    d->cands[i] = d->cands[--d->cand_count];
}

// Removes d's candidates through via (restored ones too when with_restored).
static void cand_remove_via(node_t *d, const uint8_t via[32], bool with_restored)
{
    for (size_t i = d->cand_count; i-- > 0;)
        if (memcmp(d->cands[i].via, via, 32) == 0 && (with_restored || !d->cands[i].restored))
            cand_remove_at(d, i);
}

// ---------------------------------------------------------------- best route

typedef struct {
    bool ok;
    bool direct;
    const cand_t *cand;
    const uint8_t *via;
    uint32_t hops, latency, metric;
} choice_t;

// Lower metric, then fewer hops, then the lower next hop id: a total order, so every node picks alike.
static bool better(const choice_t *a, const choice_t *b)
{
    if (!b->ok)
        return true;
    if (a->metric != b->metric)
        return a->metric < b->metric;
    if (a->hops != b->hops)
        return a->hops < b->hops;
    return memcmp(a->via, b->via, 32) < 0;
}

static void consider(const node_t *d, const choice_t *x, choice_t *best, choice_t *cur)
{
    if (d->has_best && memcmp(x->via, d->best.via, 32) == 0)
        *cur = *x;
    if (better(x, best))
        *best = *x;
}

static bool same_prefixes(const mesh_route_t *r, const char (*prefixes)[20], size_t count)
{
    if (r->prefix_count != count)
        return false;
    for (size_t i = 0; i < count; i++)
        if (strcmp(r->prefixes[i], prefixes[i]) != 0)
            return false;
    return true;
}

// Picks d's best route among its valid candidates, with hysteresis. Returns true if the best route
// changed (see mesh_routes_changed).
static bool select_best(mesh_routes_t *self, node_t *d, int64_t now_ms)
{
    choice_t best = {0}, cur = {0};
    bool direct_ok = d->link_up && self->cfg.max_hops >= 1;
    bool real = direct_ok;
    for (size_t i = 0; i < d->cand_count && !real; i++) {
        const node_t *v = d->cands[i].restored ? NULL : find(self, d->cands[i].via);
        real = v && v->link_up && d->cands[i].hops <= self->cfg.max_hops;
    }
    // a restored route stands in only until a real one is known
    for (size_t i = d->cand_count; real && i-- > 0;)
        if (d->cands[i].restored)
            cand_remove_at(d, i);

    if (direct_ok) {
        choice_t x = {.ok = true, .direct = true, .via = d->id, .hops = 1, .latency = d->rtt_ms};
        x.metric = metric_of(x.latency, 1);
        consider(d, &x, &best, &cur);
    }
    for (size_t i = 0; i < d->cand_count; i++) {
        const cand_t *c = &d->cands[i];
        choice_t x = {.ok = true, .cand = c, .via = c->via, .hops = c->hops, .latency = c->latency_ms};
        if (!c->restored) {
            const node_t *v = find(self, c->via);
            if (!v || !v->link_up || c->hops > self->cfg.max_hops)
                continue;
            x.latency = add_latency(v->rtt_ms, c->latency_ms);
        }
        x.metric = metric_of(x.latency, x.hops);
        consider(d, &x, &best, &cur);
    }

    choice_t pick = best;
    if (cur.ok && best.ok && (cur.metric <= best.metric || cur.metric - best.metric <= hysteresis(cur.metric)))
        pick = cur;

    if (!pick.ok) {
        if (!d->has_best)
            return false;
        d->has_best = false;
        d->best_restored = false;
        d->withdrawn = true;
        d->withdrawn_ms = now_ms;
        return true;
    }

    mesh_route_t r = {0};
    memcpy(r.dest, d->id, 32);
    memcpy(r.via, pick.via, 32);
    r.hops = pick.hops;
    r.latency_ms = pick.latency;
    r.metric = pick.metric;
    if (pick.direct) {
        r.refreshed_ms = d->link_ms;
        r.prefix_count = d->prefix_count;
        memcpy(r.prefixes, d->prefixes, sizeof r.prefixes);
    } else {
        r.refreshed_ms = pick.cand->refreshed_ms;
        r.prefix_count = pick.cand->prefix_count;
        memcpy(r.prefixes, pick.cand->prefixes, sizeof r.prefixes);
    }

    bool changed;
    if (!d->has_best || memcmp(d->best.via, r.via, 32) != 0 || d->best.hops != r.hops) {
        r.changed_ms = now_ms;
        changed = true;
    } else {
        r.changed_ms = d->best.changed_ms;
        uint32_t diff = r.metric > d->best.metric ? r.metric - d->best.metric : d->best.metric - r.metric;
        changed = diff > hysteresis(d->best.metric) ||
                  !same_prefixes(&d->best, (const char (*)[20])r.prefixes, r.prefix_count);
    }
    d->best = r;
    d->has_best = true;
    d->withdrawn = false;
    d->best_restored = pick.cand && pick.cand->restored;
    if (pick.direct) {
        d->best_path[0] = d->short_id;
        d->best_path_len = 1;
    } else {
        d->best_path_len = pick.cand->path_len;
        memcpy(d->best_path, pick.cand->path, sizeof d->best_path);
    }
    return changed;
}

static bool recompute_all(mesh_routes_t *self, int64_t now_ms)
{
    bool changed = false;
    for (size_t i = 0; i < self->count; i++)
        changed |= select_best(self, &self->nodes[i], now_ms);
    self->changed |= changed;
    return changed;
}

// ---------------------------------------------------------------- members, prefixes, links

mesh_routes_t *mesh_routes_new(const uint8_t self_id[32], const mesh_routes_config_t *cfg)
{
    mesh_routes_t *self = calloc(1, sizeof *self);
    if (!self) {
        log_error("mesh routes: out of memory");
        return NULL;
    }
    memcpy(self->self, self_id, 32);
    self->self_short = short_id(self_id);
    self->cfg = *cfg;
    if (self->cfg.max_hops > MESH_MAX_PATH - 1)
        self->cfg.max_hops = MESH_MAX_PATH - 1;    // a path of max_hops + 1 ids must fit an entry
    return self;
}

void mesh_routes_destroy(mesh_routes_t **self)
{
    if (!self || !*self)
        return;
    for (size_t i = 0; i < (*self)->count; i++)
        free((*self)->nodes[i].cands);
    free((*self)->nodes);
    free(*self);
    *self = NULL;
}

void mesh_routes_set_members(mesh_routes_t *self, const uint8_t (*ids)[32], size_t count, int64_t now_ms)
{
    node_t *nodes = count ? calloc(count, sizeof *nodes) : NULL;
    if (count && !nodes) {
        log_error("mesh routes: out of memory for %zu members; the member list is unchanged", count);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (memcmp(ids[i], self->self, 32) == 0)
            continue;
        memcpy(nodes[n].id, ids[i], 32);
        n++;
    }
    if (n > 1)   // (qsort's base may not be NULL, even for none)
        qsort(nodes, n, sizeof *nodes, cmp_id);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)      // duplicates out
        if (kept == 0 || memcmp(nodes[kept - 1].id, nodes[i].id, 32) != 0)
            nodes[kept++] = nodes[i];
    n = kept;

    bool lost = false;
    for (size_t i = 0; i < self->count; i++) {
        node_t *old = &self->nodes[i];
        node_t *now = n ? bsearch(old->id, nodes, n, sizeof *nodes, cmp_id) : NULL;
        if (now) {
            *now = *old;            // keeps its link, candidates and best route
        } else {
            lost |= old->has_best;
            free(old->cands);
        }
    }
    for (size_t i = 0; i < n; i++)
        nodes[i].short_id = short_id(nodes[i].id);
    free(self->nodes);
    self->nodes = nodes;
    self->count = n;

    // candidates through a former member go
    for (size_t i = 0; i < n; i++) {
        node_t *d = &nodes[i];
        for (size_t j = d->cand_count; j-- > 0;)
            if (!find(self, d->cands[j].via))
                cand_remove_at(d, j);
    }
    self->changed |= lost;
    recompute_all(self, now_ms);
}

void mesh_routes_set_own_prefixes(mesh_routes_t *self, const char (*prefixes)[256], size_t count)
{
    char next[MESH_MAX_PREFIXES][20] = {{0}};
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (strnlen(prefixes[i], 256) == 256 || !prefix_ok(prefixes[i])) {
            log_warn("mesh routes: not announcing the advertised subnet '%.64s': not a.b.c.d/len without host bits",
                     prefixes[i]);
            continue;
        }
        if (n == MESH_MAX_PREFIXES) {
            log_warn("mesh routes: not announcing '%s': at most %d advertised subnets", prefixes[i], MESH_MAX_PREFIXES);
            continue;
        }
        strcpy(next[n++], prefixes[i]);
    }
    if (n != self->own_prefix_count || memcmp(next, self->own_prefixes, sizeof next) != 0)
        self->changed = true;
    memcpy(self->own_prefixes, next, sizeof next);
    self->own_prefix_count = n;
}

void mesh_routes_link(mesh_routes_t *self, const uint8_t peer[32], bool up, uint32_t rtt_ms, int64_t now_ms)
{
    node_t *p = find(self, peer);
    if (!p)
        return;
    p->link_ms = now_ms;
    if (up) {
        p->link_up = true;
        p->rtt_ms = rtt_ms > LATENCY_CAP ? LATENCY_CAP : rtt_ms;
    } else {
        p->link_up = false;
        for (size_t i = 0; i < self->count; i++)
            cand_remove_via(&self->nodes[i], peer, true);
    }
    recompute_all(self, now_ms);
}

const uint64_t *mesh_routes_entry_drops(const mesh_routes_t *self) { return self->entry_drops; }

// ---------------------------------------------------------------- receiving

// The checks of the announcement as a whole, before any entry is used.
static mesh_drop_t check_shape(const Weft__RouteAnnouncement *a)
{
    if (a->n_routes > MESH_MAX_ENTRIES)
        return MESH_DROP_OVERSIZED;
    for (size_t i = 0; i < a->n_routes; i++) {
        const Weft__RouteEntry *e = a->routes[i];
        if (e->n_path > MESH_MAX_PATH || e->n_prefixes > MESH_MAX_PREFIXES)
            return MESH_DROP_OVERSIZED;
        if (e->dest.len != 32)
            return MESH_DROP_MALFORMED;
        for (size_t j = 0; j < e->n_prefixes; j++)
            if (!prefix_ok(e->prefixes[j]))
                return MESH_DROP_MALFORMED;
    }
    return MESH_DROP_NONE;
}

static void copy_prefixes(char (*out)[20], size_t *out_count, char **in, size_t count)
{
    memset(out, 0, MESH_MAX_PREFIXES * 20);
    for (size_t i = 0; i < count; i++)
        strcpy(out[i], in[i]);      // prefix_ok: shorter than 20
    *out_count = count;
}

// The checks of one entry for a destination other than the announcer n (and us). Returns NONE, FORGED
// or LOOP.
static mesh_drop_t check_entry(const mesh_routes_t *self, const node_t *n, const node_t *d, const Weft__RouteEntry *e)
{
    if (e->hops < 1 || e->n_path != (size_t)e->hops + 1 || e->path[0] != n->short_id ||
        e->path[e->n_path - 1] != d->short_id)
        return MESH_DROP_FORGED;
    for (size_t i = 0; i < e->n_path; i++) {
        if (e->path[i] == self->self_short)
            return MESH_DROP_LOOP;
        for (size_t j = 0; j < i; j++)
            if (e->path[j] == e->path[i])
                return MESH_DROP_LOOP;
    }
    return MESH_DROP_NONE;
}

static void refuse_entry(mesh_routes_t *self, mesh_drop_t why, size_t *bad)
{
    self->entry_drops[why]++;
    (*bad)++;
}

mesh_drop_t mesh_routes_receive(mesh_routes_t *self, const uint8_t from[32], const uint8_t *buf, size_t len,
                                int64_t now_ms, size_t *bad_entries, bool *request)
{
    size_t bad = 0;
    if (bad_entries)
        *bad_entries = 0;
    if (request)
        *request = false;
    node_t *n = find(self, from);
    if (!n)
        return MESH_DROP_NOT_MEMBER;
    if (!n->link_up)
        return MESH_DROP_NOT_NEIGHBOUR;
    if (len > MESH_ANNOUNCE_MAX - 1)    // the frame (type byte + this) would be larger than allowed
        return MESH_DROP_OVERSIZED;
    Weft__RouteAnnouncement *a = weft__route_announcement__unpack(NULL, len, buf);
    if (!a)
        return MESH_DROP_MALFORMED;
    mesh_drop_t why = check_shape(a);
    if (why == MESH_DROP_NONE && n->seq_seen && a->seq < n->last_seq)
        why = MESH_DROP_STALE;
    if (why != MESH_DROP_NONE) {
        weft__route_announcement__free_unpacked(a, NULL);
        return why;
    }

    // a full table: a newer seq in one frame; frames of a larger table only refresh what they carry
    bool full = (!n->seq_seen || a->seq > n->last_seq) && !a->more;
    n->seq_seen = true;
    n->last_seq = a->seq;
    n->relay = a->relay;
    if (request)
        *request = a->request;
    for (size_t i = 0; i < self->count; i++) {
        node_t *d = &self->nodes[i];
        d->listed = false;
        for (size_t j = d->cand_count; j-- > 0;)   // n speaks for itself now: routes restored via n go
            if (d->cands[j].restored && memcmp(d->cands[j].via, from, 32) == 0)
                cand_remove_at(d, j);
    }
    for (size_t i = 0; i < a->n_routes; i++) {
        const Weft__RouteEntry *e = a->routes[i];
        if (memcmp(e->dest.data, self->self, 32) == 0)
            continue;                           // our own route is ours to know
        node_t *d = find(self, e->dest.data);
        if (!d) {
            refuse_entry(self, MESH_DROP_NOT_MEMBER, &bad);
            continue;
        }
        d->listed = true;
        if (d == n) {                           // the announcer itself: hops 0, path [n]
            if (e->unreachable || e->hops != 0 || e->n_path != 1 || e->path[0] != n->short_id) {
                refuse_entry(self, MESH_DROP_FORGED, &bad);
                continue;
            }
            copy_prefixes(n->prefixes, &n->prefix_count, e->prefixes, e->n_prefixes);
            continue;
        }
        if (!a->relay)
            continue;                           // carries nobody's traffic: only its own entry counts
        if (e->unreachable) {
            cand_remove_via(d, from, false);
            continue;
        }
        why = check_entry(self, n, d, e);
        if (why != MESH_DROP_NONE) {
            refuse_entry(self, why, &bad);
            cand_remove_via(d, from, false);    // whatever n said before about dest is no better
            continue;
        }
        if (e->hops + 1 > self->cfg.max_hops) {
            cand_remove_via(d, from, false);
            continue;
        }
        cand_t *c = cand_put(d, from, false);
        if (!c)
            continue;
        c->hops = e->hops + 1;
        c->latency_ms = e->latency_ms > LATENCY_CAP ? LATENCY_CAP : e->latency_ms;
        c->path_len = e->n_path;
        memcpy(c->path, e->path, e->n_path * sizeof *e->path);
        c->refreshed_ms = now_ms;
        copy_prefixes(c->prefixes, &c->prefix_count, e->prefixes, e->n_prefixes);
    }
    if (full || !a->relay)
        for (size_t i = 0; i < self->count; i++)
            if (!self->nodes[i].listed || !a->relay)
                cand_remove_via(&self->nodes[i], from, false);
    weft__route_announcement__free_unpacked(a, NULL);
    recompute_all(self, now_ms);
    if (bad_entries)
        *bad_entries = bad;
    return MESH_DROP_NONE;
}

// ---------------------------------------------------------------- time

bool mesh_routes_tick(mesh_routes_t *self, int64_t now_ms)
{
    for (size_t i = 0; i < self->count; i++) {
        node_t *d = &self->nodes[i];
        for (size_t j = d->cand_count; j-- > 0;)
            if (now_ms - d->cands[j].refreshed_ms >= self->cfg.route_timeout_ms)
                cand_remove_at(d, j);
        if (d->withdrawn && now_ms - d->withdrawn_ms >= self->cfg.route_timeout_ms)
            d->withdrawn = false;
    }
    return recompute_all(self, now_ms);
}

bool mesh_routes_changed(const mesh_routes_t *self) { return self->changed; }

void mesh_routes_clear_changed(mesh_routes_t *self) { self->changed = false; }

// ---------------------------------------------------------------- announcing

typedef struct {
    Weft__RouteEntry entry;
    uint64_t path[MESH_MAX_PATH];
    char *prefixes[MESH_MAX_PREFIXES];
} out_entry_t;

static void fill_entry(out_entry_t *o, const uint8_t dest[32], char (*prefixes)[20], size_t prefix_count)
{
    weft__route_entry__init(&o->entry);
    o->entry.dest.data = (uint8_t *)dest;
    o->entry.dest.len = 32;
    for (size_t i = 0; i < prefix_count; i++)
        o->prefixes[i] = prefixes[i];
    o->entry.prefixes = o->prefixes;
    o->entry.n_prefixes = prefix_count;
    o->entry.path = o->path;
}

static bool path_holds(const uint64_t *path, size_t len, uint64_t id)
{
    for (size_t i = 0; i < len; i++)
        if (path[i] == id)
            return true;
    return false;
}

static size_t varint_size(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void mesh_routes_announce(mesh_routes_t *self, const uint8_t to[32], uint64_t seq, bool request,
                          void (*emit)(void *ctx, const uint8_t *frame, size_t len), void *ctx)
{
    out_entry_t *out = calloc(self->count + 1, sizeof *out);
    Weft__RouteEntry **ptrs = calloc(self->count + 1, sizeof *ptrs);
    if (!out || !ptrs) {
        log_error("mesh routes: out of memory for an announcement of %zu entries", self->count + 1);
        free(out);
        free(ptrs);
        return;
    }
    uint64_t to_short = short_id(to);
    size_t n = 0;
    fill_entry(&out[n], self->self, self->own_prefixes, self->own_prefix_count);
    out[n].path[0] = self->self_short;
    out[n].entry.n_path = 1;
    n++;
    for (size_t i = 0; self->cfg.relay && i < self->count; i++) {
        node_t *d = &self->nodes[i];
        if (memcmp(d->id, to, 32) == 0)
            continue;
        if (!d->has_best) {
            if (d->withdrawn) {             // lost lately: withdrawn towards everyone
                fill_entry(&out[n], d->id, NULL, 0);
                out[n++].entry.unreachable = true;
            }
            continue;
        }
        if (d->best_restored || d->best.hops + 1 > self->cfg.max_hops)
            continue;
        if (self->cfg.split_horizon && path_holds(d->best_path, d->best_path_len, to_short)) {   // poisoned reverse
            fill_entry(&out[n], d->id, NULL, 0);
            out[n++].entry.unreachable = true;
            continue;
        }
        out_entry_t *o = &out[n++];
        fill_entry(o, d->id, d->best.prefixes, d->best.prefix_count);
        o->entry.hops = d->best.hops;
        o->entry.latency_ms = d->best.latency_ms;
        o->path[0] = self->self_short;
        memcpy(o->path + 1, d->best_path, d->best_path_len * sizeof *o->path);
        o->entry.n_path = d->best_path_len + 1;
    }
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &out[i].entry;

    Weft__RouteAnnouncement a = WEFT__ROUTE_ANNOUNCEMENT__INIT;
    a.seq = seq;
    a.relay = self->cfg.relay;
    a.request = request;
    a.more = true;
    size_t header = weft__route_announcement__get_packed_size(&a);   // with `more`: an upper bound
    size_t at = 0;
    do {
        size_t size = header, count = 0;
        while (at + count < n && count < MESH_MAX_ENTRIES) {
            size_t es = weft__route_entry__get_packed_size(ptrs[at + count]);
            size_t add = 1 + varint_size(es) + es;
            if (1 + size + add > MESH_ANNOUNCE_MAX)
                break;
            size += add;
            count++;
        }
        if (count == 0) {       // cannot happen: the largest entry (16 path ids, 8 prefixes) is ~340 bytes
            log_error("mesh routes: an announcement entry does not fit a frame; announcement cut short");
            break;
        }
        a.routes = ptrs + at;
        a.n_routes = count;
        a.more = at + count < n;
        self->frame[0] = MESH_FRAME_ANNOUNCE;
        size_t len = weft__route_announcement__pack(&a, self->frame + 1);
        emit(ctx, self->frame, 1 + len);
        at += count;
    } while (at < n);
    free(out);
    free(ptrs);
}

// ---------------------------------------------------------------- reading

void mesh_routes_foreach_neighbour(const mesh_routes_t *self, void (*fn)(const uint8_t id[32], void *ctx), void *ctx)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->nodes[i].link_up)
            fn(self->nodes[i].id, ctx);
}

void mesh_routes_foreach(const mesh_routes_t *self, void (*fn)(const mesh_route_t *route, void *ctx), void *ctx)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->nodes[i].has_best)
            fn(&self->nodes[i].best, ctx);
}

const mesh_route_t *mesh_routes_best(const mesh_routes_t *self, const uint8_t dest[32])
{
    const node_t *d = find(self, dest);
    return d && d->has_best ? &d->best : NULL;
}

size_t mesh_routes_count(const mesh_routes_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        n += self->nodes[i].has_best;
    return n;
}

// ---------------------------------------------------------------- restart

void mesh_routes_restore(mesh_routes_t *self, const mesh_route_t *route, int64_t now_ms)
{
    node_t *d = find(self, route->dest);
    bool direct = memcmp(route->via, route->dest, 32) == 0;
    if (!d || !find(self, route->via) || route->hops < 1 || route->hops > self->cfg.max_hops ||
        direct != (route->hops == 1) || route->prefix_count > MESH_MAX_PREFIXES ||
        now_ms - route->refreshed_ms >= self->cfg.route_timeout_ms)
        return;
    for (size_t i = 0; i < route->prefix_count; i++)
        if (strnlen(route->prefixes[i], 20) == 20 || !prefix_ok(route->prefixes[i]))
            return;
    cand_t *c = cand_put(d, route->via, true);
    if (!c)
        return;
    c->hops = route->hops;
    c->latency_ms = route->latency_ms > LATENCY_CAP ? LATENCY_CAP : route->latency_ms;
    c->path_len = 0;
    c->refreshed_ms = route->refreshed_ms;
    memcpy(c->prefixes, route->prefixes, sizeof c->prefixes);
    c->prefix_count = route->prefix_count;
    self->changed |= select_best(self, d, now_ms);
}
