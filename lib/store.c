// store.c — see store.h.
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "identity.h"
#include "log.h"

struct store {
    char url[256];
    redisContext *ctx;
    char run_id[48];      // INFO server run_id of the Redis last connected to ("" unknown)
    bool lost;            // a restart or a failed command since store_restarted last said so
    int64_t last_ok_ms;   // monotonic time of the last command that got a reply
    unsigned long long failed_connects;   // in a row (logged on the 1st, 2nd, 4th...)
};

// The run_id of the Redis behind ctx (changes on every Redis start), into out; "" if it does not say.
static void read_run_id(redisContext *ctx, char *out, size_t out_len)
{
    out[0] = '\0';
    redisReply *reply = redisCommand(ctx, "INFO server");
    if (!reply)
        return;
    const char *at = reply->type == REDIS_REPLY_STRING ? strstr(reply->str, "run_id:") : NULL;
    if (at) {
        at += 7;
        size_t n = strcspn(at, "\r\n");
        if (n >= out_len)
            n = out_len - 1;
        memcpy(out, at, n);
        out[n] = '\0';
    }
    freeReplyObject(reply);
}

// A new connection: a different run_id than before means Redis restarted, and may have lost writes.
static void note_connection(store_t *self)
{
    char run_id[sizeof self->run_id];
    read_run_id(self->ctx, run_id, sizeof run_id);
    if (self->run_id[0] && strcmp(run_id, self->run_id) != 0) {
        log_warn("redis at %s restarted (run_id %.8s -> %.8s): what it held may be gone", self->url,
                 self->run_id, run_id[0] ? run_id : "?");
        self->lost = true;
    }
    snprintf(self->run_id, sizeof self->run_id, "%s", run_id);
}

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
    note_connection(self);
    self->last_ok_ms = clock_now_ms();
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
                if (log_worth_repeating(++self->failed_connects))
                    log_warn("redis: %s (%llu attempts)", err, self->failed_connects);
                self->lost = true;
                return NULL;
            }
            self->failed_connects = 0;
            note_connection(self);
        }
        va_list copy;
        va_copy(copy, args);
        redisReply *reply = redisvCommand(self->ctx, fmt, copy);
        va_end(copy);
        if (reply) {
            self->last_ok_ms = clock_now_ms();
            return reply;
        }
        log_warn("redis: %s; reconnecting", self->ctx->errstr);
        redisFree(self->ctx);
        self->ctx = NULL;
    }
    self->lost = true;
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

bool store_restarted(store_t *self)
{
    if (clock_now_ms() - self->last_ok_ms >= 1000) {
        redisReply *reply = store_command(self, "PING");
        if (!reply)
            return false;
        freeReplyObject(reply);
    }
    if (!self->lost || !self->ctx)
        return false;
    // a Redis still loading its append-only file refuses writes (-LOADING): say so once it is done
    redisReply *info = store_command(self, "INFO persistence");
    bool loading = !info || info->type != REDIS_REPLY_STRING || !strstr(info->str, "loading:0");
    if (info)
        freeReplyObject(info);
    if (loading)
        return false;
    self->lost = false;
    return true;
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
