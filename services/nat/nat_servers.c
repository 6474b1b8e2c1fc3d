// nat_servers.c — STUN/TURN server choice with failover, in the configured order. See nat_servers.h.
//
// libnice 0.1.21 keeps a failed Allocate's error to itself and only leaves the relay candidate out, so
// an entry whose agent got no relay candidate is asked again by turn_probe.c on the probe thread, and the
// status line then says why ("401 wrong or expired credentials", "no answer within 2000 ms").
#include "nat_servers.h"

#include <sodium.h>
#include <string.h>

#include "log.h"
#include "stun_probe.h"
#include "turn_probe.h"

#define TURN_REASON_UNKNOWN "gave no relay address (asking it why)"

static void compose_turn_status(nat_servers_t *self)
{
    snprintf(self->turn_status, sizeof self->turn_status, "TURN server %s %s%s%s", self->turn_bad, self->turn_reason,
             self->turn_next[0] ? ", " : "", self->turn_next);
}

static void compose_status(nat_servers_t *self)
{
    snprintf(self->status, sizeof self->status, "%s%s%s", self->stun_status,
             self->stun_status[0] && self->turn_status[0] ? "; " : "", self->turn_status);
}

int nat_servers_start(nat_servers_t *self, const ice_settings_t *settings)
{
    memset(self, 0, sizeof *self);
    self->stun_index = -1;
    ice_settings_t *copy = malloc(sizeof *copy);
    if (!copy)
        return -1;
    *copy = *settings;
    memset(copy->turn, 0, sizeof copy->turn);          // the probe thread needs no TURN passwords
    memset(copy->hub_turn, 0, sizeof copy->hub_turn);
    self->stun_probe = zactor_new(stun_probe_actor, copy);
    if (!self->stun_probe) {
        free(copy);
        log_error("cannot start the server probe thread; agents get no STUN server");
        return -1;
    }
    if (settings->stun_count > 0) {
        zstr_send(self->stun_probe, "PROBE");
        self->stun_probing = true;
    }
    return 0;
}

void nat_servers_stop(nat_servers_t *self)
{
    zactor_destroy(&self->stun_probe);
}

zsock_t *nat_servers_probe_socket(nat_servers_t *self)
{
    return self->stun_probe ? zactor_sock(self->stun_probe) : NULL;
}

static void on_turn_probe(nat_servers_t *self, zmsg_t *msg)
{
    self->turn_probing = false;
    char *name = zmsg_popstr(msg);
    char *status = zmsg_popstr(msg);
    char *detail = zmsg_popstr(msg);
    if (name && status && detail && strcmp(name, self->turn_bad) == 0) {
        int st = atoi(status);
        if (st == TURN_PROBE_ALLOCATES)
            snprintf(self->turn_reason, sizeof self->turn_reason,
                     "gave an agent no relay address, but allocates when asked again (a passing failure)");
        else if (st == TURN_PROBE_NO_ANSWER)
            snprintf(self->turn_reason, sizeof self->turn_reason, "unreachable: %s", detail);
        else
            snprintf(self->turn_reason, sizeof self->turn_reason, "refused: %s", detail);
        log_warn("TURN server %s %s", self->turn_bad, self->turn_reason);
        compose_turn_status(self);
        compose_status(self);
    }
    free(name);
    free(status);
    free(detail);
}

void nat_servers_on_probe(nat_servers_t *self, const ice_settings_t *settings)
{
    zmsg_t *msg = zmsg_recv(self->stun_probe);
    char *kind = msg ? zmsg_popstr(msg) : NULL;
    if (kind && strcmp(kind, "TURN") == 0) {
        on_turn_probe(self, msg);
        free(kind);
        zmsg_destroy(&msg);
        return;
    }
    free(kind);
    zframe_t *frame = msg ? zmsg_pop(msg) : NULL;
    zmsg_destroy(&msg);
    self->stun_probing = false;
    if (!frame || zframe_size(frame) != sizeof(stun_probe_result_t)) {
        zframe_destroy(&frame);
        return;
    }
    stun_probe_result_t r;
    memcpy(&r, zframe_data(frame), sizeof r);
    zframe_destroy(&frame);
    int chosen = -1;
    char failed[NAT_SERVERS_STATUS] = "";
    for (int i = 0; i < settings->stun_count; i++) {
        if (r.status[i] == STUN_PROBE_OK) {
            chosen = i;
            break;
        }
        size_t used = strlen(failed);
        snprintf(failed + used, sizeof failed - used, "%sSTUN server %s %s", used ? ", " : "", settings->stun[i].name,
                 r.status[i] == STUN_PROBE_NO_ANSWER ? "unreachable" : r.detail[i]);
    }
    if (chosen >= 0) {
        if (chosen != self->stun_index)
            log_info("STUN server %s answered (we are %s)%s%s", settings->stun[chosen].name, r.mapped[chosen],
                     failed[0] ? "; before it: " : "", failed);
        snprintf(self->stun_status, sizeof self->stun_status, "%s%s%s", failed, failed[0] ? ", using " : "",
                 failed[0] ? settings->stun[chosen].name : "");
    } else if (settings->stun_count == 0) {
        self->stun_status[0] = '\0';   // none configured: srflx candidates come from TURN, if any; not an error
    } else {
        log_warn("no STUN server answered: %s", failed);
        snprintf(self->stun_status, sizeof self->stun_status, "%s; no STUN server answered", failed);
    }
    self->stun_index = chosen;
    compose_status(self);
}

