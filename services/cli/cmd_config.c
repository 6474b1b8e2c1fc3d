// cmd_config.c — `weft config check [FILE] [--json]`: loads a weft.yaml the way every service does
// (defaults, the file with its ${VAR}s, then WEFT_* overrides, then the cross-key checks) and says whether
// it is valid: exit 0 and a summary, or exit 1 and the error with its file:line.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "mesh_home.h"

static void config_usage(FILE *out)
{
    fprintf(out, "usage: weft config SUBCOMMAND [options]\n"
                 "Works with the node's weft.yaml (docs/config.md lists every key).\n\n"
                 "subcommands:\n"
                 "  check    check a weft.yaml: syntax, known keys, types, ranges, ${VAR}s, WEFT_* overrides\n\n"
                 "weft config SUBCOMMAND --help shows each one's options.\n");
}

static void check_usage(FILE *out)
{
    fprintf(out, "usage: weft config check [FILE] [--home DIR] [--mesh NAME] [--json]\n"
                 "Checks FILE (default: the node's weft.yaml) as `weft up` would read it: YAML syntax, unknown\n"
                 "keys, types and ranges, ${VAR} references to the environment, WEFT_<SECTION>_<KEY> overrides,\n"
                 "and keys that contradict each other. Prints \"ok\" and a summary, or the error with file:line.\n\n"
                 "  FILE          the file to check (default: DIR/weft.yaml, or the only mesh's)\n"
                 "  --mesh NAME   the weft.yaml of mesh NAME (DIR/meshes/NAME/, see `weft mesh list`)\n"
                 "  --home DIR    node home (default $WEFT_HOME, else ~/.weft); relative paths resolve from it\n"
                 "  --json        print the result as one JSON object (secrets are never printed)\n"
                 "  -h, --help    this help\n"
                 "Exit status: 0 valid, 1 invalid (or unreadable), 2 usage error.\n");
}

// A TURN URL with its password replaced: turn://user:***@host:port
static void redact_turn(const char *url, char *out, size_t out_len)
{
    const char *scheme = strstr(url, "://");
    const char *user = scheme ? scheme + 3 : url;
    const char *at = strrchr(user, '@');
    const char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
    if (!colon) {
        snprintf(out, out_len, "%s", url);
        return;
    }
    snprintf(out, out_len, "%.*s:***%s", (int)(colon - url), url, at);
}

// The printable value of key i, item `item`: secrets as "(set)", TURN passwords masked. NULL past a list's end.
static const char *shown_value(const weft_config_t *cfg, size_t i, int item, char *out, size_t out_len)
{
    char raw[CONFIG_STR * 2];
    if (!config_key_text(cfg, i, item, raw, sizeof raw))
        return NULL;
    if (config_key_is_secret(i))
        snprintf(out, out_len, "%s", raw[0] ? "(set)" : "");
    else if (strstr(config_key_path(i), "turn"))
        redact_turn(raw, out, out_len);
    else
        snprintf(out, out_len, "%s", raw);
    return out;
}

// Keys that are empty by default but that a node needs before `weft up` can join a mesh.
static int collect_warnings(const weft_config_t *cfg, const char *warnings[], int max)
{
    int n = 0;
    if (!cfg->overlay_addr[0] && n < max)
        warnings[n++] = "mesh.address is not set: weft-device needs an overlay address to start";
    if (!cfg->hub_endpoint[0] && n < max)
        warnings[n++] = "hub.endpoint is not set: the node cannot find its mesh";
    if (!cfg->hub_public_key[0] && n < max)
        warnings[n++] = "hub.public_key is not set: the node cannot connect to the hub";
    if ((!cfg->connection_direct || strcmp(cfg->connection_relay, "only") == 0) && cfg->turn_server_count == 0 &&
        n < max)
        warnings[n++] = "relayed paths only, and no nat.turn_servers: peers are reachable only if the hub hands "
                        "out TURN servers";
    return n;
}

static void print_json_ok(const weft_config_t *cfg, const char *warnings[], int warning_count)
{
    json_t j;
    json_init(&j, stdout);
    json_object_begin(&j, NULL);
    json_bool(&j, "ok", true);
    json_string(&j, "file", cfg->config_file);
    json_array_begin(&j, "warnings");
    for (int w = 0; w < warning_count; w++)
        json_string(&j, NULL, warnings[w]);
    json_array_end(&j);
    json_object_begin(&j, "config");
    char text[CONFIG_STR * 2];
    for (size_t i = 0; i < config_key_count(); i++) {
        if (config_key_renamed_to(i))
            continue;  // the same value is listed under its current name
        const char *path = config_key_path(i);
        switch (config_key_kind(i)) {
        case CONFIG_KIND_INT:
            json_int(&j, path, strtoll(config_key_text(cfg, i, 0, text, sizeof text), NULL, 10));
            break;
        case CONFIG_KIND_BOOL:
            json_bool(&j, path, strcmp(config_key_text(cfg, i, 0, text, sizeof text), "true") == 0);
            break;
        case CONFIG_KIND_LIST:
            json_array_begin(&j, path);
            for (int item = 0; shown_value(cfg, i, item, text, sizeof text); item++)
                json_string(&j, NULL, text);
            json_array_end(&j);
            break;
        default:
            json_string(&j, path, shown_value(cfg, i, 0, text, sizeof text));
            break;
        }
    }
    for (int svc = 0; svc < SVC_COUNT; svc++) {
        char key[64];
        snprintf(key, sizeof key, "endpoints.%s", service_name((service_id_t)svc));
        json_string(&j, key, cfg->inbox[svc]);
        snprintf(key, sizeof key, "endpoints.%s_control", service_name((service_id_t)svc));
        json_string(&j, key, cfg->control[svc]);
    }
    json_object_end(&j);
    json_object_end(&j);
    json_finish(&j);
}

