// fuzz_turn_credentials.c — libFuzzer target for the TURN credentials a node's discovery takes from the
// hub (services/discovery/discovery_turn.c): arbitrary bytes are decoded as a HubReply; a
// TurnCredentials body goes through discovery_turn_take (length, printable, count and expiry checks),
// and what it keeps is packed for nat and read back as nat would (discovery_turn_push's envelope body).
// (nat's own use of the server strings resolves host names, which a fuzzer must not do; those strings
// have passed the checks here first.)
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_turn_credentials && ./bin/fuzz_turn_credentials fuzz/corpus/turn_credentials
#include <stddef.h>
#include <stdint.h>

#include "discovery_turn.h"
#include "hub.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Weft__HubReply *reply = weft__hub_reply__unpack(NULL, size, data);
    if (!reply)
        return 0;
    if (reply->body_case == WEFT__HUB_REPLY__BODY_TURN_CREDENTIALS && reply->turn_credentials) {
        discovery_turn_t turn = {0};
        char why[160];
        if (discovery_turn_take(&turn, reply->turn_credentials, 1700000000, why, sizeof why) == 0) {
            Weft__TurnCredentials *back = weft__turn_credentials__unpack(NULL, turn.len, turn.packed);
            if (!back)
                __builtin_trap();   // what was kept must read back
            weft__turn_credentials__free_unpacked(back, NULL);
            discovery_turn_wanted(&turn, 1700000000);
        }
        discovery_turn_clear(&turn);
    }
    weft__hub_reply__free_unpacked(reply, NULL);
    return 0;
}
