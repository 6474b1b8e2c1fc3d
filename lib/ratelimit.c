// ratelimit.c — see ratelimit.h.
#include "ratelimit.h"

bool rate_limit_allow(rate_limit_t *rl, uint32_t rate, uint32_t burst, int64_t now_ms)
{
    if (rate == 0)
        return false;
    int64_t cost = 1000000 / rate, cap = cost * (burst ? burst : 1);
    if (!rl->started) {
        rl->credit_us = cap;
        rl->last_ms = now_ms;
        rl->started = true;
    }
    if (now_ms > rl->last_ms) {
        int64_t elapsed = now_ms - rl->last_ms;
        // elapsed is capped so the product cannot overflow after a long idle time
        rl->credit_us += (elapsed > 3600000 ? 3600000 : elapsed) * 1000;
        if (rl->credit_us > cap)
            rl->credit_us = cap;
    }
    rl->last_ms = now_ms;   // a clock that went back does not refill
    if (rl->credit_us < cost)
        return false;
    rl->credit_us -= cost;
    return true;
}
