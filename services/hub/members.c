// members.c — see members.h. Every function is a few Redis commands; the hub calls them per request,
// which is fine for a control plane that sees one heartbeat per member every few seconds.
#include "members.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "log.h"

struct members {
    store_t *store;     // not owned
    int timeout_s;
};

members_t *members_new(store_t *store, int timeout_s)
{
    members_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->timeout_s = timeout_s > 0 ? timeout_s : 15;
    return self;
}

void members_destroy(members_t **self)
{
    if (self && *self) {
        free(*self);
        *self = NULL;
    }
}

static void routing_to_hex(const uint8_t *rid, size_t len, char out[2 * MEMBERS_ROUTING_MAX + 1])
{
    sodium_bin2hex(out, 2 * MEMBERS_ROUTING_MAX + 1, rid, len);
}

// Fills m from an HGETALL reply; false if the hash is empty or a field is malformed.
static bool member_from_hash(const redisReply *r, member_t *m)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->elements % 2)
        return false;
    bool have_addr = false, have_routing = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return false;
        if (strcmp(k->str, "name") == 0) {
            snprintf(m->name, sizeof m->name, "%s", v->str);
        } else if (strcmp(k->str, "overlay_addr") == 0) {
            snprintf(m->overlay_addr, sizeof m->overlay_addr, "%s", v->str);
            have_addr = true;
        } else if (strcmp(k->str, "routing_id") == 0) {
            have_routing = sodium_hex2bin(m->routing_id, sizeof m->routing_id, v->str, v->len, NULL,
                                          &m->routing_id_len, NULL) == 0 &&
                           m->routing_id_len > 0;
        } else if (strcmp(k->str, "last_seen_ms") == 0) {
            m->last_seen_ms = strtoull(v->str, NULL, 10);
        }
    }
    return have_addr && have_routing;
}

// 1 live (m filled), 0 gone, -1 Redis failed.
static int load_one(members_t *self, const char *mesh, const char *hex_id, member_t *m)
{
    memset(m, 0, sizeof *m);
    if (id_from_hex(hex_id, m->id) != 0)
        return 0;
    redisReply *r = store_command(self->store, "HGETALL hub:member:%s:%s", mesh, hex_id);
    if (!r)
        return -1;
    int rc = member_from_hash(r, m) ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int members_load(members_t *self, const char *mesh, member_t *out, size_t max, size_t *expired)
{
    *expired = 0;
    redisReply *set = store_command(self->store, "SMEMBERS hub:mesh:%s:members", mesh);
    if (!set)
        return -1;
    if (set->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(set);
        return -1;
    }
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; i < set->elements && rc == 0; i++) {
        const redisReply *e = set->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        if (count == max) {
            log_warn("mesh %s has more than %zu members; ignoring the rest", mesh, max);
            break;
        }
        int live = load_one(self, mesh, e->str, &out[count]);
        if (live < 0) {
            rc = -1;
        } else if (live) {
            count++;
        } else {
            store_exec(self->store, "SREM hub:mesh:%s:members %s", mesh, e->str);
            (*expired)++;
        }
    }
    freeReplyObject(set);
    return rc < 0 ? -1 : (int)count;
}

int members_put(members_t *self, const char *mesh, const member_t *m)
{
    char hex_id[ID_HEX_LEN], hex_routing[2 * MEMBERS_ROUTING_MAX + 1];
    id_to_hex(m->id, hex_id);
    routing_to_hex(m->routing_id, m->routing_id_len, hex_routing);
    char last_seen[24];
    snprintf(last_seen, sizeof last_seen, "%llu", (unsigned long long)m->last_seen_ms);
    char seen[24 + sizeof m->name];   // one value: "<ms> <name>"
    snprintf(seen, sizeof seen, "%s %s", last_seen, m->name);
    if (store_exec(self->store, "HSET hub:member:%s:%s name %s overlay_addr %s routing_id %s last_seen_ms %s",
                   mesh, hex_id, m->name, m->overlay_addr, hex_routing, last_seen) != 0 ||
        store_exec(self->store, "EXPIRE hub:member:%s:%s %d", mesh, hex_id, self->timeout_s) != 0 ||
        store_exec(self->store, "SADD hub:mesh:%s:members %s", mesh, hex_id) != 0 ||
        store_exec(self->store, "SADD hub:meshes %s", mesh) != 0 ||
        store_exec(self->store, "SET hub:routing:%s %s EX %d", hex_routing, mesh, self->timeout_s) != 0 ||
        store_exec(self->store, "HSET hub:seen:%s %s %s", mesh, hex_id, seen) != 0 ||
        store_exec(self->store, "EXPIRE hub:seen:%s %d", mesh, MEMBERS_BIND_TTL_S) != 0)
        return -1;
    return 0;
}

