// weft_flood.c — the hub admission attacks, for tests/integration/test_hub_admission.sh: many CURVE
// sessions, CreateMesh and Register from fresh keys (made here, in memory), each on its own connection.
//
//   weft-flood --hub EP --hub-key KEY sessions N [--hold S]
//       N connections with fresh keys, each sends one request; prints "answered A of N" (A = sessions
//       the hub admitted and answered), holds them S seconds
//   weft-flood --hub EP --hub-key KEY create N
//       N CreateMesh from N fresh keys, one after another; prints "created C refused R other O"
//   weft-flood --hub EP --hub-key KEY register N --mesh M [--net 10.100.50] [--hold S]
//       N fresh identities register in mesh M at NET.2, NET.3, ... (N <= 250), all held at once; prints
//       "registered R refused F max_peers P" (P = most peers any PeerList listed)
//   weft-flood --hub EP --hub-key KEY steal --mesh M --address A
//       one fresh identity registers at address A; prints "peers N" (exit 0) or "error CODE message" (exit 1)
//   weft-flood --hub EP --hub-key none fakehub --key-out FILE --invite CODE
//       plays a hub that lies, listening on EP with a fresh CURVE key (its public key written to FILE): waits
//       for an admin's node to register, then sends it forged CertRequests (no invite, a wrong joiner
//       signature, an address outside the mesh) and two honest ones with expiry 0 and 100 years; exit 0 when
//       the forged ones are refused and the honest ones signed with an expiry of at most 365 days
#include <czmq.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub.pb-c.h"
#include "cert.h"
#include "hub_key.h"
#include "hub_proto.h"
#include "identity.h"
#include "invite.h"

static const char *hub, *hub_key;

static zsock_t *connect_as(const identity_t *id)
{
    uint8_t x_public[32], x_secret[32];
    if (identity_x25519(id, x_public, x_secret) != 0)
        return NULL;
    zcert_t *cert = zcert_new_from(x_public, x_secret);
    zsock_t *s = zsock_new(ZMQ_DEALER);
    if (!s || !cert) {
        zcert_destroy(&cert);
        zsock_destroy(&s);
        return NULL;
    }
    zsock_set_linger(s, 0);
    zcert_apply(cert, s);
    uint8_t server_key[32];
    char why[200];
    zcert_destroy(&cert);
    if (hub_key_parse(hub_key, server_key, why, sizeof why) != 0) {  // 64 hex, or the old Z85
        fprintf(stderr, "weft-flood: %s\n", why);
        zsock_destroy(&s);
        return NULL;
    }
    zsock_set_curve_serverkey_bin(s, server_key);
    if (zsock_connect(s, "%s", hub) != 0)
        zsock_destroy(&s);
    return s;
}

static void fresh(identity_t *id)
{
    crypto_sign_keypair(id->public_key, id->secret_key);
}

static int send_request(zsock_t *s, const Weft__HubRequest *req)
{
    size_t len = weft__hub_request__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    weft__hub_request__pack(req, buf);
    zframe_t *f = zframe_new(buf, len);
    free(buf);
    return zframe_send(&f, s, 0);
}

static Weft__HubReply *receive_reply(zsock_t *s)
{
    zframe_t *f = zframe_recv(s);
    if (!f)
        return NULL;
    Weft__HubReply *r = weft__hub_reply__unpack(NULL, zframe_size(f), zframe_data(f));
    zframe_destroy(&f);
    return r;
}

static void send_register(zsock_t *s, const identity_t *id, const char *mesh, const char *address)
{
    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = (char *)mesh;
    reg.id.data = (uint8_t *)id->public_key;
    reg.id.len = 32;
    reg.name = "flood";
    reg.overlay_addr = (char *)address;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req.register_ = &reg;
    send_request(s, &req);
}

