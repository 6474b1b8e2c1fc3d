// cmd_up.c — `weft up`, `weft down` and `weft hub`: start and stop a node's (or a hub's) processes
// under the supervisor, in the foreground or as a daemon.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"
#include "log.h"
#include "node_view.h"
#include "route_table.h"
#include "store.h"
#include "service_report.h"
#include "supervisor.h"
#include "up_checks.h"

void program_path(const char *name, char *out, size_t out_len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, out_len, "%s/%s", self, name);
            if (access(out, X_OK) == 0)
                return;
        }
    }
    snprintf(out, out_len, "%s", name);  // fall back to $PATH
}

int load_node_config(const char *home, weft_config_t *cfg)
{
    char err[512];
    if (config_load(cfg, home, err, sizeof err) != 0) {
        fprintf(stderr, "weft: %s\n", err);
        return -1;
    }
    if (access(cfg->config_file, R_OK) != 0) {
        fprintf(stderr, "weft: no %s: run `weft init` first\n", cfg->config_file);
        return -1;
    }
    return 0;
}

int running_pid(const char *pid_file)
{
    FILE *f = fopen(pid_file, "r");
    if (!f)
        return 0;
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid > 0 && kill(pid, 0) == 0)
        return pid;
    return 0;
}

int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

// Takes the home's lock (held for the supervisor's lifetime) and writes its pid file.
static int claim_home(const char *run_dir, const char *what)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/weft.lock", run_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "weft: %s is already running in %s (see `weft status`)\n", what, run_dir);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    snprintf(path, sizeof path, "%s/weft.pid", run_dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    return fd;  // kept open: the lock lives as long as the process
}

// What `weft up` reports, and how: --wait SECONDS, --json.
typedef struct {
    const weft_config_t *cfg;
    int wait_seconds;
    bool json;
} up_report_t;

// A process of the node that the supervisor restarted more than once since `weft up` (a crash loop):
// true, with its name, how it last ended and the last error in its log.
static bool crash_loop(const weft_config_t *cfg, char *why, size_t why_len)
{
    const char *names[SVC_COUNT + 2] = {"redis", "node"};
    int n = 2;
    for (int s = 0; s < SVC_COUNT; s++)
        names[n++] = service_name((service_id_t)s);
    for (int i = 0; i < n; i++) {
        service_report_t r;
        if (!service_report_read(cfg->run_dir, cfg->log_dir, names[i], &r) || r.restarts < 2)
            continue;
        snprintf(why, why_len, "%s keeps failing (restarted %u times, last %s): %s", names[i], r.restarts,
                 r.last_exit, r.last_error[0] ? r.last_error : "no error in its log");
        return true;
    }
    return false;
}

// The first service that does not answer on its control socket, with its last error; NULL when all do.
static const char *silent_service(const weft_config_t *cfg, store_t *store, char *why, size_t why_len)
{
    node_status_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    node_status_collect(cfg, store, 500, st);
    const char *name = NULL;
    for (int s = 0; s < SVC_COUNT && !name; s++) {
        if (st->services[s].up)
            continue;
        name = service_name((service_id_t)s);
        service_report_t r;
        service_report_read(cfg->run_dir, cfg->log_dir, name, &r);
        snprintf(why, why_len, "%s does not answer%s%s", name, r.last_error[0] ? ": " : "", r.last_error);
    }
    free(st);
    return name;
}

static void print_up_json(const up_report_t *o, bool already, const char *hub_state, const node_peer_t *peers,
                          int count, const char *error)
{
    json_t j;
    json_init(&j, stdout);
    json_object_begin(&j, NULL);
    json_string(&j, "home", o->cfg->home);
    json_string(&j, "mesh", o->cfg->mesh);
    json_bool(&j, "ok", error == NULL);
    json_bool(&j, "already_running", already);
    if (hub_state)
        json_string(&j, "hub_state", hub_state);
    json_array_begin(&j, "connected");
    for (int i = 0; i < count; i++) {
        json_object_begin(&j, NULL);
        json_string(&j, "name", peers[i].name);
        json_string(&j, "overlay_addr", peers[i].overlay_addr);
        json_string(&j, "connection", peers[i].connection);
        json_object_end(&j);
    }
    json_array_end(&j);
    if (error)
        json_string(&j, "error", error);
    json_object_end(&j);
    json_finish(&j);
}

