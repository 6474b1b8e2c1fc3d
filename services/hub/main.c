// main.c — weft-hub: the rendezvous server. Command line, the hub's CURVE certificate in its home
// (hub.key, hub.key.pub), the Redis connection (retried every second until it answers), then the
// hub actor (hub_actor.c) until SIGINT/SIGTERM.
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hub_actor.h"
#include "hub_key.h"
#include "hub_http.h"
#include "log.h"
#include "service.h"
#include "store.h"
#include "store_link.h"

typedef struct {
    const char *home;
    const char *listen;
    const char *redis_url;
    const char *log_level;
    const char *http_listen;
    bool print_key;
    bool print_token;
    bool open_meshes;
} hub_args_t;

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s --home DIR [--listen ENDPOINT] [--redis URL] [--log-level LEVEL] [--print-key]\n"
            "weft rendezvous hub: members of a mesh register here and signal each other through it.\n\n"
            "  --home DIR         the hub's home: hub.key, weft.yaml (optional), run/redis.sock\n"
            "  --listen ENDPOINT  where to listen (default hub.listen in weft.yaml, else tcp://*:7400)\n"
            "  --redis URL        Redis (default unix://<home>/run/redis.sock)\n"
            "  --log-level LEVEL  debug, info, warn or error (default info)\n"
            "  --print-key        create the key if needed, print the hub's public key and exit\n"
            "  --http-listen ADDR the HTTP API, host:port or off (default hub.http_listen, else 127.0.0.1:7402)\n"
            "  --print-token      create the HTTP API's admin token if needed, print it and exit\n"
            "  --open             admit open meshes (plain names, no admin): anyone with the hub's key and a\n"
            "                     mesh's name joins it (default hub.open_meshes, else managed meshes only)\n"
            "  -h, --help         this help\n\n"
            "Normally started by `weft hub`, which starts its Redis first.\n",
            prog);
}

