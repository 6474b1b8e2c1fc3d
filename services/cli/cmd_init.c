// cmd_init.c — `weft init`: the node's identity (Ed25519 key file, mode 0600) and its weft.yaml.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "hub_key.h"
#include "identity.h"

static void init_usage(FILE *out)
{
    fprintf(out,
            "usage: weft init [--home DIR] --address A.B.C.D/P --hub ENDPOINT --hub-key KEY [options]\n"
            "Creates the node's identity (identity.key, mode 0600) and weft.yaml in its home.\n\n"
            "  --home DIR          node home (default $WEFT_HOME, else ~/.weft)\n"
            "  --name NAME         this node's name in the mesh (default: the hostname)\n"
            "  --mesh NAME         mesh to join (default: default)\n"
            "  --address A/P       overlay address and prefix, e.g. 10.100.0.2/16\n"
            "  --hub ENDPOINT      hub endpoint, e.g. tcp://192.0.2.10:7400\n"
            "  --hub-key KEY       the hub's public key (64 hex characters, printed by `weft hub key`)\n"
            "  --network-key HEX   optional mesh-wide pre-shared key, 64 hex characters\n"
            "  --stun HOST:PORT    a STUN server (repeatable)\n"
            "  --turn URL          a TURN server, turn://user:pass@host:port (repeatable)\n"
            "  --redis URL         use this Redis (redis://host:port or unix:///path) instead of a local one\n"
            "  --device NAME       TUN device name (default weft0)\n"
            "  --mtu N             device MTU (default 1400)\n"
            "  --force             rewrite an existing weft.yaml (the identity is never replaced)\n"
            "  -h, --help          this help\n");
}