int members_last_seen(members_t *self, const char *mesh, const uint8_t id[32], uint64_t *ms, char name[64])
{
    char hex_id[ID_HEX_LEN];
    id_to_hex(id, hex_id);
    redisReply *r = store_command(self->store, "HGET hub:seen:%s %s", mesh, hex_id);
    if (!r)
        return -1;
    int rc = 0;
    char *end = NULL;
    if (r->type == REDIS_REPLY_STRING) {
        uint64_t v = strtoull(r->str, &end, 10);
        if (end != r->str && (*end == ' ' || *end == '\0')) {
            *ms = v;
            if (name)
                snprintf(name, 64, "%s", *end ? end + 1 : "");
            rc = 1;
        }
    }
    freeReplyObject(r);
    return rc;
}

int members_remove(members_t *self, const char *mesh, const uint8_t id[32])
{
    char hex_id[ID_HEX_LEN];
    id_to_hex(id, hex_id);
    if (store_exec(self->store, "DEL hub:member:%s:%s", mesh, hex_id) != 0 ||
        store_exec(self->store, "SREM hub:mesh:%s:members %s", mesh, hex_id) != 0)
        return -1;
    return 0;
}

int members_mesh_of(members_t *self, const uint8_t *routing_id, size_t len, mesh_name_t mesh)
{
    if (len == 0 || len > MEMBERS_ROUTING_MAX)
        return 0;
    char hex_routing[2 * MEMBERS_ROUTING_MAX + 1];
    routing_to_hex(routing_id, len, hex_routing);
    redisReply *r = store_command(self->store, "GET hub:routing:%s", hex_routing);
    if (!r)
        return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < sizeof(mesh_name_t)) {
        snprintf(mesh, sizeof(mesh_name_t), "%s", r->str);
        rc = 1;
    }
    freeReplyObject(r);
    return rc;
}

int members_meshes(members_t *self, mesh_name_t *out, size_t max)
{
    redisReply *r = store_command(self->store, "SMEMBERS hub:meshes");
    if (!r)
        return -1;
    size_t count = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements && count < max; i++) {
            const redisReply *e = r->element[i];
            if (e->type == REDIS_REPLY_STRING && e->len > 0 && e->len < sizeof(mesh_name_t))
                snprintf(out[count++], sizeof(mesh_name_t), "%s", e->str);
        }
    }
    freeReplyObject(r);
    return (int)count;
}

int members_forget_mesh(members_t *self, const char *mesh)
{
    // only if still empty: a member may have registered since the sweep looked
    redisReply *r = store_command(self->store, "SCARD hub:mesh:%s:members", mesh);
    if (!r)
        return -1;
    bool empty = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    return empty ? store_exec(self->store, "SREM hub:meshes %s", mesh) : 0;
}

int members_binding(members_t *self, const char *mesh, const char *address, const uint8_t id[32],
                    uint8_t owner[32])
{
    redisReply *r = store_command(self->store, "GET hub:bind:%s:%s", mesh, address);
    if (!r)
        return -1;
    int rc = 0;
    uint8_t holder[32];
    if (r->type == REDIS_REPLY_STRING && id_from_hex(r->str, holder) == 0) {
        rc = memcmp(holder, id, 32) == 0 ? 1 : MEMBERS_BOUND_ELSEWHERE;
        if (owner)
            memcpy(owner, holder, 32);
    }
    freeReplyObject(r);
    if (rc == 1 && store_exec(self->store, "EXPIRE hub:bind:%s:%s %d", mesh, address, MEMBERS_BIND_TTL_S) != 0)
        return -1;
    return rc;
}

int members_bind(members_t *self, const char *mesh, const char *address, const uint8_t id[32])
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, id, 32);
    redisReply *r = store_command(self->store, "SET hub:bind:%s:%s %s NX EX %d", mesh, address, hex,
                                  MEMBERS_BIND_TTL_S);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_STATUS ? 1 : MEMBERS_BOUND_ELSEWHERE;
    freeReplyObject(r);
    return rc;
}