// Waits up to ms for one reply on each socket that has none yet; calls back per reply.
typedef void(reply_fn)(size_t i, const Weft__HubReply *r, void *ctx);
static size_t collect(zsock_t **socks, size_t n, int ms, reply_fn *fn, void *ctx)
{
    bool *done = calloc(n, sizeof *done);
    zmq_pollitem_t *items = calloc(n, sizeof *items);
    size_t answered = 0;
    int64_t deadline = zclock_mono() + ms;
    while (answered < n && zclock_mono() < deadline) {
        for (size_t i = 0; i < n; i++) {
            items[i].socket = socks[i] ? zsock_resolve(socks[i]) : NULL;
            items[i].fd = -1;
            items[i].events = socks[i] && !done[i] ? ZMQ_POLLIN : 0;
        }
        if (zmq_poll(items, (int)n, (long)(deadline - zclock_mono())) <= 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            Weft__HubReply *r = receive_reply(socks[i]);
            if (!r)
                continue;
            done[i] = true;
            answered++;
            if (fn)
                fn(i, r, ctx);
            weft__hub_reply__free_unpacked(r, NULL);
        }
    }
    free(items);
    free(done);
    return answered;
}

static int cmd_sessions(int n, int hold)
{
    zsock_t **socks = calloc((size_t)n, sizeof *socks);
    identity_t id;
    for (int i = 0; i < n; i++) {
        fresh(&id);
        socks[i] = connect_as(&id);
        if (socks[i]) {  // a Leave from a non-member: answered NOT_MEMBER without a log line
            Weft__Leave leave = WEFT__LEAVE__INIT;
            leave.mesh = "flood";
            leave.id.data = id.public_key;
            leave.id.len = 32;
            Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
            req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE;
            req.leave = &leave;
            send_request(socks[i], &req);
        }
    }
    size_t answered = collect(socks, (size_t)n, 8000, NULL, NULL);
    printf("answered %zu of %d\n", answered, n);
    fflush(stdout);
    zclock_sleep(hold * 1000);
    for (int i = 0; i < n; i++)
        zsock_destroy(&socks[i]);
    free(socks);
    return 0;
}

static int cmd_create(int n)
{
    int created = 0, refused = 0, other = 0;
    const char *last = "";
    static char last_buf[256];
    for (int i = 0; i < n; i++) {
        identity_t id;
        fresh(&id);
        zsock_t *s = connect_as(&id);
        if (!s)
            return 1;
        char name[32];
        snprintf(name, sizeof name, "flood%d", i);
        Weft__CreateMesh cm = WEFT__CREATE_MESH__INIT;
        cm.name = name;
        cm.cidr = "10.200.0.0/16";
        cm.admin_key.data = id.public_key;
        cm.admin_key.len = 32;
        cm.member_name = "flood";
        Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
        req.body_case = WEFT__HUB_REQUEST__BODY_CREATE_MESH;
        req.create_mesh = &cm;
        send_request(s, &req);
        zsock_set_rcvtimeo(s, 3000);
        Weft__HubReply *r = receive_reply(s);
        if (r && r->body_case == WEFT__HUB_REPLY__BODY_MESH_CREATED) {
            created++;
        } else if (r && r->body_case == WEFT__HUB_REPLY__BODY_ERROR && r->error->code == WEFT__HUB_ERROR__CODE__QUOTA) {
            refused++;
            snprintf(last_buf, sizeof last_buf, "%s", r->error->message);
            last = last_buf;
        } else {
            other++;
        }
        if (r)
            weft__hub_reply__free_unpacked(r, NULL);
        zsock_destroy(&s);
    }
    printf("created %d refused %d other %d\n", created, refused, other);
    if (last[0])
        printf("last refusal: %s\n", last);
    return 0;
}

typedef struct {
    size_t registered, refused, max_peers;
    char last[256];
} reg_stats_t;

static void on_register_reply(size_t i, const Weft__HubReply *r, void *ctx)
{
    (void)i;
    reg_stats_t *st = ctx;
    if (r->body_case == WEFT__HUB_REPLY__BODY_PEERS) {
        st->registered++;
        if (r->peers->n_peers > st->max_peers)
            st->max_peers = r->peers->n_peers;
    } else if (r->body_case == WEFT__HUB_REPLY__BODY_ERROR) {
        st->refused++;
        snprintf(st->last, sizeof st->last, "%s %s", hub_error_code_name(r->error->code), r->error->message);
    }
}

