// nat_resume.h — the last ICE description that connected to each peer, in memory and in Redis
// (weft:remote:<hex id>), so that a restarted nat resumes the path without the hub (see nat_resume.c).
#ifndef WEFT_NAT_RESUME_H
#define WEFT_NAT_RESUME_H

#include <stdbool.h>

#include "nat.h"

// The current agent just connected over a local port (0: a relayed candidate, which cannot be resumed):
// keep its description as the peer's resume.
void nat_resume_keep(nat_peer_t *peer, unsigned local_port);
// Writes the peer's resume to weft:remote:<hex> with NAT_RESUME_TTL_S to live (called every 2 s while
// the path is usable). Returns 0 or -1.
int nat_resume_write(nat_t *nat, const nat_peer_t *peer);
// Reads weft:remote:<hex> into the peer's resume. Returns true when a whole, well-formed one was there.
bool nat_resume_load(nat_t *nat, nat_peer_t *peer);
// Whether another socket still holds the resume's UDP port on this host. Right after nat restarts, the data plane
// may hold it a few ms longer (its direct-path socket on that port closes when it reads nat's withdraw_all),
// and libnice's bind would fail: the resume waits for it (NAT_RESUME_PORT_WAIT_MS).
bool nat_resume_port_busy(const nat_peer_t *peer);
// Forgets the peer's resume (memory; and Redis when delete_key).
void nat_resume_forget(nat_t *nat, nat_peer_t *peer, bool delete_key);

#endif