// `weft up --wait SECONDS`, in the shell's process once the node is up: prints the hub's state and each
// peer as it connects (path type and candidate types), and returns EXIT_OK when the first peer is really
// reachable: nat's ICE path to it connected and every service answering. EXIT_FAIL at once when a
// service crash-loops or the hub refuses this node (with why), or after SECONDS with what it saw.
// The node keeps running either way. Reads the node's Redis (docs/state.md), the supervisor's records of
// its children (service_report.h) and the services' control sockets, like `weft status`.
static int wait_for_first_peer(const up_report_t *o)
{
    const weft_config_t *cfg = o->cfg;
    char url[CONFIG_STR + PATH_MAX], err[256], hub_state[64] = "", failure[1200] = "", silent[700] = "";
    config_redis_url(cfg, url, sizeof url);
    int64_t deadline = zclock_mono() + (int64_t)o->wait_seconds * 1000;
    int known = -1, connected = 0;
    node_peer_t *up_peers = NULL;
    store_t *store = NULL;
    fprintf(stderr, "waiting up to %d s for the hub and a first peer...\n", o->wait_seconds);
    while (zclock_mono() < deadline && connected == 0 && !failure[0]) {
        if (crash_loop(cfg, failure, sizeof failure))
            break;
        if (!store)
            store = store_connect(url, err, sizeof err);  // its redis-server may still be starting
        if (store) {
            redisReply *r = store_command(store, "HMGET weft:hub state refused");
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
                const redisReply *state = r->element[0], *refused = r->element[1];
                if (state->type == REDIS_REPLY_STRING && strcmp(state->str, hub_state) != 0) {
                    snprintf(hub_state, sizeof hub_state, "%s", state->str);
                    fprintf(stderr, "  hub %s: %s\n", cfg->hub_endpoint, hub_state);
                }
                if (refused->type == REDIS_REPLY_STRING && refused->str[0])
                    snprintf(failure, sizeof failure, "the hub %s refuses this node: %s", cfg->hub_endpoint,
                             refused->str);
            }
            if (r)
                freeReplyObject(r);
            node_peer_t *peers = NULL;
            int count = failure[0] ? 0 : node_peers_collect(store, &peers);
            if (count >= 0 && count != known && !failure[0]) {
                known = count;
                fprintf(stderr, "  %d other member%s in the mesh\n", count, count == 1 ? "" : "s");
            }
            bool path_up = false;
            for (int i = 0; i < count; i++)
                path_up |= strcmp(peers[i].path_state, "connected") == 0 || strcmp(peers[i].path_state, "ready") == 0;
            // the Noise session follows on the first packet (crypto handshakes on demand); a path is worth
            // "connected" only while every service that would carry the packets answers
            if (path_up && !silent_service(cfg, store, silent, sizeof silent)) {
                silent[0] = '\0';
                for (int i = 0; i < count; i++) {
                    const node_peer_t *p = &peers[i];
                    if (strcmp(p->path_state, "connected") != 0 && strcmp(p->path_state, "ready") != 0)
                        continue;
                    fprintf(stderr, "  peer %s (%s): connected, %s %s/%s%s\n", p->name, p->overlay_addr,
                            p->connection, p->local_type, p->remote_type,
                            strcmp(p->connection, "relay") == 0 ? " (through the TURN relay)" : "");
                    peers[connected++] = *p;
                }
                up_peers = peers;
                peers = NULL;
            }
            free(peers);
        }
        if (connected == 0 && !failure[0])
            zclock_sleep(250);
    }
    store_destroy(&store);
    if (!failure[0] && connected == 0) {
        if (silent[0])
            snprintf(failure, sizeof failure, "a peer's path is up but the node is not: %s (see %s/)", silent,
                     cfg->log_dir);
        else
            snprintf(failure, sizeof failure, "no peer reachable within %d s (hub: %s, %d other member%s known). "
                     "The node keeps running and trying: see `weft peers --home %s` and %s/", o->wait_seconds,
                     hub_state[0] ? hub_state : "no answer yet", known < 0 ? 0 : known, known == 1 ? "" : "s",
                     cfg->home, cfg->log_dir);
    }
    if (failure[0])
        fprintf(stderr, "weft up: %s\n", failure);
    if (o->json)
        print_up_json(o, false, hub_state, up_peers, connected, failure[0] ? failure : NULL);
    free(up_peers);
    return failure[0] ? EXIT_FAIL : EXIT_OK;
}

