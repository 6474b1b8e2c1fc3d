// fuzz_sessions.h — the node the crypto fuzzers feed: this node (`local`, a fresh identity) with one
// member (`peer`, a fresh identity, overlay 10.100.0.2): crypto's session table and the data plane's
// keyring joined in one process as weft-crypto and weft-dataplane join them (keys handed over, key
// events back), and the two batches their output goes to. Made once per fuzzer process.
#ifndef WEFT_FUZZ_SESSIONS_H
#define WEFT_FUZZ_SESSIONS_H

#include "identity.h"
#include "keyring.h"
#include "session.h"

typedef struct {
    identity_t local, peer;
    session_set_t *sessions;
    keyring_t *keys;
    packet_batch_t *to_wire, *to_device;
    session_io_t io;
    keyring_io_t kio;
    session_time_t now;              // of the call being made
} fuzz_sessions_t;

// Initialises libsodium, makes both identities, the table and the keyring. Traps (a fuzzer has no one
// to report to) if anything cannot be made. f must stay where it is (the callbacks point to it).
void fuzz_sessions_init(fuzz_sessions_t *f, service_t *svc);
// One datagram from the peer at now: transport to the keyring, the rest to the session table, as nat
// sorts them.
void fuzz_sessions_receive(fuzz_sessions_t *f, const uint8_t *datagram, size_t len, const session_time_t *now);
// One plaintext packet for the peer at now, read from the TUN.
void fuzz_sessions_send(fuzz_sessions_t *f, const uint8_t *packet, size_t len, const session_time_t *now);
// Both halves' timers at now.
void fuzz_sessions_tick(fuzz_sessions_t *f, const session_time_t *now);

#endif
