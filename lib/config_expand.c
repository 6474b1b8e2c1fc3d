// config_expand.c — see config_expand.h.
#include "config_expand.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPAND_MAX_DEPTH 8

static int emit(char *out, size_t out_len, size_t *pos, const char *text, size_t n, char *why, size_t why_len)
{
    if (*pos + n >= out_len) {
        snprintf(why, why_len, "value longer than %zu characters after ${...} expansion", out_len - 1);
        return -1;
    }
    memcpy(out + *pos, text, n);
    *pos += n;
    out[*pos] = '\0';
    return 0;
}

static int expand_into(const char *text, size_t len, char *out, size_t out_len, size_t *pos, int depth,
                       char *why, size_t why_len)
{
    if (depth > EXPAND_MAX_DEPTH) {
        snprintf(why, why_len, "${...} defaults nested more than %d deep", EXPAND_MAX_DEPTH);
        return -1;
    }
    size_t i = 0;
    while (i < len) {
        if (text[i] != '$' || i + 1 >= len || (text[i + 1] != '$' && text[i + 1] != '{')) {
            if (emit(out, out_len, pos, text + i, 1, why, why_len) != 0)
                return -1;
            i++;
            continue;
        }
        if (text[i + 1] == '$') {  // $$: a literal $
            if (emit(out, out_len, pos, "$", 1, why, why_len) != 0)
                return -1;
            i += 2;
            continue;
        }
        // ${ ... }: find the matching brace (defaults may hold ${...} themselves)
        size_t start = i + 2, close = start;
        int open = 1;
        while (close < len) {
            if (text[close] == '$' && close + 1 < len && text[close + 1] == '{') {
                open++;
                close += 2;
                continue;
            }
            if (text[close] == '}' && --open == 0)
                break;
            close++;
        }
        if (close >= len) {
            snprintf(why, why_len, "'${' is not closed (add '}', or write $$ for a literal $)");
            return -1;
        }
        size_t name_len = 0;
        while (start + name_len < close &&
               (isalpha((unsigned char)text[start + name_len]) || text[start + name_len] == '_' ||
                (name_len > 0 && isdigit((unsigned char)text[start + name_len]))))
            name_len++;
        char name[128];
        if (name_len == 0 || name_len >= sizeof name) {
            snprintf(why, why_len, "'${%.*s}' does not start with a variable name (letters, digits, _)",
                     (int)(close - start > 60 ? 60 : close - start), text + start);
            return -1;
        }
        memcpy(name, text + start, name_len);
        name[name_len] = '\0';
        const char *rest = text + start + name_len;
        size_t rest_len = close - start - name_len;
        bool has_default = rest_len >= 2 && rest[0] == ':' && rest[1] == '-';
        if (rest_len > 0 && !has_default) {
            snprintf(why, why_len, "'${%s%.*s}': write ${%s} or ${%s:-default}", name,
                     (int)(rest_len > 60 ? 60 : rest_len), rest, name, name);
            return -1;
        }
        const char *value = getenv(name);
        if (value && (*value || !has_default)) {
            if (emit(out, out_len, pos, value, strlen(value), why, why_len) != 0)
                return -1;
        } else if (has_default) {
            if (expand_into(rest + 2, rest_len - 2, out, out_len, pos, depth + 1, why, why_len) != 0)
                return -1;
        } else {
            snprintf(why, why_len, "environment variable %s is not set (set it, or give a default: ${%s:-value})",
                     name, name);
            return -1;
        }
        i = close + 1;
    }
    return 0;
}

int config_expand(const char *text, char *out, size_t out_len, char *why, size_t why_len)
{
    if (!out || out_len == 0)
        return -1;
    out[0] = '\0';
    size_t pos = 0;
    return expand_into(text, strlen(text), out, out_len, &pos, 0, why, why_len);
}
