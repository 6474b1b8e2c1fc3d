// nat_direct.h — handing direct paths to the data plane: when ICE has selected a direct UDP pair for a peer, nat
// lets the pair's socket (libnice's) share its port (lib/udp_steer.h) and tells the data plane the pair
// (DirectPath, proto/node.proto), so the data plane sends and receives that peer's transport datagrams itself,
// with no hop through nat. Relayed and ICE-TCP pairs are never handed over. The hand-over is said again
// every NAT_DIRECT_REFRESH_MS (a restarted data plane learns it that way) and withdrawn as soon as the pair
// changes, the path fails or goes onto a relay. A starting nat first withdraws every path: it may bind
// the same ports again (nat_resume.c), which the data plane's sockets would otherwise hold.
#ifndef WEFT_NAT_DIRECT_H
#define WEFT_NAT_DIRECT_H

#include "nat.h"

#define NAT_DIRECT_REFRESH_MS 2000

// Tells the data plane to let go of every path (nat starting).
void nat_direct_withdraw_all(nat_t *nat);
// Withdraws peer's path from the data plane, if it has one (the peer is being removed).
void nat_direct_forget(nat_t *nat, nat_peer_t *peer);
// Brings the data plane's view of each peer's direct path up to date (every tick).
void nat_direct_sync(nat_t *nat, int64_t now_ms);

#endif
