// turn_probe.c — one Allocate exchange with a TURN server, to name why it refused. See turn_probe.h.
#include "turn_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stun/stunagent.h>
#include <stun/usages/turn.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define RETRY_MS 500

const char *turn_probe_error_name(int code)
{
    switch (code) {
    case 400: return "bad request";
    case 401: return "wrong or expired credentials";
    case 403: return "forbidden";
    case 420: return "unknown attribute";
    case 437: return "allocation mismatch";
    case 438: return "stale nonce";
    case 440: return "address family not supported";
    case 441: return "wrong credentials for this allocation";
    case 442: return "unsupported transport protocol";
    case 486: return "allocation quota reached";
    case 508: return "insufficient capacity";
    default: return "refused";
    }
}

static int open_socket(const ice_turn_server_t *server, int64_t deadline)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, server->ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)server->port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, server->ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)server->port);
        len = sizeof *v6;
    } else {
        return -1;
    }
    int fd = socket(ss.ss_family, (server->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return -1;
        }
        struct pollfd p = {fd, POLLOUT, 0};
        int wait = (int)(deadline - clock_now_ms());
        int err = 0;
        socklen_t err_len = sizeof err;
        if (wait <= 0 || poll(&p, 1, wait) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

// Reads one whole STUN message from a TCP stream (20-byte header, then its length), until deadline.
static ssize_t read_stream_message(int fd, uint8_t *buf, size_t cap, int64_t deadline)
{
    size_t have = 0, want = 20;
    while (have < want) {
        struct pollfd p = {fd, POLLIN, 0};
        int wait = (int)(deadline - clock_now_ms());
        if (wait <= 0 || poll(&p, 1, wait) != 1)
            return -1;
        ssize_t n = read(fd, buf + have, want - have);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        if (have == 20 && want == 20) {
            size_t body = ((size_t)buf[2] << 8) | buf[3];
            if (20 + body > cap)
                return -1;
            want = 20 + body;
        }
    }
    return (ssize_t)have;
}

turn_probe_status_t turn_probe_read_answer(StunAgent *agent, const uint8_t *buf, size_t len, StunMessage *answer,
                                           int *code, char *detail, size_t detail_len)
{
    *code = 0;
    StunValidationStatus valid = stun_agent_validate(agent, answer, buf, len, NULL, NULL);
    if (valid == STUN_VALIDATION_UNMATCHED_RESPONSE)
        return TURN_PROBE_NO_ANSWER;   // an answer to an earlier copy, or not ours
    if (valid != STUN_VALIDATION_SUCCESS) {
        snprintf(detail, detail_len, "answered with something that is not a valid TURN response");
        return TURN_PROBE_BAD_ANSWER;
    }
    struct sockaddr_storage relay, mapped, alternate;
    socklen_t relay_len = sizeof relay, mapped_len = sizeof mapped, alternate_len = sizeof alternate;
    uint32_t bandwidth = 0, lifetime = 0;
    StunUsageTurnReturn rc = stun_usage_turn_process(answer, &relay, &relay_len, &mapped, &mapped_len, &alternate,
                                                     &alternate_len, &bandwidth, &lifetime,
                                                     STUN_USAGE_TURN_COMPATIBILITY_RFC5766);
    // RELAY_SUCCESS: a relay address; MAPPED_SUCCESS: a relay address and our mapped address as well
    if (rc == STUN_USAGE_TURN_RETURN_RELAY_SUCCESS || rc == STUN_USAGE_TURN_RETURN_MAPPED_SUCCESS) {
        snprintf(detail, detail_len, "allocates now");
        return TURN_PROBE_ALLOCATES;
    }
    if (rc == STUN_USAGE_TURN_RETURN_ERROR && stun_message_find_error(answer, code) == STUN_MESSAGE_RETURN_SUCCESS) {
        snprintf(detail, detail_len, "%d %s", *code, turn_probe_error_name(*code));
        return TURN_PROBE_REFUSED;
    }
    if (rc == STUN_USAGE_TURN_RETURN_ALTERNATE_SERVER) {
        snprintf(detail, detail_len, "redirects to another server (not followed)");
        return TURN_PROBE_REFUSED;
    }
    snprintf(detail, detail_len, "answered without a relay address");
    return TURN_PROBE_BAD_ANSWER;
}

// Sends the request (again every RETRY_MS over UDP) until an answer to it arrives or the deadline passes,
// and reads it (turn_probe_read_answer). An answer that is not to us is skipped.
static turn_probe_status_t exchange(int fd, bool tcp, StunAgent *agent, const uint8_t *req, size_t req_len,
                                    uint8_t *buf, size_t cap, StunMessage *answer, int *code, char *detail,
                                    size_t detail_len, int64_t deadline)
{
    int64_t next_send = 0;
    while (clock_now_ms() < deadline) {
        if (clock_now_ms() >= next_send) {
            if (send(fd, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len && tcp)
                break;
            next_send = tcp ? deadline : clock_now_ms() + RETRY_MS;
        }
        ssize_t n;
        if (tcp) {
            n = read_stream_message(fd, buf, cap, deadline);
            if (n < 0)
                break;
        } else {
            struct pollfd p = {fd, POLLIN, 0};
            int64_t until = next_send < deadline ? next_send : deadline;
            int wait = (int)(until - clock_now_ms());
            if (poll(&p, 1, wait < 0 ? 0 : wait) != 1)
                continue;
            n = recv(fd, buf, cap, 0);
            if (n <= 0)
                continue;
        }
        turn_probe_status_t st = turn_probe_read_answer(agent, buf, (size_t)n, answer, code, detail, detail_len);
        if (st != TURN_PROBE_NO_ANSWER)
            return st;
    }
    snprintf(detail, detail_len, "no answer within %d ms", TURN_PROBE_TIMEOUT_MS);
    return TURN_PROBE_NO_ANSWER;
}

turn_probe_status_t turn_probe_run(const ice_turn_server_t *server, char *detail, size_t detail_len)
{
    int64_t deadline = clock_now_ms() + TURN_PROBE_TIMEOUT_MS;
    int fd = open_socket(server, deadline);
    if (fd < 0) {
        snprintf(detail, detail_len, "%s", server->tcp ? "no TCP connection" : "cannot send to it");
        return TURN_PROBE_NO_ANSWER;
    }
    StunAgent agent;
    stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_LONG_TERM_CREDENTIALS | STUN_AGENT_USAGE_NO_INDICATION_AUTH);
    uint8_t *user = (uint8_t *)server->user, *pass = (uint8_t *)server->pass;
    size_t user_len = strlen(server->user), pass_len = strlen(server->pass);
    uint8_t req[1024], first_buf[1500], second_buf[1500], refresh[1024];
    StunMessage msg, first, second;
    int code = 0;
    // round 1, without credentials: a server that wants them answers 401 with its realm and nonce
    size_t len = stun_usage_turn_create(&agent, &msg, req, sizeof req, NULL, STUN_USAGE_TURN_REQUEST_PORT_NORMAL, -1,
                                        -1, user, user_len, pass, pass_len, STUN_USAGE_TURN_COMPATIBILITY_RFC5766);
    turn_probe_status_t st = exchange(fd, server->tcp, &agent, req, len, first_buf, sizeof first_buf, &first, &code,
                                      detail, detail_len, deadline);
    if (st == TURN_PROBE_REFUSED && (code == 401 || code == 438)) {
        // round 2, with the realm and nonce of the first answer
        len = stun_usage_turn_create(&agent, &msg, req, sizeof req, &first, STUN_USAGE_TURN_REQUEST_PORT_NORMAL, -1,
                                     -1, user, user_len, pass, pass_len, STUN_USAGE_TURN_COMPATIBILITY_RFC5766);
        st = exchange(fd, server->tcp, &agent, req, len, second_buf, sizeof second_buf, &second, &code, detail,
                      detail_len, deadline);
        if (st == TURN_PROBE_ALLOCATES) {
            // give the allocation back (realm and nonce from the first answer)
            size_t rlen = stun_usage_turn_create_refresh(&agent, &msg, refresh, sizeof refresh, &first, 0, user,
                                                         user_len, pass, pass_len,
                                                         STUN_USAGE_TURN_COMPATIBILITY_RFC5766);
            if (rlen)
                send(fd, refresh, rlen, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    close(fd);
    return st;
}
