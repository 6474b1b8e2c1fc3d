// mesh_ops.h — what `weft mesh` and `weft room` do to a mesh once their arguments are read: create it
// (this node its admin), invite, join, list its members (the hub's roster), kick a member, allow or deny a member's subnet routes,
// leave. Each asks the hub one question over
// lib/hub_client (under the node's identity) and writes or removes the instance directory (mesh_home.h).
//
// Each prints its own errors as "weft <cmd>: ..." and returns an exit code (EXIT_OK, EXIT_FAIL, EXIT_USAGE).
// as_json: the result is one JSON object (members: an array) on stdout and the prose goes to stderr.
#ifndef WEFT_CLI_MESH_OPS_H
#define WEFT_CLI_MESH_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "hub.pb-c.h"
#include "identity.h"

// Creates a mesh (a room when ttl_s > 0) on the hub with this node as admin and writes its instance.
int mesh_op_create(const char *home_opt, const char *name, const char *cidr, const char *hub, const char *hub_key,
                   bool psk, uint32_t ttl_s, const char *node_name, const char *cmd, bool as_json);
// Prints an invite code for the instance (--mesh NAME or the only one), valid valid_s seconds, uses uses.
int mesh_op_invite(const char *home_opt, const char *mesh, uint64_t valid_s, unsigned uses, const char *cmd,
                   bool as_json);
// Joins with an invite code in three steps: check the code here, ask its hub (the admin's node signs this
// node's certificate), install the instance <home>/meshes/<local> (local NULL: the mesh's own name).
int mesh_op_join(const char *home_opt, const char *code, const char *local, const char *node_name, bool as_json);
// Prints everyone in the instance's mesh from the hub's roster, offline members and revoked keys included
// (name, fingerprint, id, address, online/offline/revoked, last seen, verified here with `weft verify`).
int mesh_op_members(const char *home_opt, const char *mesh, bool as_json);
// Kicks member (a hex id, fingerprint or name, online or not) out of the instance's mesh (admin only).
int mesh_op_kick(const char *home_opt, const char *mesh, const char *member, bool as_json);
// `weft mesh routes VERB`: "allow"/"deny" lets member (as for kick) advertise prefix, or takes it back (admin
// only); "list" prints every member's allowed prefixes (from the roster; any member may). member and prefix
// are NULL for list.
int mesh_op_routes(const char *home_opt, const char *mesh, const char *verb, const char *member, const char *prefix,
                   bool as_json);
// Leaves mesh name: stops it, tells the hub (unless this node is its admin), removes the instance.
int mesh_op_leave(const char *home_opt, const char *name, bool force);

// A member's key from a hex id, or a fingerprint or name: in the running node's member list (weft:peers),
// else in the hub's roster (members that are offline too). Returns 0, or -1 with err.
int mesh_resolve_member(const weft_config_t *cfg, const char *member, uint8_t key[32], char *err, size_t err_len);
// Asks the instance's hub for its mesh's roster (ListMembers, as id). Returns a reply with member_list
// (free with weft__hub_reply__free_unpacked), or NULL with err.
Weft__HubReply *mesh_roster_fetch(const weft_config_t *cfg, const identity_t *id, char *err, size_t err_len);

#endif
