// stun_probe.h — which configured STUN servers answer: one Binding request (RFC 5389, lib/stun_client.h)
// to every server at once, each from its own UDP socket, retransmitted every 500 ms, for at most 2 s.
// Runs on its own thread (a CZMQ actor) so the nat actor never blocks; the nat actor takes the first
// server, in the configured order, that gave a well-formed answer.
//
// Why not libnice's own gathering: a server that does not answer and a host with no NAT look the same
// there (no srflx candidate), and a dead server holds gathering back until libnice's STUN timer expires.
#ifndef WEFT_NAT_STUN_PROBE_H
#define WEFT_NAT_STUN_PROBE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_settings.h"
#include "stun_client.h"

#define STUN_PROBE_TIMEOUT_MS 2000
#define STUN_PROBE_RETRY_MS 500

typedef enum {
    STUN_PROBE_NO_ANSWER = 0,
    STUN_PROBE_OK,          // a valid Binding success response; mapped is the address it saw
    STUN_PROBE_BAD_ANSWER,  // answered, but not with a valid Binding success response (error, garbage)
    STUN_PROBE_UNSENT,      // could not even send to it
} stun_probe_status_t;

typedef struct {
    stun_probe_status_t status[ICE_MAX_SERVERS];
    char mapped[ICE_MAX_SERVERS][64];       // "ip:port" for STUN_PROBE_OK
    char detail[ICE_MAX_SERVERS][96];       // why, for the others
} stun_probe_result_t;

// Probes servers (blocking, up to STUN_PROBE_TIMEOUT_MS). Used by the actor below and the tests.
void stun_probe_run(const ice_stun_server_t *servers, int count, stun_probe_result_t *result);

// The probe thread: "PROBE" probes the STUN servers it was created with and answers "STUN" + one frame
// holding a stun_probe_result_t; "TURN", name, ice_turn_server_t (wiped after use) runs turn_probe.c on
// that server and answers "TURN", name, status (turn_probe_status_t as text), detail; "SERVERS" + one frame
// holding an array of ice_stun_server_t replaces the STUN servers the next "PROBE" asks. args: a heap copy
// of ice_settings_t without TURN passwords (the actor frees it).
void stun_probe_actor(zsock_t *pipe, void *args);

// What a finished transaction to one server says (lib/stun_client.h): STUN_PROBE_OK with the mapped
// address, else the status and why in detail ("answered with something that is not STUN (19 bytes)",
// "answered STUN error 400", "no answer within 2000 ms", "cannot send to it: ..."). Also the fuzz target's.
stun_probe_status_t stun_probe_read(const stun_transaction_t *t, char *mapped, size_t mapped_len, char *detail,
                                    size_t detail_len);

#endif
