// config.c — see config.h. A table names every key, its type and where it lives in weft_config_t;
// the YAML walker, the environment overrides and config_save all work from that one table. What a value
// may be is config_check.c's; ${VAR} expansion is config_expand.c's; the service names are service_id.c's.
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config_check.h"
#include "config_expand.h"

typedef enum { KEY_STRING, KEY_INT, KEY_BOOL, KEY_LIST, KEY_ADDRESS, KEY_CHOICE, KEY_MAC } key_type_t;

typedef struct {
    const char *path;       // "section.key"
    key_type_t type;
    size_t offset;          // into weft_config_t
    size_t size;            // string capacity (KEY_STRING)
    size_t count_offset;    // KEY_LIST: offset of the int count
    int min, max;           // KEY_INT bounds
    const char *choices;    // KEY_CHOICE: the allowed words, "a|b|c"
    const char *renamed_to; // an old name kept for old files: the key's current name
    // KEY_STRING / KEY_LIST: checks the text (each item); 0, or -1 with why filled
    int (*check)(const char *text, char *why, size_t why_len);
} config_key_t;


#define STR(p, field) {.path = p, .type = KEY_STRING, .offset = offsetof(weft_config_t, field), .size = sizeof(((weft_config_t *)0)->field)}
#define INT(p, field, lo, hi) {.path = p, .type = KEY_INT, .offset = offsetof(weft_config_t, field), .min = lo, .max = hi}
#define BOOL(p, field) {.path = p, .type = KEY_BOOL, .offset = offsetof(weft_config_t, field)}
#define LIST(p, field, count) {.path = p, .type = KEY_LIST, .offset = offsetof(weft_config_t, field), .size = CONFIG_STR, .count_offset = offsetof(weft_config_t, count)}
#define STR_CHECKED(p, field, fn) {.path = p, .type = KEY_STRING, .offset = offsetof(weft_config_t, field), .size = sizeof(((weft_config_t *)0)->field), .check = fn}
#define LIST_CHECKED(p, field, count, fn) {.path = p, .type = KEY_LIST, .offset = offsetof(weft_config_t, field), .size = CONFIG_STR, .count_offset = offsetof(weft_config_t, count), .check = fn}
#define CHOICE(p, field, words) {.path = p, .type = KEY_CHOICE, .offset = offsetof(weft_config_t, field), .size = sizeof(((weft_config_t *)0)->field), .choices = words}
#define MAC(p, field) {.path = p, .type = KEY_MAC, .offset = offsetof(weft_config_t, field), .size = sizeof(((weft_config_t *)0)->field)}

