// hub_stun.h — the hub's STUN server (RFC 5389 Binding, and the RFC 3489 form libnice asks in): a UDP
// socket on the hub's own address (the host of hub.listen) and hub.stun_port (default 3478, 0 = none). It
// answers each Binding request with the address it came from (XOR-MAPPED-ADDRESS, MAPPED-ADDRESS;
// FINGERPRINT when the request had one), so members that configured no STUN server still learn their
// server-reflexive address: the hub tells them the port in every PeerList (hub_stun_port). Anything else
// (responses, indications, garbage, requests with attributes it must understand but does not) gets no
// answer; answers are capped per second so the hub is a poor reflector. No state per client.
#ifndef WEFT_HUB_STUN_H
#define WEFT_HUB_STUN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "service.h"

#define HUB_STUN_DEFAULT_PORT 3478
#define HUB_STUN_MAX_PER_SECOND 5000    // answers; more requests in the same second are dropped (counted)

typedef struct hub_stun hub_stun_t;

// Binds UDP port `port` on the host of `listen` (a ZeroMQ endpoint, "tcp://HOST:PORT": a numeric IPv4
// host is used as is, anything else - "*", a name, an interface - means every address). Counters go to
// stats. Returns NULL when port is 0 or the socket cannot be bound (logged: the hub runs on without STUN
// and tells members none).
hub_stun_t *hub_stun_new(const char *listen, int port, service_t *stats);
void hub_stun_destroy(hub_stun_t **self);

// The socket, for the actor loop.
int hub_stun_fd(const hub_stun_t *self);
// The UDP port it answers on.
int hub_stun_port(const hub_stun_t *self);

// Reads and answers what is waiting on the socket (a bounded burst). Never fails the loop.
void hub_stun_on_readable(hub_stun_t *self);

// The answer to one datagram `req` from `from` (no sockets): its length in out, or 0 when it gets none,
// with why filled ("not a Binding request", the decoder's reason, ...).
size_t hub_stun_answer(const uint8_t *req, size_t len, const struct sockaddr_in *from, uint8_t *out, size_t cap,
                       char *why, size_t why_len);

// The IPv4 address to bind for hub.listen `listen` (INADDR_ANY unless its host is a numeric IPv4 address).
struct in_addr hub_stun_bind_address(const char *listen);

#endif
