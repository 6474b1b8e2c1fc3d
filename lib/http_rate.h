// http_rate.h — a token bucket per client address, for rate-limiting API reads: each address may make
// `burst` requests at once and `rate` per second after that. A fixed table of buckets (the least recently
// used is reused), guarded by a mutex: the HTTP server calls it from one thread per connection.
#ifndef WEFT_HTTP_RATE_H
#define WEFT_HTTP_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define HTTP_RATE_CLIENTS 256

typedef struct http_rate http_rate_t;

// rate: tokens per second (> 0); burst: bucket size (>= 1).
http_rate_t *http_rate_new(double rate, double burst);
void http_rate_destroy(http_rate_t **self);

// Takes one token for client at now_ms (monotonic). Returns true if allowed; otherwise false and
// *retry_after_s (>= 1) says when the next token is there.
bool http_rate_take(http_rate_t *self, const char *client, int64_t now_ms, int *retry_after_s);

#endif
