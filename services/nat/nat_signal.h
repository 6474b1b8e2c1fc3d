// nat_signal.h — ICE signalling messages (proto/node.proto Signal): checking every field of one that
// arrives, and building and sending OFFER, ANSWER and RESTART to discovery's inbox.
#ifndef WEFT_NAT_SIGNAL_H
#define WEFT_NAT_SIGNAL_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.pb-c.h"

// Checks a received Signal: 32-byte from/to, `to` is us, `from` is not, a known kind, ICE credentials
// made of ICE characters and of legal length, at most ICE_MAX_CANDIDATES "a=candidate:" lines of bounded
// length. Returns 0, or -1 with why filled.
int nat_signal_check(const Weft__Signal *signal, const uint8_t self_id[32], char *why, size_t why_len);

// Puts in good[] (room for ICE_MAX_CANDIDATES) the candidate lines of s that are well-formed SDP
// candidates, counts the others in *bad, and returns how many are good.
size_t nat_signal_good_candidates(const Weft__Signal *signal, char **good, size_t *bad);

// Sends a Signal to discovery (non-blocking). candidates may be NULL when count is 0; answers may be NULL;
// trial marks the OFFER/ANSWER of a trial agent. Returns 0, or -1 when discovery's inbox is full.
int nat_signal_send(zsock_t *discovery, Weft__Signal__Kind kind, const uint8_t from[32], const uint8_t to[32],
                    const char *ufrag, const char *pwd, char **candidates, size_t count, const char *answers,
                    bool trial);

const char *nat_signal_kind_name(Weft__Signal__Kind kind);

#endif