// Daemon: forks; the parent waits until the child says it is up (then, with report->wait_seconds, waits for
// a first peer), reports and exits; the child returns the fd to signal on, with stdio in the log.
static int daemonize(const char *log_file, const up_report_t *report)
{
    int ready[2];
    if (pipe(ready) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(ready[1]);
        char ok = 0;
        ssize_t got = read(ready[0], &ok, 1);
        close(ready[0]);
        if (got != 1 || ok != 1) {
            fprintf(stderr, "weft: failed to start; see %s\n", log_file);
            exit(EXIT_FAIL);
        }
        if (report && report->wait_seconds > 0)
            exit(wait_for_first_peer(report));
        if (report && report->json)
            print_up_json(report, false, NULL, NULL, 0, NULL);
        exit(EXIT_OK);
    }
    close(ready[0]);
    setsid();
    supervisor_redirect_stdio(log_file);
    return ready[1];
}

static void signal_ready(int fd)
{
    if (fd >= 0) {
        char ok = 1;
        if (write(fd, &ok, 1) != 1)
            log_warn("could not tell the starting shell we are up");
        close(fd);
    }
}

// A data dir written before Redis ran with an append-only file has only dump.rdb, and Redis 7 started with
// appendonly yes and no AOF starts empty. Adopt the snapshot as the AOF's base (Redis 7's multi-part AOF:
// appendonlydir/ with a manifest naming the base file), so nothing is lost on the switch.
static void adopt_rdb_snapshot(const char *data)
{
    char rdb[PATH_MAX], dir[PATH_MAX], base[PATH_MAX + 32], manifest[PATH_MAX + 32];
    snprintf(rdb, sizeof rdb, "%s/dump.rdb", data);
    snprintf(dir, sizeof dir, "%s/appendonlydir", data);
    if (access(rdb, R_OK) != 0 || access(dir, F_OK) == 0)
        return;
    snprintf(base, sizeof base, "%s/appendonly.aof.1.base.rdb", dir);
    snprintf(manifest, sizeof manifest, "%s/appendonly.aof.manifest", dir);
    FILE *in = fopen(rdb, "rb");
    FILE *out = mkdir(dir, 0700) == 0 ? fopen(base, "wb") : NULL;
    bool ok = in && out;
    char buf[16384];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = false;
    FILE *m = ok ? fopen(manifest, "w") : NULL;
    ok = m && fprintf(m, "file appendonly.aof.1.base.rdb seq 1 type b\n") > 0;
    if (m && fclose(m) != 0)
        ok = false;
    if (ok) {
        log_info("redis: %s becomes the base of the append-only file in %s", rdb, dir);
        return;
    }
    log_warn("redis: could not adopt %s into %s (%s); Redis starts without it", rdb, dir, strerror(errno));
    unlink(manifest);
    unlink(base);
    rmdir(dir);
}

