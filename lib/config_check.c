// config_check.c — see config_check.h.
#include "config_check.h"

#include "route_table.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_key.h"

// "1".."65535", all digits
static bool is_port(const char *text)
{
    if (!*text || strlen(text) > 5)
        return false;
    for (const char *c = text; *c; c++)
        if (!isdigit((unsigned char)*c))
            return false;
    long port = strtol(text, NULL, 10);
    return port >= 1 && port <= 65535;
}

// host:port or [v6]:port; the host is not empty and holds no spaces, '/' or '@'
static bool is_host_port(const char *text, size_t len)
{
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (text[i] == ':')
            colon = text + i;
    if (!colon || colon == text)
        return false;
    char port[8];
    size_t port_len = len - (size_t)(colon + 1 - text);
    if (port_len == 0 || port_len >= sizeof port)
        return false;
    memcpy(port, colon + 1, port_len);
    port[port_len] = '\0';
    if (!is_port(port))
        return false;
    for (const char *c = text; c < colon; c++)
        if (isspace((unsigned char)*c) || *c == '/' || *c == '@' || !isprint((unsigned char)*c))
            return false;
    if (text[0] == '[')
        return colon[-1] == ']' && colon - text > 2;
    return memchr(text, ':', (size_t)(colon - text)) == NULL;   // an IPv6 address needs [brackets]
}

int config_check_host_port(const char *text, char *why, size_t why_len)
{
    if (is_host_port(text, strlen(text)))
        return 0;
    snprintf(why, why_len, "'%s' is not host:port (e.g. 192.0.2.1:3478 or [2001:db8::1]:3478)", text);
    return -1;
}

// tcp://host:port (port may be *), ipc://path, inproc://name; "" = not set
int config_check_zmq_endpoint(const char *text, char *why, size_t why_len)
{
    if (!*text)
        return 0;
    if (strncmp(text, "tcp://", 6) == 0) {
        const char *rest = text + 6;
        size_t n = strlen(rest);
        if (n >= 2 && strcmp(rest + n - 2, ":*") == 0 && n > 2)
            return 0;
        if (is_host_port(rest, n) || (rest[0] == '*' && rest[1] == ':' && is_port(rest + 2)))
            return 0;
    } else if ((strncmp(text, "ipc://", 6) == 0 && text[6]) || (strncmp(text, "inproc://", 9) == 0 && text[9])) {
        return 0;
    }
    snprintf(why, why_len, "'%s' is not a ZeroMQ endpoint (want tcp://host:port, ipc://path or inproc://name)", text);
    return -1;
}

// "" (a local redis-server), unix:///absolute/path or redis://host:port
int config_check_redis_url(const char *text, char *why, size_t why_len)
{
    if (!*text || (strncmp(text, "unix://", 7) == 0 && text[7] == '/') ||
        (strncmp(text, "redis://", 8) == 0 && is_host_port(text + 8, strlen(text + 8))))
        return 0;
    snprintf(why, why_len, "'%s' is not a Redis URL (want redis://host:port or unix:///path, or \"\")", text);
    return -1;
}

// turn://user:pass@host:port[?transport=udp|tcp]; the message never repeats the text (it holds a password)
int config_check_turn_url(const char *text, char *why, size_t why_len)
{
    const char *rest = strncmp(text, "turn://", 7) == 0 ? text + 7 : NULL;
    const char *at = rest ? strrchr(rest, '@') : NULL;
    const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    if (colon && colon > rest) {
        const char *host = at + 1;
        const char *query = strchr(host, '?');
        size_t host_len = query ? (size_t)(query - host) : strlen(host);
        if (is_host_port(host, host_len) &&
            (!query || strcmp(query, "?transport=udp") == 0 || strcmp(query, "?transport=tcp") == 0))
            return 0;
    }
    snprintf(why, why_len, "an entry is not turn://user:pass@host:port[?transport=udp|tcp]");
    return -1;
}

