// fuzz_sessions.h — the session table the crypto fuzzers feed: this node (`local`, a fresh identity) with
// one member (`peer`, a fresh identity, overlay 10.100.0.2), and the two batches its output goes to. Made
// once per fuzzer process.
#ifndef WEFT_FUZZ_SESSIONS_H
#define WEFT_FUZZ_SESSIONS_H

#include "identity.h"
#include "session.h"

typedef struct {
    identity_t local, peer;
    session_set_t *sessions;
    packet_batch_t *to_nat, *to_device;
} fuzz_sessions_t;

// Initialises libsodium, makes both identities and the table. Traps (a fuzzer has no one to report to) if
// anything cannot be made.
void fuzz_sessions_init(fuzz_sessions_t *f, service_t *svc);

#endif
