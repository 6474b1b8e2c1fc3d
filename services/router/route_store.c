// route_store.c — see route_store.h. Owns the weft:route:* hashes and the weft:routes set.
#include "route_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "log.h"

int route_store_save(store_t *store, const route_t *route)
{
    char addr[16], peer[ID_HEX_LEN], next_hop[ID_HEX_LEN];
    ipv4_to_text(route->addr, addr);
    id_to_hex(route->peer, peer);
    id_to_hex(route->next_hop, next_hop);
    if (store_exec(store, "HSET weft:route:%s peer %s next_hop %s hops %u metric %u updated_ms %llu", addr, peer,
                   next_hop, route->hops, route->metric, (unsigned long long)route->updated_ms) < 0)
        return -1;
    return store_exec(store, "SADD weft:routes %s", addr);
}

static int delete_text(store_t *store, const char *addr)
{
    if (store_exec(store, "SREM weft:routes %s", addr) < 0)
        return -1;
    return store_exec(store, "DEL weft:route:%s", addr);
}

int route_store_delete(store_t *store, uint32_t addr)
{
    char text[16];
    ipv4_to_text(addr, text);
    return delete_text(store, text);
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

// Fills route from one HGETALL reply. Returns 0, or -1 with why filled.
static int route_from_hash(const redisReply *hash, route_t *route, char *why, size_t why_len)
{
    if (hash->type != REDIS_REPLY_ARRAY || hash->elements == 0) {
        snprintf(why, why_len, "no hash");
        return -1;
    }
    bool have_peer = false, have_next_hop = false;
    uint64_t hops = 1, metric = 1, updated = 0;
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *field = hash->element[i], *value = hash->element[i + 1];
        if (field->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
            continue;
        int rc = 0;
        if (strcmp(field->str, "peer") == 0) {
            rc = id_from_hex(value->str, route->peer);
            have_peer = rc == 0;
        } else if (strcmp(field->str, "next_hop") == 0) {
            rc = id_from_hex(value->str, route->next_hop);
            have_next_hop = rc == 0;
        } else if (strcmp(field->str, "hops") == 0)
            rc = parse_u64(value->str, UINT32_MAX, &hops);
        else if (strcmp(field->str, "metric") == 0)
            rc = parse_u64(value->str, UINT32_MAX, &metric);
        else if (strcmp(field->str, "updated_ms") == 0)
            rc = parse_u64(value->str, UINT64_MAX, &updated);
        if (rc != 0) {
            snprintf(why, why_len, "bad %s '%.80s'", field->str, value->str);
            return -1;
        }
    }
    if (!have_peer || !have_next_hop) {
        snprintf(why, why_len, "missing %s", have_peer ? "next_hop" : "peer");
        return -1;
    }
    route->hops = (uint32_t)hops;
    route->metric = (uint32_t)metric;
    route->updated_ms = updated;
    return 0;
}

// Loads the route stored for one member of weft:routes. Returns 1 loaded, 0 skipped (and deleted), -1 Redis failed.
static int load_one(store_t *store, const char *addr_text, route_table_t *table)
{
    route_t route;
    memset(&route, 0, sizeof route);
    char why[160] = "";
    if (ipv4_from_text(addr_text, &route.addr) < 0) {
        snprintf(why, sizeof why, "not an IPv4 address");
    } else {
        redisReply *hash = store_command(store, "HGETALL weft:route:%s", addr_text);
        if (!hash)
            return -1;
        int rc = route_from_hash(hash, &route, why, sizeof why);
        freeReplyObject(hash);
        if (rc == 0)
            return route_table_put(table, &route) < 0 ? -1 : 1;
    }
    log_warn("redis: deleting unusable route weft:route:%.40s (%s)", addr_text, why);
    delete_text(store, addr_text);
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

int route_store_load(store_t *store, route_table_t *table)
{
    redisReply *members = load_members(store);
    if (!members)
        return -1;
    int loaded = 0;
    for (size_t i = 0; i < members->elements; i++) {
        const redisReply *m = members->element[i];
        if (m->type != REDIS_REPLY_STRING)
            continue;
        int rc = load_one(store, m->str, table);
        if (rc < 0) {
            loaded = -1;
            break;
        }
        loaded += rc;
    }
    freeReplyObject(members);
    return loaded;
}

typedef struct {
    store_t *store;
    int rc;
} sync_ctx_t;

static void save_each(const route_t *route, void *arg)
{
    sync_ctx_t *ctx = arg;
    if (ctx->rc == 0 && route_store_save(ctx->store, route) < 0)
        ctx->rc = -1;
}

int route_store_sync(store_t *store, const route_table_t *table)
{
    redisReply *members = load_members(store);
    if (!members)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < members->elements && rc == 0; i++) {
        const redisReply *m = members->element[i];
        uint32_t addr;
        if (m->type != REDIS_REPLY_STRING)
            continue;
        if (ipv4_from_text(m->str, &addr) < 0 || !route_table_lookup(table, addr))
            rc = delete_text(store, m->str);
    }
    freeReplyObject(members);
    sync_ctx_t ctx = {store, rc};
    if (rc == 0)
        route_table_foreach(table, save_each, &ctx);
    return ctx.rc;
}
