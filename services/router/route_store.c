// route_store.c — see route_store.h. Owns the weft:route:* hashes and the weft:routes set.
#include "route_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "log.h"

static int save_one(store_t *store, const route_view_t *v)
{
    char peer[ID_HEX_LEN], next_hop[ID_HEX_LEN];
    id_to_hex(v->peer, peer);
    id_to_hex(v->next_hop, next_hop);
    if (store_exec(store,
                   "HSET weft:route:%s peer %s next_hop %s hops %u metric %u latency_ms %u updated_ms %llu "
                   "refreshed_ms %llu expires_ms %llu origin %s state %s why %s",
                   v->dest, peer, next_hop, v->hops, v->metric, v->latency_ms, (unsigned long long)v->updated_ms,
                   (unsigned long long)v->refreshed_ms, (unsigned long long)v->expires_ms,
                   v->subnet ? "subnet" : "member", v->refused ? "refused" : "active", v->why) < 0)
        return -1;
    return store_exec(store, "SADD weft:routes %s", v->dest);
}

static int delete_text(store_t *store, const char *dest)
{
    if (store_exec(store, "SREM weft:routes %s", dest) < 0)
        return -1;
    return store_exec(store, "DEL weft:route:%s", dest);
}

static int parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || !*text || *end || text[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

// Fills v from one HGETALL reply. Returns 0, or -1 with why filled.
static int view_from_hash(const redisReply *hash, route_view_t *v, char *why, size_t why_len)
{
    if (hash->type != REDIS_REPLY_ARRAY || hash->elements == 0) {
        snprintf(why, why_len, "no hash");
        return -1;
    }
    bool have_peer = false, have_next_hop = false;
    uint64_t hops = 1, metric = 0, latency = 0;
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *field = hash->element[i], *value = hash->element[i + 1];
        if (field->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
            continue;
        const char *f = field->str, *val = value->str;
        int rc = 0;
        if (strcmp(f, "peer") == 0)
            have_peer = (rc = id_from_hex(val, v->peer)) == 0;
        else if (strcmp(f, "next_hop") == 0)
            have_next_hop = (rc = id_from_hex(val, v->next_hop)) == 0;
        else if (strcmp(f, "hops") == 0)
            rc = parse_u64(val, UINT32_MAX, &hops);
        else if (strcmp(f, "metric") == 0)
            rc = parse_u64(val, UINT32_MAX, &metric);
        else if (strcmp(f, "latency_ms") == 0)
            rc = parse_u64(val, UINT32_MAX, &latency);
        else if (strcmp(f, "updated_ms") == 0)
            rc = parse_u64(val, UINT64_MAX, &v->updated_ms);
        else if (strcmp(f, "refreshed_ms") == 0)
            rc = parse_u64(val, UINT64_MAX, &v->refreshed_ms);
        else if (strcmp(f, "expires_ms") == 0)
            rc = parse_u64(val, UINT64_MAX, &v->expires_ms);
        else if (strcmp(f, "origin") == 0)
            v->subnet = strcmp(val, "subnet") == 0;
        else if (strcmp(f, "state") == 0)
            v->refused = strcmp(val, "refused") == 0;
        else if (strcmp(f, "why") == 0)
            snprintf(v->why, sizeof v->why, "%s", val);
        if (rc != 0) {
            snprintf(why, why_len, "bad %s '%.80s'", f, val);
            return -1;
        }
    }
    if (!have_peer || !have_next_hop) {
        snprintf(why, why_len, "missing %s", have_peer ? "next_hop" : "peer");
        return -1;
    }
    v->hops = (uint32_t)hops;
    v->metric = (uint32_t)metric;
    v->latency_ms = (uint32_t)latency;
    if (!v->refreshed_ms)
        v->refreshed_ms = v->updated_ms;   // written by a router from before mesh routing
    return 0;
}

// A destination text: an address, or a prefix with its length.
static bool dest_valid(const char *text, bool *subnet)
{
    uint32_t addr;
    int len;
    *subnet = strchr(text, '/') != NULL;
    return *subnet ? ipv4_prefix_from_text(text, &addr, &len) == 0 : ipv4_from_text(text, &addr) == 0;
}

// Loads one member of weft:routes. Returns 1 loaded, 0 skipped (and deleted), -1 Redis failed.
static int load_one(store_t *store, const char *dest, route_view_t *v)
{
    memset(v, 0, sizeof *v);
    char why[160] = "";
    bool subnet;
    if (strlen(dest) >= sizeof v->dest || !dest_valid(dest, &subnet)) {
        snprintf(why, sizeof why, "not an IPv4 address or prefix");
    } else {
        redisReply *hash = store_command(store, "HGETALL weft:route:%s", dest);
        if (!hash)
            return -1;
        int rc = view_from_hash(hash, v, why, sizeof why);
        freeReplyObject(hash);
        if (rc == 0) {
            snprintf(v->dest, sizeof v->dest, "%s", dest);
            v->subnet = subnet;
            return 1;
        }
    }
    log_warn("redis: deleting unusable route weft:route:%.40s (%s)", dest, why);
    delete_text(store, dest);
    return 0;
}

// SMEMBERS weft:routes, or NULL (logged) when Redis failed or answered something else.
static redisReply *load_members(store_t *store)
{
    redisReply *members = store_command(store, "SMEMBERS weft:routes");
    if (members && members->type != REDIS_REPLY_ARRAY) {
        log_warn("redis: SMEMBERS weft:routes answered type %d", members->type);
        freeReplyObject(members);
        return NULL;
    }
    return members;
}

int route_store_load(store_t *store, route_view_t **views)
{
    *views = NULL;
    redisReply *members = load_members(store);
    if (!members)
        return -1;
    route_view_t *out = members->elements ? calloc(members->elements, sizeof *out) : NULL;
    int loaded = 0;
    for (size_t i = 0; out && i < members->elements; i++) {
        const redisReply *m = members->element[i];
        if (m->type != REDIS_REPLY_STRING)
            continue;
        int rc = load_one(store, m->str, &out[loaded]);
        if (rc < 0) {
            loaded = -1;
            break;
        }
        loaded += rc;
    }
    freeReplyObject(members);
    if (loaded <= 0) {
        free(out);
        return loaded;
    }
    *views = out;
    return loaded;
}

int route_store_sync(store_t *store, const route_view_t *views, size_t count)
{
    redisReply *members = load_members(store);
    if (!members)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < members->elements && rc == 0; i++) {
        const redisReply *m = members->element[i];
        if (m->type != REDIS_REPLY_STRING)
            continue;
        bool wanted = false;
        for (size_t k = 0; k < count && !wanted; k++)
            wanted = strcmp(views[k].dest, m->str) == 0;
        if (!wanted)
            rc = delete_text(store, m->str);
    }
    freeReplyObject(members);
    for (size_t k = 0; k < count && rc == 0; k++)
        rc = save_one(store, &views[k]);
    return rc;
}
