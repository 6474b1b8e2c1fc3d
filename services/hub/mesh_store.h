// mesh_store.h — the hub's managed meshes in Redis: each mesh (name, CIDR, admin key, psk flag, room
// expiry), its roster of members (key, name, overlay address), address allocation (never the same address
// twice), the admin's revocations, invite use counters, and an event feed. The live presence of members
// (heartbeats, routing ids) stays in members.h; this is who is *allowed* in a mesh.
//
// Redis keys (docs/state.md; <id> = mesh id in hex, <key> = member's Ed25519 key in hex):
//   hub:nets                      set of mesh ids
//   hub:net:<id>                  hash {name, cidr, admin_key, psk (0/1), ttl_s, created_ms, expires}
//   hub:net:<id>:roster           set of member keys
//   hub:net:<id>:member:<key>     hash {name, address, joined_ms}
//   hub:net:<id>:addrs            hash address -> member key (HSETNX: the allocation is atomic)
//   hub:net:<id>:revoked          hash member key -> encoded revocation (hex)
//   hub:invite:<nonce hex>        hash {mesh, uses (left), expires}, EXPIREAT expires
//   hub:routes:<mesh>             set of "<key> <prefix>": the subnets the admin lets each member advertise
//                                 (`weft mesh routes allow`); <mesh> is the id in hex for a managed mesh, the
//                                 name for an open one; EXPIREAT with a room
//   hub:routes:<mesh>:changed     "1" after a change, until the hub's sweep takes it (EX 60)
// A room (ttl_s > 0) has EXPIREAT on every one of its keys, so it disappears by itself.
// Every change is PUBLISHed on hub:events:<id> as one JSON line:
//   {"event":"create|join|leave|kick|delete|change","mesh":"<id>","member":"<key>","name":..,
//    "address":..,"ts_ms":N}
// Safe to use from several processes on one Redis (allocation and invite uses are atomic).
#ifndef WEFT_HUB_MESH_STORE_H
#define WEFT_HUB_MESH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define MESH_STORE_MAX_MEMBERS 1024
#define MESH_STORE_MAX_NETS 1024

typedef struct {
    uint8_t id[16];
    char id_hex[33];
    char name[64];
    char cidr[32];                  // "10.100.0.0/16"
    uint8_t admin_key[32];
    bool psk_present;
    uint32_t ttl_s;                 // 0 = forever
    uint64_t created_ms;            // unix ms
    uint64_t expires;               // unix s; 0 = never
} mesh_info_t;

typedef struct {
    uint8_t key[32];
    char name[64];
    char address[16];               // overlay IPv4 address
    uint64_t joined_ms;             // unix ms
} mesh_member_t;

// Results besides 0 (ok) and -1 (Redis failed)
#define MESH_STORE_NOT_FOUND -2     // no such mesh / member / invite
#define MESH_STORE_FULL -3          // no free address left
#define MESH_STORE_TAKEN -4         // the asked-for address belongs to another member
#define MESH_STORE_USED_UP -5       // invite has no use left
#define MESH_STORE_BAD -6           // invalid argument (CIDR, address outside it, ...)

typedef struct mesh_store mesh_store_t;

mesh_store_t *mesh_store_new(store_t *store);
void mesh_store_destroy(mesh_store_t **self);

// --- meshes ---
// Creates a mesh with a fresh random id (out filled). cidr like "10.100.0.0/16"; ttl_s 0 = forever.
int mesh_store_create(mesh_store_t *self, const char *name, const char *cidr, const uint8_t admin_key[32],
                      bool psk_present, uint32_t ttl_s, mesh_info_t *out);
// 0 found (out filled), MESH_STORE_NOT_FOUND, or -1.
int mesh_store_get(mesh_store_t *self, const uint8_t id[16], mesh_info_t *out);
// Up to max meshes; returns the count or -1. Forgets ids of rooms that expired.
int mesh_store_list(mesh_store_t *self, mesh_info_t *out, size_t max);
// Deletes a mesh and all its keys. 0, MESH_STORE_NOT_FOUND or -1.
int mesh_store_delete(mesh_store_t *self, const uint8_t id[16]);

// --- members ---
// Adds key to the roster (or updates its name). address: a wanted address, or NULL/"" to allocate the
// lowest free one. out gets the member. 0, MESH_STORE_FULL, MESH_STORE_TAKEN, MESH_STORE_BAD,
// MESH_STORE_NOT_FOUND (mesh) or -1. A member already in the roster keeps its address.
int mesh_store_add_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], const char *name,
                          const char *address, mesh_member_t *out);
