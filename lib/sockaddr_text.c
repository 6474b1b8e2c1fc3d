// sockaddr_text.c — see sockaddr_text.h.
#include "sockaddr_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sockaddr_parse(const char *text, bool allow_any, struct sockaddr_storage *out, socklen_t *out_len, char *err,
                   size_t err_len)
{
    char host[128];
    const char *port_text;
    if (!text || !*text || strlen(text) >= sizeof host) {
        snprintf(err, err_len, "empty or too long address");
        return -1;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            snprintf(err, err_len, "'%s': want [IPv6]:port", text);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(close - text - 1), text + 1);
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || strchr(text, ':') != colon) {
            snprintf(err, err_len, "'%s': want host:port, e.g. 127.0.0.1:7401", text);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
        port_text = colon + 1;
    }
    char *end;
    long port = strtol(port_text, &end, 10);
    if (!*port_text || *end || port < 1 || port > 65535) {
        snprintf(err, err_len, "'%s': the port must be 1..65535", text);
        return -1;
    }
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    bool any = allow_any && strcmp(host, "*") == 0;
    if (any || inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        if (any)
            v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = htons((uint16_t)port);
        *out_len = sizeof *v4;
        return 0;
    }
    char *scope = strchr(host, '%');   // "fe80::1%3": a link-local address and its interface index
    if (scope) {
        char *scope_end;
        unsigned long id = strtoul(scope + 1, &scope_end, 10);
        if (!scope[1] || *scope_end || id == 0 || id > 0xffffffffUL) {
            snprintf(err, err_len, "'%s': the scope after %% must be an interface index", text);
            return -1;
        }
        v6->sin6_scope_id = (uint32_t)id;
        *scope = '\0';
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *out_len = sizeof *v6;
        return 0;
    }
    snprintf(err, err_len, "'%s': the host must be an IPv4 or [IPv6] address%s", text, allow_any ? " (or *)" : "");
    memset(out, 0, sizeof *out);
    return -1;
}

bool sockaddr_same(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
               (!x->sin6_scope_id || !y->sin6_scope_id || x->sin6_scope_id == y->sin6_scope_id);
    }
    return false;
}
