// stun_client.h — the client side of a STUN Binding transaction over UDP (RFC 5389 7.2.1), the one every
// STUN user in weft shares: `weft network`'s NAT tests (lib/natprobe.c), weft-nat's "which server answers"
// probe (services/nat/stun_probe.c) and its port prediction (services/nat/predict.c). A request, with
// CHANGE-REQUEST if asked, from a socket to an address, retransmitted with backoff until a deadline; then
// the decoded answer, or why none came (silence, garbage, answers to transactions we never sent, a send
// error). stun_client_run asks several addresses at once, each from its own socket. IPv4 and IPv6.
// Blocking (poll); the codec is lib/stun.h.
#ifndef WEFT_STUN_CLIENT_H
#define WEFT_STUN_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

#define STUN_CLIENT_MEMORY 64     // transaction ids a socket remembers: late answers to them are not "foreign"
#define STUN_CLIENT_PARALLEL 16   // transactions stun_client_run takes at once

// A bound UDP socket (any address, an ephemeral port) and the transactions it sent.
typedef struct {
    int fd;
    uint16_t port;                                    // its local port
    uint8_t sent[STUN_CLIENT_MEMORY][STUN_TXID_LEN];
    int sent_count;
} stun_socket_t;

// Opens and binds (AF_INET or AF_INET6). Returns 0, or -1 with the reason in err (fd is then -1).
int stun_socket_open(stun_socket_t *s, int family, char *err, size_t err_len);
void stun_socket_close(stun_socket_t *s);

typedef struct {
    int timeout_ms;            // the whole wait, retransmits included (default 1000)
    int retransmit_ms;         // the first retransmit this long after the request (default 100), then
    int max_retransmit_ms;     // the interval doubles up to this (default 1600; = retransmit_ms: fixed)
    uint8_t change_flags;      // STUN_CHANGE_IP | STUN_CHANGE_PORT: a CHANGE-REQUEST attribute
    bool want_request;         // the hairpin test: the answer is our own request coming back to us
    const _Atomic bool *stop;  // optional: when another thread sets it, give up (looked at every 50 ms)
} stun_client_options_t;

typedef enum {
    STUN_CLIENT_UNSENT = -1,   // the request could not be sent (send_error)
    STUN_CLIENT_SILENT = 0,    // no answer by the deadline (or stopped): requests, garbage, foreign say more
    STUN_CLIENT_ANSWERED = 1,  // msg, from and rtt_ms hold the answer
} stun_client_status_t;

typedef struct {
    // set by the caller
    stun_socket_t *socket;               // each transaction of one stun_client_run its own
    struct sockaddr_storage to;
    socklen_t to_len;
    // the result
    stun_client_status_t status;
    stun_message_t msg;                  // a Binding success or error response (with want_request: our request)
    struct sockaddr_storage from;        // where it came from
    int rtt_ms;                          // since the first request
    int requests;                        // requests sent
    int garbage;                         // datagrams that were not a valid STUN Binding response
    bool garbage_not_stun;               // the last of them was not STUN at all (else STUN that did not check)
    size_t garbage_len;                  // its length
    char garbage_reason[128];            // why it was refused
    int foreign;                         // valid responses to transactions this socket never sent
    char send_error[128];
    int timeout_ms;                      // as run
    // the request
    bool want_request;
    uint8_t txid[STUN_TXID_LEN];
    uint8_t request[128];
    size_t request_len;
    int64_t started_ms, next_send_ms;
    int interval_ms;
} stun_transaction_t;

void stun_client_options_default(stun_client_options_t *opt);

// One transaction from s to `to`: blocks until the answer or the deadline. Returns t->status.
stun_client_status_t stun_client_binding(stun_socket_t *s, const struct sockaddr *to, socklen_t to_len,
                                         const stun_client_options_t *opt, stun_transaction_t *t);

// Runs ts[0..count) at once (count <= STUN_CLIENT_PARALLEL; each with socket, to and to_len set, each on
// its own socket) until every one is answered or unsent, or the deadline. Each ts[i].status says how it went.
void stun_client_run(stun_transaction_t *ts, int count, const stun_client_options_t *opt);

// What stun_client_run does first for each transaction: clears the result, draws a transaction id
// (remembered by t->socket) and builds the request. Also for tests and fuzz targets.
void stun_transaction_prepare(stun_transaction_t *t, const stun_client_options_t *opt);

// One datagram received on t's socket: returns true when it is t's answer (t->msg, t->from, t->status
// set), else counts it as garbage or foreign. Never trusts buf: the fuzz targets' entry point.
bool stun_transaction_receive(stun_transaction_t *t, const uint8_t *buf, size_t len, const struct sockaddr *from,
                              socklen_t from_len);

// Why t got no answer, for people: "no answer in 1000 ms (4 requests)", "2 invalid datagram(s) (last: ...),
// no valid answer in 1000 ms", "1 response(s) with a wrong transaction id, ...", "cannot send: ...".
void stun_transaction_why_silent(const stun_transaction_t *t, char *out, size_t out_len);

#endif