// 0 found, MESH_STORE_NOT_FOUND, or -1.
int mesh_store_get_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], mesh_member_t *out);
// 1 on the roster, 0 not, -1 Redis failed (one command: cheap enough for every member every second).
int mesh_store_is_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32]);
// Up to max members; returns the count or -1.
int mesh_store_list_members(mesh_store_t *self, const uint8_t id[16], mesh_member_t *out, size_t max);
// Removes a member and frees its address. event: "leave" or "kick" (published). 0, NOT_FOUND or -1.
int mesh_store_remove_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], const char *event);
// Frees an address allocated by add_member for a join that did not complete (no event). 0 or -1.
int mesh_store_undo_member(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32]);

// --- revocations ---
// Stores an encoded revocation of key (the caller checked its signature). 0 or -1.
int mesh_store_revoke(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32], const uint8_t *revocation,
                      size_t len);
// 1 revoked, 0 not, -1 Redis failed.
int mesh_store_is_revoked(mesh_store_t *self, const uint8_t id[16], const uint8_t key[32]);
// Encoded revocations of the mesh into out (each rev_len bytes); returns the count or -1.
int mesh_store_revocations(mesh_store_t *self, const uint8_t id[16], uint8_t *out, size_t rev_len, size_t max);

// --- invites ---
// Registers an invite nonce with max_uses uses until expires (unix s). 0, NOT_FOUND (mesh) or -1.
int mesh_store_invite_register(mesh_store_t *self, const uint8_t id[16], const uint8_t nonce[16],
                               uint32_t max_uses, uint64_t expires);
// Takes one use atomically. 0 taken, MESH_STORE_USED_UP, MESH_STORE_NOT_FOUND (never registered, expired,
// or registered for another mesh), or -1.
int mesh_store_invite_use(mesh_store_t *self, const uint8_t id[16], const uint8_t nonce[16]);
// Gives a use back (a join that failed after taking it). 0 or -1.
int mesh_store_invite_give_back(mesh_store_t *self, const uint8_t nonce[16]);

// --- subnet routes a member may advertise (the mesh admin's allow list) ---
// mesh: the mesh's wire name (id in hex for a managed mesh, the plain name of an open one).
#define MESH_STORE_MAX_ROUTES 64            // per member
#define MESH_STORE_MAX_ALLOWANCES 4096      // per mesh
#define MESH_STORE_PREFIX_LEN 19            // "255.255.255.255/32" and its NUL
typedef struct {
    uint8_t key[32];
    char prefix[MESH_STORE_PREFIX_LEN];     // canonical "a.b.c.d/len"
} mesh_route_allow_t;

// Canonical text of an IPv4 prefix "a.b.c.d/len" (no host bits past len): true and out filled, or false.
bool mesh_store_prefix_valid(const char *text, char out[MESH_STORE_PREFIX_LEN]);
// Lets key advertise prefix in mesh (expires: unix s of a room's end, 0 = never). 0 (also when it already
// was), MESH_STORE_BAD (not a prefix, or host bits set), MESH_STORE_FULL (MESH_STORE_MAX_ROUTES for key or
// MESH_STORE_MAX_ALLOWANCES for the mesh already) or -1.
int mesh_store_routes_allow(mesh_store_t *self, const char *mesh, const uint8_t key[32], const char *prefix,
                            uint64_t expires);
// Takes it back. 0, MESH_STORE_NOT_FOUND (was not allowed), MESH_STORE_BAD or -1.
int mesh_store_routes_deny(mesh_store_t *self, const char *mesh, const uint8_t key[32], const char *prefix);
// Every allowance of mesh (up to max, sorted by key then prefix); the count or -1.
int mesh_store_routes_list(mesh_store_t *self, const char *mesh, mesh_route_allow_t *out, size_t max);
// Did the allow list of mesh change (by any process: the hub, its HTTP API) since the last call? 1 yes (the
// mark is taken), 0 no, -1 Redis failed. The hub's sweep pushes the mesh's PeerList on a change.
int mesh_store_routes_take_change(mesh_store_t *self, const char *mesh);
// Drops every allowance of key (a member that left or was kicked). 0 or -1.
int mesh_store_routes_forget(mesh_store_t *self, const char *mesh, const uint8_t key[32]);

// --- events ---
// Publishes {"event":event,"mesh":..,"member":..,"name":..,"address":..,"ts_ms":..} on hub:events:<id>.
// member may be NULL. 0 or -1.
int mesh_store_publish(mesh_store_t *self, const uint8_t id[16], const char *event, const uint8_t *member,
                       const char *name, const char *address);

#endif