// The node's or hub's redis-server, on a unix socket only, with an append-only file in <home>/data.
// fsync: "everysec" for a node (a crash loses at most the last second, which the owners rewrite,
// docs/state.md), "always" for a hub (an invite use, an address or a revocation is on disk before the hub
// answers).
// redis-server writes its own log file (--logfile), opening it by name for every line: a rotated
// redis.log is followed by a new one with no signal (it ignores SIGHUP). Under the journal: stdout.
static void add_redis(supervisor_t *sup, const weft_config_t *cfg, const char *fsync)
{
    const char *run_dir = cfg->run_dir, *home = cfg->home;
    char sock[PATH_MAX], data[PATH_MAX], prog[PATH_MAX], logfile[PATH_MAX];
    snprintf(sock, sizeof sock, "%s/redis.sock", run_dir);
    snprintf(logfile, sizeof logfile, "%s/redis.log", cfg->log_dir);
    snprintf(data, sizeof data, "%s/data", home);
    mkdir(data, 0700);
    adopt_rdb_snapshot(data);
    program_path("redis-server", prog, sizeof prog);
    if (access(prog, X_OK) != 0)
        snprintf(prog, sizeof prog, "redis-server");
    unlink(sock);
    const char *argv[] = {prog,
                          "--port", "0",
                          "--unixsocket", sock,
                          "--unixsocketperm", "700",
                          "--dir", data,
                          "--save", "",            // no snapshots: the append-only file holds everything
                          "--appendonly", "yes",
                          "--appendfsync", fsync,
                          "--latency-tracking", "no",  // per-command histograms nobody reads: 0.25 MB RSS
                          "--daemonize", "no",
                          log_to_journal() ? NULL : "--logfile", logfile,  // journal: argv ends here
                          NULL};
    supervisor_add(sup, "redis", argv, sock);
}

static void up_usage(FILE *out)
{
    fprintf(out, "usage: weft up [--home DIR] [--mesh NAME] [--wait SECONDS] [--json] [--foreground] [--colocate]\n"
                 "               [--advertise-routes PREFIX[,PREFIX...]]\n"
                 "Starts the node: a local redis-server (unless redis.url is set) and the services device,\n"
                 "router, crypto, nat, discovery and api (the HTTP API on api.listen, docs/api.md), each its own\n"
                 "process, restarted with backoff if it dies. First it checks what would keep the node from\n"
                 "working and exits 1 naming it: root or CAP_NET_ADMIN, the TUN device's name free, api.listen\n"
                 "free, the mesh's network clear of another running mesh and of the host's routes and\n"
                 "addresses, the hub's endpoint and key (a hub that answers must take the key: up to 1.5 s).\n"
                 "Already running: exit 0.\n\n"
                 "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
                 "  --mesh NAME     only this mesh (a node in several meshes starts all of them without it)\n"
                 "  --wait SECONDS  show the hub's state and each peer as it connects (direct or relay), and\n"
                 "                  return when the first peer is reachable; exit 1 if none is within SECONDS\n"
                 "                  (the node keeps running), and at once when a service keeps failing or the\n"
                 "                  hub refuses this node, with why. Default 0: return as soon as the node is up\n"
                 "  --json          print the outcome as one JSON object on stdout (progress stays on stderr)\n"
                 "  --foreground    stay in the foreground (log to stderr); Ctrl-C stops the node\n"
                 "  --colocate      run the seven services as threads of one process (weft-node), their\n"
                 "                  inboxes connected over inproc:// instead of ipc://: faster, less isolated\n"
                 "  --advertise-routes PREFIX[,PREFIX...]\n"
                 "                  for this run, announce these subnets behind this node to the mesh (like\n"
                 "                  192.168.50.0/24; routing.advertise, at most 8; \"\" for none): members\n"
                 "                  with routing.accept_routes route them here if the mesh admin allowed them\n"
                 "                  (`weft mesh routes allow`); this node forwards them (ip_forward on)\n"
                 "  -h, --help      this help\n"
                 "Logs: <home>/log/<service>.log. Stop with `weft down`.\n");
}

// The names the supervisor may run in a node's home: what an earlier run recorded about them is forgotten.
static void forget_reports(const char *run_dir)
{
    service_report_forget(run_dir, "redis");
    service_report_forget(run_dir, "node");
    for (int s = 0; s < SVC_COUNT; s++)
        service_report_forget(run_dir, service_name((service_id_t)s));
}