static const config_key_t config_keys[] = {
    STR("node.name", name),
    STR("node.identity", identity_file),
    STR("mesh.name", mesh),
    {.path = "mesh.address", .type = KEY_ADDRESS},
    STR_CHECKED("mesh.network_key", network_key, config_check_network_key),
    STR("mesh.id", mesh_id),
    STR("mesh.admin_key", mesh_admin_key),
    STR("mesh.certificate", certificate_file),
    INT("mesh.cert_max_days", cert_max_days, 1, 3650),
    STR_CHECKED("hub.endpoint", hub_endpoint, config_check_zmq_endpoint),
    STR_CHECKED("hub.public_key", hub_public_key, config_check_curve_key),
    STR_CHECKED("hub.listen", hub_listen, config_check_zmq_endpoint),
    STR("hub.http_listen", hub_http_listen),
    STR("hub.api_token_file", hub_api_token_file),
    INT("hub.http_rate", hub_http_rate, 1, 100000),
    INT("hub.member_timeout", hub_member_timeout, 2, 3600),
    INT("hub.heartbeat", heartbeat_interval, 1, 600),
    STR("hub.turn_secret", hub_turn_secret),
    LIST("hub.turn_servers", hub_turn_servers, hub_turn_server_count),
    INT("hub.turn_ttl", hub_turn_ttl, 2, 7 * 86400),
    INT("hub.stun_port", hub_stun_port, 0, 65535),
    BOOL("hub.open_meshes", hub_open_meshes),
    INT("hub.max_connections", hub_max_connections, 1, 100000),
    INT("hub.max_connections_per_address", hub_max_connections_per_address, 1, 100000),
    INT("hub.handshake_timeout", hub_handshake_timeout, 1, 300),
    INT("hub.create_per_key", hub_create_per_key, 1, 100000),
    INT("hub.create_per_address", hub_create_per_address, 1, 100000),
    INT("hub.register_per_key", hub_register_per_key, 1, 100000),
    INT("hub.register_per_address", hub_register_per_address, 1, 100000),
    STR_CHECKED("device.name", device_name, config_check_device_name),
    INT("device.mtu", mtu, 576, 9000),
    BOOL("device.offload", device_offload),
    CHOICE("device.mode", device_mode, "tun|tap"),
    MAC("device.mac", device_mac),
    BOOL("connection.direct", connection_direct),
    CHOICE("connection.relay", connection_relay, "allow|never|only"),
    INT("connection.keepalive", keepalive_interval, 1, 3600),
    INT("connection.connect_timeout", connect_timeout, 1, 600),
    BOOL("connection.relay_via_peers", connection_relay_via_peers),
    BOOL("routing.broadcast", routing_broadcast),
    INT("routing.announce_interval", routing_announce_interval, 1, 3600),
    BOOL("routing.split_horizon", routing_split_horizon),
    INT("routing.max_hops", routing_max_hops, 1, 15),
    INT("routing.route_timeout", routing_route_timeout, 5, 86400),
    LIST_CHECKED("routing.advertise", routing_advertise, routing_advertise_count, config_check_ipv4_prefix),
    BOOL("routing.accept_routes", routing_accept_routes),
    BOOL("routing.masquerade", routing_masquerade),
    BOOL("dataplane.direct", dataplane_direct),
    BOOL("dataplane.tun", dataplane_tun),
    BOOL("dataplane.gso", dataplane_gso),
    BOOL("dataplane.gro", dataplane_gro),
    CHOICE("crypto.cipher", crypto_cipher, "auto|chacha20-poly1305|aes-256-gcm"),
    LIST_CHECKED("nat.stun_servers", stun_servers, stun_server_count, config_check_host_port),
    LIST_CHECKED("nat.turn_servers", turn_servers, turn_server_count, config_check_turn_url),
    BOOL("nat.port_mapping", port_mapping),
    BOOL("nat.port_prediction", port_prediction),
    {.path = "nat.keepalive", .type = KEY_INT, .offset = offsetof(weft_config_t, keepalive_interval), .min = 1,
     .max = 3600, .renamed_to = "connection.keepalive"},
    {.path = "nat.connect_timeout", .type = KEY_INT, .offset = offsetof(weft_config_t, connect_timeout), .min = 1,
     .max = 600, .renamed_to = "connection.connect_timeout"},
    STR_CHECKED("redis.url", redis_url, config_check_redis_url),
    CHOICE("log.level", log_level, "debug|info|warn|error"),
    STR("api.listen", api_listen),
    STR("endpoints.device_tun", device_tun),   // a path, not a ZeroMQ endpoint (services/device/tun_lend.h)
};
#define CONFIG_KEY_COUNT (sizeof config_keys / sizeof config_keys[0])

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || !err_len)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, err_len, fmt, args);
    va_end(args);
}

void config_resolve_home(const char *explicit_home, char *out, size_t out_len)
{
    const char *home = explicit_home;
    char fallback[PATH_MAX];
    if (!home || !*home)
        home = getenv("WEFT_HOME");
    if (!home || !*home) {
        const char *user_home = getenv("HOME");
        snprintf(fallback, sizeof fallback, "%s/.weft", user_home ? user_home : "/root");
        home = fallback;
    }
    if (home[0] == '/') {
        snprintf(out, out_len, "%s", home);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            snprintf(cwd, sizeof cwd, ".");
        snprintf(out, out_len, "%s/%s", cwd, home);
    }
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
}

