// stun_probe.c — parallel STUN Binding probes of the configured servers. See stun_probe.h.
#include "stun_probe.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

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

stun_probe_status_t stun_probe_read(const stun_transaction_t *t, char *mapped, size_t mapped_len, char *detail,
                                    size_t detail_len)
{
    if (t->status == STUN_CLIENT_UNSENT) {
        snprintf(detail, detail_len, "cannot send to it: %s", t->send_error);
        return STUN_PROBE_UNSENT;
    }
    if (t->status == STUN_CLIENT_SILENT) {
        if (t->garbage && t->garbage_not_stun)
            snprintf(detail, detail_len, "answered with something that is not STUN (%zu bytes)", t->garbage_len);
        else if (t->garbage)
            snprintf(detail, detail_len, "answered with a STUN message that does not check (%s)", t->garbage_reason);
        else
            snprintf(detail, detail_len, "no answer within %d ms", t->timeout_ms);
        return t->garbage ? STUN_PROBE_BAD_ANSWER : STUN_PROBE_NO_ANSWER;
    }
    const stun_addr_t *a = stun_mapped_address(&t->msg);
    if (t->msg.type == STUN_BINDING_ERROR && t->msg.error_code == 300)
        snprintf(detail, detail_len, "redirects to another server (not followed)");
    else if (t->msg.type == STUN_BINDING_ERROR)
        snprintf(detail, detail_len, "answered STUN error %d", t->msg.error_code);
    else if (!a)
        snprintf(detail, detail_len, "answered without a usable mapped address");
    if (t->msg.type == STUN_BINDING_ERROR || !a)
        return STUN_PROBE_BAD_ANSWER;
    char text[STUN_ADDR_TEXT];
    stun_addr_to_text(a, text);
    snprintf(mapped, mapped_len, "%s", text);
    return STUN_PROBE_OK;
}

void stun_probe_run(const ice_stun_server_t *servers, int count, stun_probe_result_t *result)
{
    memset(result, 0, sizeof *result);
    if (count > ICE_MAX_SERVERS)
        count = ICE_MAX_SERVERS;
    stun_socket_t sockets[ICE_MAX_SERVERS];
    stun_transaction_t asks[ICE_MAX_SERVERS];
    int server_of[ICE_MAX_SERVERS], n = 0;
    for (int i = 0; i < count; i++) {
        struct sockaddr_storage to;
        socklen_t to_len;
        int family = server_sockaddr(&servers[i], &to, &to_len);
        char err[64] = "no socket for its address family";
        if (family < 0 || stun_socket_open(&sockets[n], family, err, sizeof err) != 0) {
            result->status[i] = STUN_PROBE_UNSENT;
            snprintf(result->detail[i], sizeof result->detail[i], "cannot send to it: %s", err);
            continue;
        }
        asks[n].socket = &sockets[n];
        asks[n].to = to;
        asks[n].to_len = to_len;
        server_of[n++] = i;
    }
    stun_client_options_t opt;
    stun_client_options_default(&opt);
    opt.timeout_ms = STUN_PROBE_TIMEOUT_MS;
    opt.retransmit_ms = opt.max_retransmit_ms = STUN_PROBE_RETRY_MS;
    stun_client_run(asks, n, &opt);
    for (int k = 0; k < n; k++) {
        int i = server_of[k];
        result->status[i] = stun_probe_read(&asks[k], result->mapped[i], sizeof result->mapped[i], result->detail[i],
                                            sizeof result->detail[i]);
        stun_socket_close(&sockets[k]);
    }
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
        bool servers = command && streq(command, "SERVERS");
        free(command);
        if (servers) {
            // "SERVERS", the STUN server array (0..ICE_MAX_SERVERS entries): the list the next PROBE asks
            zframe_t *list = zmsg_pop(msg);
            size_t size = list ? zframe_size(list) : 0;
            if (list && size % sizeof(ice_stun_server_t) == 0 && size / sizeof(ice_stun_server_t) <= ICE_MAX_SERVERS) {
                memcpy(settings->stun, zframe_data(list), size);
                settings->stun_count = (int)(size / sizeof(ice_stun_server_t));
            }
            zframe_destroy(&list);
        }
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
