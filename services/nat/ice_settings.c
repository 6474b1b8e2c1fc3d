// ice_settings.c — parses and resolves the configured STUN/TURN servers. See ice_settings.h.
#include "ice_settings.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "node_stun.h"

// "host:port" or "[v6]:port" -> numeric ip + port. Returns 0 or -1.
static int resolve_host_port(const char *text, char *ip, size_t ip_len, unsigned *port)
{
    char host[CONFIG_STR];
    snprintf(host, sizeof host, "%s", text);
    char *colon = strrchr(host, ':');
    if (!colon || colon == host)
        return -1;
    *colon = '\0';
    char *end = NULL;
    long value = strtol(colon + 1, &end, 10);
    if (!end || *end || value <= 0 || value > 65535)
        return -1;
    char *name = host;
    size_t n = strlen(name);
    if (name[0] == '[' && n > 2 && name[n - 1] == ']') {
        name[n - 1] = '\0';
        name++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *found = NULL;
    if (getaddrinfo(name, NULL, &hints, &found) != 0 || !found)
        return -1;
    int rc = getnameinfo(found->ai_addr, found->ai_addrlen, ip, (socklen_t)ip_len, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(found);
    if (rc != 0)
        return -1;
    *port = (unsigned)value;
    return 0;
}

static int parse_stun(ice_stun_server_t *s, const char *text)
{
    const char *plain = strncmp(text, "stun:", 5) == 0 ? text + 5 : text;   // "stun:host:port" too
    if (strlen(plain) >= sizeof s->name || resolve_host_port(plain, s->ip, sizeof s->ip, &s->port) != 0) {
        log_warn("nat.stun_servers: cannot use '%s' (want host:port that resolves); left out", text);
        return -1;
    }
    snprintf(s->name, sizeof s->name, "%s", plain);
    return 0;
}

int ice_settings_hub_stun(ice_settings_t *settings, const char *hub_endpoint, unsigned port, char *why,
                          size_t why_len)
{
    if (settings->stun_count > 0 && !settings->stun_from_hub)
        return 0;   // nat.stun_servers wins
    if (port == 0 || port > 65535) {
        if (!settings->stun_from_hub)
            return 0;
        settings->stun_count = 0;
        settings->stun_from_hub = false;
        return 1;
    }
    char name[ICE_SERVER_NAME];
    if (node_stun_hub_address(hub_endpoint, port, name, sizeof name, why, why_len) != 0)
        return -1;
    if (settings->stun_from_hub && strcmp(settings->stun[0].name, name) == 0)
        return 0;
    if (strcmp(settings->hub_stun_unusable, name) == 0)
        return 0;   // refused before: not resolved on every PeerList
    ice_stun_server_t s = {0};
    if (resolve_host_port(name, s.ip, sizeof s.ip, &s.port) != 0) {
        snprintf(settings->hub_stun_unusable, sizeof settings->hub_stun_unusable, "%s", name);
        snprintf(why, why_len, "'%s' does not resolve", name);
        return -1;
    }
    snprintf(s.name, sizeof s.name, "%s", name);
    settings->stun[0] = s;
    settings->stun_count = 1;
    settings->stun_from_hub = true;
    settings->hub_stun_unusable[0] = '\0';
    return 1;
}

int ice_settings_parse_turn(const char *text, const char *user, const char *pass, ice_turn_server_t *out,
                            char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    const char *rest = text;
    if (strncmp(rest, "turn://", 7) == 0)
        rest += 7;
    else if (strncmp(rest, "turn:", 5) == 0)
        rest += 5;
    else if (!user) {
        snprintf(why, why_len, "does not start with turn://");
        return -1;
    }
    char hostport[CONFIG_STR];
    const char *query = strchr(rest, '?');
    size_t main_len = query ? (size_t)(query - rest) : strlen(rest);
    const char *at = NULL;      // the last '@' before the query: a password may hold '@'
    for (size_t i = 0; i < main_len; i++)
        if (rest[i] == '@')
            at = rest + i;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (!colon || (size_t)(colon - rest) >= sizeof out->user || (size_t)(at - colon - 1) >= sizeof out->pass) {
            snprintf(why, why_len, "want user:pass@ before the host");
            return -1;
        }
        snprintf(out->user, sizeof out->user, "%.*s", (int)(colon - rest), rest);
        snprintf(out->pass, sizeof out->pass, "%.*s", (int)(at - colon - 1), colon + 1);
        rest = at + 1;
        main_len = query ? (size_t)(query - rest) : strlen(rest);
    } else if (user && pass) {
        snprintf(out->user, sizeof out->user, "%s", user);
        snprintf(out->pass, sizeof out->pass, "%s", pass);
    } else {
        snprintf(why, why_len, "no user:pass@ (and no credentials from the hub)");
        return -1;
    }
    if (main_len >= sizeof hostport || main_len >= ICE_SERVER_NAME - 5) {
        snprintf(why, why_len, "host:port too long");
        return -1;
    }
    snprintf(hostport, sizeof hostport, "%.*s", (int)main_len, rest);
    if (query) {
        if (strcmp(query, "?transport=tcp") == 0)
            out->tcp = true;
        else if (strcmp(query, "?transport=udp") != 0) {
            snprintf(why, why_len, "unknown option '%.40s' (want ?transport=udp or ?transport=tcp)", query);
            return -1;
        }
    }
    if (resolve_host_port(hostport, out->ip, sizeof out->ip, &out->port) != 0) {
        snprintf(why, why_len, "'%s' is not host:port that resolves", hostport);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s%s", hostport, out->tcp ? "/tcp" : "");
    return 0;
}

bool ice_settings_in_overlay(const ice_settings_t *settings, const char *addr)
{
    struct in_addr a;
    if (!settings->overlay_mask || inet_pton(AF_INET, addr, &a) != 1)
        return false;
    return (ntohl(a.s_addr) & settings->overlay_mask) == settings->overlay_net;
}

int ice_settings_turn_list(const ice_settings_t *settings, int64_t now_unix, const ice_turn_server_t **out, int max)
{
    int n = 0;
    for (int i = 0; i < settings->hub_turn_count && n < max; i++)
        if (settings->hub_turn[i].expires_unix > now_unix)
            out[n++] = &settings->hub_turn[i];
    for (int i = 0; i < settings->turn_count && n < max; i++)
        out[n++] = &settings->turn[i];
    return n;
}

int ice_settings_from_config(ice_settings_t *settings, const weft_config_t *cfg)
{
    memset(settings, 0, sizeof *settings);
    int rc = 0;
    snprintf(settings->overlay_device, sizeof settings->overlay_device, "%s", cfg->device_name);
    struct in_addr overlay;
    if (cfg->overlay_addr[0] && inet_pton(AF_INET, cfg->overlay_addr, &overlay) == 1 && cfg->overlay_prefix > 0) {
        settings->overlay_mask = cfg->overlay_prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> cfg->overlay_prefix);
        settings->overlay_net = ntohl(overlay.s_addr) & settings->overlay_mask;
    }
    for (int i = 0; i < cfg->stun_server_count && settings->stun_count < ICE_MAX_SERVERS; i++) {
        if (parse_stun(&settings->stun[settings->stun_count], cfg->stun_servers[i]) == 0)
            log_info("STUN server %d: %s (%s:%u)", settings->stun_count + 1, settings->stun[settings->stun_count].name,
                     settings->stun[settings->stun_count].ip, settings->stun[settings->stun_count].port),
                settings->stun_count++;
        else
            rc = -1;
    }
    for (int i = 0; i < cfg->turn_server_count && settings->turn_count < ICE_MAX_SERVERS; i++) {
        char why[160];
        ice_turn_server_t *t = &settings->turn[settings->turn_count];
        if (ice_settings_parse_turn(cfg->turn_servers[i], NULL, NULL, t, why, sizeof why) == 0) {
            log_info("TURN server %d: %s (user %s)", settings->turn_count + 1, t->name, t->user);
            settings->turn_count++;
        } else {
            // the entry holds a password: name only its position, never print it
            log_warn("nat.turn_servers: entry %d left out: %s", i + 1, why);
            rc = -1;
        }
    }
    settings->ice_tcp = true;
    settings->direct = cfg->connection_direct;
    settings->relay_allowed = strcmp(cfg->connection_relay, "never") != 0;
    settings->relay_only = strcmp(cfg->connection_relay, "only") == 0 || !cfg->connection_direct;
    return rc;
}