void config_defaults(weft_config_t *cfg, const char *home)
{
    memset(cfg, 0, sizeof *cfg);
    config_resolve_home(home, cfg->home, sizeof cfg->home);
    snprintf(cfg->run_dir, sizeof cfg->run_dir, "%s/run", cfg->home);
    snprintf(cfg->log_dir, sizeof cfg->log_dir, "%s/log", cfg->home);
    snprintf(cfg->config_file, sizeof cfg->config_file, "%s/weft.yaml", cfg->home);
    snprintf(cfg->identity_file, sizeof cfg->identity_file, "%s/identity.key", cfg->home);
    snprintf(cfg->certificate_file, sizeof cfg->certificate_file, "%s/member.cert", cfg->home);
    if (gethostname(cfg->name, sizeof cfg->name) != 0)
        snprintf(cfg->name, sizeof cfg->name, "node");
    cfg->name[sizeof cfg->name - 1] = '\0';
    snprintf(cfg->mesh, sizeof cfg->mesh, "default");
    snprintf(cfg->hub_listen, sizeof cfg->hub_listen, "tcp://*:7400");
    cfg->hub_member_timeout = 15;
    snprintf(cfg->hub_http_listen, sizeof cfg->hub_http_listen, "127.0.0.1:7402");
    snprintf(cfg->hub_api_token_file, sizeof cfg->hub_api_token_file, "api.token");
    cfg->hub_http_rate = 20;
    snprintf(cfg->api_listen, sizeof cfg->api_listen, "127.0.0.1:7401");
    cfg->heartbeat_interval = 3;
    cfg->hub_turn_ttl = 86400;
    cfg->hub_stun_port = 3478;
    cfg->hub_max_connections = 1000;
    cfg->hub_max_connections_per_address = 32;
    cfg->hub_handshake_timeout = 5;
    cfg->hub_create_per_key = 5;
    cfg->hub_create_per_address = 20;
    cfg->hub_register_per_key = 16;
    cfg->hub_register_per_address = 64;
    cfg->cert_max_days = 365;
    snprintf(cfg->device_name, sizeof cfg->device_name, "weft0");
    cfg->mtu = 1400;
    cfg->device_offload = true;
    snprintf(cfg->device_mode, sizeof cfg->device_mode, "tun");
    cfg->connection_direct = true;
    snprintf(cfg->connection_relay, sizeof cfg->connection_relay, "allow");
    cfg->keepalive_interval = 25;
    cfg->connection_relay_via_peers = true;
    cfg->routing_announce_interval = 10;
    cfg->routing_split_horizon = true;
    cfg->routing_max_hops = 8;
    cfg->routing_route_timeout = 300;
    cfg->dataplane_direct = true;
    cfg->dataplane_tun = true;
    cfg->dataplane_gso = true;
    cfg->dataplane_gro = false;
    snprintf(cfg->crypto_cipher, sizeof cfg->crypto_cipher, "auto");
    cfg->connect_timeout = 10;
    cfg->port_mapping = true;
    cfg->port_prediction = true;
    snprintf(cfg->log_level, sizeof cfg->log_level, "info");
    for (int i = 0; i < SVC_COUNT; i++) {
        snprintf(cfg->inbox[i], CONFIG_STR, "ipc://%s/%s.inbox", cfg->run_dir, service_name((service_id_t)i));
        snprintf(cfg->control[i], CONFIG_STR, "ipc://%s/%s.control", cfg->run_dir, service_name((service_id_t)i));
    }
    snprintf(cfg->device_tun, sizeof cfg->device_tun, "%s/device.tun", cfg->run_dir);
}

void config_redis_url(const weft_config_t *cfg, char *out, size_t out_len)
{
    if (cfg->redis_url[0])
        snprintf(out, out_len, "%s", cfg->redis_url);
    else
        snprintf(out, out_len, "unix://%s/redis.sock", cfg->run_dir);
}

// "10.100.0.2/16" -> addr + prefix
static int parse_address(weft_config_t *cfg, const char *text, char *why, size_t why_len)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    char *slash = strchr(buf, '/');
    int prefix = 24;
    if (slash) {
        *slash = '\0';
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || p < 1 || p > 32) {
            snprintf(why, why_len, "bad prefix length in '%s' (want 1..32)", text);
            return -1;
        }
        prefix = (int)p;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1) {
        snprintf(why, why_len, "'%s' is not an IPv4 address (want e.g. 10.100.0.2/16)", text);
        return -1;
    }
    snprintf(cfg->overlay_addr, sizeof cfg->overlay_addr, "%s", buf);
    cfg->overlay_prefix = prefix;
    return 0;
}