static void print_summary(const weft_config_t *cfg, const char *warnings[], int warning_count)
{
    char url[PATH_MAX + 16];
    config_redis_url(cfg, url, sizeof url);
    char address[80] = "(not set)";
    if (cfg->overlay_addr[0])
        snprintf(address, sizeof address, "%s/%d", cfg->overlay_addr, cfg->overlay_prefix);
    printf("ok: %s\n", cfg->config_file);
    printf("  node        %s, mesh %s, address %s\n", cfg->name, cfg->mesh, address);
    printf("  hub         %s\n", cfg->hub_endpoint[0] ? cfg->hub_endpoint : "(not set)");
    printf("  device      %s %s, mtu %d, offload %s\n", cfg->device_mode, cfg->device_name, cfg->mtu,
           cfg->device_offload ? "on" : "off");
    printf("  connection  direct %s, relay %s, keepalive %d s, connect timeout %d s\n",
           cfg->connection_direct ? "yes" : "no", cfg->connection_relay, cfg->keepalive_interval, cfg->connect_timeout);
    printf("  routing     broadcast %s\n", cfg->routing_broadcast ? "to every peer" : "off");
    printf("  servers     %d STUN, %d TURN\n", cfg->stun_server_count, cfg->turn_server_count);
    printf("  redis       %s%s\n", url, cfg->redis_url[0] ? "" : " (started by weft up)");
    printf("  log         %s\n", cfg->log_level);
    for (int w = 0; w < warning_count; w++)
        printf("warning: %s\n", warnings[w]);
}

// The line number in "FILE:LINE: ..." errors, or 0.
static long error_line(const char *err, const char *file)
{
    size_t n = strlen(file);
    if (strncmp(err, file, n) != 0 || err[n] != ':')
        return 0;
    char *end;
    long line = strtol(err + n + 1, &end, 10);
    return (end != err + n + 1 && *end == ':') ? line : 0;
}

static int cmd_config_check(int argc, char **argv)
{
    static struct option options[] = {{"home", required_argument, 0, 'H'},
                                      {"mesh", required_argument, 0, 'm'},
                                      {"json", no_argument, 0, 'j'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *home = NULL, *file = NULL, *mesh = NULL;
    bool json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hj", options, NULL)) != -1) {
        switch (opt) {
        case 'H': home = optarg; break;
        case 'j': json = true; break;
        case 'm': mesh = optarg; break;
        case 'h': check_usage(stdout); return EXIT_OK;
        default: check_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        file = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "weft config check: unexpected argument '%s' (one FILE at most)\n", argv[optind]);
        check_usage(stderr);
        return EXIT_USAGE;
    }
    if (file && mesh) {
        fprintf(stderr, "weft config check: give a FILE or --mesh NAME, not both\n");
        return EXIT_USAGE;
    }
    char resolved[PATH_MAX], instance[PATH_MAX], why[1200];
    config_resolve_home(home, resolved, sizeof resolved);
    if (!file) {  // the legacy home's weft.yaml, or --mesh NAME's, or the only mesh's
        if (mesh_home_select(resolved, mesh, instance, sizeof instance, why, sizeof why) != 0) {
            fprintf(stderr, "weft config check: %s\n", why);
            return mesh ? EXIT_FAIL : EXIT_USAGE;
        }
        home = instance;
    }
    weft_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        fprintf(stderr, "weft config check: out of memory\n");
        return EXIT_FAIL;
    }
    char err[1024] = "";
    char default_file[PATH_MAX];
    if (!file) {  // the node's own weft.yaml, which must exist here (config_load alone would take defaults)
        config_defaults(cfg, home);
        snprintf(default_file, sizeof default_file, "%s", cfg->config_file);
        file = default_file;
    }
    int rc = config_load_file(cfg, home, file, err, sizeof err);
    const char *warnings[8];
    int warning_count = rc == 0 ? collect_warnings(cfg, warnings, 8) : 0;
    if (rc != 0 && json) {
        json_t j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_bool(&j, "ok", false);
        json_string(&j, "file", cfg->config_file);
        long line = error_line(err, cfg->config_file);
        if (line > 0)
            json_int(&j, "line", line);
        else
            json_null(&j, "line");
        json_string(&j, "error", err);
        json_object_end(&j);
        json_finish(&j);
    } else if (rc != 0) {
        fprintf(stderr, "weft config check: %s\n", err);
        if (file == default_file && strstr(err, "No such file"))
            fprintf(stderr, "run `weft init` first, or name a FILE to check\n");
    } else if (json) {
        print_json_ok(cfg, warnings, warning_count);
    } else {
        print_summary(cfg, warnings, warning_count);
    }
    free(cfg);
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_config(int argc, char **argv)
{
    if (argc < 2) {
        config_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        config_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_config_check(argc - 1, argv + 1);
    fprintf(stderr, "weft config: unknown subcommand '%s'\n", argv[1]);
    config_usage(stderr);
    return EXIT_USAGE;
}
