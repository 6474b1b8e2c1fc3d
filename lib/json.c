// json.c — see json.h.
#include "json.h"

void json_init(json_t *j, FILE *out)
{
    j->out = out;
    j->depth = 0;
    j->need_comma[0] = false;
}

static void put_escaped(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void prefix(json_t *j, const char *key)
{
    if (j->need_comma[j->depth])
        fputc(',', j->out);
    j->need_comma[j->depth] = true;
    if (key) {
        put_escaped(j->out, key);
        fputc(':', j->out);
    }
}

static void open(json_t *j, const char *key, char c)
{
    prefix(j, key);
    fputc(c, j->out);
    if (j->depth < 31)
        j->depth++;
    j->need_comma[j->depth] = false;
}

static void close_(json_t *j, char c)
{
    fputc(c, j->out);
    if (j->depth > 0)
        j->depth--;
}

void json_object_begin(json_t *j, const char *key) { open(j, key, '{'); }
void json_object_end(json_t *j) { close_(j, '}'); }
void json_array_begin(json_t *j, const char *key) { open(j, key, '['); }
void json_array_end(json_t *j) { close_(j, ']'); }

void json_string(json_t *j, const char *key, const char *value)
{
    prefix(j, key);
    put_escaped(j->out, value);
}

void json_uint(json_t *j, const char *key, uint64_t value)
{
    prefix(j, key);
    fprintf(j->out, "%llu", (unsigned long long)value);
}

void json_int(json_t *j, const char *key, int64_t value)
{
    prefix(j, key);
    fprintf(j->out, "%lld", (long long)value);
}

void json_key(json_t *j, const char *key)
{
    prefix(j, key);
    j->need_comma[j->depth] = false;  // the value that follows (written with a NULL key) takes no comma
}

void json_null(json_t *j, const char *key)
{
    prefix(j, key);
    fputs("null", j->out);
}

void json_bool(json_t *j, const char *key, bool value)
{
    prefix(j, key);
    fputs(value ? "true" : "false", j->out);
}

void json_finish(json_t *j) { fputc('\n', j->out); }
