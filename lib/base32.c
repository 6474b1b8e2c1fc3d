// base32.c — see base32.h.
#include "base32.h"

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

int base32_encode(const uint8_t *data, size_t len, char *out, size_t out_len)
{
    size_t need = BASE32_ENCODED_LEN(len);
    if (out_len < need + 1)
        return -1;
    size_t n = 0;
    uint32_t bits = 0;
    int nbits = 0;
    for (size_t i = 0; i < len; i++) {
        bits = (bits << 8) | data[i];
        nbits += 8;
        while (nbits >= 5) {
            out[n++] = alphabet[(bits >> (nbits - 5)) & 31];
            nbits -= 5;
        }
    }
    if (nbits > 0)
        out[n++] = alphabet[(bits << (5 - nbits)) & 31];
    out[n] = '\0';
    return (int)n;
}

static int value_of(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int base32_decode(const char *text, size_t text_len, uint8_t *out, size_t out_len, size_t *bad_pos)
{
    size_t n = 0;
    uint32_t bits = 0;
    int nbits = 0;
    for (size_t i = 0; i < text_len; i++) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        int v = value_of(c);
        if (v < 0) {
            if (bad_pos)
                *bad_pos = i;
            return -1;
        }
        bits = (bits << 5) | (uint32_t)v;
        nbits += 5;
        if (nbits >= 8) {
            if (n >= out_len)
                return -1;
            out[n++] = (uint8_t)(bits >> (nbits - 8));
            nbits -= 8;
        }
        bits &= (1u << nbits) - 1;   // keep only the bits not yet written
    }
    // what remains must be padding: fewer than 5 bits, all zero (a canonical encoding)
    if (nbits >= 5 || (bits & ((1u << nbits) - 1)) != 0)
        return -1;
    return (int)n;
}