static int cmd_register(int n, const char *mesh, const char *net, int hold)
{
    if (n > 250)
        n = 250;
    zsock_t **socks = calloc((size_t)n, sizeof *socks);
    identity_t id;
    for (int i = 0; i < n; i++) {
        char address[32];
        snprintf(address, sizeof address, "%s.%d", net, i + 2);
        fresh(&id);
        socks[i] = connect_as(&id);
        if (socks[i])
            send_register(socks[i], &id, mesh, address);
    }
    reg_stats_t st = {0};
    collect(socks, (size_t)n, 10000, on_register_reply, &st);
    printf("registered %zu refused %zu max_peers %zu\n", st.registered, st.refused, st.max_peers);
    if (st.last[0])
        printf("last refusal: %s\n", st.last);
    fflush(stdout);
    zclock_sleep(hold * 1000);
    for (int i = 0; i < n; i++)
        zsock_destroy(&socks[i]);
    free(socks);
    return 0;
}

static int cmd_steal(const char *mesh, const char *address)
{
    identity_t id;
    fresh(&id);
    zsock_t *s = connect_as(&id);
    if (!s)
        return 2;
    send_register(s, &id, mesh, address);
    zsock_set_rcvtimeo(s, 5000);
    Weft__HubReply *r = receive_reply(s);
    int rc = 1;
    if (!r) {
        printf("no answer\n");
    } else if (r->body_case == WEFT__HUB_REPLY__BODY_PEERS) {
        printf("peers %zu\n", r->peers->n_peers);
        rc = 0;
    } else if (r->body_case == WEFT__HUB_REPLY__BODY_ERROR) {
        printf("error %s %s\n", hub_error_code_name(r->error->code), r->error->message);
    }
    if (r)
        weft__hub_reply__free_unpacked(r, NULL);
    zsock_destroy(&s);
    return rc;
}

// ---- fakehub ----

typedef struct {
    zsock_t *router;
    uint8_t rid[256];
    size_t rid_len;
    char mesh[64], address[64];
} fake_t;

// Sends a reply to the node that registered (the fake hub's one client).
static void fake_send(fake_t *f, const Weft__HubReply *reply)
{
    size_t len = 0;
    uint8_t *buf = hub_reply_pack(reply, &len);
    zsock_send(f->router, "bb", f->rid, f->rid_len, buf, len);
    free(buf);
}

// Receives one request; answers a Register with an empty PeerList (and remembers who sent it). Returns the
// request (free it) or NULL on timeout.
static Weft__HubRequest *fake_receive(fake_t *f, int timeout_ms)
{
    zsock_set_rcvtimeo(f->router, timeout_ms);
    zmsg_t *msg = zmsg_recv(f->router);
    if (!msg)
        return NULL;
    zframe_t *rid = zmsg_pop(msg), *body = zmsg_pop(msg);
    Weft__HubRequest *req = body ? weft__hub_request__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
    if (req && req->body_case == WEFT__HUB_REQUEST__BODY_REGISTER && zframe_size(rid) <= sizeof f->rid) {
        f->rid_len = zframe_size(rid);
        memcpy(f->rid, zframe_data(rid), f->rid_len);
        snprintf(f->mesh, sizeof f->mesh, "%s", req->register_->mesh);
        snprintf(f->address, sizeof f->address, "%s", req->register_->overlay_addr);
        Weft__PeerList list = WEFT__PEER_LIST__INIT;
        list.mesh = f->mesh;
        Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
        reply.body_case = WEFT__HUB_REPLY__BODY_PEERS;
        reply.peers = &list;
        fake_send(f, &reply);
    }
    zframe_destroy(&rid);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
    return req;
}

