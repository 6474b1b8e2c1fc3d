// fuzz_stun.c — libFuzzer target for the STUN decoder (lib/stun.c), which reads whatever a STUN server, or
// anyone who can send UDP to `weft network`'s socket, sends back. The input is one datagram: it is
// decoded exactly as natprobe does; a refused message must say why; an accepted one has its addresses
// read and printed (the text must stay inside its buffer), and the addresses it reports are built into
// a fresh response that must decode back to the same values (build and decode agree). It is also handed to
// a Binding transaction (lib/stun_client.c) with its transaction id made the transaction's own, as an
// answer arriving on natprobe's socket, and the reason given when it is not one must stay in its buffer.
// Last, it is a request to the hub's STUN server (services/hub/hub_stun.c): an answer must decode, be a
// Binding success for the same transaction that maps the sender, and be no more than 2.5 times as long.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_stun && ./bin/fuzz_stun fuzz/corpus/stun
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub_stun.h"
#include "stun.h"
#include "stun_client.h"

static volatile size_t sink;

static void use_address(const stun_addr_t *a)
{
    char text[STUN_ADDR_TEXT];
    stun_addr_to_text(a, text);
    size_t n = strnlen(text, sizeof text);
    if (n == sizeof text)
        abort();   // not terminated
    if (a->family && n == 0)
        abort();   // a present address always prints
    sink += n;
}

static void as_an_answer(const uint8_t *data, size_t size)
{
    stun_socket_t sock = {.fd = -1};
    stun_transaction_t t = {.socket = &sock};
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    stun_transaction_prepare(&t, &opt);
    uint8_t copy[STUN_MAX_MESSAGE];
    size_t n = size < sizeof copy ? size : sizeof copy;
    memcpy(copy, data, n);
    if (n >= STUN_HEADER_LEN)
        memcpy(copy + 8, t.txid, STUN_TXID_LEN);
    bool answered = stun_transaction_receive(&t, copy, n, NULL, 0);
    if (answered != (t.status == STUN_CLIENT_ANSWERED) || (!answered && t.garbage + t.foreign > 1))
        abort();
    char why[512];
    stun_transaction_why_silent(&t, why, sizeof why);
    if (strnlen(why, sizeof why) == sizeof why)
        abort();
}

static void as_a_request_to_the_hub(const uint8_t *data, size_t size)
{
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(40000), .sin_addr.s_addr = htonl(0xc6120a02)};
    uint8_t out[STUN_MAX_MESSAGE];
    char why[160] = "";
    size_t n = hub_stun_answer(data, size, &from, out, sizeof out, why, sizeof why);
    if (n == 0) {
        if (!why[0] || strnlen(why, sizeof why) == sizeof why)
            abort();   // no answer always says why
        return;
    }
    stun_message_t req, ans;
    char err[160];
    if (stun_decode(data, size, &req, err, sizeof err) != 0 || req.type != STUN_BINDING_REQUEST)
        abort();   // only a Binding request is answered
    if (stun_decode(out, n, &ans, err, sizeof err) != 0 || ans.type != STUN_BINDING_SUCCESS ||
        memcmp(ans.txid, req.txid, STUN_TXID_LEN) != 0 || ans.cookie_word != req.cookie_word)
        abort();
    stun_addr_t mapped;
    stun_addr_from_sockaddr(&mapped, &from);
    const stun_addr_t *got = stun_mapped_address(&ans);
    if (!got || !stun_addr_equal(got, &mapped) || ans.has_fingerprint != (req.magic_cookie && req.has_fingerprint))
        abort();
    if (n * 2 > size * 5)
        abort();   // a reflector would amplify more
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_an_answer(data, size);
    as_a_request_to_the_hub(data, size);
    stun_message_t msg;
    char err[160] = "";
    if (stun_decode(data, size, &msg, err, sizeof err) != 0) {
        if (!err[0])
            abort();   // a refused message always says why
        return 0;
    }
    if (!stun_looks_like(data, size))
        abort();   // anything decoded passes the cheap filter too
    if (strnlen(msg.software, sizeof msg.software) == sizeof msg.software ||
        strnlen(msg.error_reason, sizeof msg.error_reason) == sizeof msg.error_reason)
        abort();
    const stun_addr_t *all[] = {&msg.xor_mapped,      &msg.mapped,          &msg.other_address,
                                &msg.changed_address, &msg.response_origin, &msg.source_address};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        use_address(all[i]);

    const stun_addr_t *mapped = stun_mapped_address(&msg);
    if (!mapped)
        return 0;
    uint8_t out[STUN_MAX_MESSAGE];
    size_t len = stun_build_binding_response(msg.txid, mapped, stun_alternate_address(&msg), msg.software, out,
                                             sizeof out);
    if (len == 0)
        abort();   // two addresses and 127 bytes of text always fit
    stun_message_t back;
    if (stun_decode(out, len, &back, err, sizeof err) != 0)
        abort();   // what we build, we decode
    if (!stun_addr_equal(&back.xor_mapped, mapped) || !stun_addr_equal(&back.mapped, mapped) ||
        memcmp(back.txid, msg.txid, STUN_TXID_LEN) != 0 || strcmp(back.software, msg.software) != 0)
        abort();
    const stun_addr_t *alt = stun_alternate_address(&msg);
    if (alt && !stun_addr_equal(&back.other_address, alt))
        abort();
    return 0;
}
