// store.h — the node's Redis connection (hiredis): connect by URL, run commands with one reconnect on
// failure, and the peer table that discovery saves and the other services reload after a restart.
// Keys and owners are listed in docs/state.md. Secrets are never written here.
#ifndef WEFT_STORE_H
#define WEFT_STORE_H

#include <hiredis/hiredis.h>
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

// The mesh's members as discovery last heard them: key weft:peers, one packed PeerList.
int store_save_peers(store_t *self, const Weft__PeerList *list);
// Returns NULL if none saved yet. Free with weft__peer_list__free_unpacked(list, NULL).
Weft__PeerList *store_load_peers(store_t *self);

#endif
