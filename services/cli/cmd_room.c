// cmd_room.c — `weft room open NAME`: a throwaway mesh (a "room") that disappears by itself. It is a mesh
// created with a TTL: the hub EXPIREs every key of it, and of its invites, after --ttl seconds. Prints an
// invite code for several people at once.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hub_proto.h"
#include "mesh_ops.h"

static void room_usage(FILE *out)
{
    fprintf(out,
            "usage: weft room open NAME [--ttl SECONDS] [--uses N] --hub HOST:PORT --hub-key KEY [options]\n"
            "Opens a room: a mesh that expires by itself on the hub after --ttl seconds (its members, invites\n"
            "and addresses go with it). This node is its admin; the invite code it prints (stdout) is valid\n"
            "for the room's lifetime. Others join with `weft mesh join CODE`; `weft mesh leave NAME --force`\n"
            "removes it from this node.\n\n"
            "  NAME                the room's name, 1..63 of A-Z a-z 0-9 . _ -\n"
            "  --ttl SECONDS       lifetime (default 3600, at most 2592000 = 30 days)\n"
            "  --uses N            how many people may join with the code (default 10)\n"
            "  --hub HOST:PORT     the hub (also tcp://HOST:PORT)\n"
            "  --hub-key KEY       the hub's public key (`weft hub key`); or set WEFT_HUB_KEY\n"
            "  --cidr CIDR         the overlay network (default 10.100.0.0/16; not overlapping this node's\n"
            "                      other meshes)\n"
            "  --psk               also protect it with a random network key\n"
            "  --node-name NAME    this node's name in the room (default: the hostname)\n"
            "  --home DIR          node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help          this help\n");
}

int cmd_room(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        room_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "open") != 0) {
        fprintf(stderr, "weft room: unknown command '%s' (only `weft room open NAME`)\n", argv[1]);
        return EXIT_USAGE;
    }
    argc--;
    argv++;
    static struct option options[] = {{"ttl", required_argument, 0, 't'},      {"uses", required_argument, 0, 'u'},
                                      {"hub", required_argument, 0, 'b'},      {"hub-key", required_argument, 0, 'k'},
                                      {"cidr", required_argument, 0, 'c'},     {"psk", no_argument, 0, 'p'},
                                      {"node-name", required_argument, 0, 'N'}, {"home", required_argument, 0, 'H'},
                                      {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *hub = NULL, *hub_key = getenv("WEFT_HUB_KEY"), *cidr = "10.100.0.0/16", *node_name = NULL,
               *home = NULL;
    unsigned long ttl = 3600, uses = 10;
    bool psk = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 't':
            if (parse_uint(optarg, 10, HUB_ROOM_MAX_TTL, &ttl) != 0) {
                fprintf(stderr, "weft room open: --ttl must be 10..%d seconds\n", HUB_ROOM_MAX_TTL);
                return EXIT_USAGE;
            }
            break;
        case 'u':
            if (parse_uint(optarg, 1, 1000, &uses) != 0) {
                fprintf(stderr, "weft room open: --uses must be 1..1000\n");
                return EXIT_USAGE;
            }
            break;
        case 'b': hub = optarg; break;
        case 'k': hub_key = optarg; break;
        case 'c': cidr = optarg; break;
        case 'p': psk = true; break;
        case 'N': node_name = optarg; break;
        case 'H': home = optarg; break;
        case 'h': room_usage(stdout); return EXIT_OK;
        default: room_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "weft room open: give the room's NAME\n");
        room_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (node_name && !hub_valid_name(node_name)) {
        fprintf(stderr, "weft room open: --node-name must be at most 63 printable characters\n");
        return EXIT_USAGE;
    }
    int rc = mesh_op_create(home, name, cidr, hub, hub_key, psk, (uint32_t)ttl, node_name, "room open", false);
    if (rc != EXIT_OK)
        return rc;
    return mesh_op_invite(home, name, ttl, (unsigned)uses, "room open", false);
}
