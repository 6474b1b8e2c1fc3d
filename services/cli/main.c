// main.c — `weft`, the command-line tool: dispatches to one subcommand.
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "mesh_home.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"init", cmd_init, "create this node's identity and weft.yaml"},
    {"up", cmd_up, "start the node: redis and every service, restarted if they die"},
    {"down", cmd_down, "stop the node"},
    {"status", cmd_status, "show the node and each service's state"},
    {"peers", cmd_peers, "list the mesh's other members and how each is reached"},
    {"routes", cmd_routes, "list the router's routes: destination, via which member, hops, metric"},
    {"id", cmd_id, "print this node's id and fingerprint"},
    {"hub", cmd_hub, "run a hub (rendezvous server), or print its key"},
    {"network", cmd_network, "probe this machine's NAT with STUN: public address, NAT type, advice"},
    {"config", cmd_config, "check a weft.yaml (keys, types, ranges, ${VAR}s)"},
    {"mesh", cmd_mesh, "meshes with an admin: create, invite, join, kick, list, leave"},
    {"room", cmd_room, "open a room: a mesh that expires by itself"},
    {"verify", cmd_verify, "compare a short code with a member to verify its key"},
    {"version", cmd_version, "print weft's version and how it was built"},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: weft COMMAND [options]   (weft COMMAND --help for each)\n\n"
                 "weft joins this machine to a peer-to-peer encrypted virtual LAN.\n\ncommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nEvery command takes --home DIR (default $WEFT_HOME, else ~/.weft).\n"
                 "Exit codes: 0 ok, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);  // a Redis or socket that goes away is an error to report, not a signal
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(argc - 1, argv + 1);
    if (strcmp(argv[1], "status") == 0)  // every mesh of a home, not only one
        return cmd_status_all(argc - 1, argv + 1);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return mesh_home_dispatch(commands[i].name, argc - 1, argv + 1, commands[i].run);  // --mesh
    fprintf(stderr, "weft: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
