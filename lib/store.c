// store.c — see store.h.
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "log.h"

struct store {
    char url[256];
    redisContext *ctx;
};

redisContext *store_open_context(const char *url, char *err, size_t err_len)
{
    struct timeval timeout = {2, 0};
    redisContext *ctx = NULL;
    if (strncmp(url, "unix://", 7) == 0) {
        ctx = redisConnectUnixWithTimeout(url + 7, timeout);
    } else if (strncmp(url, "redis://", 8) == 0) {
        char host[200];
        snprintf(host, sizeof host, "%s", url + 8);
        char *colon = strrchr(host, ':');
        int port = 6379;
        if (colon) {
            *colon = '\0';
            port = atoi(colon + 1);
        }
        if (port <= 0 || port > 65535 || !host[0]) {
            snprintf(err, err_len, "bad Redis URL '%s' (want redis://host:port or unix:///path)", url);
            return NULL;
        }
        ctx = redisConnectWithTimeout(host, port, timeout);
    } else {
        snprintf(err, err_len, "bad Redis URL '%s' (want redis://host:port or unix:///path)", url);
        return NULL;
    }
    if (!ctx || ctx->err) {
        snprintf(err, err_len, "cannot reach Redis at %s: %s", url, ctx ? ctx->errstr : "out of memory");
        if (ctx)
            redisFree(ctx);
        return NULL;
    }
    redisSetTimeout(ctx, timeout);
    return ctx;
}

store_t *store_connect(const char *url, char *err, size_t err_len)
{
    redisContext *ctx = store_open_context(url, err, err_len);
    if (!ctx)
        return NULL;
    store_t *self = calloc(1, sizeof *self);
    if (!self) {
        redisFree(ctx);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    snprintf(self->url, sizeof self->url, "%s", url);
    self->ctx = ctx;
    return self;
}

void store_destroy(store_t **self)
{
    if (self && *self) {
        if ((*self)->ctx)
            redisFree((*self)->ctx);
        free(*self);
        *self = NULL;
    }
}

static redisReply *store_vcommand(store_t *self, const char *fmt, va_list args)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!self->ctx) {
            char err[256];
            self->ctx = store_open_context(self->url, err, sizeof err);
            if (!self->ctx) {
                log_warn("redis: %s", err);
                return NULL;
            }
        }
        va_list copy;
        va_copy(copy, args);
        redisReply *reply = redisvCommand(self->ctx, fmt, copy);
        va_end(copy);
        if (reply)
            return reply;
        log_warn("redis: %s; reconnecting", self->ctx->errstr);
        redisFree(self->ctx);
        self->ctx = NULL;
    }
    return NULL;
}

redisReply *store_command(store_t *self, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    redisReply *reply = store_vcommand(self, fmt, args);
    va_end(args);
    return reply;
}

int store_exec(store_t *self, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    redisReply *reply = store_vcommand(self, fmt, args);
    va_end(args);
    if (!reply)
        return -1;
    int rc = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("redis: %s", reply->str);
        rc = -1;
    }
    freeReplyObject(reply);
    return rc;
}

int store_save_peers(store_t *self, const Weft__PeerList *list)
{
    // One key holding the packed snapshot: replaced whole, so readers never see half a table.
    size_t size = weft__peer_list__get_packed_size(list);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return -1;
    weft__peer_list__pack(list, buf);
    int rc = store_exec(self, "SET weft:peers %b", buf, size);
    free(buf);
    return rc;
}

Weft__PeerList *store_load_peers(store_t *self)
{
    redisReply *reply = store_command(self, "GET weft:peers");
    if (!reply)
        return NULL;
    Weft__PeerList *list = NULL;
    if (reply->type == REDIS_REPLY_STRING) {
        list = weft__peer_list__unpack(NULL, reply->len, (const uint8_t *)reply->str);
        if (!list)
            log_warn("redis: weft:peers does not decode as a PeerList; ignoring it");
    }
    freeReplyObject(reply);
    return list;
}
