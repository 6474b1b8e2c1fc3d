// fuzz_nat_probe.c — libFuzzer target for what weft-nat reads off the network outside libnice's ICE:
//   - a datagram from a peer's ICE path, as a path probe (services/nat/path_probe.c);
//   - a datagram from a STUN server, as the answer to our Binding request (lib/stun_client.c's
//     stun_transaction_receive, then stun_probe_read in services/nat/stun_probe.c, which reads the mapped
//     address or says why not);
//   - a datagram from a TURN server, as the answer to our Allocate (turn_probe_read_answer in
//     services/nat/turn_probe.c: libnice's parser and TURN usage, then the error code or relay address).
// The input's bytes 8..19 are replaced by the transaction id of a request the harness just made, so
// that inputs get past the "is this an answer to us" match into the parsing behind it.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_nat_probe && ./bin/fuzz_nat_probe fuzz/corpus/nat_probe
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <string.h>
#include <stun/stunagent.h>
#include <stun/usages/turn.h>

#include "path_probe.h"
#include "stun_probe.h"
#include "turn_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    path_probe_t probe;
    path_probe_decode(data, size, &probe);
    path_probe_is_probe_type(data, size);

    stun_socket_t sock = {.fd = -1};
    stun_transaction_t t = {.socket = &sock};
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    stun_transaction_prepare(&t, &opt);
    uint8_t buf[1500];
    if (size > sizeof buf)
        size = sizeof buf;
    memcpy(buf, data, size);
    if (size >= 20)
        memcpy(buf + 8, t.txid, 12);
    struct sockaddr_in from = {.sin_family = AF_INET};
    stun_transaction_receive(&t, buf, size, (struct sockaddr *)&from, sizeof from);
    char mapped[64], detail[96], why[256];
    stun_probe_read(&t, mapped, sizeof mapped, detail, sizeof detail);
    stun_transaction_why_silent(&t, why, sizeof why);

    StunAgent turn;
    stun_agent_init(&turn, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_LONG_TERM_CREDENTIALS | STUN_AGENT_USAGE_NO_INDICATION_AUTH);
    uint8_t request[256];
    StunMessage msg;
    size_t request_len = stun_usage_turn_create(&turn, &msg, request, sizeof request, NULL,
                                                STUN_USAGE_TURN_REQUEST_PORT_NORMAL, -1, -1, (uint8_t *)"u", 1,
                                                (uint8_t *)"p", 1, STUN_USAGE_TURN_COMPATIBILITY_RFC5766);
    memcpy(buf, data, size);
    if (size >= 20 && request_len >= 20)
        memcpy(buf + 8, request + 8, 12);
    StunMessage answer;
    int code;
    turn_probe_read_answer(&turn, buf, size, &answer, &code, detail, sizeof detail);
    return 0;
}
