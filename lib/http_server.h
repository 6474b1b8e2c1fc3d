// http_server.h — the small HTTP server the node API (weft-api) and the hub API (weft-hub) share, on top
// of libmicrohttpd: listen on "host:port", one thread per connection (so a slow probe or a long Server-Sent
// Events stream never blocks other requests), request bodies collected up to a limit, and one handler
// callback that fills a response. It also owns the response helpers every endpoint uses: JSON bodies,
// JSON errors {"error": "...", "detail": "..."}, and streamed bodies.
//
// Limits, so that slow or many clients cannot take the API away from others (issue 8): sockets are polled
// with poll(), never select(), so descriptors above FD_SETSIZE (1024) work; at most HTTP_MAX_CONNECTIONS
// connections from other hosts, HTTP_MAX_PER_ADDRESS of them from one address, and a pool of
// HTTP_LOOPBACK_CONNECTIONS for loopback clients alone (a local health check gets through a full server);
// a request's headers and body must all have arrived HTTP_REQUEST_DEADLINE_S after the connection opened
// (or after the previous response, on a kept-alive connection), else the connection is cut, however
// steadily the client trickles bytes; once the handler runs (a probe, an event stream) no deadline applies.
// It warns at start when the address is not a loopback one.
//
// The handler runs on the connection's thread: it must not touch ZeroMQ sockets or Redis connections of
// another thread (make its own).
#ifndef WEFT_HTTP_SERVER_H
#define WEFT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "json.h"

#define HTTP_MAX_CONNECTIONS 512        // connections at once from other hosts than this one
#define HTTP_MAX_PER_ADDRESS 16         // ...of which from one address (IPv4) or /64 (IPv6)
#define HTTP_LOOPBACK_CONNECTIONS 64    // connections at once from loopback, a pool of their own
#define HTTP_REQUEST_DEADLINE_S 10      // a request's headers and body must all arrive within this
#define HTTP_IDLE_TIMEOUT_S 30          // a connection silent this long is closed

typedef struct {
    const char *method;             // "GET", "POST", ...
    const char *path;               // decoded URL path, no query string
    const char *client;             // the client's address, "127.0.0.1" or "::1"
    const char *content_type;       // Content-Type header or NULL
    const char *authorization;      // Authorization header or NULL
    const char *body;               // the request body (NUL-terminated), or NULL when empty
    size_t body_len;
    bool body_too_large;            // the body passed the server's limit; body is NULL
} http_request_t;

// A streamed body (Server-Sent Events): called on the connection's thread until it returns
// MHD_CONTENT_READER_END_OF_STREAM (-1) or an error (-2); it may block (one thread per connection), and
// must return at least one byte otherwise. `done` is called once when the connection ends.
typedef ssize_t (http_stream_fn)(void *ctx, char *buf, size_t max);
typedef void (http_stream_done_fn)(void *ctx);

typedef struct {
    int status;
    char *body;                     // malloc'd; the server frees it
    size_t body_len;
    const char *content_type;       // default application/json
    const char *allow;              // the Allow header (405), or NULL
    const char *www_authenticate;   // WWW-Authenticate header (401), or NULL
    char retry_after[16];           // Retry-After header (429), or ""
    http_stream_fn *stream;         // set for a streamed body instead of `body`
    http_stream_done_fn *stream_done;
    void *stream_ctx;
} http_response_t;

typedef void (http_handler_fn)(void *ctx, const http_request_t *req, http_response_t *res);

typedef struct http_server http_server_t;

// listen: "host:port" (IPv4 or [IPv6]). max_body: larger bodies are not kept (body_too_large).
// Returns NULL with err filled if the address is bad or cannot be bound.
http_server_t *http_server_new(const char *listen, http_handler_fn *handler, void *ctx, size_t max_body, char *err,
                               size_t err_len);
void http_server_destroy(http_server_t **self);

// What the server refused, for metrics: connections refused by the caps above, connections cut because
// their request was not complete by the deadline.
typedef struct {
    unsigned long long refused;
    unsigned long long cut_slow;
} http_server_stats_t;
void http_server_stats(http_server_t *self, http_server_stats_t *stats);

// True when host:port names a loopback address (127.0.0.0/8, ::1). "*" and 0.0.0.0 are not.
bool http_listen_is_loopback(const char *listen);

// Splits "host:port" / "[v6]:port" into a socket address. Returns 0 or -1 with err filled.
int http_parse_listen(const char *listen, void *sockaddr_storage, size_t *addr_len, char *err, size_t err_len);

// Response helpers.
// A JSON document built with a json_t: begin, write through j, then finish (sets status and body).
typedef struct {
    json_t j;
    FILE *out;
    char *buf;
    size_t len;
} http_json_t;
int http_json_begin(http_json_t *doc);
void http_json_finish(http_json_t *doc, http_response_t *res, int status);
// {"error": error, "detail": detail}
void http_error(http_response_t *res, int status, const char *error, const char *detail);

// GET /health of the node API and the hub API: PINGs the Redis at redis_url and answers
// {"status": "ok"|"degraded", who_key: who, "redis": bool}, 200 when Redis answers, else 503.
void http_health(http_response_t *res, const char *redis_url, const char *who_key, const char *who);
// Plain text (metrics).
void http_text(http_response_t *res, int status, const char *content_type, char *body, size_t len);

// True when every segment of path is a plain name: no "." or ".." segment, no empty segment (//), no
// control characters or backslashes. A trailing slash is allowed.
bool http_path_is_clean(const char *path);

// Splits path into at most max segments (pointers into buf, which holds a copy). Returns the count, or -1
// if there are more than max or the path is longer than buf.
int http_path_split(const char *path, char *buf, size_t buf_len, const char **segments, int max);

#endif
