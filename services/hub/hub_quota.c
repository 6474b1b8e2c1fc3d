// hub_quota.c — see hub_quota.h.
#include "hub_quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[HUB_QUOTA_NAME_MAX];  // "" = free
    int64_t window_start;
    int used;
} slot_t;

struct hub_quota {
    slot_t *slots;
    size_t mask;
    int64_t window_ms;
};

hub_quota_t *hub_quota_new(size_t slots, int64_t window_ms)
{
    size_t n = HUB_QUOTA_PROBES;
    while (n < slots)
        n *= 2;
    hub_quota_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc(n, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = n - 1;
    self->window_ms = window_ms > 0 ? window_ms : 1;
    return self;
}

void hub_quota_destroy(hub_quota_t **self)
{
    if (self && *self) {
        free((*self)->slots);
        free(*self);
        *self = NULL;
    }
}

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL;  // FNV-1a
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static bool live(const hub_quota_t *self, const slot_t *s, int64_t now_ms)
{
    return s->name[0] && now_ms - s->window_start < self->window_ms;
}

// The slot of name, or (create) a free, expired or the oldest probed slot, reset for name.
static slot_t *lookup(hub_quota_t *self, const char *name, int64_t now_ms, bool create)
{
    size_t h = hash(name);
    slot_t *spare = NULL;
    for (size_t i = 0; i < HUB_QUOTA_PROBES; i++) {
        slot_t *s = &self->slots[(h + i) & self->mask];
        if (s->name[0] && strncmp(s->name, name, sizeof s->name - 1) == 0) {
            if (!live(self, s, now_ms)) {
                s->window_start = now_ms;
                s->used = 0;
            }
            return s;
        }
        if (!spare || (live(self, spare, now_ms) && (!live(self, s, now_ms) || s->window_start < spare->window_start)))
            spare = s;
    }
    if (!create)
        return NULL;
    snprintf(spare->name, sizeof spare->name, "%s", name);
    spare->window_start = now_ms;
    spare->used = 0;
    return spare;
}

int hub_quota_used(hub_quota_t *self, const char *name, int64_t now_ms)
{
    slot_t *s = lookup(self, name, now_ms, false);
    return s ? s->used : 0;
}

void hub_quota_count(hub_quota_t *self, const char *name, int64_t now_ms)
{
    slot_t *s = lookup(self, name, now_ms, true);
    if (s->used < INT32_MAX)
        s->used++;
}

bool hub_quota_allows(hub_quota_t *self, const char *name, int limit, int64_t now_ms)
{
    return hub_quota_used(self, name, now_ms) < limit;
}
