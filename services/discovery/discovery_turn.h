// discovery_turn.h — the time-limited TURN credentials the hub gives this member (TURN REST API), kept in
// memory only (never Redis: they are a secret) and passed on to nat: when they arrive, and again every
// 10 s so that a restarted nat has them at once. The member asks for new ones (Register
// want_turn_credentials) when it has none or a third of their lifetime is left.
#ifndef WEFT_DISCOVERY_TURN_H
#define WEFT_DISCOVERY_TURN_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.pb-c.h"

#define DISCOVERY_TURN_PUSH_MS 10000

typedef struct {
    uint8_t *packed;            // a packed TurnCredentials, or NULL
    size_t len;
    int64_t expires_unix;
    uint32_t ttl_s;
    int64_t next_push_ms;       // monotonic
} discovery_turn_t;

// True when the next Register should ask for credentials.
bool discovery_turn_wanted(const discovery_turn_t *self, int64_t now_unix);
// Checks credentials from the hub and keeps them. Returns 0, or -1 with why filled (nothing kept).
int discovery_turn_take(discovery_turn_t *self, const Weft__TurnCredentials *creds, int64_t now_unix, char *why,
                        size_t why_len);
// Sends the kept credentials to nat when due (or now, with force). Returns 0, or -1 if none or not sent.
int discovery_turn_push(discovery_turn_t *self, zsock_t *nat, int64_t now_ms, bool force);
// Forgets (and wipes) them.
void discovery_turn_clear(discovery_turn_t *self);

#endif