void nat_servers_check_expiry(nat_servers_t *self, const ice_settings_t *settings, int64_t now_unix)
{
    if (settings->hub_turn_count > 0 && settings->hub_turn[0].expires_unix <= now_unix && !self->hub_expired_said) {
        // discovery renews them when a third of their lifetime is left: the hub has been out of reach since
        log_warn("the TURN credentials from the hub expired %lld s ago (is the hub reachable?); not using %s",
                 (long long)(now_unix - settings->hub_turn[0].expires_unix), settings->hub_turn[0].name);
        snprintf(self->turn_status, sizeof self->turn_status,
                 "TURN credentials from the hub expired at %lld (is the hub reachable?)",
                 (long long)settings->hub_turn[0].expires_unix);
        self->hub_expired_said = true;
        compose_status(self);
    }
}

void nat_servers_pick(nat_servers_t *self, const ice_settings_t *settings, int64_t now_unix,
                      const ice_stun_server_t **stun, const ice_turn_server_t **turn)
{
    nat_servers_check_expiry(self, settings, now_unix);
    *stun = self->stun_index >= 0 && self->stun_index < settings->stun_count ? &settings->stun[self->stun_index]
                                                                             : NULL;
    const ice_turn_server_t *list[ICE_MAX_SERVERS * 2];
    int n = ice_settings_turn_list(settings, now_unix, list, ICE_MAX_SERVERS * 2);
    *turn = n > 0 && settings->relay_allowed ? list[self->turn_index % n] : NULL;
    if (*turn && self->turn_failed_in_row < n)
        *stun = NULL;
}

const ice_stun_server_t *nat_servers_pick_stun_only(nat_servers_t *self, const ice_settings_t *settings,
                                                    int64_t now_unix, ice_stun_server_t *storage)
{
    if (self->stun_index >= 0 && self->stun_index < settings->stun_count)
        return &settings->stun[self->stun_index];
    const ice_turn_server_t *list[ICE_MAX_SERVERS * 2];
    int n = ice_settings_turn_list(settings, now_unix, list, ICE_MAX_SERVERS * 2);
    for (int k = 0; k < n; k++) {
        const ice_turn_server_t *t = list[(self->turn_index + k) % n];
        if (!t->tcp) {
            memset(storage, 0, sizeof *storage);
            snprintf(storage->name, sizeof storage->name, "%s", t->name);
            snprintf(storage->ip, sizeof storage->ip, "%s", t->ip);
            storage->port = t->port;
            return storage;
        }
    }
    return NULL;
}

void nat_servers_on_gathered(nat_servers_t *self, const ice_settings_t *settings, int64_t now_unix,
                             const char *turn_name, bool has_relay)
{
    if (!turn_name[0])
        return;
    const ice_turn_server_t *list[ICE_MAX_SERVERS * 2];
    int n = ice_settings_turn_list(settings, now_unix, list, ICE_MAX_SERVERS * 2);
    const char *current = n > 0 ? list[self->turn_index % n]->name : "";
    if (has_relay) {
        self->turn_failed_in_row = 0;
        if (self->turn_bad[0] && strcmp(turn_name, current) == 0) {
            snprintf(self->turn_next, sizeof self->turn_next, "using #%d %s", self->turn_index % n + 1, turn_name);
            compose_turn_status(self);
            compose_status(self);
        }
        return;
    }
    // only the first agent to find out moves the index (others were gathering with the same server)
    if (strcmp(turn_name, current) != 0)
        return;
    // named with its place in the list and its user: two entries may share host and port
    int failed = n > 0 ? self->turn_index % n : 0;
    snprintf(self->turn_bad, sizeof self->turn_bad, "#%d %s (user %.40s)", failed + 1, turn_name,
             n > 0 ? list[failed]->user : "");
    self->turn_failed_in_row++;
    // ask the server why, on the probe thread (the frame holds the password: wiped after use)
    if (self->stun_probe && !self->turn_probing && n > 0) {
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "TURN");
        zmsg_addstr(msg, self->turn_bad);
        zmsg_addmem(msg, list[failed], sizeof *list[failed]);
        if (zmsg_send(&msg, self->stun_probe) == 0)
            self->turn_probing = true;
        zmsg_destroy(&msg);
    }
    self->turn_index = n > 0 ? (self->turn_index + 1) % n : 0;
    self->turn_next[0] = '\0';
    if (n > 1)
        snprintf(self->turn_next, sizeof self->turn_next, "trying #%d %s (user %.40s)", self->turn_index + 1,
                 list[self->turn_index]->name, list[self->turn_index]->user);
    snprintf(self->turn_reason, sizeof self->turn_reason, "%s", TURN_REASON_UNKNOWN);
    log_warn("TURN server %s gave no relay address%s%s", self->turn_bad, self->turn_next[0] ? "; " : "",
             self->turn_next);
    compose_turn_status(self);
    compose_status(self);
}

