// store_link.c — see store_link.h.
#include "store_link.h"

#include <stdio.h>

#include "clock.h"
#include "log.h"

void store_link_init(store_link_t *link, const char *url)
{
    *link = (store_link_t){.retry_ms = STORE_LINK_FIRST_RETRY_MS};
    snprintf(link->url, sizeof link->url, "%s", url);
}

// The attempt failed: wait, then twice as long next time (up to the maximum).
static void back_off(store_link_t *link, int64_t now_ms)
{
    link->next_attempt_ms = now_ms + link->retry_ms;
    link->retry_ms = link->retry_ms * 2 > STORE_LINK_MAX_RETRY_MS ? STORE_LINK_MAX_RETRY_MS : link->retry_ms * 2;
}

store_link_state_t store_link_connect(store_link_t *link, store_t **store)
{
    if (*store)
        return STORE_LINK_UP;
    int64_t now_ms = clock_now_ms();
    if (now_ms < link->next_attempt_ms)
        return STORE_LINK_DOWN;
    char err[256];
    *store = store_connect(link->url, err, sizeof err);
    if (!*store) {
        if (!link->unreachable)
            log_warn("redis: %s; retrying after %lld ms, doubling to %d s (the service works meanwhile)", err,
                     (long long)link->retry_ms, STORE_LINK_MAX_RETRY_MS / 1000);
        link->unreachable = true;
        back_off(link, now_ms);
        return STORE_LINK_DOWN;
    }
    log_info("redis: connected to %s", link->url);
    link->unreachable = false;
    link->retry_ms = STORE_LINK_FIRST_RETRY_MS;
    link->next_attempt_ms = 0;
    return STORE_LINK_NEW;
}

void store_link_lost(store_link_t *link, store_t **store, const char *what)
{
    if (!*store)
        return;
    store_destroy(store);
    if (!link->unreachable)
        log_warn("redis at %s unreachable; %s not written until it is back", link->url, what);
    link->unreachable = true;
    back_off(link, clock_now_ms());
}
