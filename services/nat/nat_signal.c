// nat_signal.c — checks received Signals field by field and sends OFFER/ANSWER/RESTART. See nat_signal.h.
#include "nat_signal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ice_peer.h"
#include "wire.h"

const char *nat_signal_kind_name(Weft__Signal__Kind kind)
{
    switch (kind) {
    case WEFT__SIGNAL__KIND__OFFER: return "OFFER";
    case WEFT__SIGNAL__KIND__ANSWER: return "ANSWER";
    case WEFT__SIGNAL__KIND__RESTART: return "RESTART";
    default: return "?";
    }
}

// RFC 5245 ice-char: ALPHA / DIGIT / "+" / "/"
static bool is_ice_string(const char *text, size_t min_len, size_t max_len)
{
    size_t n = text ? strlen(text) : 0;
    if (n < min_len || n > max_len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

static bool is_number(const char *text, unsigned long max)
{
    if (!text || !*text || strlen(text) > 10)
        return false;
    for (const char *c = text; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    return strtoul(text, NULL, 10) <= max;
}

static bool is_ip(const char *text)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

// libnice compares transports without case but candidate types and tcptypes with it: so do we.
static bool is_one_of(const char *text, const char *const *words, bool ignore_case)
{
    for (; *words; words++)
        if ((ignore_case ? strcasecmp(text, *words) : strcmp(text, *words)) == 0)
            return true;
    return false;
}

// "a=candidate:<foundation> <component> <transport> <priority> <ip> <port> typ <type> [<key> <value>]..."
// with what libnice needs of each field: numbers in range, numeric addresses, known words.
static bool is_candidate_line(const char *line)
{
    static const char *const transports[] = {"udp", "tcp", NULL};
    static const char *const types[] = {"host", "srflx", "prflx", "relay", NULL};
    static const char *const tcptypes[] = {"active", "passive", "so", NULL};
    static const char *const extensions[] = {"raddr", "rport", "tcptype", "generation", "ufrag", "network-id",
                                             "network-cost", NULL};
    const char *prefix = "a=candidate:";
    if (strncmp(line, prefix, strlen(prefix)) != 0)
        return false;
    // libnice splits on every single space: an empty field (two spaces, a space at either end) fails there
    size_t len = strlen(line);
    if (strstr(line, "  ") || line[len - 1] == ' ' || line[strlen(prefix)] == ' ')
        return false;
    char copy[ICE_MAX_CANDIDATE_LEN];
    snprintf(copy, sizeof copy, "%s", line + strlen(prefix));
    char *tok[32], *save = NULL;
    size_t n = 0;
    for (char *t = strtok_r(copy, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    if (n < 8 || n % 2 != 0)
        return false;
    if (!is_ice_string(tok[0], 1, 32) || !is_number(tok[1], 256) || strcmp(tok[1], "0") == 0 ||
        !is_one_of(tok[2], transports, true) || !is_number(tok[3], 0xffffffffUL) || !is_ip(tok[4]) ||
        !is_number(tok[5], 65535) || strcmp(tok[6], "typ") != 0 || !is_one_of(tok[7], types, false))
        return false;
    for (size_t i = 8; i + 1 < n; i += 2) {
        if (!is_one_of(tok[i], extensions, false))
            return false;
        if (strcmp(tok[i], "raddr") == 0 && !is_ip(tok[i + 1]))
            return false;
        if (strcmp(tok[i], "rport") == 0 && !is_number(tok[i + 1], 65535))
            return false;
        if (strcmp(tok[i], "tcptype") == 0 && !is_one_of(tok[i + 1], tcptypes, false))
            return false;
    }
    return true;
}

size_t nat_signal_good_candidates(const Weft__Signal *s, char **good, size_t *bad)
{
    size_t count = 0;
    *bad = 0;
    for (size_t i = 0; i < s->n_candidates && i < ICE_MAX_CANDIDATES; i++) {
        if (is_candidate_line(s->candidates[i]))
            good[count++] = s->candidates[i];
        else
            (*bad)++;
    }
    return count;
}

// Lines must be printable ASCII and short; whether they parse is nat_signal_good_candidates's business.
static bool is_short_printable(const char *line)
{
    size_t n = line ? strnlen(line, ICE_MAX_CANDIDATE_LEN) : ICE_MAX_CANDIDATE_LEN;
    if (n >= ICE_MAX_CANDIDATE_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
            return false;
    return true;
}

static int check_description(const Weft__Signal *s, char *why, size_t why_len)
{
    if (!is_ice_string(s->ufrag, 4, ICE_MAX_CRED_LEN)) {
        snprintf(why, why_len, "ufrag is not 4..256 ICE characters");
        return -1;
    }
    if (!is_ice_string(s->pwd, 22, ICE_MAX_CRED_LEN)) {
        snprintf(why, why_len, "pwd is not 22..256 ICE characters");
        return -1;
    }
    if (s->n_candidates > ICE_MAX_CANDIDATES) {
        snprintf(why, why_len, "%zu candidates (at most %d)", s->n_candidates, ICE_MAX_CANDIDATES);
        return -1;
    }
    for (size_t i = 0; i < s->n_candidates; i++)
        if (!is_short_printable(s->candidates[i])) {
            snprintf(why, why_len, "candidate %zu is not a printable line under %d bytes", i,
                     ICE_MAX_CANDIDATE_LEN);
            return -1;
        }
    return 0;
}

int nat_signal_check(const Weft__Signal *s, const uint8_t self_id[32], char *why, size_t why_len)
{
    if (s->from.len != WIRE_ID_LEN || s->to.len != WIRE_ID_LEN) {
        snprintf(why, why_len, "from/to are %zu/%zu bytes (want 32)", s->from.len, s->to.len);
        return -1;
    }
    if (memcmp(s->to.data, self_id, WIRE_ID_LEN) != 0) {
        snprintf(why, why_len, "addressed to another node");
        return -1;
    }
    if (memcmp(s->from.data, self_id, WIRE_ID_LEN) == 0) {
        snprintf(why, why_len, "claims to come from this node");
        return -1;
    }
    switch (s->kind) {
    case WEFT__SIGNAL__KIND__OFFER:
        return check_description(s, why, why_len);
    case WEFT__SIGNAL__KIND__ANSWER:
        if (!is_ice_string(s->answers, 4, ICE_MAX_CRED_LEN)) {
            snprintf(why, why_len, "answers is not a ufrag");
            return -1;
        }
        return check_description(s, why, why_len);
    case WEFT__SIGNAL__KIND__RESTART:
        if (s->answers && s->answers[0] && !is_ice_string(s->answers, 4, ICE_MAX_CRED_LEN)) {
            snprintf(why, why_len, "answers is not a ufrag");
            return -1;
        }
        return 0;
    default:
        snprintf(why, why_len, "unknown kind %d", (int)s->kind);
        return -1;
    }
}

int nat_signal_send(zsock_t *discovery, Weft__Signal__Kind kind, const uint8_t from[32], const uint8_t to[32],
                    const char *ufrag, const char *pwd, char **candidates, size_t count, const char *answers,
                    bool trial)
{
    Weft__Signal signal = WEFT__SIGNAL__INIT;
    signal.from.data = (uint8_t *)from;
    signal.from.len = WIRE_ID_LEN;
    signal.to.data = (uint8_t *)to;
    signal.to.len = WIRE_ID_LEN;
    signal.kind = kind;
    signal.ufrag = (char *)(ufrag ? ufrag : "");
    signal.pwd = (char *)(pwd ? pwd : "");
    signal.candidates = candidates;
    signal.n_candidates = count;
    signal.answers = (char *)(answers ? answers : "");
    signal.trial = trial;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_SIGNAL;
    env.signal = &signal;
    return wire_send(discovery, &env, NULL, 0, true);
}