int config_check_network_key(const char *text, char *why, size_t why_len)
{
    size_t n = strlen(text);
    bool hex = n == 64;
    for (size_t i = 0; hex && i < n; i++)
        hex = isxdigit((unsigned char)text[i]) != 0;
    if (n == 0 || hex)
        return 0;
    snprintf(why, why_len, "want 64 hex characters (32 bytes), or \"\" for none");
    return -1;
}

// the hub's CURVE public key: 64 hex characters, or the old 40-character Z85 form (hub_key.h)
int config_check_curve_key(const char *text, char *why, size_t why_len)
{
    uint8_t key[32];
    return !*text || hub_key_parse(text, key, why, why_len) == 0 ? 0 : -1;
}

// a Linux interface name: 1..15 characters, no '/', ':' or white space, not "." or ".."
int config_check_device_name(const char *text, char *why, size_t why_len)
{
    size_t n = strlen(text);
    bool ok = n >= 1 && n <= 15 && strcmp(text, ".") != 0 && strcmp(text, "..") != 0;
    for (const char *c = text; ok && *c; c++)
        ok = isgraph((unsigned char)*c) && *c != '/' && *c != ':';
    if (ok)
        return 0;
    snprintf(why, why_len, "'%s' is not an interface name (1..15 characters, no '/', ':' or spaces)", text);
    return -1;
}

int config_check_ipv4_prefix(const char *text, char *why, size_t why_len)
{
    uint32_t addr;
    int len;
    if (ipv4_prefix_from_text(text, &addr, &len) == 0)
        return 0;
    snprintf(why, why_len, "'%s' is not an IPv4 prefix such as 192.168.50.0/24 (no bits set past the length)", text);
    return -1;
}

// One of the words in choices ("a|b|c"), exactly.
bool config_check_choice(const char *text, const char *choices)
{
    size_t n = strlen(text);
    for (const char *c = choices; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (n && len == n && strncmp(c, text, n) == 0)
            return true;
        c = bar ? bar + 1 : NULL;
    }
    return false;
}

// "02:ab:cd:ef:01:23" (or with '-'): a unicast address, not all zero. Written back lower case with ':'.
int config_check_mac(const char *text, char *out, size_t out_len, char *why, size_t why_len)
{
    unsigned b[6];
    char sep[5];
    int used = 0;
    if (strlen(text) != 17 ||
        sscanf(text, "%2x%c%2x%c%2x%c%2x%c%2x%c%2x%n", &b[0], &sep[0], &b[1], &sep[1], &b[2], &sep[2], &b[3],
               &sep[3], &b[4], &sep[4], &b[5], &used) != 11 || used != 17) {
        snprintf(why, why_len, "'%s' is not a MAC address (want six hex pairs, e.g. 02:00:5e:10:00:01)", text);
        return -1;
    }
    for (int i = 0; i < 17; i++)
        if (i % 3 != 2 && !isxdigit((unsigned char)text[i])) {
            snprintf(why, why_len, "'%s' is not a MAC address (want six hex pairs, e.g. 02:00:5e:10:00:01)", text);
            return -1;
        }
    for (int i = 0; i < 5; i++)
        if (sep[i] != sep[0] || (sep[i] != ':' && sep[i] != '-')) {
            snprintf(why, why_len, "'%s': separate the pairs with ':' (or '-')", text);
            return -1;
        }
    if (b[0] & 1) {
        snprintf(why, why_len, "'%s' is a multicast address (the first byte must be even, e.g. 02)", text);
        return -1;
    }
    if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0) {
        snprintf(why, why_len, "'%s' is all zero", text);
        return -1;
    }
    snprintf(out, out_len, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    return 0;
}

const char *config_check_combination(const weft_config_t *cfg, const char **at)
{
    if (cfg->device_mac[0] && strcmp(cfg->device_mode, "tap") != 0) {
        *at = "device.mac";
        return "'device.mac' is only used with device.mode tap (a TUN device has no MAC address); remove it";
    }
    if (!cfg->connection_direct && strcmp(cfg->connection_relay, "never") == 0) {
        *at = "connection.relay";
        return "connection.direct is false and connection.relay is never: no way is left to reach a peer";
    }
    return NULL;
}
