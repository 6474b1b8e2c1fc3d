// cmd_status.c — `weft status`, `weft peers` and `weft id`: read the node. What they show is gathered and
// written as JSON by lib/node_view.c, the same code the node's HTTP API (weft-api) answers with; this
// file adds only the command line and the text tables.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "identity.h"
#include "json.h"
#include "mesh_home.h"
#include "node_view.h"
#include "store.h"
#include "wire.h"

typedef struct {
    const char *home;
    bool json;
} read_options_t;

static int parse_read_options(int argc, char **argv, read_options_t *o, const char *usage)
{
    static struct option options[] = {{"home", required_argument, 0, 'H'},
                                      {"json", no_argument, 0, 'j'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hj", options, NULL)) != -1) {
        switch (opt) {
        case 'H': o->home = optarg; break;
        case 'j': o->json = true; break;
        case 'h': fputs(usage, stdout); return 1;
        default: fputs(usage, stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft: unexpected argument '%s'\n%s", argv[optind], usage);
        return -1;
    }
    return 0;
}

static const char status_usage[] =
    "usage: weft status [--home DIR] [--mesh NAME] [--json]\n"
    "Shows the node (id, overlay address, hub, and why the hub refuses it if it does) and each service:\n"
    "pid, uptime, state, and what last went wrong (restarts and the last error in its log since `weft up`).\n"
    "A node in several meshes shows each (--json: an array of them), or only --mesh NAME.\n"
    "Exit status 0 when every service answers, 1 otherwise.\n";

// The hub's state in words: why it refuses us, or what "unreachable" may mean.
static void hub_words(const node_status_t *st, char *out, size_t out_len)
{
    if (st->hub_refused[0])
        snprintf(out, out_len, "refused: %s", st->hub_refused);
    else if (strcmp(st->hub_state, "unreachable") == 0)
        snprintf(out, out_len, "unreachable: no answer (is the hub running and reachable, and is hub.public_key "
                 "the key `weft hub key` prints?)");
    else
        snprintf(out, out_len, "%s", st->hub_state);
}

static void print_status(const weft_config_t *cfg, const node_status_t *st)
{
    char hub[400];
    hub_words(st, hub, sizeof hub);
    printf("node      %s  (%s)\nid        %s\nmesh      %s  overlay %s/%d\nhub       %s  (%s)\n"
           "supervisor %s\n\n",
           cfg->name, st->fingerprint, st->id, cfg->mesh, cfg->overlay_addr, cfg->overlay_prefix, cfg->hub_endpoint,
           hub, st->supervisor_pid ? "running" : "not running here (services may run elsewhere, e.g. in containers)");
    printf("%-10s %-8s %-10s %s\n", "SERVICE", "PID", "UPTIME", "STATE");
    for (int s = 0; s < SVC_COUNT; s++) {
        const node_service_t *svc = &st->services[s];
        if (svc->up) {
            char uptime[32];
            snprintf(uptime, sizeof uptime, "%llus", (unsigned long long)(svc->uptime_ms / 1000));
            printf("%-10s %-8u %-10s %s\n", svc->name, svc->pid, uptime, svc->detail);
        } else {
            printf("%-10s %-8s %-10s %s\n", svc->name, "-", "-", "not answering");
        }
    }
    bool header = false;
    for (int s = 0; s < SVC_COUNT; s++) {
        const node_service_t *svc = &st->services[s];
        if (!svc->restarts && !svc->last_error[0])
            continue;
        if (!header)
            printf("\nwhat went wrong since `weft up` (logs in %s/):\n", cfg->log_dir);
        header = true;
        printf("  %-10s restarted %u time%s; last error: %s\n", svc->name, svc->restarts,
               svc->restarts == 1 ? "" : "s", svc->last_error[0] ? svc->last_error : "none in its log");
    }
}

int cmd_status(int argc, char **argv)
{
    read_options_t o;
    int rc = parse_read_options(argc, argv, &o, status_usage);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    weft_config_t cfg;
    if (load_node_config(o.home, &cfg) != 0)
        return EXIT_FAIL;
    zsys_init();
    zsys_set_logstream(NULL);
    char url[PATH_MAX], err[512];
    config_redis_url(&cfg, url, sizeof url);
    // services may run without this supervisor (containers, weft-node by hand): always ask them
    store_t *store = store_connect(url, err, sizeof err);
    node_status_t *st = calloc(1, sizeof *st);
    if (!st) {
        store_destroy(&store);
        return EXIT_FAIL;
    }
    node_status_collect(&cfg, store, 1000, st);
    store_destroy(&store);
    if (o.json) {
        json_t j;
        json_init(&j, stdout);
        node_status_json(&cfg, st, &j);
        json_finish(&j);
    } else {
        print_status(&cfg, st);
    }
    int missing = st->missing;
    free(st);
    return missing ? EXIT_FAIL : EXIT_OK;
}

int cmd_status_all(int argc, char **argv)
{
    const char *home_opt = NULL;
    bool json = false, chosen = false;
    for (int i = 1; i < argc; i++) {
        chosen |= strcmp(argv[i], "--mesh") == 0 || strncmp(argv[i], "--mesh=", 7) == 0 ||
                  strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        json |= strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0;
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home_opt = argv[i + 1];
        else if (strncmp(argv[i], "--home=", 7) == 0)
            home_opt = argv[i] + 7;
    }
    char home[PATH_MAX], yaml[PATH_MAX + 16];
    config_resolve_home(home_opt, home, sizeof home);
    snprintf(yaml, sizeof yaml, "%s/weft.yaml", home);
    mesh_local_name_t names[MESH_HOME_MAX];
    int count = mesh_home_list(home, names, MESH_HOME_MAX);
    bool legacy = access(yaml, F_OK) == 0;
    if (chosen || count + legacy <= 1)
        return mesh_home_dispatch("status", argc, argv, cmd_status);
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args)
        return EXIT_FAIL;
    for (int i = 0; i < argc; i++)
        args[i] = argv[i];
    args[argc] = "--home";  // the last --home wins with getopt
    int rc = EXIT_OK;
    if (json)
        printf("[\n");
    for (int i = legacy ? -1 : 0; i < count; i++) {
        char dir[PATH_MAX];
        if (i < 0)
            snprintf(dir, sizeof dir, "%s", home);
        else
            mesh_home_instance(home, names[i], dir, sizeof dir);
        args[argc + 1] = dir;
        bool first = i == (legacy ? -1 : 0);
        const char *name = i < 0 ? "(this home)" : names[i];
        if (json && !first)
            printf(",\n");
        else if (!json)
            printf("%s== mesh %s ==\n", first ? "" : "\n", name);
        weft_config_t cfg;
        char err[600];
        if (config_load(&cfg, dir, err, sizeof err) != 0) {  // the others are still shown
            fprintf(stderr, "weft status: mesh %s: %s\n", name, err);
            if (json) {
                json_t j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_string(&j, "home", dir);
                json_string(&j, "error", err);
                json_object_end(&j);
                json_finish(&j);
            }
            rc = EXIT_FAIL;
            continue;
        }
        fflush(stdout);
        int one = cmd_status(argc + 2, args);
        fflush(stdout);
        if (one != EXIT_OK)
            rc = one;
    }
    if (json)
        printf("]\n");
    free(args);
    return rc;
}

static const char peers_usage[] =
    "usage: weft peers [--home DIR] [--mesh NAME] [--json]\n"
    "Lists the mesh's other members: name, overlay address, fingerprint, how each is reached\n"
    "(direct or relay, local/remote candidate types, addresses, round-trip time), the encrypted session,\n"
    "bytes each way, the last connection error (a server that failed, a path that died), and which\n"
    "members were verified with `weft verify`. --mesh NAME: which mesh, on a node in several.\n";

int cmd_peers(int argc, char **argv)
{
    read_options_t o;
    int rc = parse_read_options(argc, argv, &o, peers_usage);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    weft_config_t cfg;
    if (load_node_config(o.home, &cfg) != 0)
        return EXIT_FAIL;
    char url[PATH_MAX], err[512];
    config_redis_url(&cfg, url, sizeof url);
    store_t *store = store_connect(url, err, sizeof err);
    if (!store) {
        fprintf(stderr, "weft peers: %s (is the node up? `weft up`)\n", err);
        return EXIT_FAIL;
    }
    node_peer_t *peers = NULL;
    int count = node_peers_collect(store, &peers);
    store_destroy(&store);
    if (count < 0) {
        fprintf(stderr, "weft peers: Redis at %s did not answer (is the node up? `weft up`)\n", url);
        return EXIT_FAIL;
    }
    if (o.json) {
        json_t j;
        json_init(&j, stdout);
        node_peers_json(peers, count, &j);
        json_finish(&j);
    } else {
        printf("%-12s %-15s %-19s %-10s %-6s %-11s %-21s %-21s %6s %-11s %10s %10s\n", "NAME", "OVERLAY",
               "FINGERPRINT", "PATH", "VIA", "CANDIDATES", "LOCAL", "REMOTE", "RTT", "SESSION", "RX", "TX");
        for (int i = 0; i < count; i++) {
            const node_peer_t *p = &peers[i];
            char cands[40], rtt[16];
            snprintf(cands, sizeof cands, "%s/%s", p->local_type[0] ? p->local_type : "-",
                     p->remote_type[0] ? p->remote_type : "-");
            if (p->rtt_ms >= 0)
                snprintf(rtt, sizeof rtt, "%lldms", (long long)p->rtt_ms);
            else
                snprintf(rtt, sizeof rtt, "-");
            printf("%-12s %-15s %-19s %-10s %-6s %-11s %-21s %-21s %6s %-11s %10llu %10llu\n", p->name,
                   p->overlay_addr, p->fingerprint, p->path_state, p->connection[0] ? p->connection : "-", cands,
                   p->local_addr[0] ? p->local_addr : "-", p->remote_addr[0] ? p->remote_addr : "-", rtt,
                   p->session_state, (unsigned long long)p->session_rx_bytes,
                   (unsigned long long)p->session_tx_bytes);
        }
        for (int i = 0; i < count; i++) {
            const node_peer_t *p = &peers[i];
            if (p->verified)
                printf("%s: verified (its short authentication string was confirmed with `weft verify`)\n", p->name);
            if (p->server[0])
                printf("%s: via server %s\n", p->name, p->server);
            if (p->last_error[0])
                printf("%s: last error: %s\n", p->name, p->last_error);
        }
        if (count == 0)
            printf("(no other members yet: is the hub reachable? see `weft status`)\n");
    }
    free(peers);
    return EXIT_OK;
}

static const char id_usage[] = "usage: weft id [--home DIR] [--json]\nPrints this node's id and fingerprint.\n";

int cmd_id(int argc, char **argv)
{
    read_options_t o;
    int rc = parse_read_options(argc, argv, &o, id_usage);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    weft_config_t cfg;
    char err[512];
    if (config_load(&cfg, o.home, err, sizeof err) != 0) {
        fprintf(stderr, "weft id: %s\n", err);
        return EXIT_FAIL;
    }
    identity_t id;
    if (identity_load(cfg.identity_file, &id, err, sizeof err) != 0) {
        fprintf(stderr, "weft id: %s\n", err);
        return EXIT_FAIL;
    }
    char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN];
    id_to_hex(id.public_key, hex);
    id_fingerprint(id.public_key, fp);
    identity_wipe(&id);
    if (o.json) {
        json_t j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_string(&j, "id", hex);
        json_string(&j, "fingerprint", fp);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("%s  %s\n", fp, hex);
    }
    return EXIT_OK;
}
