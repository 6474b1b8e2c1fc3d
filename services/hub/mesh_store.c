// mesh_store.c — see mesh_store.h. Atomicity comes from Redis: HSETNX claims an address, a Lua script
// takes an invite use; everything else is written by one request at a time.
#include "mesh_store.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_proto.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "route_table.h"

struct mesh_store {
    store_t *store;     // not owned
};

mesh_store_t *mesh_store_new(store_t *store)
{
    mesh_store_t *self = calloc(1, sizeof *self);
    if (self)
        self->store = store;
    return self;
}

void mesh_store_destroy(mesh_store_t **self)
{
    if (self && *self) {
        free(*self);
        *self = NULL;
    }
}

static void hex_of(const uint8_t *bin, size_t len, char *out, size_t out_len)
{
    sodium_bin2hex(out, out_len, bin, len);
}

static uint64_t now_ms(void)
{
    return (uint64_t)zclock_time();
}

// A room's keys expire with it: EXPIREAT on key when the mesh has an expiry.
static int expire_with(mesh_store_t *self, const mesh_info_t *mesh, const char *key)
{
    if (!mesh->expires)
        return 0;
    return store_exec(self->store, "EXPIREAT %s %llu", key, (unsigned long long)mesh->expires);
}

int mesh_store_publish(mesh_store_t *self, const uint8_t id[16], const char *event, const uint8_t *member,
                       const char *name, const char *address)
{
    char id_hex[33], key_hex[65];
    hex_of(id, 16, id_hex, sizeof id_hex);
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (!f)
        return -1;
    json_t j;
    json_init(&j, f);
    json_object_begin(&j, NULL);
    json_string(&j, "event", event);
    json_string(&j, "mesh", id_hex);
    if (member) {
        hex_of(member, 32, key_hex, sizeof key_hex);
        json_string(&j, "member", key_hex);
    }
    if (name)
        json_string(&j, "name", name);
    if (address)
        json_string(&j, "address", address);
    json_uint(&j, "ts_ms", now_ms());
    json_object_end(&j);
    fclose(f);
    // one line, no trailing newline
    while (text_len > 0 && (text[text_len - 1] == '\n' || text[text_len - 1] == ' '))
        text[--text_len] = '\0';
    int rc = store_exec(self->store, "PUBLISH hub:events:%s %b", id_hex, text, text_len);
    free(text);
    return rc;
}

// ---- meshes ----

static bool mesh_from_hash(const redisReply *r, mesh_info_t *m)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->elements % 2)
        return false;
    bool have_admin = false, have_cidr = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return false;
        if (strcmp(k->str, "name") == 0)
            snprintf(m->name, sizeof m->name, "%s", v->str);
        else if (strcmp(k->str, "cidr") == 0)
            have_cidr = snprintf(m->cidr, sizeof m->cidr, "%s", v->str) > 0;
        else if (strcmp(k->str, "admin_key") == 0)
            have_admin = id_from_hex(v->str, m->admin_key) == 0;
        else if (strcmp(k->str, "psk") == 0)
            m->psk_present = strcmp(v->str, "1") == 0;
        else if (strcmp(k->str, "ttl_s") == 0)
            m->ttl_s = (uint32_t)strtoul(v->str, NULL, 10);
        else if (strcmp(k->str, "created_ms") == 0)
            m->created_ms = strtoull(v->str, NULL, 10);
        else if (strcmp(k->str, "expires") == 0)
            m->expires = strtoull(v->str, NULL, 10);
    }
    return have_admin && have_cidr;
}

int mesh_store_get(mesh_store_t *self, const uint8_t id[16], mesh_info_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, id, 16);
    hex_of(id, 16, out->id_hex, sizeof out->id_hex);
    redisReply *r = store_command(self->store, "HGETALL hub:net:%s", out->id_hex);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_ERROR ? -1 : mesh_from_hash(r, out) ? 0 : MESH_STORE_NOT_FOUND;
    freeReplyObject(r);
    if (rc == 0 && out->expires && out->expires <= (uint64_t)(now_ms() / 1000))
        rc = MESH_STORE_NOT_FOUND;  // Redis expires keys lazily by the second; be exact
    return rc;
}