// --advertise-routes: routing.advertise for this run, through WEFT_ROUTING_ADVERTISE (config.h reads it, here
// and in every service the supervisor starts), as `weft hub --open` sets WEFT_HUB_OPEN_MESHES. Each prefix is
// checked first, so a typo is named here. Returns 0, or -1 (printed).
static int advertise_routes_env(const char *list)
{
    char buf[CONFIG_STR * 4];
    if (strlen(list) >= sizeof buf) {
        fprintf(stderr, "weft up: --advertise-routes is too long\n");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", list);
    int count = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        uint32_t net;
        int len;
        if (!*item)
            continue;
        if (ipv4_prefix_from_text(item, &net, &len) != 0) {
            fprintf(stderr, "weft up: --advertise-routes: '%s' is not an IPv4 prefix with no host bits past its "
                            "length (like 192.168.50.0/24)\n", item);
            return -1;
        }
        if (++count > CONFIG_MAX_SERVERS) {
            fprintf(stderr, "weft up: --advertise-routes: at most %d prefixes\n", CONFIG_MAX_SERVERS);
            return -1;
        }
    }
    setenv("WEFT_ROUTING_ADVERTISE", list, 1);
    return 0;
}

int cmd_up(int argc, char **argv)
{
    static struct option options[] = {{"home", required_argument, 0, 'H'},
                                      {"foreground", no_argument, 0, 'f'},
                                      {"colocate", no_argument, 0, 'c'},
                                      {"wait", required_argument, 0, 'w'},
                                      {"json", no_argument, 0, 'j'},
                                      {"advertise-routes", required_argument, 0, 'a'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *home = NULL, *advertise = NULL;
    bool foreground = false, colocate = false, json = false;
    int wait_seconds = 0;
    char *end = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hf", options, NULL)) != -1) {
        switch (opt) {
        case 'H': home = optarg; break;
        case 'f': foreground = true; break;
        case 'c': colocate = true; break;
        case 'j': json = true; break;
        case 'w':
            wait_seconds = (int)strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || wait_seconds < 0 || wait_seconds > 3600) {
                fprintf(stderr, "weft up: --wait wants seconds, 0..3600, not '%s'\n", optarg);
                up_usage(stderr);
                return EXIT_USAGE;
            }
            break;
        case 'a': advertise = optarg; break;
        case 'h': up_usage(stdout); return EXIT_OK;
        default: up_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft up: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (advertise && advertise_routes_env(advertise) != 0) {
        up_usage(stderr);
        return EXIT_USAGE;
    }
    weft_config_t cfg;
    if (load_node_config(home, &cfg) != 0)
        return EXIT_FAIL;
    up_report_t report = {.cfg = &cfg, .wait_seconds = wait_seconds, .json = json};
    char log_file[PATH_MAX];
    snprintf(log_file, sizeof log_file, "%s/weft.log", cfg.log_dir);
    char pid_file[PATH_MAX + 16];
    snprintf(pid_file, sizeof pid_file, "%s/weft.pid", cfg.run_dir);
    int pid = running_pid(pid_file);
    if (pid) {  // already in the state asked for: no failure
        fprintf(stderr, "weft up: already running in %s (pid %d; `weft status` shows it)\n", cfg.home, pid);
        if (json)
            print_up_json(&report, true, NULL, NULL, 0, NULL);
        return EXIT_OK;
    }
    char problem[1200];
    if (up_checks_run(&cfg, problem, sizeof problem, stderr) != 0) {  // before anything starts
        fprintf(stderr, "weft up: %s\n", problem);
        if (json)
            print_up_json(&report, false, NULL, NULL, 0, problem);
        return EXIT_FAIL;
    }
    mkdir(cfg.run_dir, 0700);
    mkdir(cfg.log_dir, 0700);
    forget_reports(cfg.run_dir);
    int ready_fd = foreground ? -1 : daemonize(log_file, &report);
    log_init("supervisor", LOG_LEVEL_INFO);
    int lock = claim_home(cfg.run_dir, "a node");
    if (lock < 0)
        return EXIT_FAIL;

    supervisor_t *sup = supervisor_new(cfg.run_dir, cfg.log_dir);
    if (!cfg.redis_url[0])
        add_redis(sup, &cfg, "everysec");
    if (colocate) {
        char prog[PATH_MAX];
        program_path("weft-node", prog, sizeof prog);
        const char *child_argv[] = {prog, "--home", cfg.home, NULL};
        supervisor_add(sup, "node", child_argv, NULL);
    }
    for (int s = 0; s < SVC_COUNT && !colocate; s++) {
        char prog[PATH_MAX], name[64];
        snprintf(name, sizeof name, "weft-%s", service_name((service_id_t)s));
        program_path(name, prog, sizeof prog);
        const char *child_argv[] = {prog, "--home", cfg.home, NULL};
        supervisor_add(sup, service_name((service_id_t)s), child_argv, NULL);
    }
    log_info("node %s up in %s (overlay %s/%d)", cfg.name, cfg.home, cfg.overlay_addr, cfg.overlay_prefix);
    signal_ready(ready_fd);
    int rc = supervisor_run(sup);
    supervisor_destroy(&sup);
    unlink(pid_file);
    close(lock);
    log_info("node down");
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

static void down_usage(FILE *out)
{
    fprintf(out, "usage: weft down [--home DIR] [--mesh NAME]\n"
                 "Stops the node (or hub) running in DIR: every service, then its redis-server. A node in several\n"
                 "meshes stops all of them, or only --mesh NAME. Nothing running: exit 0.\n");
}

int cmd_down(int argc, char **argv)
{
    static struct option options[] = {{"home", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *home = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'H': home = optarg; break;
        case 'h': down_usage(stdout); return EXIT_OK;
        default: down_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft down: unexpected argument '%s'\n", argv[optind]);
        down_usage(stderr);
        return EXIT_USAGE;
    }
    char resolved[PATH_MAX], pid_file[PATH_MAX + 16];
    config_resolve_home(home, resolved, sizeof resolved);
    snprintf(pid_file, sizeof pid_file, "%s/run/weft.pid", resolved);
    int pid = running_pid(pid_file);
    if (!pid) {  // already in the state asked for: no failure
        fprintf(stderr, "weft down: not running in %s\n", resolved);
        return EXIT_OK;
    }
    kill(pid, SIGTERM);
    for (int i = 0; i < 150; i++) {  // services get 5 s each at most; wait up to 15 s
        if (kill(pid, 0) != 0) {
            printf("stopped (pid %d)\n", pid);
            return EXIT_OK;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "weft down: pid %d still running after 15 s\n", pid);
    return EXIT_FAIL;
}

static void hub_usage(FILE *out)
{
    fprintf(out, "usage: weft hub [--home DIR] [--listen ENDPOINT] [--redis URL] [--open] [--foreground]\n"
                 "       weft hub key [--home DIR]\n"
                 "       weft hub token [--home DIR]\n"
                 "Runs a hub: the rendezvous server members register with and signal through. It keeps its\n"
                 "state in a local redis-server (or --redis URL) and its CURVE key in DIR/hub.key.\n"
                 "`weft hub key` prints the public key members need (`weft init --hub-key`).\n"
                 "`weft hub token` prints the bearer token of the hub's HTTP API (every call but /health\n"
                 "and /metrics needs it: docs/api.md),\n"
                 "creating it on first use. The HTTP API listens on hub.http_listen (default 127.0.0.1:7402).\n\n"
                 "  --home DIR          hub home (default $WEFT_HOME, else ~/.weft-hub)\n"
                 "  --listen ENDPOINT   where to listen (default: hub.listen in DIR/weft.yaml, tcp://*:7400)\n"
                 "  --redis URL         an external Redis instead of a local one\n"
                 "  --open              admit members into open (plain-name) meshes: anyone with the hub's key\n"
                 "                      and the mesh name may join one (hub.open_meshes; default: only meshes\n"
                 "                      made with `weft mesh create`, joined with an invite)\n"
                 "  --foreground        stay in the foreground\n"
                 "Stop it with `weft down --home DIR`.\n");
}

int cmd_hub(int argc, char **argv)
{
    static struct option options[] = {{"home", required_argument, 0, 'H'},    {"listen", required_argument, 0, 'l'},
                                      {"redis", required_argument, 0, 'r'},   {"foreground", no_argument, 0, 'f'},
                                      {"open", no_argument, 0, 'o'},          {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *home = NULL, *listen = NULL, *redis = NULL;   // no --listen: weft-hub reads hub.listen
    bool foreground = false, print_key = false, print_token = false, open_meshes = false;
    int opt;
    if (argc > 1 && strcmp(argv[1], "key") == 0) {
        print_key = true;
        argc--;
        argv++;
    } else if (argc > 1 && strcmp(argv[1], "token") == 0) {
        print_token = true;
        argc--;
        argv++;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hf", options, NULL)) != -1) {
        switch (opt) {
        case 'H': home = optarg; break;
        case 'l': listen = optarg; break;
        case 'r': redis = optarg; break;
        case 'f': foreground = true; break;
        case 'o': open_meshes = true; break;
        case 'h': hub_usage(stdout); return EXIT_OK;
        default: hub_usage(stderr); return EXIT_USAGE;
        }
    }
    if (open_meshes)   // the hub's own override of hub.open_meshes, inherited by weft-hub
        setenv("WEFT_HUB_OPEN_MESHES", "true", 1);
    if (optind < argc) {
        fprintf(stderr, "weft hub: unexpected argument '%s'\n", argv[optind]);
        hub_usage(stderr);
        return EXIT_USAGE;
    }
    char hub_home[PATH_MAX];  // not a node's default home (~/.weft): a hub and a node side by side by default
    const char *user_home = getenv("HOME");
    if (!home && !getenv("WEFT_HOME") && user_home && *user_home) {
        snprintf(hub_home, sizeof hub_home, "%s/.weft-hub", user_home);
        home = hub_home;
    }
    weft_config_t cfg;
    char config_err[512];
    if (config_load(&cfg, home, config_err, sizeof config_err) != 0) {  // refuse before starting anything
        fprintf(stderr, "weft hub: %s\n(`weft config check --home %s` checks the file)\n", config_err, cfg.home);
        return EXIT_FAIL;
    }
    mkdir(cfg.home, 0700);
    mkdir(cfg.run_dir, 0700);
    mkdir(cfg.log_dir, 0700);
    char prog[PATH_MAX];
    program_path("weft-hub", prog, sizeof prog);
    if (print_key || print_token) {   // weft-hub prints the key in the shell-safe hex form members paste
        execl(prog, prog, "--home", cfg.home, print_key ? "--print-key" : "--print-token", (char *)NULL);
        fprintf(stderr, "weft hub: cannot run %s: %s\n", prog, strerror(errno));
        return EXIT_FAIL;
    }
    char log_file[PATH_MAX], pid_file[PATH_MAX + 16];
    snprintf(log_file, sizeof log_file, "%s/weft.log", cfg.log_dir);
    snprintf(pid_file, sizeof pid_file, "%s/weft.pid", cfg.run_dir);
    if (running_pid(pid_file)) {
        fprintf(stderr, "weft hub: a hub or node is already running in %s\n", cfg.home);
        return EXIT_FAIL;
    }
    int ready_fd = foreground ? -1 : daemonize(log_file, NULL);
    log_init("hub-supervisor", LOG_LEVEL_INFO);
    int lock = claim_home(cfg.run_dir, "a hub");
    if (lock < 0)
        return EXIT_FAIL;
    supervisor_t *sup = supervisor_new(cfg.run_dir, cfg.log_dir);
    char redis_url[PATH_MAX + 16];
    if (!redis) {
        add_redis(sup, &cfg, "always");
        snprintf(redis_url, sizeof redis_url, "unix://%s/redis.sock", cfg.run_dir);
        redis = redis_url;
    }
    const char *child_argv[] = {prog, "--home", cfg.home, "--redis", redis, listen ? "--listen" : NULL, listen, NULL};
    supervisor_add(sup, "hub", child_argv, NULL);
    signal_ready(ready_fd);
    int rc = supervisor_run(sup);
    supervisor_destroy(&sup);
    unlink(pid_file);
    close(lock);
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}
