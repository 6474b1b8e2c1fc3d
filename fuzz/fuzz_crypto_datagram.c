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

static session_set_t *sessions;
static service_t svc;
static packet_batch_t *to_nat, *to_device;
static uint8_t peer_id[32];

static void setup(void)
{
    fuzz_sessions_t f;
    fuzz_sessions_init(&f, &svc);
    memcpy(peer_id, f.peer.public_key, 32);
    sessions = f.sessions;
    to_nat = f.to_nat;
    to_device = f.to_device;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sessions)
        setup();
    crypto_datagram_t d;
    if (crypto_datagram_decode(data, size, &d) == 0) {
        // the body ends where the datagram does, or (handshake messages) just before mac1 || mac2
        size_t tail = d.type == CRYPTO_MSG_INITIATION || d.type == CRYPTO_MSG_RESPONSE ? CRYPTO_MACS_LEN : 0;
        if (d.body < data || d.body + d.body_len + tail != data + size)
            __builtin_trap();
    }
    session_io_t io = {.to_nat = to_nat, .to_device = to_device};
    session_time_t now = {.mono_ms = 1000, .unix_ns = 1700000000000000000LL};
    session_set_inbound(sessions, data, size, peer_id, &now, &io);
    packet_batch_reset(to_nat);
    packet_batch_reset(to_device);
    return 0;
}