int mesh_store_create(mesh_store_t *self, const char *name, const char *cidr, const uint8_t admin_key[32],
                      bool psk_present, uint32_t ttl_s, mesh_info_t *out)
{
    uint32_t network;
    int prefix;
    if (!hub_valid_mesh(name) || !hub_parse_cidr(cidr, &network, &prefix))
        return MESH_STORE_BAD;
    memset(out, 0, sizeof *out);
    randombytes_buf(out->id, sizeof out->id);
    hex_of(out->id, 16, out->id_hex, sizeof out->id_hex);
    snprintf(out->name, sizeof out->name, "%s", name);
    struct in_addr a = {.s_addr = htonl(network)};
    char net_text[16];
    inet_ntop(AF_INET, &a, net_text, sizeof net_text);
    snprintf(out->cidr, sizeof out->cidr, "%s/%d", net_text, prefix);
    memcpy(out->admin_key, admin_key, 32);
    out->psk_present = psk_present;
    out->ttl_s = ttl_s;
    out->created_ms = now_ms();
    out->expires = ttl_s ? out->created_ms / 1000 + ttl_s : 0;
    char admin_hex[65], key[64];
    hex_of(admin_key, 32, admin_hex, sizeof admin_hex);
    snprintf(key, sizeof key, "hub:net:%s", out->id_hex);
    if (store_exec(self->store, "HSET %s name %s cidr %s admin_key %s psk %s ttl_s %u created_ms %llu expires %llu",
                   key, out->name, out->cidr, admin_hex, psk_present ? "1" : "0", ttl_s,
                   (unsigned long long)out->created_ms, (unsigned long long)out->expires) != 0 ||
        expire_with(self, out, key) != 0 || store_exec(self->store, "SADD hub:nets %s", out->id_hex) != 0)
        return -1;
    mesh_store_publish(self, out->id, "create", admin_key, out->name, NULL);
    return 0;
}

int mesh_store_list(mesh_store_t *self, mesh_info_t *out, size_t max)
{
    redisReply *r = store_command(self->store, "SMEMBERS hub:nets");
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; i < r->elements && count < max; i++) {
        const redisReply *e = r->element[i];
        uint8_t id[16];
        size_t id_len = 0;
        if (e->type != REDIS_REPLY_STRING || e->len != 32 ||
            sodium_hex2bin(id, sizeof id, e->str, e->len, NULL, &id_len, NULL) != 0 || id_len != 16)
            continue;
        int got = mesh_store_get(self, id, &out[count]);
        if (got == 0)
            count++;
        else if (got == MESH_STORE_NOT_FOUND)
            store_exec(self->store, "SREM hub:nets %s", e->str);  // a room that expired
        else
            rc = -1;
    }
    freeReplyObject(r);
    return rc < 0 ? -1 : (int)count;
}

int mesh_store_delete(mesh_store_t *self, const uint8_t id[16])
{
    mesh_info_t mesh;
    int rc = mesh_store_get(self, id, &mesh);
    if (rc != 0)
        return rc;
    redisReply *r = store_command(self->store, "SMEMBERS hub:net:%s:roster", mesh.id_hex);
    if (!r)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            store_exec(self->store, "DEL hub:net:%s:member:%s", mesh.id_hex, r->element[i]->str);
    freeReplyObject(r);
    if (store_exec(self->store, "DEL hub:net:%s hub:net:%s:roster hub:net:%s:addrs hub:net:%s:revoked hub:routes:%s",
                   mesh.id_hex, mesh.id_hex, mesh.id_hex, mesh.id_hex, mesh.id_hex) != 0 ||
        store_exec(self->store, "SREM hub:nets %s", mesh.id_hex) != 0)
        return -1;
    mesh_store_publish(self, id, "delete", NULL, mesh.name, NULL);
    return 0;
}

// ---- members ----

static bool member_from_hash(const redisReply *r, mesh_member_t *m)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->elements % 2)
        return false;
    bool have_addr = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return false;
        if (strcmp(k->str, "name") == 0)
            snprintf(m->name, sizeof m->name, "%s", v->str);
        else if (strcmp(k->str, "address") == 0)
            have_addr = hub_valid_ipv4(v->str) && snprintf(m->address, sizeof m->address, "%s", v->str) > 0;
        else if (strcmp(k->str, "joined_ms") == 0)
            m->joined_ms = strtoull(v->str, NULL, 10);
    }
    return have_addr;
}

int mesh_store_get_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], mesh_member_t *out)
{
    char id_hex[33], key_hex[65];
    hex_of(id, 16, id_hex, sizeof id_hex);
    hex_of(key, 32, key_hex, sizeof key_hex);
    memset(out, 0, sizeof *out);
    memcpy(out->key, key, 32);
    redisReply *r = store_command(self->store, "HGETALL hub:net:%s:member:%s", id_hex, key_hex);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_ERROR ? -1 : member_from_hash(r, out) ? 0 : MESH_STORE_NOT_FOUND;
    freeReplyObject(r);
    return rc;
}

