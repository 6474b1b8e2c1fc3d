// cmd_mesh.c — `weft mesh create|invite|join|members|kick|routes|list|leave`: meshes with an admin, invite codes and
// membership certificates (docs/membership.md). Each mesh the node is in is an instance directory under
// <home>/meshes/ (mesh_home.h) that `weft up` runs. Here: each command's usage and arguments; what they
// do is mesh_ops.c.
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "commands.h"
#include "hub_proto.h"
#include "identity.h"
#include "invite.h"
#include "json.h"
#include "mesh_home.h"
#include "mesh_ops.h"

static void mesh_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh COMMAND [options]   (weft mesh COMMAND --help for each)\n"
            "Meshes with an admin: members join with an invite code and hold a certificate the admin signed.\n"
            "A node can be in several meshes at once, one TUN device each (<home>/meshes/NAME/).\n\n"
            "commands:\n"
            "  create   create a mesh on a hub; this node becomes its admin\n"
            "  invite   print an invite code for the mesh (admin only)\n"
            "  join     join a mesh with an invite code\n"
            "  members  everyone in the mesh, offline members and kicked keys included (the hub's roster)\n"
            "  kick     remove a member; every member cuts it off at once (admin only)\n"
            "  routes   which subnets each member may advertise: allow, deny (admin only), list\n"
            "  list     the meshes this node is in\n"
            "  leave    leave a mesh and remove it from this node\n");
}

// ---- shared helpers ----

#define JSON_HELP "  --json              the result as one JSON object on stdout (errors: stderr, exit 1)\n"

static bool is_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

// ---- create ----

static void create_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh create --name NAME --hub HOST:PORT --hub-key KEY [--cidr CIDR] [--no-psk] [options]\n"
            "Creates a mesh on the hub; this node becomes its admin (it signs members' certificates, so keep it\n"
            "up while people join). Writes <home>/meshes/NAME/ and this node's certificate; `weft up` starts it.\n\n"
            "  --name NAME         the mesh's name, 1..63 of A-Z a-z 0-9 . _ -\n"
            "  --hub HOST:PORT     the hub (also tcp://HOST:PORT)\n"
            "  --hub-key KEY       the hub's public key, 64 hex characters (`weft hub key`; the older 40-character\n"
            "                      form works too); or set WEFT_HUB_KEY\n"
            "  --cidr CIDR         the overlay network (default 10.100.0.0/16); the admin gets its first address.\n"
            "                      It must not overlap another mesh of this node (their routes would collide)\n"
            "  --no-psk            no network key (by default the mesh also gets a random one, sealed to each\n"
            "                      joiner, so a stranger needs both a certificate and the key); --psk: the default\n"
            "  --node-name NAME    this node's name in the mesh (default: the hostname)\n"
            JSON_HELP
            "  --home DIR          node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help          this help\n");
}

