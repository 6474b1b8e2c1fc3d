// hub_key.h — the hub's CURVE public key as people copy it. weft shows and writes it as 64 hex
// characters (shell-safe: pasted unquoted it is one word), and still reads the 40-character Z85 form
// older versions printed (`> { } * ^` in it break an unquoted shell command, so it is never written).
// Everything that reads a hub key (hub.public_key, --hub-key, WEFT_HUB_KEY) goes through hub_key_parse;
// ZeroMQ gets the 32 bytes.
#ifndef WEFT_HUB_KEY_H
#define WEFT_HUB_KEY_H

#include <stddef.h>
#include <stdint.h>

#define HUB_KEY_HEX_LEN 65  // 64 hex characters and the NUL

// 64 hex characters (either case) or 40 Z85 characters -> key. Returns 0, or -1 with why filled (what
// was wrong, and what a hub key looks like).
int hub_key_parse(const char *text, uint8_t key[32], char *why, size_t why_len);
// The key as weft shows and writes it: 64 lower-case hex characters.
void hub_key_format(const uint8_t key[32], char out[HUB_KEY_HEX_LEN]);
// Either form -> the hex form. Returns 0, or -1 with why filled.
int hub_key_normalise(const char *text, char out[HUB_KEY_HEX_LEN], char *why, size_t why_len);

#endif