// Asks "is member key in mesh id's <what>" with a Redis command that answers 0 or 1 (SISMEMBER, HEXISTS):
// 1 yes, 0 no, -1 Redis failed. `command` names the key as hub:net:<id>:<what> and takes id, then key.
static int member_flag(mesh_store_t *self, const char *command, const uint8_t id[16], const uint8_t key[32])
{
    char id_hex[33], key_hex[65];
    hex_of(id, 16, id_hex, sizeof id_hex);
    hex_of(key, 32, key_hex, sizeof key_hex);
    redisReply *r = store_command(self->store, command, id_hex, key_hex);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_INTEGER ? (r->integer == 1) : -1;
    freeReplyObject(r);
    return rc;
}

int mesh_store_is_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32])
{
    return member_flag(self, "SISMEMBER hub:net:%s:roster %s", id, key);
}

int mesh_store_list_members(mesh_store_t *self, const uint8_t id[16], mesh_member_t *out, size_t max)
{
    char id_hex[33];
    hex_of(id, 16, id_hex, sizeof id_hex);
    redisReply *r = store_command(self->store, "SMEMBERS hub:net:%s:roster", id_hex);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; i < r->elements && count < max; i++) {
        uint8_t key[32];
        if (r->element[i]->type != REDIS_REPLY_STRING || id_from_hex(r->element[i]->str, key) != 0)
            continue;
        int got = mesh_store_get_member(self, id, key, &out[count]);
        if (got == 0)
            count++;
        else if (got == -1)
            rc = -1;
    }
    freeReplyObject(r);
    return rc < 0 ? -1 : (int)count;
}

// Claims address for key_hex: 0 claimed (or already ours), MESH_STORE_TAKEN, -1.
static int claim_address(mesh_store_t *self, const mesh_info_t *mesh, const char *address, const char *key_hex)
{
    redisReply *r = store_command(self->store, "HSETNX hub:net:%s:addrs %s %s", mesh->id_hex, address, key_hex);
    if (!r)
        return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_INTEGER)
        rc = r->integer == 1 ? 0 : 1;
    freeReplyObject(r);
    if (rc != 1)
        return rc;
    r = store_command(self->store, "HGET hub:net:%s:addrs %s", mesh->id_hex, address);
    if (!r)
        return -1;
    rc = r->type == REDIS_REPLY_STRING && strcmp(r->str, key_hex) == 0 ? 0 : MESH_STORE_TAKEN;
    freeReplyObject(r);
    return rc;
}

// The lowest free host address of the mesh's CIDR, claimed for key_hex.
static int allocate_address(mesh_store_t *self, const mesh_info_t *mesh, const char *key_hex, char out[16])
{
    uint32_t network;
    int prefix;
    if (!hub_parse_cidr(mesh->cidr, &network, &prefix))
        return MESH_STORE_BAD;
    uint32_t hosts = (1u << (32 - prefix)) - 2;  // without the network and broadcast addresses
    redisReply *taken = store_command(self->store, "HKEYS hub:net:%s:addrs", mesh->id_hex);
    if (!taken)
        return -1;
    if (taken->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(taken);
        return -1;
    }
    int rc = MESH_STORE_FULL;
    for (uint32_t h = 1; h <= hosts && h <= MESH_STORE_MAX_MEMBERS * 4u; h++) {
        struct in_addr a = {.s_addr = htonl(network + h)};
        inet_ntop(AF_INET, &a, out, 16);
        bool used = false;
        for (size_t i = 0; i < taken->elements && !used; i++)
            used = taken->element[i]->type == REDIS_REPLY_STRING && strcmp(taken->element[i]->str, out) == 0;
        if (used)
            continue;
        rc = claim_address(self, mesh, out, key_hex);
        if (rc != MESH_STORE_TAKEN)  // claimed, or Redis failed; taken meanwhile: try the next one
            break;
        rc = MESH_STORE_FULL;
    }
    freeReplyObject(taken);
    return rc;
}

static bool address_in_mesh(const mesh_info_t *mesh, const char *address)
{
    uint32_t network;
    int prefix;
    struct in_addr a;
    if (!hub_parse_cidr(mesh->cidr, &network, &prefix) || inet_pton(AF_INET, address, &a) != 1)
        return false;
    uint32_t host = ntohl(a.s_addr), mask = 0xffffffffu << (32 - prefix);
    return (host & mask) == network && host != network && host != (network | ~mask);
}

