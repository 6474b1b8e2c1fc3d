// cmd_status.c — `weft status`, `weft peers` and `weft id`: read the node. Services are asked on their
// control sockets (live state); the peer table and per-peer path and session state come from the node's
// Redis, where discovery, nat and crypto keep them (docs/state.md).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "identity.h"
#include "json.h"
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

// Asks one service for its status; NULL if it does not answer within timeout_ms.
static Weft__ServiceStatus *ask_status(const char *endpoint, int timeout_ms, Weft__Envelope **holder)
{
    *holder = NULL;
    zsock_t *req = zsock_new(ZMQ_REQ);
    if (!req)
        return NULL;
    zsock_set_linger(req, 0);
    zsock_set_rcvtimeo(req, timeout_ms);
    zsock_set_sndtimeo(req, timeout_ms);
    if (zsock_connect(req, "%s", endpoint) != 0) {
        zsock_destroy(&req);
        return NULL;
    }
    Weft__StatusRequest sr = WEFT__STATUS_REQUEST__INIT;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_STATUS_REQUEST;
    env.status_request = &sr;
    Weft__ServiceStatus *status = NULL;
    if (wire_send(req, &env, NULL, 0, false) == 0) {
        zframe_t *payload = NULL;
        Weft__Envelope *reply = wire_recv(req, &payload);
        zframe_destroy(&payload);
        if (reply && reply->body_case == WEFT__ENVELOPE__BODY_STATUS) {
            *holder = reply;
            status = reply->status;
        } else if (reply) {
            weft__envelope__free_unpacked(reply, NULL);
        }
    }
    zsock_destroy(&req);
    return status;
}

static const char status_usage[] =
    "usage: weft status [--home DIR] [--json]\n"
    "Shows the node (id, overlay address, hub) and each service: pid, uptime, state, counters.\n"
    "Exit status 0 when every service answers, 1 otherwise.\n";

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
    char pid_file[PATH_MAX + 16];
    snprintf(pid_file, sizeof pid_file, "%s/weft.pid", cfg.run_dir);
    int supervisor = running_pid(pid_file);
    identity_t id;
    char err[512], hex[ID_HEX_LEN] = "", fp[FINGERPRINT_LEN] = "";
    if (identity_load(cfg.identity_file, &id, err, sizeof err) == 0) {
        id_to_hex(id.public_key, hex);
        id_fingerprint(id.public_key, fp);
        identity_wipe(&id);
    }
    char hub_state[64] = "unknown";
    char url[PATH_MAX];
    config_redis_url(&cfg, url, sizeof url);
    // services may run without this supervisor (containers, weft-node by hand): always ask them
    store_t *store = store_connect(url, err, sizeof err);
    if (store) {
        redisReply *r = store_command(store, "HGET weft:hub state");
        if (r && r->type == REDIS_REPLY_STRING)
            snprintf(hub_state, sizeof hub_state, "%s", r->str);
        if (r)
            freeReplyObject(r);
        store_destroy(&store);
    }

    json_t j;
    json_init(&j, stdout);
    if (o.json) {
        json_object_begin(&j, NULL);
        json_string(&j, "name", cfg.name);
        json_string(&j, "id", hex);
        json_string(&j, "fingerprint", fp);
        json_string(&j, "mesh", cfg.mesh);
        json_string(&j, "overlay_addr", cfg.overlay_addr);
        json_uint(&j, "overlay_prefix", (uint64_t)cfg.overlay_prefix);
        json_string(&j, "hub", cfg.hub_endpoint);
        json_string(&j, "hub_state", hub_state);
        json_bool(&j, "running", supervisor != 0);
        json_uint(&j, "supervisor_pid", (uint64_t)supervisor);
        json_array_begin(&j, "services");
    } else {
        printf("node      %s  (%s)\nid        %s\nmesh      %s  overlay %s/%d\nhub       %s  (%s)\n"
               "supervisor %s\n\n",
               cfg.name, fp, hex, cfg.mesh, cfg.overlay_addr, cfg.overlay_prefix, cfg.hub_endpoint, hub_state,
               supervisor ? "running" : "not running here (services may run elsewhere, e.g. in containers)");
        printf("%-10s %-8s %-10s %s\n", "SERVICE", "PID", "UPTIME", "STATE");
    }
    int missing = 0;
    for (int s = 0; s < SVC_COUNT; s++) {
        Weft__Envelope *holder = NULL;
        Weft__ServiceStatus *st = ask_status(cfg.control[s], supervisor ? 1000 : 300, &holder);
        if (!st)
            missing++;
        if (o.json) {
            json_object_begin(&j, NULL);
            json_string(&j, "service", service_name((service_id_t)s));
            json_bool(&j, "up", st != NULL);
            if (st) {
                json_uint(&j, "pid", st->pid);
                json_uint(&j, "uptime_ms", st->uptime_ms);
                json_string(&j, "detail", st->detail);
                json_object_begin(&j, "counters");
                for (size_t c = 0; c < st->n_counters; c++)
                    json_uint(&j, st->counters[c]->name, st->counters[c]->value);
                json_object_end(&j);
            }
            json_object_end(&j);
        } else if (st) {
            char uptime[32];
            snprintf(uptime, sizeof uptime, "%llus", (unsigned long long)(st->uptime_ms / 1000));
            printf("%-10s %-8u %-10s %s\n", service_name((service_id_t)s), st->pid, uptime, st->detail);
        } else {
            printf("%-10s %-8s %-10s %s\n", service_name((service_id_t)s), "-", "-", "not answering");
        }
        if (holder)
            weft__envelope__free_unpacked(holder, NULL);
    }
    if (o.json) {
        json_array_end(&j);
        json_object_end(&j);
        json_finish(&j);
    }
    return missing ? EXIT_FAIL : EXIT_OK;
}

