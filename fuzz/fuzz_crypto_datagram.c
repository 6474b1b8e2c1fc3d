/*
 * fuzz_crypto_datagram.c - libFuzzer target for weft-crypto's datagram handling: arbitrary bytes go
 * to the decoder (crypto_datagram_decode) and then, as a datagram from a member peer, through the
 * whole inbound path of a session table (session_set_inbound). Nothing may crash or leak.
 *
 *   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_crypto_datagram && ./fuzz_crypto_datagram
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "crypto_wire.h"
#include "fuzz_sessions.h"
#include "identity.h"
#include "session.h"

static fuzz_sessions_t f;
static service_t svc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!f.sessions)
        fuzz_sessions_init(&f, &svc);
    crypto_datagram_t d;
    if (crypto_datagram_decode(data, size, &d) == 0) {
        // the body ends where the datagram does, or (handshake messages) just before mac1 || mac2
        size_t tail = d.type == CRYPTO_MSG_INITIATION || d.type == CRYPTO_MSG_RESPONSE ? CRYPTO_MACS_LEN : 0;
        if (d.body < data || d.body + d.body_len + tail != data + size)
            __builtin_trap();
    }
    session_time_t now = {.mono_ms = 1000, .unix_ns = 1700000000000000000LL};
    fuzz_sessions_receive(&f, data, size, &now);
    packet_batch_reset(f.to_wire);
    packet_batch_reset(f.to_device);
    return 0;
}
