// route_table.c — see route_table.h. Linear probing with backward-shift deletion (no tombstones), kept
// at most half full; capacity is a power of two.
#include "route_table.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE_TABLE_MIN_CAPACITY 64

typedef struct {
    bool used;
    route_t route;
} route_slot_t;

struct route_table {
    route_slot_t *slots;
    size_t capacity;    // power of two
    size_t count;
};

static size_t hash_addr(uint32_t addr, size_t capacity)
{
    // Fibonacci hashing: neighbouring addresses (10.100.0.2, .3, ...) spread over the table
    uint32_t h = addr * 2654435769u;
    return (size_t)h & (capacity - 1);
}

static route_slot_t *alloc_slots(size_t capacity) { return calloc(capacity, sizeof(route_slot_t)); }

route_table_t *route_table_new(void)
{
    route_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = ROUTE_TABLE_MIN_CAPACITY;
    self->slots = alloc_slots(self->capacity);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    return self;
}

void route_table_destroy(route_table_t **self)
{
    if (self && *self) {
        free((*self)->slots);
        free(*self);
        *self = NULL;
    }
}

// Index of addr's slot, or of the empty slot where it would go.
static size_t find_slot(const route_table_t *self, uint32_t addr)
{
    size_t mask = self->capacity - 1;
    size_t i = hash_addr(addr, self->capacity);
    while (self->slots[i].used && self->slots[i].route.addr != addr)
        i = (i + 1) & mask;
    return i;
}

static int grow(route_table_t *self)
{
    size_t new_capacity = self->capacity * 2;
    route_slot_t *new_slots = alloc_slots(new_capacity);
    if (!new_slots)
        return -1;
    route_slot_t *old = self->slots;
    size_t old_capacity = self->capacity;
    self->slots = new_slots;
    self->capacity = new_capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].used) {
            size_t j = find_slot(self, old[i].route.addr);
            self->slots[j] = old[i];
        }
    free(old);
    return 0;
}

bool route_same_path(const route_t *a, const route_t *b)
{
    return a->addr == b->addr && memcmp(a->peer, b->peer, ROUTE_ID_LEN) == 0 &&
           memcmp(a->next_hop, b->next_hop, ROUTE_ID_LEN) == 0 && a->hops == b->hops && a->metric == b->metric;
}

int route_table_put(route_table_t *self, const route_t *route)
{
    size_t i = find_slot(self, route->addr);
    if (self->slots[i].used) {
        if (route_same_path(&self->slots[i].route, route))
            return ROUTE_UNCHANGED;
        self->slots[i].route = *route;
        return ROUTE_REPLACED;
    }
    if ((self->count + 1) * 2 > self->capacity) {
        if (grow(self) < 0)
            return -1;
        i = find_slot(self, route->addr);
    }
    self->slots[i].used = true;
    self->slots[i].route = *route;
    self->count++;
    return ROUTE_ADDED;
}

int route_table_remove(route_table_t *self, uint32_t addr)
{
    size_t mask = self->capacity - 1;
    size_t i = find_slot(self, addr);
    if (!self->slots[i].used)
        return -1;
    // backward-shift: move later members of the probe run into the hole when their home allows it
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; self->slots[j].used; j = (j + 1) & mask) {
        size_t home = hash_addr(self->slots[j].route.addr, self->capacity);
        // j may fill the hole if its home is not in the cyclic range (hole, j]
        bool home_after_hole = ((j - home) & mask) >= ((j - hole) & mask);
        if (home_after_hole) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].used = false;
    memset(&self->slots[hole].route, 0, sizeof(route_t));
    self->count--;
    return 0;
}

const route_t *route_table_lookup(const route_table_t *self, uint32_t addr)
{
    size_t i = find_slot(self, addr);
    return self->slots[i].used ? &self->slots[i].route : NULL;
}

size_t route_table_size(const route_table_t *self) { return self->count; }

void route_table_foreach(const route_table_t *self, void (*fn)(const route_t *route, void *arg), void *arg)
{
    for (size_t i = 0; i < self->capacity; i++)
        if (self->slots[i].used)
            fn(&self->slots[i].route, arg);
}

ipv4_check_t ipv4_parse(const uint8_t *pkt, size_t len, uint32_t *dst, size_t *total_len)
{
    if (!pkt || len < 1)
        return IPV4_MALFORMED;
    unsigned version = pkt[0] >> 4;
    if (version == 6)
        return IPV4_NOT_IPV4;
    if (version != 4 || len < 20)
        return IPV4_MALFORMED;
    size_t header_len = (size_t)(pkt[0] & 0x0f) * 4;
    size_t total = ((size_t)pkt[2] << 8) | pkt[3];
    if (header_len < 20 || header_len > total || total > len)
        return IPV4_MALFORMED;
    *dst = ((uint32_t)pkt[16] << 24) | ((uint32_t)pkt[17] << 16) | ((uint32_t)pkt[18] << 8) | pkt[19];
    *total_len = total;
    return IPV4_OK;
}

bool ipv4_is_multicast_or_broadcast(uint32_t addr)
{
    return (addr & 0xf0000000u) == 0xe0000000u || addr == 0xffffffffu;
}

int ipv4_from_text(const char *text, uint32_t *addr)
{
    struct in_addr in;
    if (!text || inet_pton(AF_INET, text, &in) != 1)
        return -1;
    *addr = ntohl(in.s_addr);
    return 0;
}

uint32_t ipv4_prefix_mask(int len)
{
    return len <= 0 ? 0 : len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
}

int ipv4_prefix_from_text(const char *text, uint32_t *addr, int *len)
{
    char buf[24];
    const char *slash = text ? strchr(text, '/') : NULL;
    if (!slash || (size_t)(slash - text) >= sizeof buf || !slash[1] || strlen(slash + 1) > 2)
        return -1;
    memcpy(buf, text, (size_t)(slash - text));
    buf[slash - text] = '\0';
    int n = 0;
    for (const char *c = slash + 1; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        n = n * 10 + (*c - '0');
    }
    uint32_t a;
    if (n > 32 || ipv4_from_text(buf, &a) != 0 || (a & ~ipv4_prefix_mask(n)) != 0)
        return -1;
    *addr = a;
    *len = n;
    return 0;
}

void ipv4_to_text(uint32_t addr, char out[16])
{
    snprintf(out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}