static int mesh_create(int argc, char **argv)
{
    static struct option options[] = {{"name", required_argument, 0, 'n'}, {"hub", required_argument, 0, 'u'},
                                      {"hub-key", required_argument, 0, 'k'}, {"cidr", required_argument, 0, 'c'},
                                      {"psk", no_argument, 0, 'p'},          {"node-name", required_argument, 0, 'N'},
                                      {"no-psk", no_argument, 0, 'P'},       {"json", no_argument, 0, 'j'},
                                      {"home", required_argument, 0, 'H'},   {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *name = NULL, *hub = NULL, *hub_key = getenv("WEFT_HUB_KEY"), *cidr = "10.100.0.0/16",
               *node_name = NULL, *home = NULL;
    bool psk = true, as_json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': name = optarg; break;
        case 'u': hub = optarg; break;
        case 'k': hub_key = optarg; break;
        case 'c': cidr = optarg; break;
        case 'p': psk = true; break;
        case 'P': psk = false; break;
        case 'j': as_json = true; break;
        case 'N': node_name = optarg; break;
        case 'H': home = optarg; break;
        case 'h': create_usage(stdout); return EXIT_OK;
        default: create_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc || !name) {
        fprintf(stderr, optind < argc ? "weft mesh create: unexpected argument '%s'\n"
                                      : "weft mesh create: --name NAME is required\n", argv[optind]);
        create_usage(stderr);
        return EXIT_USAGE;
    }
    if (node_name && !hub_valid_name(node_name)) {
        fprintf(stderr, "weft mesh create: --node-name must be at most 63 printable characters\n");
        return EXIT_USAGE;
    }
    return mesh_op_create(home, name, cidr, hub, hub_key, psk, 0, node_name, "mesh create", as_json);
}

// ---- invite ----

static void invite_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh invite [--mesh NAME] [--hours H | --seconds S] [--uses N] [--json] [--home DIR]\n"
            "Prints an invite code (one line, on stdout) for the mesh. Only its admin can invite; the code is\n"
            "signed by this node and registered with the hub, which counts its uses.\n\n"
            "  --mesh NAME     which mesh (default: the only one)\n"
            "  --hours H       how long the code is valid (default 24, at most 720)\n"
            "  --seconds S     the same in seconds, for short-lived codes\n"
            "  --uses N        how many members may join with it (default 1, at most 1000)\n"
            "  --json          {\"mesh\",\"id\",\"code\",\"expires\",\"uses\"} on stdout instead of the bare code\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int mesh_invite(int argc, char **argv)
{
    static struct option options[] = {{"mesh", required_argument, 0, 'm'}, {"hours", required_argument, 0, 'o'},
                                      {"uses", required_argument, 0, 'u'}, {"home", required_argument, 0, 'H'},
                                      {"seconds", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
                                      {"json", no_argument, 0, 'j'},          {0, 0, 0, 0}};
    const char *mesh = NULL, *home = NULL;
    unsigned long hours = 24, uses = 1, seconds = 0;
    bool as_json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mesh = optarg; break;
        case 'o':
            if (parse_uint(optarg, 1, 720, &hours) != 0) {
                fprintf(stderr, "weft mesh invite: --hours must be a whole number of hours, 1..720\n");
                return EXIT_USAGE;
            }
            break;
        case 'u':
            if (parse_uint(optarg, 1, 1000, &uses) != 0) {
                fprintf(stderr, "weft mesh invite: --uses must be 1..1000\n");
                return EXIT_USAGE;
            }
            break;
        case 's':
            if (parse_uint(optarg, 1, 720 * 3600, &seconds) != 0) {
                fprintf(stderr, "weft mesh invite: --seconds must be 1..2592000\n");
                return EXIT_USAGE;
            }
            break;
        case 'H': home = optarg; break;
        case 'j': as_json = true; break;
        case 'h': invite_usage(stdout); return EXIT_OK;
        default: invite_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft mesh invite: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    uint64_t valid_s = seconds ? seconds : hours * 3600;
    return mesh_op_invite(home, mesh, valid_s, (unsigned)uses, "mesh invite", as_json);
}

// ---- join ----

static void join_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh join CODE [--as NAME] [--node-name NAME] [--json] [--home DIR]\n"
            "Joins a mesh with an invite code from its admin (`weft mesh invite`). The code is checked here first\n"
            "(typos, signature, expiry), then the hub checks its uses and the admin's node signs this node's\n"
            "certificate. Writes <home>/meshes/NAME/; `weft up` starts it.\n\n"
            "  CODE                the invite code, weft1-...\n"
            "  --as NAME           the local name for the mesh (default: the mesh's own name)\n"
            "  --node-name NAME    this node's name in the mesh (default: the hostname)\n"
            JSON_HELP
            "  --home DIR          node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help          this help\n");
}