// Sends one CertRequest and waits for its CertIssued: 1 signed (cert filled), 0 refused (why), -1 no answer.
static int fake_ask(fake_t *f, uint64_t request_id, const uint8_t mesh_id[16], const uint8_t member[32],
                    const char *address, const uint8_t *invite, size_t invite_len, const uint8_t *sig,
                    uint64_t expires, cert_t *cert, char *why, size_t why_len)
{
    Weft__CertRequest cr = WEFT__CERT_REQUEST__INIT;
    cr.request_id = request_id;
    cr.mesh_id.data = (uint8_t *)mesh_id;
    cr.mesh_id.len = 16;
    cr.member_key.data = (uint8_t *)member;
    cr.member_key.len = 32;
    cr.address = (char *)address;
    cr.prefix = 16;
    cr.expires = expires;
    cr.name = "forged";
    cr.invite.data = (uint8_t *)invite;
    cr.invite.len = invite_len;
    cr.joiner_sig.data = (uint8_t *)sig;
    cr.joiner_sig.len = sig ? 64 : 0;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_CERT_REQUEST;
    reply.cert_request = &cr;
    fake_send(f, &reply);
    int64_t deadline = zclock_mono() + 5000;
    while (zclock_mono() < deadline) {
        Weft__HubRequest *req = fake_receive(f, 500);
        if (!req)
            continue;
        int rc = -2;
        if (req->body_case == WEFT__HUB_REQUEST__BODY_CERT_ISSUED && req->cert_issued->request_id == request_id) {
            const Weft__CertIssued *ci = req->cert_issued;
            snprintf(why, why_len, "%s", ci->error);
            rc = ci->error[0] ? 0 : cert_decode(ci->cert.data, ci->cert.len, cert, why, why_len) == 0 ? 1 : 0;
        }
        weft__hub_request__free_unpacked(req, NULL);
        if (rc != -2)
            return rc;
    }
    snprintf(why, why_len, "no answer");
    return -1;
}

