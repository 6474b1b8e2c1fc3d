// store_link.h — the one way a service keeps its Redis connection: lazily, with one back-off policy.
// A service that finds no connection asks store_link_connect, which tries only when the back-off allows
// (1 s after a failure, doubling to 10 s, back to 1 s after a success) and logs once per change of state
// (unreachable, connected), not once per attempt. The store_t itself stays the service's (NULL while
// Redis is unreachable); a connected store_t reconnects by itself on a broken command (store.h).
#ifndef WEFT_STORE_LINK_H
#define WEFT_STORE_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define STORE_LINK_FIRST_RETRY_MS 1000
#define STORE_LINK_MAX_RETRY_MS 10000

typedef struct {
    char url[256];
    int64_t next_attempt_ms;    // monotonic: no attempt before this
    int64_t retry_ms;           // the wait after the next failure
    bool unreachable;           // the last attempt failed (and was logged)
} store_link_t;

typedef enum { STORE_LINK_DOWN = -1, STORE_LINK_UP = 0, STORE_LINK_NEW = 1 } store_link_state_t;

void store_link_init(store_link_t *link, const char *url);

// Connects *store to link->url if it is NULL and the back-off allows. Returns STORE_LINK_NEW when this
// call connected it (the caller loads or rewrites what it keeps in Redis), STORE_LINK_UP when it was
// connected already, STORE_LINK_DOWN when it is not (not yet due, or the attempt failed).
store_link_state_t store_link_connect(store_link_t *link, store_t **store);

// A command on *store failed for want of Redis (what: what was not written): closes *store, so the
// next store_link_connect reconnects after the first back-off step; logged once until it is back.
void store_link_lost(store_link_t *link, store_t **store, const char *what);

#endif