static int mesh_join(int argc, char **argv)
{
    static struct option options[] = {{"as", required_argument, 0, 'a'}, {"node-name", required_argument, 0, 'N'},
                                      {"home", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'},
                                      {"json", no_argument, 0, 'j'},       {0, 0, 0, 0}};
    const char *local = NULL, *node_name = NULL, *home_opt = NULL;
    bool as_json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': local = optarg; break;
        case 'N': node_name = optarg; break;
        case 'H': home_opt = optarg; break;
        case 'j': as_json = true; break;
        case 'h': join_usage(stdout); return EXIT_OK;
        default: join_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "weft mesh join: give exactly one invite code\n");
        join_usage(stderr);
        return EXIT_USAGE;
    }
    return mesh_op_join(home_opt, argv[optind], local, node_name, as_json);
}

// ---- kick ----

// The options kick, members and list share: --mesh NAME (when with_mesh), --json, --home DIR, --help.
// Returns -1 when the command goes on (optind at its first operand), else its exit code: help printed, or
// a usage error.
typedef struct {
    const char *mesh, *home;
    bool as_json;
} mesh_opts_t;

static int parse_mesh_opts(int argc, char **argv, bool with_mesh, void (*usage)(FILE *), mesh_opts_t *out)
{
    static struct option options[] = {{"mesh", required_argument, 0, 'm'}, {"home", required_argument, 0, 'H'},
                                      {"json", no_argument, 0, 'j'},       {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    *out = (mesh_opts_t){0};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", with_mesh ? options : options + 1, NULL)) != -1) {
        switch (opt) {
        case 'm': out->mesh = optarg; break;
        case 'H': out->home = optarg; break;
        case 'j': out->as_json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    return -1;
}

static void kick_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh kick MEMBER [--mesh NAME] [--json] [--home DIR]\n"
            "Removes a member (admin only): this node signs a revocation, the hub drops the member and pushes the\n"
            "revocation to every member, whose nodes cut it off at once and refuse it from then on.\n\n"
            "  MEMBER          its node id (64 hex), fingerprint (xxxx-xxxx-xxxx-xxxx) or name, online or not;\n"
            "                  fingerprints and names are looked up in the running node's member list, else in\n"
            "                  the hub's roster (`weft mesh members`)\n"
            "  --mesh NAME     which mesh (default: the only one)\n"
            "  --json          {\"mesh\",\"id\",\"fingerprint\",\"revoked_at\",\"message\"} on stdout\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int mesh_kick(int argc, char **argv)
{
    mesh_opts_t o;
    int rc = parse_mesh_opts(argc, argv, true, kick_usage, &o);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1) {
        fprintf(stderr, "weft mesh kick: name exactly one MEMBER\n");
        kick_usage(stderr);
        return EXIT_USAGE;
    }
    return mesh_op_kick(o.home, o.mesh, argv[optind], o.as_json);
}

// ---- routes ----

static void routes_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh routes allow MEMBER PREFIX [--mesh NAME] [--json] [--home DIR]\n"
            "       weft mesh routes deny MEMBER PREFIX [--mesh NAME] [--json] [--home DIR]\n"
            "       weft mesh routes list [--mesh NAME] [--json] [--home DIR]\n"
            "Which subnets each member may advertise behind it (routing.advertise, `weft up --advertise-routes`).\n"
            "Members accept a member's subnet route only when the admin allowed that prefix for it; the hub tells\n"
            "every member at once. allow and deny: admin only; list: any member.\n\n"
            "  MEMBER          its node id (64 hex), fingerprint or name, as for `weft mesh kick`\n"
            "  PREFIX          an IPv4 prefix with no host bits past its length, like 192.168.50.0/24\n"
            "  --mesh NAME     which mesh (default: the only one)\n"
            "  --json          allow/deny: {\"mesh\",\"id\",\"fingerprint\",\"prefix\",\"allowed\",\"message\"};\n"
            "                  list: an array of {\"name\",\"fingerprint\",\"id\",\"prefixes\"}\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int mesh_routes(int argc, char **argv)
{
    mesh_opts_t o;
    int rc = parse_mesh_opts(argc, argv, true, routes_usage, &o);
    if (rc >= 0)
        return rc;
    int left = argc - optind;
    const char *verb = left > 0 ? argv[optind] : "";
    if (strcmp(verb, "list") == 0 && left == 1)
        return mesh_op_routes(o.home, o.mesh, verb, NULL, NULL, o.as_json);
    if ((strcmp(verb, "allow") == 0 || strcmp(verb, "deny") == 0) && left == 3)
        return mesh_op_routes(o.home, o.mesh, verb, argv[optind + 1], argv[optind + 2], o.as_json);
    fprintf(stderr, "weft mesh routes: say allow MEMBER PREFIX, deny MEMBER PREFIX, or list\n");
    routes_usage(stderr);
    return EXIT_USAGE;
}

// ---- members ----

static void members_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh members [--mesh NAME] [--json] [--home DIR]\n"
            "Everyone in the mesh, from the hub's roster: members that are offline and keys the admin kicked\n"
            "included. NAME, FINGERPRINT, overlay ADDRESS, STATE (online, offline, revoked), LAST SEEN at the hub,\n"
            "VERIFIED (on this node, with `weft verify`) and the node ID (64 hex). Any member can list it.\n\n"
            "  --mesh NAME     which mesh (default: the only one)\n"
            "  --json          one JSON array: name, fingerprint, id, address, online, last_seen_ms (unix ms,\n"
            "                  0 never), joined_ms, verified, revoked, admin, self\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int mesh_members(int argc, char **argv)
{
    mesh_opts_t o;
    int rc = parse_mesh_opts(argc, argv, true, members_usage, &o);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "weft mesh members: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    return mesh_op_members(o.home, o.mesh, o.as_json);
}

// ---- list ----

static void list_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh list [--json] [--home DIR]\n"
            "The meshes this node is in: local name, mesh id, this node's address, role (admin, member, legacy),\n"
            "TUN device, whether it runs, when a room ends (ENDS; JSON expires, unix s, 0 never), and its hub.\n\n"
            "  --json          one JSON array\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int mesh_list(int argc, char **argv)
{
    mesh_opts_t o;
    int rc = parse_mesh_opts(argc, argv, false, list_usage, &o);
    if (rc >= 0)
        return rc;
    const char *home_opt = o.home;
    bool as_json = o.as_json;
    if (optind < argc) {
        fprintf(stderr, "weft mesh list: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    char home[PATH_MAX];
    config_resolve_home(home_opt, home, sizeof home);
    mesh_local_name_t names[MESH_HOME_MAX];
    int n = mesh_home_list(home, names, MESH_HOME_MAX);
    char legacy_yaml[PATH_MAX + 16];
    snprintf(legacy_yaml, sizeof legacy_yaml, "%s/weft.yaml", home);
    bool legacy = access(legacy_yaml, F_OK) == 0;
    char my_hex[ID_HEX_LEN] = "";
    identity_t id;
    char err[512], id_path[PATH_MAX + 16];
    snprintf(id_path, sizeof id_path, "%s/identity.key", home);
    if (identity_load(id_path, &id, err, sizeof err) == 0) {
        id_to_hex(id.public_key, my_hex);
        identity_wipe(&id);
    }
    json_t j;
    if (as_json) {
        json_init(&j, stdout);
        json_array_begin(&j, NULL);
    } else if (n == 0 && !legacy) {
        printf("this node is in no mesh: `weft mesh create` or `weft mesh join CODE`\n");
        return EXIT_OK;
    } else {
        printf("%-20s %-32s %-18s %-7s %-7s %-3s %-8s %s\n", "MESH", "ID", "ADDRESS", "ROLE", "DEVICE", "UP", "ENDS",
               "HUB");
    }
    for (int i = -1; i < n; i++) {
        char dir[PATH_MAX];
        if (i < 0 && !legacy)
            continue;
        if (i < 0)
            snprintf(dir, sizeof dir, "%s", home);
        else
            mesh_home_instance(home, names[i], dir, sizeof dir);
        weft_config_t cfg;
        if (config_load(&cfg, dir, err, sizeof err) != 0) {
            fprintf(stderr, "weft mesh list: %s\n", err);
            continue;
        }
        char pid_file[PATH_MAX + 16], address[80];
        snprintf(pid_file, sizeof pid_file, "%s/weft.pid", cfg.run_dir);
        bool up = running_pid(pid_file) != 0;
        snprintf(address, sizeof address, "%s/%d", cfg.overlay_addr, cfg.overlay_prefix);
        const char *role = !cfg.mesh_id[0] ? "legacy" : strcmp(cfg.mesh_admin_key, my_hex) == 0 ? "admin" : "member";
        const char *local = i < 0 ? "(this home)" : names[i];
        // a room's end is its certificates' expiry
        cert_t cert;
        uint64_t expires = cfg.mesh_id[0] && cert_load(cfg.certificate_file, &cert, err, sizeof err) == 0 ? cert.expires
                                                                                                         : 0;
        char ends[40] = "-";
        uint64_t now = (uint64_t)(zclock_time() / 1000);
        if (expires && expires <= now)
            snprintf(ends, sizeof ends, "expired");
        else if (expires)
            invite_format_duration(expires - now, ends, sizeof ends);
        if (as_json) {
            json_object_begin(&j, NULL);
            json_string(&j, "name", local);
            json_string(&j, "mesh", cfg.mesh);
            json_string(&j, "id", cfg.mesh_id);
            json_string(&j, "address", address);
            json_string(&j, "role", role);
            json_string(&j, "device", cfg.device_name);
            json_bool(&j, "running", up);
            json_string(&j, "hub", cfg.hub_endpoint);
            json_string(&j, "home", cfg.home);
            json_uint(&j, "expires", expires);
            json_object_end(&j);
        } else {
            printf("%-20s %-32s %-18s %-7s %-7s %-3s %-8s %s\n", local, cfg.mesh_id[0] ? cfg.mesh_id : "-", address,
                   role, cfg.device_name, up ? "yes" : "no", ends, cfg.hub_endpoint);
        }
    }
    if (as_json) {
        json_array_end(&j);
        json_finish(&j);
    }
    return EXIT_OK;
}

// ---- leave ----

static void leave_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh leave NAME [--force] [--home DIR]\n"
            "Leaves mesh NAME for good: stops it if it runs, tells the hub (which frees this node's address and\n"
            "tells the other members) and removes <home>/meshes/NAME/.\n\n"
            "  --force         remove it locally even if the hub cannot be told (unreachable, or this node is\n"
            "                  the admin: the mesh then has nobody to sign certificates)\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int mesh_leave(int argc, char **argv)
{
    static struct option options[] = {{"force", no_argument, 0, 'f'}, {"home", required_argument, 0, 'H'},
                                      {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *home_opt = NULL;
    bool force = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': force = true; break;
        case 'H': home_opt = optarg; break;
        case 'h': leave_usage(stdout); return EXIT_OK;
        default: leave_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "weft mesh leave: name exactly one mesh (`weft mesh list` shows them)\n");
        return EXIT_USAGE;
    }
    return mesh_op_leave(home_opt, argv[optind], force);
}

int cmd_mesh(int argc, char **argv)
{
    if (argc < 2) {
        mesh_usage(stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        mesh_usage(stdout);
        return EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
        void (*usage)(FILE *);
    } subs[] = {{"create", mesh_create, create_usage}, {"invite", mesh_invite, invite_usage},
                {"join", mesh_join, join_usage},       {"kick", mesh_kick, kick_usage},
                {"members", mesh_members, members_usage}, {"routes", mesh_routes, routes_usage},
                {"list", mesh_list, list_usage},       {"leave", mesh_leave, leave_usage}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(sub, subs[i].name) == 0) {
            if (is_help(argc - 1, argv + 1)) {
                subs[i].usage(stdout);
                return EXIT_OK;
            }
            return subs[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "weft mesh: unknown command '%s'\n\n", sub);
    mesh_usage(stderr);
    return EXIT_USAGE;
}
