// hub_quota.h — fixed-window quotas for the hub: "at most `limit` uses per window for this name" (a key
// in hex, a peer address). A bounded table in memory (no Redis keys per attacker key): when the slots a
// name probes are all in use, the entry with the oldest window gives way. Pure logic, no clock of its
// own (the caller passes now), so the unit tests drive it.
#ifndef WEFT_HUB_QUOTA_H
#define WEFT_HUB_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_QUOTA_NAME_MAX 96
#define HUB_QUOTA_PROBES 16

typedef struct hub_quota hub_quota_t;

// slots: table size (rounded up to a power of two, at least HUB_QUOTA_PROBES); window_ms: the window.
hub_quota_t *hub_quota_new(size_t slots, int64_t window_ms);
void hub_quota_destroy(hub_quota_t **self);
// Uses of name in its current window (0 when unknown or the window has passed).
int hub_quota_used(hub_quota_t *self, const char *name, int64_t now_ms);
// Counts one use of name.
void hub_quota_count(hub_quota_t *self, const char *name, int64_t now_ms);
// true when name has used fewer than limit in its window.
bool hub_quota_allows(hub_quota_t *self, const char *name, int limit, int64_t now_ms);

#endif
