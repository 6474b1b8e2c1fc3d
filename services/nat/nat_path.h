// nat_path.h — the Redis hash weft:path:<hex id> that `weft peers` reads: state, role, selected pair,
// traffic and restarts of one peer's ICE path, with a NAT_PATH_TTL_S expiry refreshed every
// NAT_PATH_WRITE_MS (actor thread).
#ifndef WEFT_NAT_PATH_H
#define WEFT_NAT_PATH_H

#include "nat.h"

// Writes weft:path:<hex> (HSET + EXPIRE) and clears the peer's dirty mark. Returns 0, or -1 when Redis
// is not connected or did not take it (the mark stays: written again on the next pass).
int nat_path_write(nat_t *nat, nat_peer_t *peer);
void nat_path_delete(nat_t *nat, const nat_peer_t *peer);

#endif