int mesh_store_add_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], const char *name,
                          const char *address, mesh_member_t *out)
{
    mesh_info_t mesh;
    int rc = mesh_store_get(self, id, &mesh);
    if (rc != 0)
        return rc;
    if (!hub_valid_name(name ? name : ""))
        return MESH_STORE_BAD;
    char key_hex[65], member_key[128];
    hex_of(key, 32, key_hex, sizeof key_hex);
    snprintf(member_key, sizeof member_key, "hub:net:%s:member:%s", mesh.id_hex, key_hex);
    mesh_member_t existing;
    rc = mesh_store_get_member(self, id, key, &existing);
    if (rc == -1)
        return -1;
    char addr[16];
    if (rc == 0) {
        snprintf(addr, sizeof addr, "%s", existing.address);  // already a member: keeps its address
    } else if (address && address[0]) {
        if (!address_in_mesh(&mesh, address))
            return MESH_STORE_BAD;
        snprintf(addr, sizeof addr, "%s", address);
        if ((rc = claim_address(self, &mesh, addr, key_hex)) != 0)
            return rc;
    } else if ((rc = allocate_address(self, &mesh, key_hex, addr)) != 0) {
        return rc;
    }
    memset(out, 0, sizeof *out);
    memcpy(out->key, key, 32);
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    snprintf(out->address, sizeof out->address, "%s", addr);
    out->joined_ms = existing.joined_ms ? existing.joined_ms : now_ms();
    char roster[64], addrs[64];
    snprintf(roster, sizeof roster, "hub:net:%s:roster", mesh.id_hex);
    snprintf(addrs, sizeof addrs, "hub:net:%s:addrs", mesh.id_hex);
    if (store_exec(self->store, "HSET %s name %s address %s joined_ms %llu", member_key, out->name, out->address,
                   (unsigned long long)out->joined_ms) != 0 ||
        store_exec(self->store, "SADD %s %s", roster, key_hex) != 0 || expire_with(self, &mesh, member_key) != 0 ||
        expire_with(self, &mesh, roster) != 0 || expire_with(self, &mesh, addrs) != 0)
        return -1;
    mesh_store_publish(self, id, existing.address[0] ? "change" : "join", key, out->name, out->address);
    return 0;
}

static int drop_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], mesh_member_t *m)
{
    char id_hex[33], key_hex[65];
    hex_of(id, 16, id_hex, sizeof id_hex);
    hex_of(key, 32, key_hex, sizeof key_hex);
    int rc = mesh_store_get_member(self, id, key, m);
    if (rc == -1)
        return -1;
    if (rc == 0)
        store_exec(self->store, "HDEL hub:net:%s:addrs %s", id_hex, m->address);
    if (store_exec(self->store, "DEL hub:net:%s:member:%s", id_hex, key_hex) != 0 ||
        store_exec(self->store, "SREM hub:net:%s:roster %s", id_hex, key_hex) != 0 ||
        mesh_store_routes_forget(self, id_hex, key) != 0)
        return -1;
    return rc;
}

int mesh_store_remove_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], const char *event)
{
    mesh_member_t m;
    int rc = drop_member(self, id, key, &m);
    if (rc == 0)
        mesh_store_publish(self, id, event, key, m.name, m.address);
    return rc;
}

int mesh_store_undo_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32])
{
    mesh_member_t m;
    int rc = drop_member(self, id, key, &m);
    return rc == -1 ? -1 : 0;
}

// ---- revocations ----

int mesh_store_revoke(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], const uint8_t *revocation,
                      size_t len)
{
    mesh_info_t mesh;
    int rc = mesh_store_get(self, id, &mesh);
    if (rc != 0)
        return rc;
    char key_hex[65], rev_hex[2 * 256 + 1], revoked[64];
    if (len > 256)
        return MESH_STORE_BAD;
    hex_of(key, 32, key_hex, sizeof key_hex);
    hex_of(revocation, len, rev_hex, sizeof rev_hex);
    snprintf(revoked, sizeof revoked, "hub:net:%s:revoked", mesh.id_hex);
    if (store_exec(self->store, "HSET %s %s %s", revoked, key_hex, rev_hex) != 0 ||
        expire_with(self, &mesh, revoked) != 0)
        return -1;
    return 0;
}

