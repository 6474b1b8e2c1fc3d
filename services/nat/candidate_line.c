// candidate_line.c — parsing and writing ICE candidate SDP lines (see candidate_line.h).
#include "candidate_line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// Copies the next space-separated token of *p into out (at most out_len - 1 characters); -1 if none or
// too long.
static int next_token(const char **p, char *out, size_t out_len)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    size_t n = strcspn(s, " \r\n");
    if (n == 0 || n >= out_len)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n;
    return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
    if (!*text)
        return -1;
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (*end || text[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

int candidate_line_parse(const char *line, candidate_line_t *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(line, "a=", 2) == 0)
        line += 2;
    if (strncmp(line, "candidate:", 10) != 0)
        return -1;
    const char *p = line + 10;
    char tok[64];
    unsigned long v;
    if (next_token(&p, out->foundation, sizeof out->foundation) != 0)
        return -1;
    if (next_token(&p, tok, sizeof tok) != 0 || parse_uint(tok, 256, &v) != 0 || v == 0)
        return -1;
    out->component = (unsigned)v;
    if (next_token(&p, tok, sizeof tok) != 0)
        return -1;
    out->udp = strcasecmp(tok, "udp") == 0;
    if (next_token(&p, tok, sizeof tok) != 0 || parse_uint(tok, UINT32_MAX, &v) != 0)
        return -1;
    out->priority = (uint32_t)v;
    if (next_token(&p, out->ip, sizeof out->ip) != 0)
        return -1;
    if (next_token(&p, tok, sizeof tok) != 0 || parse_uint(tok, 65535, &v) != 0)
        return -1;
    out->port = (uint16_t)v;
    if (next_token(&p, tok, sizeof tok) != 0 || strcmp(tok, "typ") != 0)
        return -1;
    if (next_token(&p, out->type, sizeof out->type) != 0)
        return -1;
    // extensions: key value pairs; only raddr and rport matter here
    char key[64];
    while (next_token(&p, key, sizeof key) == 0) {
        if (next_token(&p, tok, sizeof tok) != 0)
            return -1;
        if (strcmp(key, "raddr") == 0) {
            if (strlen(tok) >= sizeof out->raddr)
                return -1;
            snprintf(out->raddr, sizeof out->raddr, "%s", tok);
        } else if (strcmp(key, "rport") == 0) {
            if (parse_uint(tok, 65535, &v) != 0)
                return -1;
            out->rport = (uint16_t)v;
        }
    }
    return 0;
}

uint32_t candidate_priority(unsigned type_pref, unsigned local_pref, unsigned component)
{
    if (type_pref > 126)
        type_pref = 126;
    if (local_pref > 65535)
        local_pref = 65535;
    if (component < 1 || component > 256)
        component = 1;
    return ((uint32_t)type_pref << 24) + ((uint32_t)local_pref << 8) + (256 - component);
}

char *candidate_line_srflx(const char *foundation, unsigned component, uint32_t priority, const char *ip,
                           uint16_t port, const char *host_ip, uint16_t host_port)
{
    char line[256];
    int n = snprintf(line, sizeof line, "a=candidate:%s %u UDP %u %s %u typ srflx raddr %s rport %u", foundation,
                     component, priority, ip, port, host_ip, host_port);
    if (n < 0 || (size_t)n >= sizeof line)
        return NULL;
    return strdup(line);
}