static int parse_int(const char *text, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !*text || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

// true/false or yes/no (any case), as YAML writes booleans.
static int parse_bool(const char *text, bool *out)
{
    if (strcasecmp(text, "true") == 0 || strcasecmp(text, "yes") == 0) {
        *out = true;
        return 0;
    }
    if (strcasecmp(text, "false") == 0 || strcasecmp(text, "no") == 0) {
        *out = false;
        return 0;
    }
    return -1;
}

// Sets one scalar key from text. Lists take one item per call (append) unless `replace_list`.
static int set_key(weft_config_t *cfg, const config_key_t *key, const char *text, char *why, size_t why_len)
{
    char *base = (char *)cfg;
    switch (key->type) {
    case KEY_STRING:
        if (strlen(text) >= key->size) {
            snprintf(why, why_len, "value too long (at most %zu characters)", key->size - 1);
            return -1;
        }
        if (key->check && key->check(text, why, why_len) != 0)
            return -1;
        memcpy(base + key->offset, text, strlen(text) + 1);
        return 0;
    case KEY_INT:
        if (parse_int(text, key->min, key->max, (int *)(base + key->offset)) != 0) {
            snprintf(why, why_len, "'%s' is not a whole number in %d..%d", text, key->min, key->max);
            return -1;
        }
        return 0;
    case KEY_BOOL:
        if (parse_bool(text, (bool *)(base + key->offset)) != 0) {
            snprintf(why, why_len, "'%s' is not true/false or yes/no", text);
            return -1;
        }
        return 0;
    case KEY_ADDRESS:
        return parse_address(cfg, text, why, why_len);
    case KEY_CHOICE:
        if (!config_check_choice(text, key->choices)) {
            snprintf(why, why_len, "'%s' is not one of %s", text, key->choices);
            return -1;
        }
        if (strlen(text) >= key->size) {
            snprintf(why, why_len, "value too long (at most %zu characters)", key->size - 1);
            return -1;
        }
        memcpy(base + key->offset, text, strlen(text) + 1);
        return 0;
    case KEY_MAC:
        if (!*text) {
            base[key->offset] = '\0';
            return 0;
        }
        return config_check_mac(text, base + key->offset, key->size, why, why_len);
    case KEY_LIST: {
        int *count = (int *)(base + key->count_offset);
        if (*count >= CONFIG_MAX_SERVERS) {
            snprintf(why, why_len, "at most %d entries", CONFIG_MAX_SERVERS);
            return -1;
        }
        if (strlen(text) >= CONFIG_STR) {
            snprintf(why, why_len, "entry too long");
            return -1;
        }
        if (key->check && key->check(text, why, why_len) != 0)
            return -1;
        snprintf(base + key->offset + (size_t)(*count) * CONFIG_STR, CONFIG_STR, "%s", text);
        (*count)++;
        return 0;
    }
    }
    return -1;
}

size_t config_key_count(void) { return CONFIG_KEY_COUNT; }

const char *config_key_path(size_t i) { return i < CONFIG_KEY_COUNT ? config_keys[i].path : NULL; }

const char *config_key_renamed_to(size_t i) { return i < CONFIG_KEY_COUNT ? config_keys[i].renamed_to : NULL; }

config_kind_t config_key_kind(size_t i)
{
    if (i >= CONFIG_KEY_COUNT)
        return CONFIG_KIND_STRING;
    switch (config_keys[i].type) {
    case KEY_INT: return CONFIG_KIND_INT;
    case KEY_BOOL: return CONFIG_KIND_BOOL;
    case KEY_LIST: return CONFIG_KIND_LIST;
    default: return CONFIG_KIND_STRING;
    }
}

bool config_key_is_secret(size_t i)
{
    const char *path = config_key_path(i);
    return path && (strstr(path, "secret") || strstr(path, "password") || strcmp(path, "mesh.network_key") == 0);
}

const char *config_key_text(const weft_config_t *cfg, size_t i, int item, char *out, size_t out_len)
{
    if (i >= CONFIG_KEY_COUNT || !out || out_len == 0)
        return NULL;
    const config_key_t *key = &config_keys[i];
    const char *base = (const char *)cfg;
    if (key->type != KEY_LIST && item != 0)
        return NULL;
    switch (key->type) {
    case KEY_INT: snprintf(out, out_len, "%d", *(const int *)(base + key->offset)); break;
    case KEY_BOOL: snprintf(out, out_len, "%s", *(const bool *)(base + key->offset) ? "true" : "false"); break;
    case KEY_ADDRESS:
        if (cfg->overlay_addr[0])
            snprintf(out, out_len, "%s/%d", cfg->overlay_addr, cfg->overlay_prefix);
        else
            out[0] = '\0';
        break;
    case KEY_LIST:
        if (item < 0 || item >= *(const int *)(base + key->count_offset))
            return NULL;
        snprintf(out, out_len, "%s", base + key->offset + (size_t)item * CONFIG_STR);
        break;
    default: snprintf(out, out_len, "%s", base + key->offset); break;
    }
    return out;
}

static const config_key_t *find_key(const char *path)
{
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
        if (strcmp(config_keys[i].path, path) == 0)
            return &config_keys[i];
    return NULL;
}

// endpoints.<svc> and endpoints.<svc>_control are not in the table: one pair per service.
static char *endpoint_slot(weft_config_t *cfg, const char *key)
{
    char name[64];
    snprintf(name, sizeof name, "%s", key);
    size_t n = strlen(name);
    bool control = n > 8 && strcmp(name + n - 8, "_control") == 0;
    if (control)
        name[n - 8] = '\0';
    int svc = service_from_name(name);
    if (svc < 0)
        return NULL;
    return control ? cfg->control[svc] : cfg->inbox[svc];
}

static const char *scalar_text(yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

// The cross-key checks; key_line (NULL: unknown) gives the line of each table key for the message.
static int validate(const weft_config_t *cfg, const char *source, const size_t *key_line, char *err, size_t err_len)
{
    const char *at = NULL;
    const char *problem = config_check_combination(cfg, &at);
    if (!problem)
        return 0;
    size_t line = 0;
    for (size_t i = 0; key_line && i < CONFIG_KEY_COUNT; i++)
        if (strcmp(config_keys[i].path, at) == 0)
            line = key_line[i];
    if (!line && key_line)
        for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)   // the other key of the pair, if only it was in the file
            if (key_line[i] && strncmp(config_keys[i].path, at, strcspn(at, ".") + 1) == 0)
                line = key_line[i];
    if (line)
        set_err(err, err_len, "%s:%zu: %s", source, line, problem);
    else
        set_err(err, err_len, "%s: %s", source, problem);
    return -1;
}

int config_validate(const weft_config_t *cfg, const char *source, char *err, size_t err_len)
{
    return validate(cfg, source, NULL, err, err_len);
}

int config_parse(weft_config_t *cfg, const char *yaml, size_t len, const char *source, char *err,
                 size_t err_len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    if (!yaml_parser_initialize(&parser)) {
        set_err(err, err_len, "%s: cannot start the YAML parser", source);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        set_err(err, err_len, "%s:%zu: %s", source, parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        return -1;
    }
    size_t key_line[CONFIG_KEY_COUNT] = {0};
    size_t endpoint_line[2 * SVC_COUNT] = {0};   // inbox[] then control[]: where each was set
    char value[CONFIG_STR * 4];   // a scalar after ${...} expansion
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {  // empty file: defaults only
        rc = 0;
        goto done;
    }
    if (root->type != YAML_MAPPING_NODE) {
        set_err(err, err_len, "%s:%zu: the top level must be a mapping of sections (node:, mesh:, ...)",
                source, root->start_mark.line + 1);
        goto done;
    }
    for (yaml_node_pair_t *sec = root->data.mapping.pairs.start; sec < root->data.mapping.pairs.top; sec++) {
        yaml_node_t *sec_key = yaml_document_get_node(&doc, sec->key);
        yaml_node_t *sec_val = yaml_document_get_node(&doc, sec->value);
        if (sec_key->type != YAML_SCALAR_NODE) {
            set_err(err, err_len, "%s:%zu: section names must be plain words", source, sec_key->start_mark.line + 1);
            goto done;
        }
        const char *section = scalar_text(sec_key);
        if (sec_val->type == YAML_SCALAR_NODE && sec_val->data.scalar.length == 0)
            continue;  // "section:" with nothing under it
        if (sec_val->type != YAML_MAPPING_NODE) {
            set_err(err, err_len, "%s:%zu: '%s' must be a mapping of keys", source, sec_val->start_mark.line + 1, section);
            goto done;
        }
        for (yaml_node_pair_t *p = sec_val->data.mapping.pairs.start; p < sec_val->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&doc, p->value);
            size_t line = k->start_mark.line + 1;
            if (k->type != YAML_SCALAR_NODE) {
                set_err(err, err_len, "%s:%zu: keys must be plain words", source, line);
                goto done;
            }
            char path[160];
            snprintf(path, sizeof path, "%s.%s", section, scalar_text(k));
            char why[200] = "";
            if (strcmp(section, "endpoints") == 0 && !find_key(path)) {
                char *slot = endpoint_slot(cfg, scalar_text(k));
                if (!slot) {
                    set_err(err, err_len, "%s:%zu: unknown key '%s' (endpoints are <service> or <service>_control)", source, line, path);
                    goto done;
                }
                bool is_control = slot >= cfg->control[0] && slot <= cfg->control[SVC_COUNT - 1];
                size_t *seen = is_control ? &endpoint_line[SVC_COUNT + (size_t)(slot - cfg->control[0]) / CONFIG_STR]
                                          : &endpoint_line[(size_t)(slot - cfg->inbox[0]) / CONFIG_STR];
                if (*seen) {
                    set_err(err, err_len, "%s:%zu: '%s' is set twice (also on line %zu)", source, line, path, *seen);
                    goto done;
                }
                *seen = line;
                if (v->type != YAML_SCALAR_NODE) {
                    set_err(err, err_len, "%s:%zu: '%s' must be an endpoint string", source, line, path);
                    goto done;
                }
                if (config_expand(scalar_text(v), value, sizeof value, why, sizeof why) != 0) {
                    set_err(err, err_len, "%s:%zu: '%s': %s", source, v->start_mark.line + 1, path, why);
                    goto done;
                }
                if (strlen(value) >= CONFIG_STR) {
                    set_err(err, err_len, "%s:%zu: '%s': endpoint longer than %d characters", source, line, path,
                            CONFIG_STR - 1);
                    goto done;
                }
                snprintf(slot, CONFIG_STR, "%s", value);
                continue;
            }
            const config_key_t *key = find_key(path);
            if (!key) {
                set_err(err, err_len, "%s:%zu: unknown key '%s'", source, line, path);
                goto done;
            }
            for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {   // a key (or its old name) set twice
                if (key_line[i] && config_keys[i].offset == key->offset && config_keys[i].type == key->type) {
                    set_err(err, err_len, "%s:%zu: '%s' is set twice (also on line %zu%s%s)", source, line, path,
                            key_line[i], strcmp(config_keys[i].path, path) ? " as " : "",
                            strcmp(config_keys[i].path, path) ? config_keys[i].path : "");
                    goto done;
                }
            }
            key_line[key - config_keys] = line;
            if (key->type == KEY_LIST) {
                *(int *)((char *)cfg + key->count_offset) = 0;
                if (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0)
                    continue;
                if (v->type != YAML_SEQUENCE_NODE) {
                    set_err(err, err_len, "%s:%zu: '%s' must be a list (- item)", source, line, path);
                    goto done;
                }
                for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                    yaml_node_t *item = yaml_document_get_node(&doc, *it);
                    if (item->type != YAML_SCALAR_NODE ||
                        config_expand(scalar_text(item), value, sizeof value, why, sizeof why) != 0 ||
                        set_key(cfg, key, value, why, sizeof why) != 0) {
                        set_err(err, err_len, "%s:%zu: '%s': %s", source, item->start_mark.line + 1, path,
                                why[0] ? why : "items must be strings");
                        goto done;
                    }
                }
                continue;
            }
            if (v->type != YAML_SCALAR_NODE) {
                set_err(err, err_len, "%s:%zu: '%s' must be a single value", source, line, path);
                goto done;
            }
            if (config_expand(scalar_text(v), value, sizeof value, why, sizeof why) != 0 ||
                set_key(cfg, key, value, why, sizeof why) != 0) {
                set_err(err, err_len, "%s:%zu: '%s': %s", source, v->start_mark.line + 1, path, why);
                goto done;
            }
        }
    }
    rc = validate(cfg, source, key_line, err, err_len);
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

// WEFT_<SECTION>_<KEY>, e.g. WEFT_DEVICE_MTU; lists are comma-separated. Also the short names
// WEFT_STUN_SERVERS and WEFT_TURN_SERVERS.
static int apply_env(weft_config_t *cfg, char *err, size_t err_len)
{
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const config_key_t *key = &config_keys[i];
        char var[96] = "WEFT_";
        size_t n = strlen(var);
        for (const char *c = key->path; *c && n < sizeof var - 1; c++)
            var[n++] = (*c == '.') ? '_' : (char)toupper((unsigned char)*c);
        var[n] = '\0';
        const char *value = getenv(var);
        if (!value && strcmp(key->path, "nat.stun_servers") == 0)
            value = getenv("WEFT_STUN_SERVERS");
        if (!value && strcmp(key->path, "nat.turn_servers") == 0)
            value = getenv("WEFT_TURN_SERVERS");
        if (!value)
            continue;
        char why[200] = "";
        if (key->type == KEY_LIST) {
            *(int *)((char *)cfg + key->count_offset) = 0;
            char buf[CONFIG_STR * 4];
            snprintf(buf, sizeof buf, "%s", value);
            char *save = NULL;
            for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                while (*item == ' ')
                    item++;
                if (*item && set_key(cfg, key, item, why, sizeof why) != 0) {
                    set_err(err, err_len, "environment %s: %s", var, why);
                    return -1;
                }
            }
        } else if (set_key(cfg, key, value, why, sizeof why) != 0) {
            set_err(err, err_len, "environment %s: %s", var, why);
            return -1;
        }
    }
    // endpoints.<svc> and endpoints.<svc>_control: WEFT_ENDPOINTS_<SVC> and WEFT_ENDPOINTS_<SVC>_CONTROL
    for (int svc = 0; svc < SVC_COUNT; svc++) {
        for (int control = 0; control < 2; control++) {
            char var[96] = "WEFT_ENDPOINTS_";
            size_t n = strlen(var);
            for (const char *c = service_name((service_id_t)svc); *c && n < sizeof var - 1; c++)
                var[n++] = (char)toupper((unsigned char)*c);
            var[n] = '\0';
            if (control)
                strncat(var, "_CONTROL", sizeof var - strlen(var) - 1);
            const char *value = getenv(var);
            if (!value)
                continue;
            if (!*value || strlen(value) >= CONFIG_STR) {
                set_err(err, err_len, "environment %s: want an endpoint of 1..%d characters", var, CONFIG_STR - 1);
                return -1;
            }
            snprintf(control ? cfg->control[svc] : cfg->inbox[svc], CONFIG_STR, "%s", value);
        }
    }
    return 0;
}

