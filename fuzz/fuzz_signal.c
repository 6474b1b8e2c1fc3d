// fuzz_signal.c — libFuzzer target for weft-nat's checks of a received Signal (services/nat/nat_signal.c):
// arbitrary bytes are decoded as a Signal and go through nat_signal_check with a fixed node id as ours,
// then, for an OFFER or ANSWER that passes (as nat_peers.c does), through nat_signal_good_candidates.
// The candidate lines it keeps are then handed to libnice's own SDP parser
// (nice_agent_parse_remote_candidate_sdp on an agent that never gathers, i.e. no sockets and no main
// loop), which is what ice_peer.c does with them next.
//
// A good line that libnice refuses is no crash (ice_peer counts it as a bad remote candidate) and is only
// counted; with WEFT_FUZZ_SIGNAL_STRICT=1 in the environment it aborts, to hunt for lines the check lets
// through but libnice does not want.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_signal && ./bin/fuzz_signal fuzz/corpus/signal
#include <nice/agent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ice_peer.h"
#include "nat_signal.h"

// Our node id in this target; the seeds address their Signals to it (fuzz/make_corpus.c).
static const uint8_t self_id[32] = {
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
};

static NiceAgent *agent;
static guint stream_id;
static bool strict;
static unsigned long refused;
static volatile size_t sink;

static void setup(void)
{
    strict = getenv("WEFT_FUZZ_SIGNAL_STRICT") && strcmp(getenv("WEFT_FUZZ_SIGNAL_STRICT"), "1") == 0;
    agent = nice_agent_new(g_main_context_default(), NICE_COMPATIBILITY_RFC5245);
    if (!agent)
        abort();
    stream_id = nice_agent_add_stream(agent, 1);
    if (!stream_id)
        abort();
}

// ice_peer.c's apply step without the agent's state machine: parse each line, keep component 1.
static void parse_with_libnice(char **good, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        NiceCandidate *cand = nice_agent_parse_remote_candidate_sdp(agent, stream_id, good[i]);
        if (!cand) {
            if (strict) {
                fprintf(stderr, "nat_signal_good_candidates kept a line libnice refuses: %s\n", good[i]);
                abort();
            }
            if (refused++ < 5)
                fprintf(stderr, "note: libnice refused a line the check kept: %s\n", good[i]);
            continue;
        }
        sink += cand->component_id;
        nice_candidate_free(cand);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!agent)
        setup();
    Weft__Signal *s = weft__signal__unpack(NULL, size, data);
    if (!s)
        return 0;
    char why[160];
    why[0] = '\0';
    if (nat_signal_check(s, self_id, why, sizeof why) != 0) {
        if (!why[0])
            abort();  // a refusal always says why (nat logs it)
        weft__signal__free_unpacked(s, NULL);
        return 0;
    }
    // what passed: ids are 32 bytes, addressed to us, not from us
    if (s->from.len != 32 || s->to.len != 32 || memcmp(s->to.data, self_id, 32) != 0 ||
        memcmp(s->from.data, self_id, 32) == 0)
        abort();
    (void)nat_signal_kind_name(s->kind);
    if (s->kind == WEFT__SIGNAL__KIND__OFFER || s->kind == WEFT__SIGNAL__KIND__ANSWER) {
        if (s->n_candidates > ICE_MAX_CANDIDATES)
            abort();
        char *good[ICE_MAX_CANDIDATES];
        size_t bad = 0, count = nat_signal_good_candidates(s, good, &bad);
        if (count + bad != s->n_candidates || count > ICE_MAX_CANDIDATES)
            abort();
        for (size_t i = 0; i < count; i++) {
            size_t n = strlen(good[i]);
            if (n >= ICE_MAX_CANDIDATE_LEN || strncmp(good[i], "a=candidate:", 12) != 0)
                abort();
            sink += n;
        }
        // ice_peer.c sets the credentials first; they must be what libnice takes as well
        if (!nice_agent_set_remote_credentials(agent, stream_id, s->ufrag, s->pwd) && strict)
            abort();
        parse_with_libnice(good, count);
    }
    weft__signal__free_unpacked(s, NULL);
    return 0;
}
