// nat_resume.c — the last ICE description that connected to each peer, kept in memory and in Redis
// (weft:remote:<hex id>, a hash that lives NAT_RESUME_TTL_S after the path was last up), so that a
// restarted nat can resume the path without the hub: its new agent takes the old agent's ufrag, pwd and
// port and the peer's old description, and the peer's agent, which never stopped, accepts its checks.
//
// The hash holds ICE credentials (ufrag/pwd) of a live path: they let whoever holds them answer and send
// connectivity checks for that one path (steer it, or break it), never read or inject traffic, which the
// Noise session authenticates. Redis' socket is 0700 in the node's run dir, next to identity.key.
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nat_resume.h"
#include "udp_steer.h"

// The wildcard address of each family on the port: held if a socket holds it on any address (a family
// this host lacks counts as free).
bool nat_resume_port_busy(const nat_peer_t *peer)
{
    uint16_t port = htons((uint16_t)peer->resume.local_port);
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = htonl(INADDR_ANY)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = port, .sin6_addr = IN6ADDR_ANY_INIT};
    return peer->resume.local_port && (udp_port_held((struct sockaddr *)&v4, sizeof v4) == 1 ||
                                       udp_port_held((struct sockaddr *)&v6, sizeof v6) == 1);
}

void nat_resume_keep(nat_peer_t *peer, unsigned local_port)
{
    if (!local_port || !peer->local_ufrag[0] || !peer->local_pwd[0] || !peer->applied_remote || !peer->local_addr[0] ||
        !peer->remote_addr[0])
        return;
    ice_remote_t *copy = ice_remote_copy(peer->applied_remote);
    if (!copy)
        return;
    ice_remote_destroy(&peer->resume.remote);
    peer->resume.remote = copy;
    memcpy(peer->resume.local_ufrag, peer->local_ufrag, sizeof peer->resume.local_ufrag);
    memcpy(peer->resume.local_pwd, peer->local_pwd, sizeof peer->resume.local_pwd);
    peer->resume.local_port = local_port;
    memcpy(peer->resume.local_addr, peer->local_addr, sizeof peer->resume.local_addr);
    memcpy(peer->resume.remote_addr, peer->remote_addr, sizeof peer->resume.remote_addr);
}

int nat_resume_write(nat_t *nat, const nat_peer_t *peer)
{
    const nat_resume_t *r = &peer->resume;
    if (!nat->store || !r->remote)
        return -1;
    // the candidate lines, one a line (none holds a newline: libnice parsed each of them)
    size_t len = 1;
    for (size_t i = 0; i < r->remote->candidate_count; i++)
        len += strlen(r->remote->candidates[i]) + 1;
    char *lines = calloc(1, len);
    if (!lines)
        return -1;
    for (size_t i = 0; i < r->remote->candidate_count; i++) {
        strcat(lines, r->remote->candidates[i]);
        strcat(lines, "\n");
    }
    char port[8];
    snprintf(port, sizeof port, "%u", r->local_port);
    int rc = store_exec(nat->store,
                        "HSET weft:remote:%s local_ufrag %s local_pwd %s local_port %s local_addr %s remote_addr %s "
                        "remote_ufrag %s remote_pwd %s candidates %s",
                        peer->hex, r->local_ufrag, r->local_pwd, port, r->local_addr, r->remote_addr, r->remote->ufrag,
                        r->remote->pwd, lines);
    free(lines);
    if (rc == 0)
        rc = store_exec(nat->store, "EXPIRE weft:remote:%s %d", peer->hex, NAT_RESUME_TTL_S);
    return rc;
}

static const char *field(const redisReply *hash, const char *name)
{
    for (size_t i = 0; i + 1 < hash->elements; i += 2)
        if (hash->element[i]->type == REDIS_REPLY_STRING && hash->element[i + 1]->type == REDIS_REPLY_STRING &&
            strcmp(hash->element[i]->str, name) == 0)
            return hash->element[i + 1]->str;
    return NULL;
}

static bool good_cred(const char *text)
{
    return text && text[0] && strlen(text) <= ICE_MAX_CRED_LEN;
}

bool nat_resume_load(nat_t *nat, nat_peer_t *peer)
{
    if (!nat->store)
        return false;
    redisReply *hash = store_command(nat->store, "HGETALL weft:remote:%s", peer->hex);
    if (!hash)
        return false;
    bool ok = false;
    if (hash->type == REDIS_REPLY_ARRAY && hash->elements > 0) {
        const char *lu = field(hash, "local_ufrag"), *lp = field(hash, "local_pwd"), *port = field(hash, "local_port");
        const char *ru = field(hash, "remote_ufrag"), *rp = field(hash, "remote_pwd"), *lines = field(hash, "candidates");
        const char *la = field(hash, "local_addr"), *ra = field(hash, "remote_addr");
        char *end = NULL;
        unsigned long port_num = port ? strtoul(port, &end, 10) : 0;
        ok = good_cred(lu) && good_cred(lp) && good_cred(ru) && good_cred(rp) && lines && end && !*end &&
             port_num > 0 && port_num <= 65535 && la && la[0] && strlen(la) < 64 && ra && ra[0] && strlen(ra) < 64;
        char *cands[ICE_MAX_CANDIDATES];
        size_t count = 0;
        char *copy = ok ? strdup(lines) : NULL;
        char *save = NULL;
        for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line && count < ICE_MAX_CANDIDATES;
             line = strtok_r(NULL, "\n", &save))
            if (strlen(line) < ICE_MAX_CANDIDATE_LEN)
                cands[count++] = line;
        ok = ok && count > 0;
        ice_remote_t *remote = ok ? ice_remote_new(ru, rp, cands, count) : NULL;
        free(copy);
        if (remote) {
            nat_resume_forget(nat, peer, false);
            peer->resume.remote = remote;
            snprintf(peer->resume.local_ufrag, sizeof peer->resume.local_ufrag, "%s", lu);
            snprintf(peer->resume.local_pwd, sizeof peer->resume.local_pwd, "%s", lp);
            peer->resume.local_port = (unsigned)port_num;
            snprintf(peer->resume.local_addr, sizeof peer->resume.local_addr, "%s", la);
            snprintf(peer->resume.remote_addr, sizeof peer->resume.remote_addr, "%s", ra);
        } else {
            ok = false;
            log_warn("peer %.16s: weft:remote:%.16s... is incomplete or malformed; not resumed", peer->hex, peer->hex);
        }
    }
    freeReplyObject(hash);
    return ok;
}

void nat_resume_forget(nat_t *nat, nat_peer_t *peer, bool delete_key)
{
    ice_remote_destroy(&peer->resume.remote);
    memset(peer->resume.local_pwd, 0, sizeof peer->resume.local_pwd);
    peer->resume.local_ufrag[0] = '\0';
    peer->resume.local_port = 0;
    peer->resume.local_addr[0] = peer->resume.remote_addr[0] = '\0';
    if (delete_key && nat->store)
        store_exec(nat->store, "DEL weft:remote:%s", peer->hex);
}
