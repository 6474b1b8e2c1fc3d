// commands.h — the `weft` CLI's subcommands, one function each, and what they share.
#ifndef WEFT_COMMANDS_H
#define WEFT_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

// Exit codes (docs/cli.md): 0 ok, 1 failure, 2 usage error.
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

int cmd_init(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_status_all(int argc, char **argv);  // every mesh of the home, or as cmd_status with --mesh
int cmd_version(int argc, char **argv);
int cmd_peers(int argc, char **argv);
int cmd_routes(int argc, char **argv);   // cmd_status.c
int cmd_id(int argc, char **argv);
int cmd_hub(int argc, char **argv);
int cmd_mesh(int argc, char **argv);    // cmd_mesh.c: create, invite, join, kick, list, leave
int cmd_room(int argc, char **argv);    // cmd_room.c
int cmd_verify(int argc, char **argv);  // cmd_verify.c
int cmd_network(int argc, char **argv);
int cmd_config(int argc, char **argv);

// Path of a sibling program (weft-device, ...) next to this executable, or its bare name for $PATH.
void program_path(const char *name, char *out, size_t out_len);
// Loads the node's config, printing the error. Returns 0 or -1.
int load_node_config(const char *home, weft_config_t *cfg);
// Reads a pid file; returns the pid if that process is alive, else 0.
int running_pid(const char *pid_file);
// A whole decimal number min..max (no sign) into *out. Returns 0 or -1.
int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out);

#endif
