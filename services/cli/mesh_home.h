// mesh_home.h — several meshes on one node: the home layout and the CLI's own connection to a hub.
//
// Layout: <home>/identity.key is the node's one identity; each mesh is an instance directory
// <home>/meshes/<name>/ with its own weft.yaml (node.identity pointing at the shared key, its own TUN
// device weft0, weft1, ...), member.cert, run/ and log/, so `weft up --home <instance>` runs it like any
// node. A legacy home (`weft init --address ...`) has weft.yaml in <home> itself and no meshes/.
#ifndef WEFT_CLI_MESH_HOME_H
#define WEFT_CLI_MESH_HOME_H

#include <stddef.h>

#include "hub.pb-c.h"
#include "identity.h"

#define MESH_HOME_MAX 32

typedef char mesh_local_name_t[64];

// <home>/meshes/<name>
void mesh_home_instance(const char *home, const char *name, char *out, size_t out_len);
// The instance names under <home>/meshes (those with a weft.yaml), sorted. Returns the count.
int mesh_home_list(const char *home, mesh_local_name_t *names, int max);
// Which home a command works on: --mesh NAME's instance; else <home> itself if it has weft.yaml; else the
// only instance. Returns 0 (out filled) or -1 with err naming the meshes to choose from.
int mesh_home_select(const char *home, const char *mesh, char *out, size_t out_len, char *err, size_t err_len);
// A TUN device name no other instance (or the legacy home) of this home uses: weft0, weft1, ...
void mesh_home_free_device(const char *home, char *out, size_t out_len);
// Loads <home>/identity.key, creating it if there is none. Returns 0 or -1 with err.
int mesh_home_identity(const char *home, identity_t *id, char *err, size_t err_len);
// Removes a directory tree. Returns 0 or -1.
int mesh_home_remove_tree(const char *path);

// "host:port" or "tcp://host:port" -> "tcp://host:port". Returns 0 or -1 with err.
int hub_endpoint_normalise(const char *in, char *out, size_t out_len, char *err, size_t err_len);

// A CURVE DEALER to a hub under this node's identity (the hub knows us by that key).
typedef struct hub_client hub_client_t;
hub_client_t *hub_client_new(const char *endpoint, const char *hub_key_z85, const identity_t *id, char *err,
                             size_t err_len);
void hub_client_destroy(hub_client_t **self);
// Sends req and waits up to timeout_ms for the answer. Returns the reply (a HubError is a reply too; free
// with weft__hub_reply__free_unpacked) or NULL with err ("no answer from the hub ... is the key right?").
Weft__HubReply *hub_client_call(hub_client_t *self, const Weft__HubRequest *req, int timeout_ms, char *err,
                                size_t err_len);

// How `weft` runs a node command (up, down, status, peers, id, ...): --mesh NAME picks that instance;
// without it a legacy home runs as before, the only mesh is used, and up/down run on every mesh (in a
// child process each); other commands on a node in several meshes ask for --mesh.
int mesh_home_dispatch(const char *cmd, int argc, char **argv, int (*run)(int, char **));

// ---- mesh operations shared by `weft mesh` and `weft room` (cmd_mesh.c); each prints its own errors
// as "weft <cmd>: ..." and returns an exit code.
#include "config.h"
#include <stdbool.h>
#include <stdint.h>
// Creates a mesh (a room when ttl_s > 0) on the hub with this node as admin and writes its instance.
int mesh_op_create(const char *home_opt, const char *name, const char *cidr, const char *hub, const char *hub_key,
                   bool psk, uint32_t ttl_s, const char *node_name, const char *cmd);
// Prints an invite code for the instance (--mesh NAME or the only one), valid valid_s seconds, uses uses.
int mesh_op_invite(const char *home_opt, const char *mesh, uint64_t valid_s, unsigned uses, const char *cmd);
// A member's key from a hex id, or a fingerprint or name in the node's member list (weft:peers).
int mesh_resolve_member(const weft_config_t *cfg, const char *member, uint8_t key[32], char *err, size_t err_len);

#endif