int mesh_store_is_revoked(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32])
{
    return member_flag(self, "HEXISTS hub:net:%s:revoked %s", id, key);
}

int mesh_store_revocations(mesh_store_t *self, const uint8_t id[16], uint8_t *out, size_t rev_len, size_t max)
{
    char id_hex[33];
    hex_of(id, 16, id_hex, sizeof id_hex);
    redisReply *r = store_command(self->store, "HVALS hub:net:%s:revoked", id_hex);
    if (!r)
        return -1;
    size_t count = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && count < max; i++) {
        size_t got = 0;
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING &&
            sodium_hex2bin(out + count * rev_len, rev_len, e->str, e->len, NULL, &got, NULL) == 0 && got == rev_len)
            count++;
    }
    int rc = r->type == REDIS_REPLY_ARRAY ? (int)count : -1;
    freeReplyObject(r);
    return rc;
}

// ---- subnet routes a member may advertise ----

bool mesh_store_prefix_valid(const char *text, char out[MESH_STORE_PREFIX_LEN])
{
    uint32_t addr;
    int len;
    if (!text || ipv4_prefix_from_text(text, &addr, &len) != 0)
        return false;
    char a[16];
    ipv4_to_text(addr, a);
    snprintf(out, MESH_STORE_PREFIX_LEN, "%s/%d", a, len);
    return true;
}

// The set's element for key and a prefix already checked: "<key hex> <prefix>".
static void allowance(const uint8_t key[32], const char *prefix, char out[65 + MESH_STORE_PREFIX_LEN])
{
    char key_hex[65];
    hex_of(key, 32, key_hex, sizeof key_hex);
    snprintf(out, 65 + MESH_STORE_PREFIX_LEN, "%s %s", key_hex, prefix);
}

static int by_key_then_prefix(const void *a, const void *b)
{
    const mesh_route_allow_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, 32);
    return c ? c : strcmp(x->prefix, y->prefix);
}

int mesh_store_routes_list(mesh_store_t *self, const char *mesh, mesh_route_allow_t *out, size_t max)
{
    redisReply *r = store_command(self->store, "SMEMBERS hub:routes:%s", mesh);
    if (!r)
        return -1;
    size_t count = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && count < max; i++) {
        const redisReply *e = r->element[i];
        char key_hex[65];
        if (e->type != REDIS_REPLY_STRING || e->len < 66 || e->str[64] != ' ')
            continue;
        memcpy(key_hex, e->str, 64);
        key_hex[64] = '\0';
        if (id_from_hex(key_hex, out[count].key) != 0 || !mesh_store_prefix_valid(e->str + 65, out[count].prefix))
            continue;  // not written by this module: ignored
        count++;
    }
    int rc = r->type == REDIS_REPLY_ARRAY ? (int)count : -1;
    freeReplyObject(r);
    if (rc > 0)
        qsort(out, count, sizeof *out, by_key_then_prefix);
    return rc;
}

int mesh_store_routes_allow(mesh_store_t *self, const char *mesh, const uint8_t key[32], const char *prefix,
                            uint64_t expires)
{
    char canon[MESH_STORE_PREFIX_LEN], member[65 + MESH_STORE_PREFIX_LEN];
    if (!mesh_store_prefix_valid(prefix, canon))
        return MESH_STORE_BAD;
    allowance(key, canon, member);
    mesh_route_allow_t *all = calloc(MESH_STORE_MAX_ALLOWANCES, sizeof *all);
    int n = all ? mesh_store_routes_list(self, mesh, all, MESH_STORE_MAX_ALLOWANCES) : -1;
    size_t mine = 0;
    bool already = false;
    for (int i = 0; i < n; i++) {
        if (memcmp(all[i].key, key, 32) != 0)
            continue;
        mine++;
        already = already || strcmp(all[i].prefix, canon) == 0;
    }
    free(all);
    if (n < 0)
        return -1;
    if (already)
        return 0;
    if (mine >= MESH_STORE_MAX_ROUTES || n >= MESH_STORE_MAX_ALLOWANCES)
        return MESH_STORE_FULL;
    if (store_exec(self->store, "SADD hub:routes:%s %s", mesh, member) != 0 ||
        store_exec(self->store, "SET hub:routes:%s:changed 1 EX 60", mesh) != 0)
        return -1;
    if (expires && store_exec(self->store, "EXPIREAT hub:routes:%s %llu", mesh, (unsigned long long)expires) != 0)
        return -1;
    return 0;
}

