// ice_settings.c — parses and resolves the configured STUN/TURN servers. See ice_settings.h.
#include "ice_settings.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

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

static int parse_stun(ice_settings_t *s, const char *text)
{
    if (resolve_host_port(text, s->stun_ip, sizeof s->stun_ip, &s->stun_port) != 0) {
        log_warn("nat.stun_servers: cannot use '%s' (want host:port that resolves); no STUN", text);
        return -1;
    }
    s->has_stun = true;
    return 0;
}

static int parse_turn(ice_settings_t *s, const char *text)
{
    const char *prefix = "turn://";
    const char *rest = strncmp(text, prefix, strlen(prefix)) == 0 ? text + strlen(prefix) : NULL;
    const char *at = rest ? strrchr(rest, '@') : NULL;
    const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    if (!colon || (size_t)(colon - rest) >= sizeof s->turn_user || (size_t)(at - colon - 1) >= sizeof s->turn_pass ||
        resolve_host_port(at + 1, s->turn_ip, sizeof s->turn_ip, &s->turn_port) != 0) {
        // the entry holds a password: name only its position, never print it
        log_warn("nat.turn_servers: the first entry does not parse or resolve (want turn://user:pass@host:port); no TURN");
        return -1;
    }
    snprintf(s->turn_user, sizeof s->turn_user, "%.*s", (int)(colon - rest), rest);
    snprintf(s->turn_pass, sizeof s->turn_pass, "%.*s", (int)(at - colon - 1), colon + 1);
    s->has_turn = true;
    return 0;
}

bool ice_settings_in_overlay(const ice_settings_t *settings, const char *addr)
{
    struct in_addr a;
    if (!settings->overlay_mask || inet_pton(AF_INET, addr, &a) != 1)
        return false;
    return (ntohl(a.s_addr) & settings->overlay_mask) == settings->overlay_net;
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
    if (cfg->stun_server_count > 0 && parse_stun(settings, cfg->stun_servers[0]) != 0)
        rc = -1;
    if (cfg->turn_server_count > 0 && parse_turn(settings, cfg->turn_servers[0]) != 0)
        rc = -1;
    if (settings->has_stun)
        log_info("STUN server %s:%u", settings->stun_ip, settings->stun_port);
    if (settings->has_turn)
        log_info("TURN relay %s:%u (user %s)", settings->turn_ip, settings->turn_port, settings->turn_user);
    return rc;
}
