// hub_key.c — see hub_key.h.
#include "hub_key.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static const char Z85_ALPHABET[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int hub_key_parse(const char *text, uint8_t key[32], char *why, size_t why_len)
{
    size_t n = text ? strlen(text) : 0;
    if (n == 64) {
        for (size_t i = 0; i < 64; i++) {
            if (hex_value(text[i]) < 0) {
                snprintf(why, why_len, "the hub key has a character that is not hex at position %zu (want the 64 "
                                       "hex characters `weft hub key` prints)", i + 1);
                return -1;
            }
        }
        for (size_t i = 0; i < 32; i++)
            key[i] = (uint8_t)(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
        return 0;
    }
    if (n == 40) {  // the old form: Z85
        size_t good = strspn(text, Z85_ALPHABET);
        if (good == 40 && zmq_z85_decode(key, text) != NULL)
            return 0;
        snprintf(why, why_len, "the hub key is 40 characters but not a Z85 key (character %zu); use the 64 hex "
                               "characters `weft hub key` prints", good + 1);
        return -1;
    }
    bool spaces = false;
    for (size_t i = 0; i < n; i++)
        spaces = spaces || isspace((unsigned char)text[i]);
    snprintf(why, why_len, "the hub key must be the 64 hex characters `weft hub key` prints (got %zu character%s%s)",
             n, n == 1 ? "" : "s", spaces ? ", with white space: was it cut or wrapped?" : "");
    return -1;
}

void hub_key_format(const uint8_t key[32], char out[HUB_KEY_HEX_LEN])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[key[i] >> 4];
        out[2 * i + 1] = digits[key[i] & 15];
    }
    out[64] = '\0';
}

int hub_key_normalise(const char *text, char out[HUB_KEY_HEX_LEN], char *why, size_t why_len)
{
    uint8_t key[32];
    if (hub_key_parse(text, key, why, why_len) != 0)
        return -1;
    hub_key_format(key, out);
    return 0;
}
