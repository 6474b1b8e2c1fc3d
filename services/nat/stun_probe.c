// stun_probe.c — parallel STUN Binding probes of the configured servers. See stun_probe.h.
#include "stun_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stun/stunagent.h>
#include <stun/usages/bind.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "turn_probe.h"

static int server_sockaddr(const ice_stun_server_t *server, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, server->ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)server->port);
        *len = sizeof *v4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, server->ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)server->port);
        *len = sizeof *v6;
        return AF_INET6;
    }
    return -1;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t out_len)
{
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "0";
    getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), host,
                sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(out, out_len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

stun_probe_status_t stun_probe_check_answer(struct stun_agent_t *agent, const uint8_t *buf, size_t len, char *mapped,
                                            size_t mapped_len, char *detail, size_t detail_len)
{
    StunMessage msg;
    StunValidationStatus valid = stun_agent_validate(agent, &msg, buf, len, NULL, NULL);
    if (valid == STUN_VALIDATION_UNMATCHED_RESPONSE || valid == STUN_VALIDATION_NOT_STUN ||
        valid == STUN_VALIDATION_INCOMPLETE_STUN) {
        if (valid == STUN_VALIDATION_UNMATCHED_RESPONSE)
            return STUN_PROBE_NO_ANSWER;
        snprintf(detail, detail_len, "answered with something that is not STUN (%zu bytes)", len);
        return STUN_PROBE_BAD_ANSWER;
    }
    if (valid != STUN_VALIDATION_SUCCESS) {
        snprintf(detail, detail_len, "answered with a STUN message that does not check (validation %d)", (int)valid);
        return STUN_PROBE_BAD_ANSWER;
    }
    struct sockaddr_storage addr, alternate;
    socklen_t addr_len = sizeof addr, alternate_len = sizeof alternate;
    StunUsageBindReturn rc = stun_usage_bind_process(&msg, (struct sockaddr *)&addr, &addr_len,
                                                     (struct sockaddr *)&alternate, &alternate_len);
    if (rc == STUN_USAGE_BIND_RETURN_SUCCESS) {
        addr_text((struct sockaddr *)&addr, mapped, mapped_len);
        return STUN_PROBE_OK;
    }
    int code = 0;
    if (rc == STUN_USAGE_BIND_RETURN_ERROR && stun_message_find_error(&msg, &code) == STUN_MESSAGE_RETURN_SUCCESS)
        snprintf(detail, detail_len, "answered STUN error %d", code);
    else if (rc == STUN_USAGE_BIND_RETURN_ALTERNATE_SERVER)
        snprintf(detail, detail_len, "redirects to another server (not followed)");
    else
        snprintf(detail, detail_len, "answered without a usable mapped address");
    return STUN_PROBE_BAD_ANSWER;
}

void stun_probe_run(const ice_stun_server_t *servers, int count, stun_probe_result_t *result)
{
    memset(result, 0, sizeof *result);
    if (count > ICE_MAX_SERVERS)
        count = ICE_MAX_SERVERS;
    int fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    StunAgent agent;
    stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, 0);
    struct sockaddr_storage addrs[ICE_MAX_SERVERS];
    socklen_t lens[ICE_MAX_SERVERS];
    int families[ICE_MAX_SERVERS];
    for (int i = 0; i < count; i++) {
        families[i] = server_sockaddr(&servers[i], &addrs[i], &lens[i]);
        snprintf(result->detail[i], sizeof result->detail[i], "no answer within %d ms", STUN_PROBE_TIMEOUT_MS);
    }
    int64_t start = zclock_mono(), next_send = start;
    int pending = count;
    while (pending > 0) {
        int64_t now = zclock_mono();
        if (now - start >= STUN_PROBE_TIMEOUT_MS)
            break;
        if (now >= next_send) {
            // a fresh request each round (a new transaction id): answers to any round are accepted
            for (int i = 0; i < count; i++) {
                if (result->status[i] != STUN_PROBE_NO_ANSWER)
                    continue;
                int fd = families[i] == AF_INET ? fd4 : families[i] == AF_INET6 ? fd6 : -1;
                uint8_t buf[256];
                StunMessage msg;
                size_t len = fd >= 0 ? stun_usage_bind_create(&agent, &msg, buf, sizeof buf) : 0;
                if (!len || sendto(fd, buf, len, 0, (struct sockaddr *)&addrs[i], lens[i]) < 0) {
                    result->status[i] = STUN_PROBE_UNSENT;
                    snprintf(result->detail[i], sizeof result->detail[i], "cannot send to it: %s",
                             fd < 0 ? "no socket for its address family" : strerror(errno));
                    pending--;
                }
            }
            next_send = now + STUN_PROBE_RETRY_MS;
        }
        struct pollfd fds[2] = {{fd4, POLLIN, 0}, {fd6, POLLIN, 0}};
        int64_t until = next_send < start + STUN_PROBE_TIMEOUT_MS ? next_send : start + STUN_PROBE_TIMEOUT_MS;
        int wait = (int)(until - zclock_mono());
        if (poll(fds, 2, wait < 0 ? 0 : wait) <= 0)
            continue;
        for (int f = 0; f < 2; f++) {
            if (!(fds[f].revents & POLLIN))
                continue;
            uint8_t buf[1500];
            struct sockaddr_storage from;
            socklen_t from_len = sizeof from;
            ssize_t n = recvfrom(fds[f].fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
            if (n <= 0)
                continue;
            int who = -1;   // the server it came from (address and port must match)
            for (int i = 0; i < count && who < 0; i++)
                if (lens[i] == from_len && memcmp(&addrs[i], &from, from_len) == 0)
                    who = i;
            if (who < 0 || result->status[who] != STUN_PROBE_NO_ANSWER)
                continue;
            stun_probe_status_t st = stun_probe_check_answer(&agent, buf, (size_t)n, result->mapped[who],
                                                             sizeof result->mapped[who], result->detail[who],
                                                             sizeof result->detail[who]);
            if (st != STUN_PROBE_NO_ANSWER) {
                result->status[who] = st;
                pending--;
            }
        }
    }
    if (fd4 >= 0)
        close(fd4);
    if (fd6 >= 0)
        close(fd6);
}

void stun_probe_actor(zsock_t *pipe, void *args)
{
    ice_settings_t *settings = args;
    zsock_signal(pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr(msg);
        bool term = !command || streq(command, "$TERM");
        bool probe = command && streq(command, "PROBE");
        bool turn = command && streq(command, "TURN");
        free(command);
        if (term) {
            zmsg_destroy(&msg);
            break;
        }
        if (turn) {
            // "TURN", name, ice_turn_server_t -> "TURN", name, status, detail
            char *name = zmsg_popstr(msg);
            zframe_t *server = zmsg_pop(msg);
            if (name && server && zframe_size(server) == sizeof(ice_turn_server_t)) {
                ice_turn_server_t t;
                memcpy(&t, zframe_data(server), sizeof t);
                char detail[160];
                turn_probe_status_t st = turn_probe_run(&t, detail, sizeof detail);
                sodium_memzero(&t, sizeof t);
                zstr_sendm(pipe, "TURN");
                zstr_sendm(pipe, name);
                zstr_sendfm(pipe, "%d", (int)st);
                zstr_send(pipe, detail);
            }
            if (server)
                sodium_memzero(zframe_data(server), zframe_size(server));
            zframe_destroy(&server);
            free(name);
        }
        zmsg_destroy(&msg);
        if (!probe)
            continue;
        stun_probe_result_t result;
        stun_probe_run(settings->stun, settings->stun_count, &result);
        // "STUN" and one frame of exactly sizeof result (nat_servers.c checks the size); czmq 4.2's
        // zsock_bsend has no picture for a byte block, it asserts on "b"
        zstr_sendm(pipe, "STUN");
        zframe_t *frame = zframe_new(&result, sizeof result);
        if (frame)
            zframe_send(&frame, pipe, 0);
    }
    free(settings);
}
