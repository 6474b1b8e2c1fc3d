// hub_mesh.h — the hub's membership requests (docs/membership.md): CreateMesh, RegisterInvite, Join (with
// the CertRequest to an online admin and its CertIssued answer), Kick, LeaveMesh and ListMembers (the
// roster with who is online, last seen and revoked keys, for members of the mesh), on top of the
// roster in mesh_store.h; and the admission check Register uses for managed meshes (named by their id in
// hex). Joins waiting for an admin's signature are held here, in memory, for JOIN_TIMEOUT_MS.
#ifndef WEFT_HUB_MESH_H
#define WEFT_HUB_MESH_H

#include "hub_actor.h"
#include "hub_proto.h"
#include "members.h"
#include "mesh_store.h"

#define HUB_MESH_JOIN_TIMEOUT_MS 10000
#define HUB_MESH_MAX_PENDING 64
#define HUB_MESH_MAX_REVOKED 256

typedef struct hub_mesh hub_mesh_t;

// What the handlers need from the hub actor: its reply channel and a way to push PeerLists.
typedef void(hub_push_fn)(void *ctx, const char *mesh);

hub_mesh_t *hub_mesh_new(store_t *store, members_t *members, service_t *stats, hub_send_fn *send, void *send_ctx,
                         hub_push_fn *push, void *push_ctx);
void hub_mesh_destroy(hub_mesh_t **self);

// CreateMesh quotas: per creator key and per peer address, per hour (defaults when < 1).
void hub_mesh_set_create_quota(hub_mesh_t *self, int per_key, int per_address);

// One of the membership requests (hub_request_parse checked its fields). peer: the connection's address.
void hub_mesh_handle(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id, const char *peer,
                     const Weft__HubRequest *req);

// Is `mesh` a managed mesh (32 hex chars)? Then may id register in it with overlay_addr? Returns true
// (also for unmanaged meshes), or false with *code and why set for the error reply.
bool hub_mesh_admit(hub_mesh_t *self, const char *mesh, const uint8_t id[32], const char *overlay_addr,
                    Weft__HubError__Code *code, char *why, size_t why_len);

// The revocations to put in a PeerList of `mesh` (none for unmanaged meshes): fills list->revoked, valid
// until the next call.
void hub_mesh_fill_revoked(hub_mesh_t *self, const char *mesh, Weft__PeerList *list);

// For a managed mesh: live members (live[0..n)) that are no longer allowed in it - removed from the
// roster by any process (the HTTP API, a kick, a leave), revoked, or the mesh deleted or expired - are
// dropped from the live table and told why; live is compacted. Returns how many were dropped (the
// caller pushes the new PeerList). Called by the sweep, so such changes reach members within a second.
size_t hub_mesh_prune(hub_mesh_t *self, const char *mesh, member_t *live, size_t n);

// Joins whose admin did not answer in time get an error and their use and address back. Every second.
void hub_mesh_tick(hub_mesh_t *self);

// The subnet routes each member of `mesh` (id in hex, or an open mesh's name) may advertise: load once,
// then ask per member; *out (NULL when none) is valid until the next load.
void hub_mesh_load_routes(hub_mesh_t *self, const char *mesh);
size_t hub_mesh_routes_of(hub_mesh_t *self, const uint8_t key[32], char ***out);
// Did mesh's allow list change since the last call (the HTTP API writes it from another thread)? The sweep
// then pushes the PeerList.
bool hub_mesh_routes_changed(hub_mesh_t *self, const char *mesh);

bool hub_mesh_is_managed(const char *mesh, uint8_t id[16]);

// Is this Ed25519 id the key of the connection? The CURVE handshake proved the client holds the secret
// for user_id (ZAP's User-Id: the Z85 of the client's X25519 public key).
bool hub_is_connection_key(const uint8_t id[32], const char *user_id);

#endif
