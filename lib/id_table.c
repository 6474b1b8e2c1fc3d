// id_table.c — see id_table.h.
#include "id_table.h"

#include <string.h>

#include "wire.h"

static size_t id_hash(const void *key)
{
    size_t h;
    memcpy(&h, key, sizeof h);   // ids are public keys: their bytes are already well mixed
    return h;
}

static int id_compare(const void *a, const void *b)
{
    return memcmp(a, b, WIRE_ID_LEN);
}

static size_t index_hash(const void *key)
{
    return (size_t)(uintptr_t)key;   // indexes are random
}

static int index_compare(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y ? -1 : x > y;
}

void *index_key(uint32_t index)
{
    return (void *)(uintptr_t)index;
}

static zhashx_t *table_new(zhashx_hash_fn *hash, zhashx_comparator_fn *compare)
{
    zhashx_t *table = zhashx_new();
    if (!table)
        return NULL;
    zhashx_set_key_hasher(table, hash);
    zhashx_set_key_comparator(table, compare);
    zhashx_set_key_duplicator(table, NULL);   // keys live in the items (ids) or are the key (indexes)
    zhashx_set_key_destructor(table, NULL);
    return table;
}

zhashx_t *id_table_new(void)
{
    return table_new(id_hash, id_compare);
}

zhashx_t *index_table_new(void)
{
    return table_new(index_hash, index_compare);
}