int cmd_init(int argc, char **argv)
{
    static struct option options[] = {
        {"home", required_argument, 0, 'H'},  {"name", required_argument, 0, 'n'},
        {"mesh", required_argument, 0, 'm'},  {"address", required_argument, 0, 'a'},
        {"hub", required_argument, 0, 'u'},   {"hub-key", required_argument, 0, 'k'},
        {"network-key", required_argument, 0, 'p'}, {"stun", required_argument, 0, 's'},
        {"turn", required_argument, 0, 't'},  {"redis", required_argument, 0, 'r'},
        {"device", required_argument, 0, 'd'}, {"mtu", required_argument, 0, 'M'},
        {"force", no_argument, 0, 'f'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *home = NULL;
    // collect as YAML text so the same parser (and its error messages) checks everything
    char yaml[8192];
    size_t n = 0;
    char node[512] = "", mesh[1024] = "", hub[1024] = "", device[256] = "", nat_stun[2048] = "",
         nat_turn[2048] = "", redis[512] = "";
    bool force = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *dst = NULL;
        size_t cap = 0;
        const char *fmt = NULL;
        switch (opt) {
        case 'H': home = optarg; continue;
        case 'f': force = true; continue;
        case 'h': init_usage(stdout); return EXIT_OK;
        case 'n': dst = node, cap = sizeof node, fmt = "  name: \"%s\"\n"; break;
        case 'm': dst = mesh, cap = sizeof mesh, fmt = "  name: \"%s\"\n"; break;
        case 'a': dst = mesh, cap = sizeof mesh, fmt = "  address: \"%s\"\n"; break;
        case 'p': dst = mesh, cap = sizeof mesh, fmt = "  network_key: \"%s\"\n"; break;
        case 'u': dst = hub, cap = sizeof hub, fmt = "  endpoint: \"%s\"\n"; break;
        case 'k': dst = hub, cap = sizeof hub, fmt = "  public_key: \"%s\"\n"; break;
        case 's': dst = nat_stun, cap = sizeof nat_stun, fmt = "    - \"%s\"\n"; break;
        case 't': dst = nat_turn, cap = sizeof nat_turn, fmt = "    - \"%s\"\n"; break;
        case 'r': dst = redis, cap = sizeof redis, fmt = "  url: \"%s\"\n"; break;
        case 'd': dst = device, cap = sizeof device, fmt = "  name: \"%s\"\n"; break;
        case 'M': dst = device, cap = sizeof device, fmt = "  mtu: %s\n"; break;
        default: init_usage(stderr); return EXIT_USAGE;
        }
        if (strpbrk(optarg, "\"\\\n")) {
            fprintf(stderr, "weft init: '%s': option values must not contain quotes, backslashes or newlines\n",
                    optarg);
            return EXIT_USAGE;
        }
        // values from the command line are literal: '$' is written '$$' so ${...} expansion (meant for
        // weft.yaml) leaves them alone - an old Z85 hub key may well contain "${"
        char literal[1024];
        size_t k = 0;
        for (const char *c = optarg; *c && k + 2 < sizeof literal; c++) {
            if (*c == '$')
                literal[k++] = '$';
            literal[k++] = *c;
        }
        literal[k] = '\0';
        size_t used = strlen(dst);
        snprintf(dst + used, cap - used, fmt, literal);
    }
    if (optind < argc) {
        fprintf(stderr, "weft init: unexpected argument '%s'\n", argv[optind]);
        init_usage(stderr);
        return EXIT_USAGE;
    }
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "node:\n%s", node);
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "mesh:\n%s", mesh);
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "hub:\n%s", hub);
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "device:\n%s", device);
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "nat:\n");
    if (nat_stun[0])
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "  stun_servers:\n%s", nat_stun);
    if (nat_turn[0])
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "  turn_servers:\n%s", nat_turn);
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "redis:\n%s", redis);

    weft_config_t cfg;
    config_defaults(&cfg, home);
    char err[512];
    if (config_parse(&cfg, yaml, strlen(yaml), "command line", err, sizeof err) != 0) {
        fprintf(stderr, "weft init: %s\n", err);
        return EXIT_USAGE;
    }
    if (!cfg.overlay_addr[0] || !cfg.hub_endpoint[0] || !cfg.hub_public_key[0]) {
        fprintf(stderr, "weft init: --address, --hub and --hub-key are required\n");
        init_usage(stderr);
        return EXIT_USAGE;
    }
    char key_hex[HUB_KEY_HEX_LEN];  // written in the shell-safe hex form, whichever form was given
    if (hub_key_normalise(cfg.hub_public_key, key_hex, err, sizeof err) != 0) {
        fprintf(stderr, "weft init: --hub-key: %s\n", err);
        return EXIT_USAGE;
    }
    snprintf(cfg.hub_public_key, sizeof cfg.hub_public_key, "%s", key_hex);
    if (cfg.network_key[0] && strlen(cfg.network_key) != 64) {
        fprintf(stderr, "weft init: --network-key must be 64 hex characters (32 bytes)\n");
        return EXIT_USAGE;
    }
    if (strlen(cfg.run_dir) + 20 > 107) {
        fprintf(stderr, "weft init: home path too long for unix sockets (%zu chars); use a shorter --home\n",
                strlen(cfg.home));
        return EXIT_USAGE;
    }
    if (mkdir(cfg.home, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "weft init: cannot create %s: %s\n", cfg.home, strerror(errno));
        return EXIT_FAIL;
    }
    if (access(cfg.config_file, F_OK) == 0 && !force) {
        fprintf(stderr, "weft init: %s exists; use --force to rewrite it\n", cfg.config_file);
        return EXIT_FAIL;
    }
    identity_t id;
    if (access(cfg.identity_file, F_OK) == 0) {
        if (identity_load(cfg.identity_file, &id, err, sizeof err) != 0) {
            fprintf(stderr, "weft init: %s\n", err);
            return EXIT_FAIL;
        }
    } else if (identity_create(cfg.identity_file, &id, err, sizeof err) != 0) {
        fprintf(stderr, "weft init: %s\n", err);
        return EXIT_FAIL;
    }
    if (config_save(&cfg, cfg.config_file) != 0) {
        fprintf(stderr, "weft init: cannot write %s: %s\n", cfg.config_file, strerror(errno));
        identity_wipe(&id);
        return EXIT_FAIL;
    }
    char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN];
    id_to_hex(id.public_key, hex);
    id_fingerprint(id.public_key, fp);
    identity_wipe(&id);
    printf("initialised %s\n  node id     %s\n  fingerprint %s\n  overlay     %s/%d in mesh %s\n"
           "Next: weft up%s%s\n",
           cfg.home, hex, fp, cfg.overlay_addr, cfg.overlay_prefix, cfg.mesh, home ? " --home " : "",
           home ? home : "");
    // docs/membership.md, "Hub admission": a plain-name mesh is open; say what that means
    fprintf(stderr, "note: mesh %s has no admin (an open mesh): a hub admits it only when run with --open "
                    "(hub.open_meshes)%s; `weft mesh create` makes a mesh with certificates instead\n", cfg.mesh,
            cfg.network_key[0] ? "" : ", and without --network-key anyone with the hub's key and the mesh's name "
                                      "can join it");
    return EXIT_OK;
}
