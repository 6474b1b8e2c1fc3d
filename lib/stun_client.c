// stun_client.c — STUN Binding transactions over UDP. See stun_client.h.
#include "stun_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

#define STOP_CHECK_MS 50

int stun_socket_open(stun_socket_t *s, int family, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    s->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        snprintf(err, err_len, "UDP socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_storage any = {.ss_family = (sa_family_t)family}, bound;
    socklen_t any_len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    socklen_t len = sizeof bound;
    if (bind(s->fd, (struct sockaddr *)&any, any_len) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&bound, &len) != 0) {
        snprintf(err, err_len, "UDP bind: %s", strerror(errno));
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                       : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

void stun_socket_close(stun_socket_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static bool sent_before(const stun_socket_t *s, const uint8_t *txid)
{
    int n = s->sent_count < STUN_CLIENT_MEMORY ? s->sent_count : STUN_CLIENT_MEMORY;
    for (int i = 0; i < n; i++)
        if (memcmp(s->sent[i], txid, STUN_TXID_LEN) == 0)
            return true;
    return false;
}

void stun_client_options_default(stun_client_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->timeout_ms = 1000;
    opt->retransmit_ms = 100;
    opt->max_retransmit_ms = 1600;
}

void stun_transaction_prepare(stun_transaction_t *t, const stun_client_options_t *opt)
{
    t->status = STUN_CLIENT_SILENT;
    memset(&t->msg, 0, sizeof t->msg);
    memset(&t->from, 0, sizeof t->from);
    t->rtt_ms = -1;
    t->requests = t->garbage = t->foreign = 0;
    t->garbage_not_stun = false;
    t->garbage_len = 0;
    t->garbage_reason[0] = t->send_error[0] = '\0';
    t->timeout_ms = opt->timeout_ms;
    t->want_request = opt->want_request;
    stun_request_t req = {.change_flags = opt->change_flags, .software = "weft", .fingerprint = true};
    stun_new_txid(req.txid);
    memcpy(t->txid, req.txid, STUN_TXID_LEN);
    if (t->socket) {
        memcpy(t->socket->sent[t->socket->sent_count % STUN_CLIENT_MEMORY], req.txid, STUN_TXID_LEN);
        t->socket->sent_count++;
    }
    t->request_len = stun_build_binding_request(&req, t->request, sizeof t->request);
    t->started_ms = t->next_send_ms = clock_now_ms();
    t->interval_ms = opt->retransmit_ms > 0 ? opt->retransmit_ms : 100;
}

static void garbage(stun_transaction_t *t, bool not_stun, size_t len, const char *why)
{
    t->garbage++;
    t->garbage_not_stun = not_stun;
    t->garbage_len = len;
    snprintf(t->garbage_reason, sizeof t->garbage_reason, "%s", why);
}

bool stun_transaction_receive(stun_transaction_t *t, const uint8_t *buf, size_t len, const struct sockaddr *from,
                              socklen_t from_len)
{
    stun_message_t msg;
    char why[128];
    if (stun_decode(buf, len, &msg, why, sizeof why) != 0) {
        garbage(t, !stun_looks_like(buf, len), len, why);
        return false;
    }
    bool ours = memcmp(msg.txid, t->txid, STUN_TXID_LEN) == 0;
    if (t->want_request) {
        if (!ours || msg.type != STUN_BINDING_REQUEST)
            return false;
    } else if (msg.type != STUN_BINDING_SUCCESS && msg.type != STUN_BINDING_ERROR) {
        snprintf(why, sizeof why, "message type 0x%04x, not a Binding response", msg.type);
        garbage(t, false, len, why);
        return false;
    } else if (!ours) {
        if (!t->socket || !sent_before(t->socket, msg.txid))
            t->foreign++;   // a late answer to one of our earlier transactions is not counted
        return false;
    }
    t->msg = msg;
    memset(&t->from, 0, sizeof t->from);
    if (from && from_len <= sizeof t->from)
        memcpy(&t->from, from, from_len);
    t->rtt_ms = (int)(clock_now_ms() - t->started_ms);
    t->status = STUN_CLIENT_ANSWERED;
    return true;
}

// Reads every datagram waiting on t's socket; true when one was its answer.
static bool drain(stun_transaction_t *t)
{
    for (;;) {
        uint8_t buf[STUN_MAX_MESSAGE];
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(t->socket->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n < 0)
            return false;   // EAGAIN, or an ICMP error surfacing: the deadline decides
        if (stun_transaction_receive(t, buf, (size_t)n, (struct sockaddr *)&from, from_len))
            return true;
    }
}

// Sends t's request if it is due. False when it cannot be sent at all.
static bool send_due(stun_transaction_t *t, const stun_client_options_t *opt, int64_t now)
{
    if (now < t->next_send_ms)
        return true;
    if (!t->request_len) {
        snprintf(t->send_error, sizeof t->send_error, "the request does not fit");
        return false;
    }
    if (sendto(t->socket->fd, t->request, t->request_len, 0, (const struct sockaddr *)&t->to, t->to_len) < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
            snprintf(t->send_error, sizeof t->send_error, "%s", strerror(errno));
            return false;
        }
    } else {
        t->requests++;
    }
    t->next_send_ms = now + t->interval_ms;
    int max = opt->max_retransmit_ms > t->interval_ms ? opt->max_retransmit_ms : t->interval_ms;
    t->interval_ms = t->interval_ms * 2 > max ? max : t->interval_ms * 2;
    return true;
}

void stun_client_run(stun_transaction_t *ts, int count, const stun_client_options_t *opt)
{
    if (count > STUN_CLIENT_PARALLEL)
        count = STUN_CLIENT_PARALLEL;
    bool done[STUN_CLIENT_PARALLEL] = {false};
    int pending = count;
    for (int i = 0; i < count; i++)
        stun_transaction_prepare(&ts[i], opt);
    int64_t deadline = clock_now_ms() + opt->timeout_ms;
    while (pending > 0) {
        int64_t now = clock_now_ms();
        if (now >= deadline || (opt->stop && atomic_load(opt->stop)))
            break;
        int64_t wake = deadline;
        if (opt->stop && now + STOP_CHECK_MS < wake)
            wake = now + STOP_CHECK_MS;
        struct pollfd pfd[STUN_CLIENT_PARALLEL];
        int which[STUN_CLIENT_PARALLEL], polled = 0;
        for (int i = 0; i < count; i++) {
            if (done[i])
                continue;
            if (!send_due(&ts[i], opt, now)) {
                ts[i].status = STUN_CLIENT_UNSENT;
                done[i] = true;
                pending--;
                continue;
            }
            if (ts[i].next_send_ms < wake)
                wake = ts[i].next_send_ms;
            pfd[polled] = (struct pollfd){.fd = ts[i].socket->fd, .events = POLLIN};
            which[polled++] = i;
        }
        if (!polled)
            break;
        if (poll(pfd, (nfds_t)polled, (int)(wake > now ? wake - now : 0)) <= 0)
            continue;
        for (int k = 0; k < polled; k++) {
            if ((pfd[k].revents & POLLIN) && drain(&ts[which[k]])) {
                done[which[k]] = true;
                pending--;
            }
        }
    }
}

stun_client_status_t stun_client_binding(stun_socket_t *s, const struct sockaddr *to, socklen_t to_len,
                                         const stun_client_options_t *opt, stun_transaction_t *t)
{
    t->socket = s;
    memset(&t->to, 0, sizeof t->to);
    t->to_len = to_len <= sizeof t->to ? to_len : (socklen_t)sizeof t->to;
    memcpy(&t->to, to, t->to_len);
    stun_client_run(t, 1, opt);
    return t->status;
}

void stun_transaction_why_silent(const stun_transaction_t *t, char *out, size_t out_len)
{
    if (t->status == STUN_CLIENT_UNSENT)
        snprintf(out, out_len, "cannot send: %s", t->send_error);
    else if (t->garbage && t->foreign)
        snprintf(out, out_len, "%d invalid datagram(s) (%s) and %d response(s) to transactions we never sent, "
                 "no valid answer in %d ms", t->garbage, t->garbage_reason, t->foreign, t->timeout_ms);
    else if (t->garbage)
        snprintf(out, out_len, "%d invalid datagram(s) (last: %s), no valid answer in %d ms", t->garbage,
                 t->garbage_reason, t->timeout_ms);
    else if (t->foreign)
        snprintf(out, out_len, "%d response(s) with a wrong transaction id, no valid answer in %d ms", t->foreign,
                 t->timeout_ms);
    else
        snprintf(out, out_len, "no answer in %d ms (%d request%s)", t->timeout_ms, t->requests,
                 t->requests == 1 ? "" : "s");
}
