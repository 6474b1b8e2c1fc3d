// http_rate.c — see http_rate.h.
#include "http_rate.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char client[64];
    double tokens;
    int64_t updated_ms;
} bucket_t;

struct http_rate {
    pthread_mutex_t lock;
    double rate, burst;
    bucket_t buckets[HTTP_RATE_CLIENTS];
};

http_rate_t *http_rate_new(double rate, double burst)
{
    if (!(rate > 0) || !(burst >= 1))
        return NULL;
    http_rate_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->rate = rate;
    self->burst = burst;
    return self;
}

void http_rate_destroy(http_rate_t **self)
{
    if (self && *self) {
        pthread_mutex_destroy(&(*self)->lock);
        free(*self);
        *self = NULL;
    }
}

bool http_rate_take(http_rate_t *self, const char *client, int64_t now_ms, int *retry_after_s)
{
    pthread_mutex_lock(&self->lock);
    bucket_t *found = NULL, *oldest = &self->buckets[0];
    for (int i = 0; i < HTTP_RATE_CLIENTS; i++) {
        bucket_t *b = &self->buckets[i];
        if (b->client[0] && strcmp(b->client, client) == 0) {
            found = b;
            break;
        }
        if (!b->client[0] || (oldest->client[0] && b->updated_ms < oldest->updated_ms))
            oldest = b;
    }
    if (!found) {  // a new client (or one forgotten): a full bucket
        found = oldest;
        snprintf(found->client, sizeof found->client, "%s", client);
        found->tokens = self->burst;
        found->updated_ms = now_ms;
    }
    if (now_ms > found->updated_ms) {
        found->tokens += (double)(now_ms - found->updated_ms) * self->rate / 1000.0;
        if (found->tokens > self->burst)
            found->tokens = self->burst;
    }
    found->updated_ms = now_ms;
    bool allowed = found->tokens >= 1.0;
    if (allowed) {
        found->tokens -= 1.0;
    } else if (retry_after_s) {
        double wait = ceil((1.0 - found->tokens) / self->rate);
        *retry_after_s = wait < 1 ? 1 : (int)wait;
    }
    pthread_mutex_unlock(&self->lock);
    return allowed;
}
