// json.h — a minimal JSON writer for --json output and anything else that prints JSON (shared, in lib/):
// objects, arrays, escaped strings, numbers. It tracks commas itself, so callers just emit keys and values in order.
#ifndef WEFT_JSON_H
#define WEFT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    int depth;
    bool need_comma[32];
} json_t;

void json_init(json_t *j, FILE *out);
void json_object_begin(json_t *j, const char *key);   // key NULL inside arrays / at top
void json_object_end(json_t *j);
void json_array_begin(json_t *j, const char *key);
void json_array_end(json_t *j);
void json_string(json_t *j, const char *key, const char *value);
void json_uint(json_t *j, const char *key, uint64_t value);
void json_int(json_t *j, const char *key, int64_t value);
void json_null(json_t *j, const char *key);
// Writes only a key inside an object: the next value, written with a NULL key, is its value. For nesting a
// document another function writes as a whole (natprobe_write_json under "probe").
void json_key(json_t *j, const char *key);
void json_bool(json_t *j, const char *key, bool value);
void json_finish(json_t *j);   // newline

#endif