void nat_servers_on_failure(nat_servers_t *self, int64_t now_ms)
{
    if (!self->stun_probe || self->stun_probing || now_ms < self->stun_next_probe_ms)
        return;
    self->stun_next_probe_ms = now_ms + NAT_STUN_REPROBE_MS;
    zstr_send(self->stun_probe, "PROBE");
    self->stun_probing = true;
}

int nat_servers_take_hub_stun(nat_servers_t *self, ice_settings_t *settings, const char *hub_endpoint,
                              unsigned port)
{
    char why[160];
    int rc = ice_settings_hub_stun(settings, hub_endpoint, port, why, sizeof why);
    if (rc < 0)
        log_warn("the hub's STUN server (port %u) left out: %s", port, why);
    if (rc <= 0)
        return rc;
    if (settings->stun_from_hub)
        log_info("STUN server from the hub: %s (%s:%u); nat.stun_servers sets others instead", settings->stun[0].name,
                 settings->stun[0].ip, settings->stun[0].port);
    else
        log_info("the hub no longer offers a STUN server");
    // used at once (it is the only one; the probe below says whether it answers), so the agents the same
    // PeerList starts already get a server-reflexive candidate
    self->stun_index = settings->stun_count > 0 ? 0 : -1;
    self->stun_status[0] = '\0';
    compose_status(self);
    if (self->stun_probe) {
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "SERVERS");
        zmsg_addmem(msg, settings->stun, sizeof settings->stun[0] * (size_t)settings->stun_count);
        zmsg_send(&msg, self->stun_probe);
        zmsg_destroy(&msg);
        if (settings->stun_count > 0) {
            zstr_send(self->stun_probe, "PROBE");
            self->stun_probing = true;
        }
    }
    return 1;
}

int nat_servers_take_hub_turn(nat_servers_t *self, ice_settings_t *settings, const Weft__TurnCredentials *creds)
{
    if (!creds->username || !creds->password || strlen(creds->username) >= sizeof settings->hub_turn[0].user ||
        strlen(creds->password) >= sizeof settings->hub_turn[0].pass || creds->n_servers == 0) {
        log_warn("TURN credentials from discovery are unusable (empty or too long); ignored");
        return -1;
    }
    if (settings->hub_turn_count > 0 && strcmp(settings->hub_turn[0].user, creds->username) == 0 &&
        strcmp(settings->hub_turn[0].pass, creds->password) == 0)
        return 0;   // the periodic repeat
    ice_turn_server_t list[ICE_MAX_SERVERS];
    int n = 0;
    for (size_t i = 0; i < creds->n_servers && n < ICE_MAX_SERVERS; i++) {
        char why[160];
        if (ice_settings_parse_turn(creds->servers[i], creds->username, creds->password, &list[n], why, sizeof why)
            != 0) {
            log_warn("TURN server %zu from the hub left out: %s", i + 1, why);
            continue;
        }
        list[n++].expires_unix = (int64_t)creds->expires_unix;
    }
    if (n == 0)
        return -1;
    memcpy(settings->hub_turn, list, sizeof list[0] * (size_t)n);
    settings->hub_turn_count = n;
    memset(list, 0, sizeof list);
    log_info("TURN credentials from the hub: %d server(s), first %s, user %s", n, settings->hub_turn[0].name,
             creds->username);
    self->turn_index = 0;
    self->turn_failed_in_row = 0;
    self->hub_expired_said = false;
    self->turn_bad[0] = '\0';
    self->turn_status[0] = '\0';
    compose_status(self);
    return 1;
}