// HGET field from a hash reply of HGETALL, or "" when absent.
static const char *field(redisReply *hash, const char *name)
{
    if (!hash || hash->type != REDIS_REPLY_ARRAY)
        return "";
    for (size_t i = 0; i + 1 < hash->elements; i += 2)
        if (hash->element[i]->type == REDIS_REPLY_STRING && strcmp(hash->element[i]->str, name) == 0 &&
            hash->element[i + 1]->type == REDIS_REPLY_STRING)
            return hash->element[i + 1]->str;
    return "";
}

static const char peers_usage[] =
    "usage: weft peers [--home DIR] [--json]\n"
    "Lists the mesh's other members: name, overlay address, fingerprint, how each is reached\n"
    "(direct or relay, local/remote candidate types, address), the encrypted session, and bytes each way.\n";

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
    Weft__PeerList *list = store_load_peers(store);
    json_t j;
    json_init(&j, stdout);
    if (o.json)
        json_array_begin(&j, NULL);
    else
        printf("%-12s %-15s %-19s %-10s %-6s %-11s %-21s %-11s %10s %10s\n", "NAME", "OVERLAY", "FINGERPRINT",
               "PATH", "VIA", "CANDIDATES", "REMOTE", "SESSION", "RX", "TX");
    for (size_t i = 0; list && i < list->n_peers; i++) {
        const Weft__Peer *p = list->peers[i];
        if (p->id.len != 32)
            continue;
        char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN];
        id_to_hex(p->id.data, hex);
        id_fingerprint(p->id.data, fp);
        redisReply *path = store_command(store, "HGETALL weft:path:%s", hex);
        redisReply *session = store_command(store, "HGETALL weft:session:%s", hex);
        const char *state = field(path, "state")[0] ? field(path, "state") : "none";
        const char *via = field(path, "connection")[0] ? field(path, "connection") : "-";
        const char *sess = field(session, "state")[0] ? field(session, "state") : "none";
        if (o.json) {
            json_object_begin(&j, NULL);
            json_string(&j, "name", p->name);
            json_string(&j, "id", hex);
            json_string(&j, "fingerprint", fp);
            json_string(&j, "overlay_addr", p->overlay_addr);
            json_object_begin(&j, "path");
            json_string(&j, "state", state);
            json_string(&j, "connection", field(path, "connection"));
            json_string(&j, "local_type", field(path, "local_type"));
            json_string(&j, "remote_type", field(path, "remote_type"));
            json_string(&j, "local_addr", field(path, "local_addr"));
            json_string(&j, "remote_addr", field(path, "remote_addr"));
            json_uint(&j, "rx_bytes", strtoull(field(path, "rx_bytes"), NULL, 10));
            json_uint(&j, "tx_bytes", strtoull(field(path, "tx_bytes"), NULL, 10));
            json_object_end(&j);
            json_object_begin(&j, "session");
            json_string(&j, "state", sess);
            json_uint(&j, "handshakes", strtoull(field(session, "handshakes"), NULL, 10));
            json_uint(&j, "rx_bytes", strtoull(field(session, "rx_bytes"), NULL, 10));
            json_uint(&j, "tx_bytes", strtoull(field(session, "tx_bytes"), NULL, 10));
            json_object_end(&j);
            json_object_end(&j);
        } else {
            char cands[32];
            snprintf(cands, sizeof cands, "%s/%s", field(path, "local_type")[0] ? field(path, "local_type") : "-",
                     field(path, "remote_type")[0] ? field(path, "remote_type") : "-");
            printf("%-12s %-15s %-19s %-10s %-6s %-11s %-21s %-11s %10s %10s\n", p->name, p->overlay_addr, fp,
                   state, via, cands, field(path, "remote_addr")[0] ? field(path, "remote_addr") : "-", sess,
                   field(session, "rx_bytes")[0] ? field(session, "rx_bytes") : "0",
                   field(session, "tx_bytes")[0] ? field(session, "tx_bytes") : "0");
        }
        if (path)
            freeReplyObject(path);
        if (session)
            freeReplyObject(session);
    }
    if (o.json) {
        json_array_end(&j);
        json_finish(&j);
    } else if (!list || list->n_peers == 0) {
        printf("(no other members yet: is the hub reachable? see `weft status`)\n");
    }
    if (list)
        weft__peer_list__free_unpacked(list, NULL);
    store_destroy(&store);
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