static int cmd_fakehub(const char *key_out, const char *code)
{
    invite_t inv;
    char err[300];
    uint8_t invite[INVITE_MAX_BYTES];
    int invite_len;
    if (invite_decode(code, &inv, err, sizeof err) != 0 ||
        (invite_len = invite_pack(&inv, invite, sizeof invite, err, sizeof err)) < 0) {
        fprintf(stderr, "fakehub: %s\n", err);
        return 2;
    }
    zcert_t *cert = zcert_new();
    fake_t f = {.router = zsock_new(ZMQ_ROUTER)};
    if (!cert || !f.router)
        return 2;
    zsock_set_linger(f.router, 0);
    zcert_apply(cert, f.router);
    zsock_set_curve_server(f.router, 1);
    if (zsock_bind(f.router, "%s", hub) < 0) {
        fprintf(stderr, "fakehub: cannot bind %s\n", hub);
        return 2;
    }
    FILE *out = fopen(key_out, "w");  // written once listening: the test starts the admin's node then
    if (!out)
        return 2;
    fprintf(out, "%s\n", zcert_public_txt(cert));
    fclose(out);
    int64_t deadline = zclock_mono() + 30000;
    while (f.rid_len == 0 && zclock_mono() < deadline) {
        Weft__HubRequest *req = fake_receive(&f, 500);
        if (req)
            weft__hub_request__free_unpacked(req, NULL);
    }
    if (f.rid_len == 0) {
        fprintf(stderr, "fakehub: no admin registered within 30 s\n");
        return 1;
    }
    printf("fakehub: admin registered in mesh %s at %s\n", f.mesh, f.address);
    char joiner_addr[32];
    unsigned a, b;
    if (sscanf(f.address, "%u.%u.", &a, &b) != 2)
        return 1;
    snprintf(joiner_addr, sizeof joiner_addr, "%u.%u.0.200", a, b);
    identity_t joiner, other;
    fresh(&joiner);
    fresh(&other);
    uint8_t good_sig[64], bad_sig[64];
    invite_join_sign(&joiner, inv.mesh_id, inv.nonce, good_sig);
    invite_join_sign(&other, inv.mesh_id, inv.nonce, bad_sig);  // signed, but by another key
    uint64_t now = (uint64_t)time(NULL), longest = now + 365ull * 86400 + 60;
    cert_t c;
    char why[300];
    int failures = 0, rc;

    rc = fake_ask(&f, 1, inv.mesh_id, joiner.public_key, joiner_addr, NULL, 0, good_sig, 0, &c, why, sizeof why);
    printf("no invite: %s (%s)\n", rc == 0 ? "refused" : rc > 0 ? "SIGNED" : "no answer", why);
    failures += rc != 0;
    rc = fake_ask(&f, 2, inv.mesh_id, joiner.public_key, joiner_addr, invite, (size_t)invite_len, bad_sig, 0, &c, why,
                  sizeof why);
    printf("wrong joiner signature: %s (%s)\n", rc == 0 ? "refused" : rc > 0 ? "SIGNED" : "no answer", why);
    failures += rc != 0;
    rc = fake_ask(&f, 3, inv.mesh_id, joiner.public_key, "10.250.0.5", invite, (size_t)invite_len, good_sig, 0, &c,
                  why, sizeof why);
    printf("address outside the mesh: %s (%s)\n", rc == 0 ? "refused" : rc > 0 ? "SIGNED" : "no answer", why);
    failures += rc != 0;
    rc = fake_ask(&f, 4, inv.mesh_id, joiner.public_key, joiner_addr, invite, (size_t)invite_len, good_sig, 0, &c, why,
                  sizeof why);
    printf("expiry 0: %s, expires %llu (now %llu)\n", rc > 0 ? "signed" : "not signed", rc > 0 ?
           (unsigned long long)c.expires : 0ull, (unsigned long long)now);
    failures += rc <= 0 || c.expires == 0 || c.expires > longest;
    rc = fake_ask(&f, 5, inv.mesh_id, joiner.public_key, joiner_addr, invite, (size_t)invite_len, good_sig,
                  now + 100ull * 365 * 86400, &c, why, sizeof why);
    printf("expiry in 100 years: %s, expires %llu (now %llu)\n", rc > 0 ? "signed" : "not signed", rc > 0 ?
           (unsigned long long)c.expires : 0ull, (unsigned long long)now);
    failures += rc <= 0 || c.expires == 0 || c.expires > longest;
    printf("fakehub: %d unexpected answer(s)\n", failures);
    zsock_destroy(&f.router);
    zcert_destroy(&cert);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    static struct option options[] = {{"hub", required_argument, 0, 'u'},  {"hub-key", required_argument, 0, 'k'},
                                      {"hold", required_argument, 0, 'H'}, {"mesh", required_argument, 0, 'm'},
                                      {"net", required_argument, 0, 'n'},  {"address", required_argument, 0, 'a'},
                                      {"key-out", required_argument, 0, 'K'}, {"invite", required_argument, 0, 'I'},
                                      {0, 0, 0, 0}};
    const char *mesh = "default", *net = "10.100.50", *address = NULL, *key_out = NULL, *invite = NULL;
    int hold = 0, opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'u': hub = optarg; break;
        case 'k': hub_key = optarg; break;
        case 'H': hold = atoi(optarg); break;
        case 'm': mesh = optarg; break;
        case 'n': net = optarg; break;
        case 'a': address = optarg; break;
        case 'K': key_out = optarg; break;
        case 'I': invite = optarg; break;
        default: return 2;
        }
    }
    if (!hub || !hub_key || optind >= argc || sodium_init() < 0) {
        fprintf(stderr, "usage: weft-flood --hub EP --hub-key KEY sessions|create|register|steal ... "
                        "(see tests/tools/weft_flood.c)\n");
        return 2;
    }
    zsys_set_max_sockets(8192);
    zsys_init();
    const char *cmd = argv[optind];
    int n = optind + 1 < argc ? atoi(argv[optind + 1]) : 1;
    if (strcmp(cmd, "sessions") == 0)
        return cmd_sessions(n, hold);
    if (strcmp(cmd, "create") == 0)
        return cmd_create(n);
    if (strcmp(cmd, "register") == 0)
        return cmd_register(n, mesh, net, hold);
    if (strcmp(cmd, "fakehub") == 0 && key_out && invite)
        return cmd_fakehub(key_out, invite);
    if (strcmp(cmd, "steal") == 0 && address)
        return cmd_steal(mesh, address);
    fprintf(stderr, "weft-flood: unknown command or missing argument\n");
    return 2;
}