// A weft.yaml that holds a secret (the network key, the hub's TURN secret, a TURN password) must not be
// readable or writable by other users: refused with the chmod that fixes it, as ssh refuses a key file.
static int check_secret_mode(const weft_config_t *cfg, mode_t mode, char *err, size_t err_len)
{
    const char *secret = cfg->network_key[0] ? "mesh.network_key" : cfg->hub_turn_secret[0] ? "hub.turn_secret" : NULL;
    for (int i = 0; !secret && i < cfg->turn_server_count; i++)
        if (strchr(cfg->turn_servers[i], '@'))
            secret = "nat.turn_servers (a password)";
    if (!secret || !(mode & 077))
        return 0;
    set_err(err, err_len, "%s holds a secret (%s) but other users can read or change it (mode %03o): run chmod 600 %s",
            cfg->config_file, secret, (unsigned)(mode & 0777), cfg->config_file);
    return -1;
}

int config_load(weft_config_t *cfg, const char *home, char *err, size_t err_len)
{
    return config_load_file(cfg, home, NULL, err, err_len);
}

int config_load_file(weft_config_t *cfg, const char *home, const char *file, char *err, size_t err_len)
{
    config_defaults(cfg, home);
    if (file) {
        if (strlen(file) >= sizeof cfg->config_file) {
            set_err(err, err_len, "config file name longer than %zu characters", sizeof cfg->config_file - 1);
            return -1;
        }
        snprintf(cfg->config_file, sizeof cfg->config_file, "%s", file);
    }
    FILE *f = fopen(cfg->config_file, "r");
    if (!f) {
        if (errno != ENOENT || file) {
            set_err(err, err_len, "%s: %s", cfg->config_file, strerror(errno));
            return -1;
        }
    } else {
        char *text = NULL;
        size_t cap = 0, len = 0;
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
            if (len + got > 1 << 20) {
                fclose(f);
                free(text);
                set_err(err, err_len, "%s: larger than 1 MiB", cfg->config_file);
                return -1;
            }
            if (len + got > cap) {
                cap = (len + got) * 2;
                char *grown = realloc(text, cap);
                if (!grown) {
                    fclose(f);
                    free(text);
                    set_err(err, err_len, "%s: out of memory", cfg->config_file);
                    return -1;
                }
                text = grown;
            }
            memcpy(text + len, chunk, got);
            len += got;
        }
        struct stat st;
        int stat_rc = fstat(fileno(f), &st);
        fclose(f);
        int rc = config_parse(cfg, text ? text : "", len, cfg->config_file, err, err_len);
        free(text);
        if (rc != 0 || (stat_rc == 0 && check_secret_mode(cfg, st.st_mode, err, err_len) != 0))
            return -1;
    }
    if (apply_env(cfg, err, err_len) != 0)
        return -1;
    if (config_validate(cfg, "weft.yaml with WEFT_* overrides", err, err_len) != 0)
        return -1;
    if (cfg->identity_file[0] != '/') {  // relative to home
        char abs[PATH_MAX];
        snprintf(abs, sizeof abs, "%s/%s", cfg->home, cfg->identity_file);
        snprintf(cfg->identity_file, sizeof cfg->identity_file, "%s", abs);
    }
    if (cfg->certificate_file[0] && cfg->certificate_file[0] != '/') {  // relative to home
        char abs[PATH_MAX];
        snprintf(abs, sizeof abs, "%s/%s", cfg->home, cfg->certificate_file);
        snprintf(cfg->certificate_file, sizeof cfg->certificate_file, "%s", abs);
    }
    return 0;
}

