// ratelimit.h — a token bucket in integer milliseconds: `rate` events a second on average, at most
// `burst` at once. weft-crypto keeps one per member and one for the whole node in front of the
// handshake's Diffie-Hellman (session.c); weft-nat one per ICE agent in front of crypto, for the handshake
// datagrams it passes on (ice_peer.c). No clock of its own: the caller passes the time.
#ifndef WEFT_RATELIMIT_H
#define WEFT_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t credit_us;      // microseconds of credit; an event costs 1000000 / rate
    int64_t last_ms;        // time of the last refill
    bool started;
} rate_limit_t;

// True (and one event taken) if an event is allowed at now_ms. A new bucket starts full.
bool rate_limit_allow(rate_limit_t *rl, uint32_t rate, uint32_t burst, int64_t now_ms);

#endif
