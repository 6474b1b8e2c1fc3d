// members.h — the hub's membership table, kept in Redis so that a restarted hub carries on:
//   hub:member:<mesh>:<hex id>  hash {name, overlay_addr, routing_id (hex), last_seen_ms}, EXPIRE timeout
//   hub:mesh:<mesh>:members     set of hex ids (swept of expired members every second)
//   hub:meshes                  set of mesh names with members (what the sweep walks)
//   hub:routing:<hex routing>   string <mesh>, EXPIRE timeout: which mesh a connection registered in
//   hub:bind:<mesh>:<address>   string <hex id>, EXPIRE MEMBERS_BIND_TTL_S (refreshed by each Register):
//                               in an open mesh, an overlay address stays with the key that first held it
//   hub:seen:<mesh>             hash <hex id> -> "<last_seen_ms> <name>", EXPIRE MEMBERS_BIND_TTL_S (refreshed
//                               by each Register): when a member was last online, kept after it goes away
//                               (the roster's "last seen", `weft mesh members`)
#ifndef WEFT_HUB_MEMBERS_H
#define WEFT_HUB_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define MEMBERS_MAX_PER_MESH 1024
#define MEMBERS_MAX_MESHES 1024
#define MEMBERS_ROUTING_MAX 255       // a ZeroMQ routing id is 1..255 bytes
#define MEMBERS_BIND_TTL_S (30 * 86400) // an address binding outlives its holder's absence by 30 days

typedef struct {
    uint8_t id[32];
    char name[64];
    char overlay_addr[64];
    uint8_t routing_id[MEMBERS_ROUTING_MAX];
    size_t routing_id_len;
    uint64_t last_seen_ms;          // unix ms
} member_t;

typedef char mesh_name_t[64];

typedef struct members members_t;

members_t *members_new(store_t *store, int timeout_s);
void members_destroy(members_t **self);

// Loads up to max live members of mesh. Ids in the set whose hash has expired are removed from the set
// and counted in *expired. Returns the count, or -1 if Redis failed.
int members_load(members_t *self, const char *mesh, member_t *out, size_t max, size_t *expired);
// Writes (or refreshes) a member and its expiry. Returns 0 or -1.
int members_put(members_t *self, const char *mesh, const member_t *m);
// When id was last registered in mesh: 1 (*ms and name filled; name may be NULL), 0 never (or longer ago
// than MEMBERS_BIND_TTL_S), -1 Redis failed.
int members_last_seen(members_t *self, const char *mesh, const uint8_t id[32], uint64_t *ms, char name[64]);
// Removes a member now. Returns 0 or -1.
int members_remove(members_t *self, const char *mesh, const uint8_t id[32]);
// The mesh a routing id registered in: 1 found (mesh filled), 0 not, -1 Redis failed.
int members_mesh_of(members_t *self, const uint8_t *routing_id, size_t len, mesh_name_t mesh);
// Mesh names with members. Returns the count or -1.
int members_meshes(members_t *self, mesh_name_t *out, size_t max);
// Drops a mesh that has no members left from hub:meshes.
int members_forget_mesh(members_t *self, const char *mesh);
// Who holds address in an open mesh: 1 = id holds it (binding refreshed), 0 = nobody (not bound now),
// MEMBERS_BOUND_ELSEWHERE = another key (owner filled when not NULL), -1 = Redis failed.
#define MEMBERS_BOUND_ELSEWHERE -2
int members_binding(members_t *self, const char *mesh, const char *address, const uint8_t id[32],
                    uint8_t owner[32]);
// Binds address to id when nobody holds it: 1 bound, MEMBERS_BOUND_ELSEWHERE (someone was quicker), -1.
int members_bind(members_t *self, const char *mesh, const char *address, const uint8_t id[32]);

#endif
