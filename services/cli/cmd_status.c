// cmd_status.c — `weft status`, `weft peers`, `weft routes` and `weft id`: read the node. What they show is gathered and
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
    bool wide;   // `weft peers --wide`
} read_options_t;

// --home, --json, --help, and --wide when wide_ok (peers only).
static int parse_read_options(int argc, char **argv, read_options_t *o, const char *usage, bool wide_ok)
{
    struct option options[] = {{"home", required_argument, 0, 'H'},
                               {"json", no_argument, 0, 'j'},
                               {"help", no_argument, 0, 'h'},
                               {"wide", no_argument, 0, 'w'},
                               {0, 0, 0, 0}};
    if (!wide_ok)
        options[3] = (struct option){0, 0, 0, 0};
    memset(o, 0, sizeof *o);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hj", options, NULL)) != -1) {
        switch (opt) {
        case 'H': o->home = optarg; break;
        case 'j': o->json = true; break;
        case 'w': o->wide = true; break;
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
    int rc = parse_read_options(argc, argv, &o, status_usage, false);
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
    "usage: weft peers [--home DIR] [--mesh NAME] [--wide] [--json]\n"
    "Lists the mesh's other members, one line each: name, overlay address, the path in use (direct udp,\n"
    "direct tcp, relay turn, relay via MEMBER when the router sends its packets through another member,\n"
    "or why there is none), round-trip time (for a relayed member: the route's latency), bytes in and\n"
    "out of the encrypted session, and when its last handshake was. A path change shows within a second.\n"
    "`weft routes` shows every route, with its hops and metric.\n"
    "  --wide   also fingerprint, ICE state, candidate types and addresses of the pair, session state,\n"
    "           the session's transport cipher, the STUN/TURN server behind our candidate, the last\n"
    "           connection error and which members were verified with `weft verify`\n"
    "  --json   every field (docs/api.md, GET /api/v1/peers)\n"
    "--mesh NAME: which mesh, on a node in several.\n";

static bool peer_usable(const node_peer_t *p)
{
    return strcmp(p->path_state, "connected") == 0 || strcmp(p->path_state, "ready") == 0;
}

// The path in use, in words: the router's relay through another member wins (packets go there).
static void path_words(const node_peer_t *p, char *out, size_t len)
{
    if (p->next_hop[0])
        snprintf(out, len, "relay via %.16s", p->next_hop_name[0] ? p->next_hop_name : p->next_hop);
    else if (peer_usable(p) && strcmp(p->connection, "relay") == 0)
        snprintf(out, len, "relay turn");
    else if (peer_usable(p))
        snprintf(out, len, "direct%s%s", p->transport[0] ? " " : "", p->transport);
    else if (strcmp(p->path_state, "none") == 0)
        snprintf(out, len, "no path");
    else
        snprintf(out, len, "%s", p->path_state);   // gathering, connecting, failed
}

static void rtt_words(int64_t us, char *out, size_t len)
{
    if (us < 0)
        snprintf(out, len, "-");
    else if (us < 100)
        snprintf(out, len, "%.2f ms", (double)us / 1000.0);
    else if (us < 10000)
        snprintf(out, len, "%.1f ms", (double)us / 1000.0);
    else
        snprintf(out, len, "%lld ms", (long long)((us + 500) / 1000));
}

static void bytes_words(uint64_t bytes, char *out, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(out, len, "%llu B", (unsigned long long)bytes);
        return;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024.0;
        u++;
    }
    snprintf(out, len, v < 10.0 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void age_words(int64_t unix_ms, int64_t now_ms, char *out, size_t len)
{
    if (unix_ms <= 0) {
        snprintf(out, len, "never");
        return;
    }
    long long s = now_ms > unix_ms ? (now_ms - unix_ms) / 1000 : 0;
    if (s < 120)
        snprintf(out, len, "%llds ago", s);
    else if (s < 7200)
        snprintf(out, len, "%lldm ago", s / 60);
    else if (s < 172800)
        snprintf(out, len, "%lldh ago", s / 3600);
    else
        snprintf(out, len, "%lldd ago", s / 86400);
}

// The default view: one line per member, at most 96 columns (a longer name is cut, ending in '~').
static void print_peers_short(const node_peer_t *peers, int count)
{
    int64_t now = zclock_time();
    printf("%-14s %-15s %-22s %8s %9s %9s  %s\n", "NAME", "ADDRESS", "PATH", "RTT", "IN", "OUT", "HANDSHAKE");
    for (int i = 0; i < count; i++) {
        const node_peer_t *p = &peers[i];
        char name[16], path[40], rtt[16], in[16], out[16], age[24];
        snprintf(name, sizeof name, "%.14s", p->name);
        if (strlen(p->name) > 14)
            name[13] = '~';
        path_words(p, path, sizeof path);
        // nat's rtt is of its own path; through a hop, the route's latency (ms) is what packets see
        int64_t rtt_us = !p->next_hop[0] ? p->rtt_us : p->route_latency_ms ? (int64_t)p->route_latency_ms * 1000 : -1;
        rtt_words(rtt_us, rtt, sizeof rtt);
        bytes_words(p->session_rx_bytes, in, sizeof in);
        bytes_words(p->session_tx_bytes, out, sizeof out);
        age_words(p->last_handshake_ms, now, age, sizeof age);
        printf("%-14s %-15.15s %-22.22s %8s %9s %9s  %s\n", name, p->overlay_addr, path, rtt, in, out, age);
    }
    for (int i = 0; i < count; i++) {
        if (peers[i].verified)   // the one security mark a person acts on: in the short view too
            printf("%.14s: verified with `weft verify`\n", peers[i].name);
        if (!peer_usable(&peers[i]) && !peers[i].next_hop[0] && peers[i].last_error[0])
            printf("%.14s: %.80s%s\n", peers[i].name, peers[i].last_error, strlen(peers[i].last_error) > 80 ? "..." : "");
    }
}

// --wide: everything the node knows of each path, in one (long) line per member, then notes.
static void print_peers_wide(const node_peer_t *peers, int count)
{
    printf("%-12s %-15s %-19s %-10s %-6s %-5s %-11s %-21s %-21s %8s %-11s %10s %10s  %s\n", "NAME", "OVERLAY",
           "FINGERPRINT", "ICE", "CONN", "PROTO", "CANDIDATES", "LOCAL", "REMOTE", "RTT", "SESSION", "RX", "TX",
           "HANDSHAKE");
    int64_t now = zclock_time();
    for (int i = 0; i < count; i++) {
        const node_peer_t *p = &peers[i];
        char cands[40], rtt[16], age[24];
        snprintf(cands, sizeof cands, "%s/%s", p->local_type[0] ? p->local_type : "-",
                 p->remote_type[0] ? p->remote_type : "-");
        rtt_words(p->rtt_us, rtt, sizeof rtt);
        age_words(p->last_handshake_ms, now, age, sizeof age);
        printf("%-12s %-15s %-19s %-10s %-6s %-5s %-11s %-21s %-21s %8s %-11s %10llu %10llu  %s\n", p->name,
               p->overlay_addr, p->fingerprint, p->path_state, p->connection[0] ? p->connection : "-",
               p->transport[0] ? p->transport : "-", cands, p->local_addr[0] ? p->local_addr : "-",
               p->remote_addr[0] ? p->remote_addr : "-", rtt, p->session_state,
               (unsigned long long)p->session_rx_bytes, (unsigned long long)p->session_tx_bytes, age);
    }
    for (int i = 0; i < count; i++) {
        const node_peer_t *p = &peers[i];
        if (p->verified)
            printf("%s: verified (its short authentication string was confirmed with `weft verify`)\n", p->name);
        if (p->next_hop[0])
            printf("%s: packets go via member %s, %llu hops (router's route; the ICE path above is not in use)\n",
                   p->name, p->next_hop_name[0] ? p->next_hop_name : p->next_hop, (unsigned long long)p->route_hops);
        // the server is behind our candidate: on a direct path it only told us our public address
        if (p->server[0] && strcmp(p->local_type, "relay") == 0)
            printf("%s: relayed by TURN server %s\n", p->name, p->server);
        else if (p->server[0])
            printf("%s: our address on this path was learnt from STUN server %s (traffic goes direct)\n", p->name,
                   p->server);
        if (p->cipher[0])
            printf("%s: session encrypted with %s\n", p->name, p->cipher);
        if (p->last_error[0])
            printf("%s: last error: %s\n", p->name, p->last_error);
    }
}

// The node's Redis for `weft CMD`: NULL when it cannot be reached (said on stderr); url gets its address.
static store_t *connect_node_store(const char *cmd, const char *home, char *url, size_t url_len)
{
    weft_config_t cfg;
    if (load_node_config(home, &cfg) != 0)
        return NULL;
    char err[512];
    config_redis_url(&cfg, url, url_len);
    store_t *store = store_connect(url, err, sizeof err);
    if (!store)
        fprintf(stderr, "weft %s: %s (is the node up? `weft up`)\n", cmd, err);
    return store;
}

static int redis_did_not_answer(const char *cmd, const char *url)
{
    fprintf(stderr, "weft %s: Redis at %s did not answer (is the node up? `weft up`)\n", cmd, url);
    return EXIT_FAIL;
}

int cmd_peers(int argc, char **argv)
{
    read_options_t o;
    int rc = parse_read_options(argc, argv, &o, peers_usage, true);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    char url[PATH_MAX];
    store_t *store = connect_node_store("peers", o.home, url, sizeof url);
    if (!store)
        return EXIT_FAIL;
    node_peer_t *peers = NULL;
    int count = node_peers_collect(store, &peers);
    store_destroy(&store);
    if (count < 0)
        return redis_did_not_answer("peers", url);
    if (o.json) {
        json_t j;
        json_init(&j, stdout);
        node_peers_json(peers, count, &j);
        json_finish(&j);
    } else {
        if (o.wide)
            print_peers_wide(peers, count);
        else
            print_peers_short(peers, count);
        if (count == 0)
            printf("(no other members yet: is the hub reachable? see `weft status`)\n");
    }
    free(peers);
    return EXIT_OK;
}

static const char routes_usage[] =
    "usage: weft routes [--home DIR] [--mesh NAME] [--json]\n"
    "Lists the router's routes, one line each:\n"
    "  DESTINATION  the prefix: a member's overlay address (/32), or a subnet a member advertises\n"
    "  MEMBER       the member it leads to (the destination, or the subnet's owner)\n"
    "  VIA          direct, or the member packets are relayed through: NAME (first 8 hex of its id)\n"
    "  HOPS         1 direct, 2 through one member, ...\n"
    "  METRIC       latency in ms + 100 x hops: the lowest wins\n"
    "  LATENCY      the path's latency, as the router measured it\n"
    "  AGE          since an announcement or link report last confirmed the route\n"
    "  ORIGIN       member or subnet\n"
    "Subnet routes the node refused (not allowed by the mesh admin, or routing.accept_routes off) are\n"
    "listed after the table with the reason.\n"
    "  --json   every field (docs/api.md, GET /api/v1/routes)\n"
    "--mesh NAME: which mesh, on a node in several.\n";

// A route's VIA column: "direct", "NAME (fd324c88)", or "unknown (fd324c88)" for a hop not in the peer table.
static void via_words(const node_route_t *r, char *out, size_t len)
{
    if (r->direct)
        snprintf(out, len, "direct");
    else
        snprintf(out, len, "%.16s (%.8s)", r->next_hop_name[0] ? r->next_hop_name : "unknown", r->next_hop);
}

static void print_routes(const node_route_t *routes, int count)
{
    printf("%-18s %-14s %-25s %4s %7s %8s %6s  %s\n", "DESTINATION", "MEMBER", "VIA", "HOPS", "METRIC", "LATENCY",
           "AGE", "ORIGIN");
    int refused = 0;
    for (int i = 0; i < count; i++) {
        const node_route_t *r = &routes[i];
        if (strcmp(r->state, "active") != 0) {
            refused++;
            continue;
        }
        char member[20], via[40], latency[16], age[16];
        snprintf(member, sizeof member, "%.14s", r->peer_name[0] ? r->peer_name : r->peer);
        via_words(r, via, sizeof via);
        if (r->latency_ms)
            snprintf(latency, sizeof latency, "%llu ms", (unsigned long long)r->latency_ms);
        else
            snprintf(latency, sizeof latency, "-");
        if (r->age_s < 0)
            snprintf(age, sizeof age, "-");
        else if (r->age_s < 120)
            snprintf(age, sizeof age, "%llds", (long long)r->age_s);
        else
            snprintf(age, sizeof age, "%lldm", (long long)(r->age_s / 60));
        printf("%-18s %-14s %-25s %4llu %7llu %8s %6s  %s\n", r->destination, member, via,
               (unsigned long long)r->hops, (unsigned long long)r->metric, latency, age, r->origin);
    }
    if (refused)
        printf("\nrefused:\n");
    for (int i = 0; i < count; i++) {
        const node_route_t *r = &routes[i];
        if (strcmp(r->state, "active") != 0)
            printf("  %s from %.16s: %s\n", r->destination, r->peer_name[0] ? r->peer_name : r->peer,
                   r->why[0] ? r->why : "no reason given");
    }
}

int cmd_routes(int argc, char **argv)
{
    read_options_t o;
    int rc = parse_read_options(argc, argv, &o, routes_usage, false);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    char url[PATH_MAX];
    store_t *store = connect_node_store("routes", o.home, url, sizeof url);
    if (!store)
        return EXIT_FAIL;
    node_route_t *routes = NULL;
    int count = node_routes_collect(store, &routes);
    store_destroy(&store);
    if (count < 0)
        return redis_did_not_answer("routes", url);
    if (o.json) {
        json_t j;
        json_init(&j, stdout);
        node_routes_json(routes, count, &j);
        json_finish(&j);
    } else {
        print_routes(routes, count);
        if (count == 0)
            printf("(no routes yet: are other members up? see `weft peers`)\n");
    }
    free(routes);
    return EXIT_OK;
}

static const char id_usage[] = "usage: weft id [--home DIR] [--json]\nPrints this node's id and fingerprint.\n";

int cmd_id(int argc, char **argv)
{
    read_options_t o;
    int rc = parse_read_options(argc, argv, &o, id_usage, false);
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