int mesh_store_routes_deny(mesh_store_t *self, const char *mesh, const uint8_t key[32], const char *prefix)
{
    char canon[MESH_STORE_PREFIX_LEN], member[65 + MESH_STORE_PREFIX_LEN];
    if (!mesh_store_prefix_valid(prefix, canon))
        return MESH_STORE_BAD;
    allowance(key, canon, member);
    redisReply *r = store_command(self->store, "SREM hub:routes:%s %s", mesh, member);
    if (!r)
        return -1;
    int rc = r->type != REDIS_REPLY_INTEGER ? -1 : r->integer == 1 ? 0 : MESH_STORE_NOT_FOUND;
    freeReplyObject(r);
    if (rc == 0 && store_exec(self->store, "SET hub:routes:%s:changed 1 EX 60", mesh) != 0)
        return -1;
    return rc;
}

int mesh_store_routes_take_change(mesh_store_t *self, const char *mesh)
{
    redisReply *r = store_command(self->store, "DEL hub:routes:%s:changed", mesh);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_INTEGER ? (r->integer > 0) : -1;
    freeReplyObject(r);
    return rc;
}

int mesh_store_routes_forget(mesh_store_t *self, const char *mesh, const uint8_t key[32])
{
    mesh_route_allow_t *all = calloc(MESH_STORE_MAX_ALLOWANCES, sizeof *all);
    int n = all ? mesh_store_routes_list(self, mesh, all, MESH_STORE_MAX_ALLOWANCES) : -1;
    int rc = n < 0 ? -1 : 0;
    for (int i = 0; i < n && rc == 0; i++)
        if (memcmp(all[i].key, key, 32) == 0)
            rc = mesh_store_routes_deny(self, mesh, key, all[i].prefix) == -1 ? -1 : 0;
    free(all);
    return rc;
}

// ---- invites ----

int mesh_store_invite_register(mesh_store_t *self, const uint8_t id[16], const uint8_t nonce[16],
                               uint32_t max_uses, uint64_t expires)
{
    mesh_info_t mesh;
    int rc = mesh_store_get(self, id, &mesh);
    if (rc != 0)
        return rc;
    if (mesh.expires && (expires == 0 || expires > mesh.expires))
        expires = mesh.expires;  // an invite never outlives its room
    char nonce_hex[33], key[64];
    hex_of(nonce, 16, nonce_hex, sizeof nonce_hex);
    snprintf(key, sizeof key, "hub:invite:%s", nonce_hex);
    if (store_exec(self->store, "HSET %s mesh %s uses %u expires %llu", key, mesh.id_hex, max_uses,
                   (unsigned long long)expires) != 0 ||
        store_exec(self->store, "EXPIREAT %s %llu", key, (unsigned long long)expires) != 0)
        return -1;
    return 0;
}

// KEYS[1] invite hash, ARGV[1] mesh id: -2 unknown or other mesh, 0 used up, 1 taken
static const char *take_use_script =
    "if redis.call('HGET', KEYS[1], 'mesh') ~= ARGV[1] then return -2 end "
    "local uses = tonumber(redis.call('HGET', KEYS[1], 'uses') or '0') "
    "if uses <= 0 then return 0 end "
    "redis.call('HINCRBY', KEYS[1], 'uses', -1) return 1";

int mesh_store_invite_use(mesh_store_t *self, const uint8_t id[16], const uint8_t nonce[16])
{
    char id_hex[33], nonce_hex[33];
    hex_of(id, 16, id_hex, sizeof id_hex);
    hex_of(nonce, 16, nonce_hex, sizeof nonce_hex);
    redisReply *r = store_command(self->store, "EVAL %s 1 hub:invite:%s %s", take_use_script, nonce_hex, id_hex);
    if (!r)
        return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_INTEGER)
        rc = r->integer == 1 ? 0 : r->integer == 0 ? MESH_STORE_USED_UP : MESH_STORE_NOT_FOUND;
    else
        log_warn("invite use script failed: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return rc;
}

int mesh_store_invite_give_back(mesh_store_t *self, const uint8_t nonce[16])
{
    char nonce_hex[33];
    hex_of(nonce, 16, nonce_hex, sizeof nonce_hex);
    // only if the invite still exists (HINCRBY would create a use-counter without a mesh)
    static const char *script = "if redis.call('EXISTS', KEYS[1]) == 1 then "
                                "redis.call('HINCRBY', KEYS[1], 'uses', 1) end return 1";
    return store_exec(self->store, "EVAL %s 1 hub:invite:%s", script, nonce_hex);
}
