// mesh_home.h — several meshes on one node: the home layout, its instances (finding, choosing, writing,
// removing) and how a node command runs on one of them or on each.
//
// Layout: <home>/identity.key is the node's one identity; each mesh is an instance directory
// <home>/meshes/<name>/ with its own weft.yaml (node.identity pointing at the shared key, its own TUN
// device weft0, weft1, ...), member.cert, run/ and log/, so `weft up --home <instance>` runs it like any
// node. A legacy home (`weft init --address ...`) has weft.yaml in <home> itself and no meshes/.
#ifndef WEFT_CLI_MESH_HOME_H
#define WEFT_CLI_MESH_HOME_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
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

// The instance directory <home>/meshes/<local> if it exists (a static buffer), else NULL.
const char *mesh_home_exists(const char *home, const char *local);
// The name of a mesh of this node whose overlay network overlaps network/prefix (their routes would
// collide on this node), or NULL.
const char *mesh_home_overlap(const char *home, uint32_t network, int prefix);
// Writes the instance <home>/meshes/<local>/: weft.yaml (its own TUN device and API port) and member.cert,
// and checks that weft.yaml loads back. Returns 0, or -1 with err and nothing left behind.
int mesh_home_write_instance(const char *home, const char *local, const char *node_name, const uint8_t mesh_id[16],
                             const uint8_t admin_key[32], const char *address, int prefix, const char *psk_hex,
                             const char *hub_endpoint, const char *hub_key, const cert_t *cert, char *err,
                             size_t err_len);

// How `weft` runs a node command (up, down, status, peers, id, ...): --mesh NAME picks that instance;
// without it a legacy home runs as before, the only mesh is used, and up/down run on every mesh (in a
// child process each); other commands on a node in several meshes ask for --mesh.
int mesh_home_dispatch(const char *cmd, int argc, char **argv, int (*run)(int, char **));

#endif
