// id_table.h — CZMQ hash tables keyed by what the sessions are keyed by: 32-byte node ids (public keys,
// kept by the items themselves: the table neither copies nor frees them) and 32-bit session indexes
// (the key is the index itself, as a pointer-sized value). Used by crypto's session table, the data
// plane's keyring and its member list.
#ifndef WEFT_ID_TABLE_H
#define WEFT_ID_TABLE_H

#include <czmq.h>
#include <stdint.h>

// A table keyed by 32-byte ids; each key must stay valid while its item is in the table. NULL when out
// of memory.
zhashx_t *id_table_new(void);
// A table keyed by 32-bit indexes (index_key). NULL when out of memory.
zhashx_t *index_table_new(void);
// The key of an index in an index table. Index 0 is not a key (zhashx refuses NULL keys).
void *index_key(uint32_t index);

#endif