// text as a YAML double-quoted scalar's inside: \ and " escaped, and $ doubled so that reading it back
// (which expands ${VAR}) gives text again. Returns out.
static const char *quoted(char *out, size_t out_len, const char *text)
{
    size_t n = 0;
    for (const char *c = text; *c && n + 3 < out_len; c++) {
        if (*c == '\\' || *c == '"')
            out[n++] = '\\';
        else if (*c == '$')
            out[n++] = '$';
        out[n++] = *c;
    }
    out[n] = '\0';
    return out;
}
#define QUOTED_LEN (CONFIG_STR * 2 + 4)

static void write_list(FILE *f, const char *key, const char (*items)[CONFIG_STR], int count)
{
    if (count == 0) {
        fprintf(f, "  %s: []\n", key);
        return;
    }
    fprintf(f, "  %s:\n", key);
    char q[QUOTED_LEN];
    for (int i = 0; i < count; i++)
        fprintf(f, "    - \"%s\"\n", quoted(q, sizeof q, items[i]));
}

int config_save(const weft_config_t *cfg, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    fprintf(f, "# weft node configuration (docs/config.md lists every key)\n");
    char q[QUOTED_LEN], q2[QUOTED_LEN];
    fprintf(f, "node:\n  name: \"%s\"\n", quoted(q, sizeof q, cfg->name));
    char default_identity[PATH_MAX + 16];
    snprintf(default_identity, sizeof default_identity, "%s/identity.key", cfg->home);
    if (cfg->identity_file[0] && strcmp(cfg->identity_file, default_identity) != 0)  // e.g. a mesh instance's
        fprintf(f, "  identity: \"%s\"\n", quoted(q, sizeof q, cfg->identity_file));
    fprintf(f, "mesh:\n  name: \"%s\"\n", quoted(q, sizeof q, cfg->mesh));
    if (cfg->overlay_addr[0])
        fprintf(f, "  address: \"%s/%d\"\n", cfg->overlay_addr, cfg->overlay_prefix);
    if (cfg->network_key[0])
        fprintf(f, "  network_key: \"%s\"\n", quoted(q, sizeof q, cfg->network_key));
    if (cfg->mesh_id[0]) {
        fprintf(f, "  id: \"%s\"\n", quoted(q, sizeof q, cfg->mesh_id));
        fprintf(f, "  admin_key: \"%s\"\n", quoted(q, sizeof q, cfg->mesh_admin_key));
        fprintf(f, "  certificate: \"%s\"\n", quoted(q, sizeof q, cfg->certificate_file));
    }
    fprintf(f, "hub:\n  endpoint: \"%s\"\n  public_key: \"%s\"\n", quoted(q, sizeof q, cfg->hub_endpoint),
            quoted(q2, sizeof q2, cfg->hub_public_key));
    fprintf(f, "device:\n  mode: %s\n  name: \"%s\"\n  mtu: %d\n  offload: %s\n", cfg->device_mode,
            quoted(q, sizeof q, cfg->device_name), cfg->mtu, cfg->device_offload ? "true" : "false");
    if (cfg->device_mac[0])
        fprintf(f, "  mac: \"%s\"\n", cfg->device_mac);
    fprintf(f, "connection:\n  direct: %s\n  relay: %s\n  relay_via_peers: %s\n  keepalive: %d\n  connect_timeout: %d\n",
            cfg->connection_direct ? "true" : "false", cfg->connection_relay,
            cfg->connection_relay_via_peers ? "true" : "false", cfg->keepalive_interval, cfg->connect_timeout);
    fprintf(f, "routing:\n  broadcast: %s\n  announce_interval: %d\n  split_horizon: %s\n  max_hops: %d\n"
               "  route_timeout: %d\n  accept_routes: %s\n  masquerade: %s\n",
            cfg->routing_broadcast ? "true" : "false", cfg->routing_announce_interval,
            cfg->routing_split_horizon ? "true" : "false", cfg->routing_max_hops, cfg->routing_route_timeout,
            cfg->routing_accept_routes ? "true" : "false", cfg->routing_masquerade ? "true" : "false");
    write_list(f, "advertise", cfg->routing_advertise, cfg->routing_advertise_count);
    fprintf(f, "nat:\n");
    write_list(f, "stun_servers", cfg->stun_servers, cfg->stun_server_count);
    write_list(f, "turn_servers", cfg->turn_servers, cfg->turn_server_count);
    fprintf(f, "redis:\n  url: \"%s\"\n", quoted(q, sizeof q, cfg->redis_url));
    if (cfg->api_listen[0] && strcmp(cfg->api_listen, "127.0.0.1:7401") != 0)  // e.g. a second mesh instance's
        fprintf(f, "api:\n  listen: \"%s\"\n", quoted(q, sizeof q, cfg->api_listen));
    fprintf(f, "log:\n  level: \"%s\"\n", quoted(q, sizeof q, cfg->log_level));
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}
