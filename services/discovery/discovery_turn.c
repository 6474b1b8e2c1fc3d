// discovery_turn.c — TURN credentials from the hub, kept and passed to nat. See discovery_turn.h.
#include "discovery_turn.h"

#include <sodium.h>
#include <string.h>

#include "log.h"
#include "wire.h"

#define TURN_FIELD_MAX 255      // username, password and each server: what nat can hold
#define TURN_SERVERS_MAX 8

bool discovery_turn_wanted(const discovery_turn_t *self, int64_t now_unix)
{
    if (!self->packed)
        return true;
    return now_unix >= self->expires_unix - (int64_t)self->ttl_s / 3;
}

static bool printable(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

int discovery_turn_take(discovery_turn_t *self, const Weft__TurnCredentials *creds, int64_t now_unix, char *why,
                        size_t why_len)
{
    if (!printable(creds->username, TURN_FIELD_MAX) || !printable(creds->password, TURN_FIELD_MAX)) {
        snprintf(why, why_len, "username or password empty, too long or not printable");
        return -1;
    }
    if (creds->n_servers == 0 || creds->n_servers > TURN_SERVERS_MAX) {
        snprintf(why, why_len, "%zu servers (want 1..%d)", creds->n_servers, TURN_SERVERS_MAX);
        return -1;
    }
    for (size_t i = 0; i < creds->n_servers; i++)
        if (!printable(creds->servers[i], TURN_FIELD_MAX)) {
            snprintf(why, why_len, "server %zu is empty, too long or not printable", i + 1);
            return -1;
        }
    if ((int64_t)creds->expires_unix <= now_unix || creds->ttl_s == 0) {
        snprintf(why, why_len, "already expired (expiry %llu, now %lld): is the hub's or our clock wrong?",
                 (unsigned long long)creds->expires_unix, (long long)now_unix);
        return -1;
    }
    size_t len = weft__turn_credentials__get_packed_size(creds);
    uint8_t *packed = malloc(len ? len : 1);
    if (!packed) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    weft__turn_credentials__pack(creds, packed);
    discovery_turn_clear(self);
    self->packed = packed;
    self->len = len;
    self->expires_unix = (int64_t)creds->expires_unix;
    self->ttl_s = creds->ttl_s;
    self->next_push_ms = 0;
    return 0;
}

int discovery_turn_push(discovery_turn_t *self, zsock_t *nat, int64_t now_ms, bool force)
{
    if (!self->packed || (!force && now_ms < self->next_push_ms))
        return -1;
    self->next_push_ms = now_ms + DISCOVERY_TURN_PUSH_MS;
    Weft__TurnCredentials *creds = weft__turn_credentials__unpack(NULL, self->len, self->packed);
    if (!creds)
        return -1;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_TURN_CREDENTIALS;
    env.turn_credentials = creds;
    int rc = wire_send(nat, &env, NULL, 0, true);
    if (creds->password)
        sodium_memzero(creds->password, strlen(creds->password));
    weft__turn_credentials__free_unpacked(creds, NULL);
    return rc;
}

void discovery_turn_clear(discovery_turn_t *self)
{
    if (self->packed) {
        sodium_memzero(self->packed, self->len);
        free(self->packed);
    }
    memset(self, 0, sizeof *self);
}
