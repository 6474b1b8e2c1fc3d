// base32.h — RFC 4648 base32 in lowercase without padding (the alphabet a-z2-7), for invite codes.
// Decoding accepts upper case too and skips whitespace, so a code wrapped or re-cased by a chat
// program still decodes.
#ifndef WEFT_BASE32_H
#define WEFT_BASE32_H

#include <stddef.h>
#include <stdint.h>

// Characters base32_encode writes for len bytes (without the NUL).
#define BASE32_ENCODED_LEN(len) (((len) * 8 + 4) / 5)

// Writes the encoding of data and a NUL into out. Returns the characters written, or -1 if out_len is
// too small.
int base32_encode(const uint8_t *data, size_t len, char *out, size_t out_len);

// Decodes text[0..text_len) into out. Returns the bytes written, or -1 if the text holds a character
// outside the alphabet (its offset in *bad_pos when bad_pos is not NULL), has an impossible length or
// non-zero trailing bits, or does not fit into out_len.
int base32_decode(const char *text, size_t text_len, uint8_t *out, size_t out_len, size_t *bad_pos);

#endif
