// hub_http.h — the hub's HTTP API (docs/api.md), inside the weft-hub process on its own threads (the
// shared http_server.h, one thread per connection): create, list, read and delete managed meshes and their
// members on top of mesh_store.h, a Server-Sent Events feed of each mesh's changes (Redis pub/sub
// hub:events:<id>), /health and Prometheus /metrics.
//
// Every /api/v1/mesh call, reads too (rosters, keys, events), needs "Authorization: Bearer <token>", the
// token in hub.api_token_file (created on first start, 64 hex characters, mode 0600; `weft hub token`
// prints it): none is 401, a wrong one 403. /health and /metrics need none. Reads (GET) but /health are
// rate-limited per client address (token bucket, hub.http_rate per second, burst twice that): 429 with
// Retry-After. Every request makes its own Redis connection; nothing is shared with
// the hub actor's thread.
#ifndef WEFT_HUB_HTTP_H
#define WEFT_HUB_HTTP_H

#include <stddef.h>

#include "config.h"

typedef struct {
    char listen[CONFIG_STR];        // "127.0.0.1:7402"; "off" or "" starts nothing
    char redis_url[CONFIG_STR + PATH_MAX];
    char token_file[PATH_MAX];      // absolute
    int rate;                       // reads per second per client
} hub_http_options_t;

typedef struct hub_http hub_http_t;

// Starts the API. Returns NULL with err filled when it cannot (bad address, port taken, token unreadable).
hub_http_t *hub_http_new(const hub_http_options_t *options, char *err, size_t err_len);
// Ends open event streams (within a second) and stops the server.
void hub_http_destroy(hub_http_t **self);

// Reads the token from path, creating it (32 random bytes as hex, mode 0600) if it does not exist.
// A file readable by others is refused. Returns 0 or -1 with err filled.
int hub_http_load_token(const char *path, char token[65], char *err, size_t err_len);

#endif
