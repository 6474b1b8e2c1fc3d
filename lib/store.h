// store.h — the node's Redis connection (hiredis): connect by URL, run commands with one reconnect on
// failure, notice a Redis that restarted (or lost a write) so its owners can rewrite what they own, and
// the peer table that discovery saves and the other services reload after a restart.
// Keys and owners are listed in docs/state.md. Secrets are never written here.
#ifndef WEFT_STORE_H
#define WEFT_STORE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "node.pb-c.h"

typedef struct store store_t;

// url: "unix:///path/redis.sock" or "redis://host:port". Returns NULL (err filled) if it cannot connect.
store_t *store_connect(const char *url, char *err, size_t err_len);
// A bare hiredis connection to url (unix:///path or redis://host:port, 2 s timeouts) for what store_t
// does not do, such as SUBSCRIBE. NULL with err filled when the URL is bad or Redis does not answer.
redisContext *store_open_context(const char *url, char *err, size_t err_len);
void store_destroy(store_t **self);

// Runs a command (hiredis format). Reconnects once if the connection broke. Returns the reply
// (freeReplyObject it) or NULL, logging why. Error replies are returned as REDIS_REPLY_ERROR.
redisReply *store_command(store_t *self, const char *fmt, ...);
// Same, returning 0 when the command ran without an error reply, -1 otherwise; frees the reply.
int store_exec(store_t *self, const char *fmt, ...);

// True (once) when what this connection's owner wrote may be gone: Redis restarted since we last saw it
// (INFO server run_id changed across a reconnect) or a command failed for want of a connection. Then the
// owner rewrites everything it owns. Only true once Redis answers and has loaded its data, so the rewrite
// can work (an owner whose rewrite still fails keeps trying on its own). PINGs Redis
// when no command ran in the last second, so an owner that writes rarely notices too: call it about once
// a second (from a tick).
bool store_restarted(store_t *self);

// The mesh's members as discovery last heard them: key weft:peers, one packed PeerList.
int store_save_peers(store_t *self, const Weft__PeerList *list);
// Returns NULL if none saved yet. Free with weft__peer_list__free_unpacked(list, NULL).
Weft__PeerList *store_load_peers(store_t *self);

#endif
