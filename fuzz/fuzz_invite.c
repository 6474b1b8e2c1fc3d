// fuzz_invite.c — libFuzzer target for invite codes (lib/invite.c, lib/base32.c): whatever a user pastes
// into `weft join`, and the binary invite the hub receives in a Join. The input is decoded as a code
// string and as the binary form. A refusal must say why; an accepted invite must encode back to the
// same binary form (and to a code that decodes to the same invite), and its expiry message must fit.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_invite && ./bin/fuzz_invite fuzz/corpus/invite
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "invite.h"

static void round_trip(const invite_t *inv)
{
    char err[256], code[INVITE_MAX_CODE];
    if (invite_encode(inv, code, sizeof code, err, sizeof err) != 0)
        abort();   // an accepted invite always encodes
    invite_t back;
    if (invite_decode(code, &back, err, sizeof err) != 0 || memcmp(&back, inv, sizeof back) != 0)
        abort();
    (void)invite_check_expiry(inv, 0, err, sizeof err);
    (void)invite_check_expiry(inv, UINT64_MAX, err, sizeof err);
    if (strnlen(err, sizeof err) == sizeof err)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    invite_t inv;

    // as pasted text
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    err[0] = '\0';
    if (invite_decode(text, &inv, err, sizeof err) == 0)
        round_trip(&inv);
    else if (!err[0])
        abort();
    free(text);

    // as the binary form (a Join's invite bytes)
    err[0] = '\0';
    if (invite_unpack(data, size, &inv, err, sizeof err) == 0) {
        uint8_t again[INVITE_MAX_BYTES];
        int n = invite_pack(&inv, again, sizeof again, err, sizeof err);
        if (n < 0 || (size_t)n != size || memcmp(again, data, size) != 0)
            abort();
        round_trip(&inv);
    } else if (!err[0]) {
        abort();
    }

    // base32 alone: what decodes re-encodes to the same letters (lower case, no whitespace)
    uint8_t bytes[4096];
    int n = base32_decode((const char *)data, size, bytes, sizeof bytes, NULL);
    if (n >= 0) {
        char letters[8192];
        if (base32_encode(bytes, (size_t)n, letters, sizeof letters) < 0)
            abort();
        size_t k = 0;
        for (size_t i = 0; i < size; i++) {
            char c = (char)data[i];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                continue;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (letters[k++] != c)
                abort();
        }
        if (letters[k] != '\0')
            abort();
    }
    return 0;
}