static int parse_args(int argc, char **argv, hub_args_t *args)
{
    static struct option options[] = {{"home", required_argument, 0, 'H'},
                                      {"listen", required_argument, 0, 'L'},
                                      {"redis", required_argument, 0, 'R'},
                                      {"log-level", required_argument, 0, 'l'},
                                      {"print-key", no_argument, 0, 'P'},
                                      {"http-listen", required_argument, 0, 'A'},
                                      {"print-token", no_argument, 0, 'T'},
                                      {"open", no_argument, 0, 'O'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'H': args->home = optarg; break;
        case 'L': args->listen = optarg; break;
        case 'R': args->redis_url = optarg; break;
        case 'l': args->log_level = optarg; break;
        case 'P': args->print_key = true; break;
        case 'A': args->http_listen = optarg; break;
        case 'T': args->print_token = true; break;
        case 'O': args->open_meshes = true; break;
        case 'h': usage(stdout, argv[0]); return 0;
        default: usage(stderr, argv[0]); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        usage(stderr, argv[0]);
        return 2;
    }
    return -1;  // go on
}

// Loads <home>/hub.key, creating it (mode 0600, and hub.key.pub) on first start.
static zcert_t *load_or_create_cert(const char *home)
{
    char path[PATH_MAX], pub_path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/hub.key", home);
    snprintf(pub_path, sizeof pub_path, "%s.pub", path);
    if (access(path, F_OK) == 0) {
        struct stat st;
        if (stat(path, &st) == 0 && (st.st_mode & 077)) {
            fprintf(stderr, "weft-hub: %s is readable by others (mode %03o); chmod 600 it\n", path,
                    (unsigned)(st.st_mode & 0777));
            return NULL;
        }
        zcert_t *cert = zcert_load(path);
        if (!cert || strlen(zcert_secret_txt(cert)) != 40 || streq(zcert_secret_txt(cert), "0000000000000000000000000000000000000000")) {
            fprintf(stderr, "weft-hub: %s is not a CURVE secret certificate\n", path);
            zcert_destroy(&cert);
        }
        return cert;
    }
    zcert_t *cert = zcert_new();
    if (!cert)
        return NULL;
    mode_t old = umask(077);
    int rc = zcert_save_secret(cert, path);
    umask(old);
    if (rc != 0 || chmod(path, 0600) != 0) {
        fprintf(stderr, "weft-hub: cannot write %s\n", path);
        zcert_destroy(&cert);
        return NULL;
    }
    if (zcert_save_public(cert, pub_path) != 0)
        fprintf(stderr, "weft-hub: cannot write %s (the key itself is saved)\n", pub_path);
    return cert;
}

// Waits for Redis (the hub's state lives there), trying as every service does (lib/store_link.h).
static store_t *connect_redis(const char *url)
{
    store_link_t link;
    store_link_init(&link, url);
    store_t *store = NULL;
    while (!zsys_interrupted && store_link_connect(&link, &store) == STORE_LINK_DOWN)
        zclock_sleep(100);
    return store;
}

// Settings: weft.yaml in the hub's home (optional) under the command line.
static int load_settings(const hub_args_t *args, weft_config_t *cfg, hub_options_t *options, char *redis_url,
                         size_t redis_len)
{
    char err[512];
    if (config_load(cfg, args->home, err, sizeof err) != 0) {
        fprintf(stderr, "weft-hub: %s\n", err);
        return 1;
    }
    log_level_t level;
    const char *level_text = args->log_level ? args->log_level : cfg->log_level;
    if (log_level_parse(level_text, &level) != 0) {
        fprintf(stderr, "weft-hub: unknown log level '%s' (debug, info, warn, error)\n", level_text);
        return 2;
    }
    log_init("hub", level);
    snprintf(options->listen, sizeof options->listen, "%s", args->listen ? args->listen : cfg->hub_listen);
    options->member_timeout = cfg->hub_member_timeout;
    turn_creds_config_from(&options->turn, cfg);
    options->stun_port = cfg->hub_stun_port;
    options->open_meshes = args->open_meshes || cfg->hub_open_meshes;
    options->max_connections = cfg->hub_max_connections;
    options->max_connections_per_address = cfg->hub_max_connections_per_address;
    options->handshake_timeout = cfg->hub_handshake_timeout;
    options->create_per_key = cfg->hub_create_per_key;
    options->create_per_address = cfg->hub_create_per_address;
    options->register_per_key = cfg->hub_register_per_key;
    options->register_per_address = cfg->hub_register_per_address;
    if (args->redis_url)
        snprintf(redis_url, redis_len, "%s", args->redis_url);
    else
        config_redis_url(cfg, redis_url, redis_len);
    mkdir(cfg->home, 0700);
    mkdir(cfg->run_dir, 0700);
    return 0;
}

// The HTTP API's settings: hub.http_listen (or --http-listen), hub.api_token_file relative to the home.
static void http_settings(const hub_args_t *args, const weft_config_t *cfg, const char *redis_url,
                          hub_http_options_t *http)
{
    memset(http, 0, sizeof *http);
    snprintf(http->listen, sizeof http->listen, "%s", args->http_listen ? args->http_listen : cfg->hub_http_listen);
    snprintf(http->redis_url, sizeof http->redis_url, "%s", redis_url);
    if (cfg->hub_api_token_file[0] == '/')
        snprintf(http->token_file, sizeof http->token_file, "%s", cfg->hub_api_token_file);
    else
        snprintf(http->token_file, sizeof http->token_file, "%s/%s", cfg->home, cfg->hub_api_token_file);
    http->rate = cfg->hub_http_rate;
}

static int run_hub(hub_options_t *options, const char *redis_url, const hub_http_options_t *http_options)
{
    options->store = connect_redis(redis_url);
    if (!options->store)
        return 1;
    hub_http_t *http = NULL;
    if (http_options->listen[0] && strcmp(http_options->listen, "off") != 0) {
        char err[512];
        http = hub_http_new(http_options, err, sizeof err);
        if (!http)  // the rendezvous service matters more than its API: run on without it, loudly
            log_error("HTTP API not started (hub.http_listen %s): %s; the hub runs without it", http_options->listen,
                      err);
    }
    zactor_t *hub = zactor_new(hub_actor, options);
    int rc = 0;
    if (!hub) {
        log_error("the hub actor failed to start");
        rc = 1;
    } else {
        char *msg = zstr_recv(hub);  // the actor speaks only to report a fatal error
        if (msg) {
            log_error("stopping: the hub reported %s", msg);
            rc = 1;
        }
        zstr_free(&msg);
        zactor_destroy(&hub);
    }
    hub_http_destroy(&http);
    store_destroy(&options->store);
    if (!rc)
        log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    hub_args_t args = {0};
    int rc = parse_args(argc, argv, &args);
    if (rc >= 0)
        return rc;
    if (!args.home) {
        fprintf(stderr, "weft-hub: --home DIR is required\n");
        usage(stderr, argv[0]);
        return 2;
    }
    static weft_config_t cfg;
    static service_t stats;
    hub_options_t options = {0};
    char redis_url[CONFIG_STR];
    rc = load_settings(&args, &cfg, &options, redis_url, sizeof redis_url);
    if (rc)
        return rc;
    hub_http_options_t http_options;
    http_settings(&args, &cfg, redis_url, &http_options);
    if (args.print_token) {
        char token[65], err[512];
        if (hub_http_load_token(http_options.token_file, token, err, sizeof err) != 0) {
            fprintf(stderr, "weft-hub: %s\n", err);
            return 1;
        }
        printf("%s\n", token);
        return 0;
    }
    zsys_init();
    zsys_set_linger(0);
    signal(SIGPIPE, SIG_IGN);  // a Redis that goes away must be an error return, not death by SIGPIPE
    options.cert = load_or_create_cert(cfg.home);
    if (!options.cert)
        return 1;
    char key_hex[HUB_KEY_HEX_LEN];   // the shell-safe form people copy (lib/hub_key.h)
    hub_key_format(zcert_public_key(options.cert), key_hex);
    if (args.print_key) {
        printf("%s\n", key_hex);
        zcert_destroy(&options.cert);
        return 0;
    }
    log_info("hub public key: %s", key_hex);
    stats.name = "hub";
    stats.id = SVC_COUNT;
    stats.started_ms = zclock_mono();
    options.stats = &stats;
    rc = run_hub(&options, redis_url, &http_options);
    zcert_destroy(&options.cert);
    return rc;
}
