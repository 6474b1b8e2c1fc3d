// turn_probe.h — asks one TURN server for an allocation the way libnice does (RFC 5766 Allocate with
// long-term credentials, libnice's STUN code), to say *why* it gave an agent no relay candidate: libnice
// 0.1.21 drops the Allocate error silently. Blocking (at most about 2 s per round trip), so nat runs it
// on its probe thread (stun_probe.c), only for an entry that just failed. An allocation it gets is
// released at once (Refresh with lifetime 0).
#ifndef WEFT_NAT_TURN_PROBE_H
#define WEFT_NAT_TURN_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "ice_settings.h"

#define TURN_PROBE_TIMEOUT_MS 2000

typedef enum {
    TURN_PROBE_ALLOCATES = 0,   // it allocates now (the failure was passing)
    TURN_PROBE_REFUSED,         // it answered with an error: detail has the code, e.g. "401 wrong credentials"
    TURN_PROBE_NO_ANSWER,       // nothing within the time (or the TCP connection failed)
    TURN_PROBE_BAD_ANSWER,      // answered with something that is not a valid Allocate response
} turn_probe_status_t;

// Probes one server (UDP or TCP, as configured). detail: a short reason, never the password.
turn_probe_status_t turn_probe_run(const ice_turn_server_t *server, char *detail, size_t detail_len);

// Reads one datagram (or TCP-framed message) as the answer to a request `agent` sent: validated and
// decoded by libnice's STUN code. TURN_PROBE_NO_ANSWER when it answers nothing of ours (skip it); for
// REFUSED *code is the error code. detail: the reason. Also the fuzz target's entry point.
struct stun_agent_t;
struct _StunMessage;
turn_probe_status_t turn_probe_read_answer(struct stun_agent_t *agent, const uint8_t *buf, size_t len,
                                           struct _StunMessage *answer, int *code, char *detail, size_t detail_len);

// The meaning of a STUN/TURN error code, e.g. 401 -> "wrong or expired credentials".
const char *turn_probe_error_name(int code);

#endif
