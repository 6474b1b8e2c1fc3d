// discovery_actor.c — weft-discovery: a CURVE DEALER to the hub (Register at start and every heartbeat,
// Leave on clean shutdown), the PeerList it gets back saved to Redis (weft:peers) and pushed to router,
// crypto and nat, the hub connection's state in Redis (weft:hub), and ICE Signals relayed both ways
// between nat and the hub. On the admin's node of a managed mesh it also signs the certificates the hub
// asks for when someone joins (CertRequest -> CertIssued, with the network psk sealed to the joiner).
#include "discovery_actor.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor_loop.h"
#include "clock.h"
#include "cert.h"
#include "hub.pb-c.h"
#include "hub_client.h"
#include "hub_key.h"
#include "discovery_turn.h"
#include "hub_proto.h"
#include "identity.h"
#include "invite.h"
#include "log.h"
#include "service.h"
#include "store.h"
#include "store_link.h"
#include "wire.h"

#define UNREACHABLE_INTERVALS 3     // heartbeats without an answer before the hub counts as unreachable

typedef enum { HUB_CONNECTING = 0, HUB_REGISTERED, HUB_UNREACHABLE } hub_state_t;
static const char *hub_state_names[] = {"connecting", "registered", "unreachable"};

enum { OUT_ROUTER = 0, OUT_CRYPTO, OUT_NAT, OUT_COUNT };
static const service_id_t out_services[OUT_COUNT] = {SVC_ROUTER, SVC_CRYPTO, SVC_NAT};

// The counters `weft status` shows, registered at start.
typedef struct {
    uint64_t *registrations_sent, *peer_lists_received, *signals_to_hub, *signals_from_hub, *hub_errors;
    uint64_t *bad_replies, *bad_inbox, *redis_errors, *push_dropped, *drop_hub_not_connected;
    uint64_t *signals_dropped_unregistered, *cert_requests_refused, *certs_signed, *turn_credentials;
} discovery_counters_t;

typedef struct {
    service_t *svc;
    const weft_config_t *cfg;
    uint8_t id[32];                 // our node id (the Ed25519 public key)
    hub_client_t *hub;              // DEALER, CURVE client (lib/hub_client)
    zsock_t *inbox, *control;
    zsock_t *out[OUT_COUNT];        // PUSH to router, crypto, nat
    store_t *store;                 // NULL while Redis is unreachable
    Weft__PeerList *saved_peers;    // what weft:peers holds (rewritten if Redis comes back without it)
    int64_t next_store_check;       // monotonic ms of the next look for a restarted Redis
    bool store_rewrite;             // Redis restarted: rewrite what we own (until it works)
    store_link_t redis;             // when to try Redis again while store is NULL
    hub_state_t state;
    int64_t next_heartbeat;         // monotonic ms
    int64_t last_reply;             // monotonic ms of the hub's last answer (or of start)
    uint64_t last_reply_unix_ms;
    size_t members;                 // mesh members, us included, as of the last PeerList
    zlist_t *held_signals;          // packed HubRequests from nat, held until the hub has registered us
    const char *mesh;               // the mesh's name at the hub: mesh.id (hex) if set, else mesh.name
    bool is_admin;                  // mesh.admin_key is our id: we sign members' certificates
    identity_t admin;               // our identity, kept only when is_admin
    uint8_t mesh_id[MESH_ID_LEN];
    int64_t refused_until;          // the hub refused us for good (kicked, mesh gone): slow heartbeat
    char refused[256];              // why the hub refuses us ("" while it does not): weft:hub refused
    discovery_turn_t turn;          // TURN credentials from the hub, for nat (memory only)
    discovery_counters_t count;
} discovery_t;

// The hub relays a Signal only from a registered connection; a restarted discovery may get nat's
// offer before its Register is answered, so signals wait (a few, the newest) for the first PeerList.
#define HELD_SIGNALS_MAX 32

// Registers every counter up front, so `weft status` lists them all from the start.
static void register_counters(discovery_t *d)
{
    discovery_counters_t *c = &d->count;
    c->registrations_sent = service_counter(d->svc, "registrations_sent");
    c->peer_lists_received = service_counter(d->svc, "peer_lists_received");
    c->signals_to_hub = service_counter(d->svc, "signals_to_hub");
    c->signals_from_hub = service_counter(d->svc, "signals_from_hub");
    c->hub_errors = service_counter(d->svc, "hub_errors");
    c->bad_replies = service_counter(d->svc, "bad_replies");
    c->bad_inbox = service_counter(d->svc, "bad_inbox");
    c->redis_errors = service_counter(d->svc, "redis_errors");
    c->push_dropped = service_counter(d->svc, "push_dropped");
    c->drop_hub_not_connected = service_counter(d->svc, "drop_hub_not_connected");
    c->signals_dropped_unregistered = service_counter(d->svc, "signals_dropped_unregistered");
    c->cert_requests_refused = service_counter(d->svc, "cert_requests_refused");
    c->certs_signed = service_counter(d->svc, "certs_signed");
    c->turn_credentials = service_counter(d->svc, "turn_credentials");
}

// ---- Redis ----

// weft:verified from <home>/verified, the file `weft verify` appends to (one hex id a line): the file is
// what survives, Redis holds a copy for the readers (weft peers, weft-api).
static void rewrite_verified(discovery_t *d)
{
    char path[PATH_MAX + 16], line[128];
    snprintf(path, sizeof path, "%s/verified", d->cfg->home);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int written = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        uint8_t id[32];
        if (id_from_hex(line, id) != 0) {
            log_warn("%s: skipping '%.70s' (not a node id)", path, line);
            continue;
        }
        if (store_exec(d->store, "SADD weft:verified %s", line) != 0) {
            (*d->count.redis_errors)++;
            break;
        }
        written++;
    }
    fclose(f);
    if (written)
        log_info("redis: weft:verified holds the %d members of %s", written, path);
}

static bool have_store(discovery_t *d)
{
    if (d->store)
        return true;
    if (store_link_connect(&d->redis, &d->store) == STORE_LINK_DOWN) {
        (*d->count.redis_errors)++;
        return false;
    }
    rewrite_verified(d);
    return true;
}

// Keeps a copy of what weft:peers now holds, to write again if Redis loses it.
static void keep_saved_peers(discovery_t *d, const Weft__PeerList *list)
{
    size_t size = weft__peer_list__get_packed_size(list);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return;
    weft__peer_list__pack(list, buf);
    Weft__PeerList *copy = weft__peer_list__unpack(NULL, size, buf);
    free(buf);
    if (!copy)
        return;
    if (d->saved_peers)
        weft__peer_list__free_unpacked(d->saved_peers, NULL);
    d->saved_peers = copy;
}

static void save_hub_state(discovery_t *d)
{
    if (!have_store(d))
        return;
    char last[24], members[24];
    snprintf(last, sizeof last, "%llu", (unsigned long long)d->last_reply_unix_ms);
    snprintf(members, sizeof members, "%zu", d->members);
    if (store_exec(d->store, "HSET weft:hub endpoint %s state %s last_reply_ms %s members %s refused %s",
                   d->cfg->hub_endpoint, hub_state_names[d->state], last, members, d->refused) != 0)
        (*d->count.redis_errors)++;
}

// Once a second: a Redis that restarted (or lost a write) gets back everything discovery owns.
static void check_store(discovery_t *d)
{
    int64_t now = clock_now_ms();
    if (now < d->next_store_check)
        return;
    d->next_store_check = now + 1000;
    if (!have_store(d))
        return;
    if (store_restarted(d->store))
        d->store_rewrite = true;
    if (!d->store_rewrite)
        return;
    if (d->saved_peers && store_save_peers(d->store, d->saved_peers) != 0) {
        (*d->count.redis_errors)++;
        return;   // again in a second
    }
    save_hub_state(d);
    rewrite_verified(d);
    d->store_rewrite = false;
    log_info("redis: rewrote weft:peers (%zu peers), weft:hub and weft:verified",
             d->saved_peers ? d->saved_peers->n_peers : 0);
}

static void update_detail(discovery_t *d)
{
    if (d->state == HUB_REGISTERED)
        snprintf(d->svc->detail, sizeof d->svc->detail, "registered with %s: %zu members", d->cfg->hub_endpoint,
                 d->members);
    else
        snprintf(d->svc->detail, sizeof d->svc->detail, "%s %s", d->state == HUB_CONNECTING ? "connecting to"
                 : "hub unreachable:", d->cfg->hub_endpoint);
}

static void set_state(discovery_t *d, hub_state_t state)
{
    if (d->state == state)
        return;
    d->state = state;
    update_detail(d);
    save_hub_state(d);
}

// ---- to the other services ----

static void push_envelope(discovery_t *d, const Weft__Envelope *env, int first, int last)
{
    for (int i = first; i <= last; i++) {
        if (wire_send(d->out[i], env, NULL, 0, true) != 0) {
            (*d->count.push_dropped)++;
            log_warn("%s inbox full or gone: message dropped", service_name(out_services[i]));
        }
    }
}

static void publish_peers(discovery_t *d, const Weft__PeerList *list)
{
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_PEERS;
    env.peers = (Weft__PeerList *)list;
    push_envelope(d, &env, OUT_ROUTER, OUT_NAT);
}

static void publish_stored_peers(discovery_t *d)
{
    if (!have_store(d))
        return;
    Weft__PeerList *list = store_load_peers(d->store);
    if (!list)
        return;
    log_info("pushed the stored member list (%zu peers) to router, crypto and nat", list->n_peers);
    publish_peers(d, list);
    if (d->saved_peers)
        weft__peer_list__free_unpacked(d->saved_peers, NULL);
    d->saved_peers = list;
}

// ---- to the hub ----

static int send_to_hub(discovery_t *d, const Weft__HubRequest *req)
{
    // immediate: with no connection to the hub this fails at once instead of queueing stale requests
    int rc = hub_client_send(d->hub, req, ZMQ_DONTWAIT);
    if (rc < 0)
        (*d->count.drop_hub_not_connected)++;
    return rc < 0 ? -1 : 0;
}

static int send_register(discovery_t *d)
{
    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = (char *)d->mesh;
    reg.id.data = d->id;
    reg.id.len = 32;
    reg.name = (char *)d->cfg->name;
    reg.overlay_addr = (char *)d->cfg->overlay_addr;
    reg.want_turn_credentials = discovery_turn_wanted(&d->turn, zclock_time() / 1000);
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req.register_ = &reg;
    if (send_to_hub(d, &req) != 0)
        return -1;
    (*d->count.registrations_sent)++;
    return 0;
}

static void send_leave(discovery_t *d)
{
    Weft__Leave leave = WEFT__LEAVE__INIT;
    leave.mesh = (char *)d->mesh;
    leave.id.data = d->id;
    leave.id.len = 32;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE;
    req.leave = &leave;
    if (send_to_hub(d, &req) == 0)
        log_info("sent Leave to the hub");
}

static void heartbeat(discovery_t *d)
{
    int64_t next = (int64_t)d->cfg->heartbeat_interval * 1000;
    if (send_register(d) != 0 && d->state != HUB_REGISTERED)
        next = 250;  // not connected yet (the CURVE handshake takes a moment): try again soon
    int64_t silent = clock_now_ms() - d->last_reply;
    if (d->state != HUB_UNREACHABLE && silent > (int64_t)UNREACHABLE_INTERVALS * d->cfg->heartbeat_interval * 1000) {
        log_warn("hub unreachable: no answer from %s for %lld s (is it running? does hub.public_key match "
                 "what `weft hub` printed?); still trying",
                 d->cfg->hub_endpoint, (long long)(silent / 1000));
        set_state(d, HUB_UNREACHABLE);
    }
    if (d->refused_until > clock_now_ms())
        next = d->refused_until - clock_now_ms();
    d->next_heartbeat = clock_now_ms() + next;
    discovery_turn_push(&d->turn, d->out[OUT_NAT], clock_now_ms(), false);   // again, for a restarted nat
}

// ---- from the hub ----

static void hold_signal(discovery_t *d, const Weft__HubRequest *req)
{
    size_t size = weft__hub_request__get_packed_size(req);
    zframe_t *frame = zframe_new(NULL, size);
    if (!frame)
        return;
    weft__hub_request__pack(req, zframe_data(frame));
    if (zlist_size(d->held_signals) >= HELD_SIGNALS_MAX) {
        zframe_t *oldest = zlist_pop(d->held_signals);
        zframe_destroy(&oldest);
        (*d->count.signals_dropped_unregistered)++;
    }
    zlist_append(d->held_signals, frame);
}

static void send_held_signals(discovery_t *d)
{
    zframe_t *frame;
    while ((frame = zlist_pop(d->held_signals))) {
        if (hub_client_send_packed(d->hub, zframe_data(frame), zframe_size(frame), ZMQ_DONTWAIT) == 0)
            (*d->count.signals_to_hub)++;
        zframe_destroy(&frame);
    }
}

static void hub_peer_list(discovery_t *d, const Weft__PeerList *list)
{
    if (!list->mesh || strcmp(list->mesh, d->mesh) != 0) {
        (*d->count.bad_replies)++;
        log_warn("dropped a member list for mesh '%s' (we are in '%s')", list->mesh ? list->mesh : "", d->mesh);
        return;
    }
    // keep the well-formed entries that are not us
    Weft__Peer **kept = calloc(list->n_peers ? list->n_peers : 1, sizeof *kept);
    if (!kept)
        return;
    size_t n = 0;
    for (size_t i = 0; i < list->n_peers; i++) {
        const Weft__Peer *p = list->peers[i];
        if (!hub_valid_id(p->id) || !hub_valid_ipv4(p->overlay_addr) || !hub_valid_name(p->name)) {
            (*d->count.bad_replies)++;
            log_warn("dropped a malformed member entry from the hub");
            continue;
        }
        if (memcmp(p->id.data, d->id, 32) != 0)
            kept[n++] = list->peers[i];
    }
    Weft__PeerList clean = *list;
    clean.n_peers = n;
    clean.peers = kept;
    (*d->count.peer_lists_received)++;
    if (d->members != n + 1 || d->state != HUB_REGISTERED)
        log_info("registered with %s: mesh %s has %zu members", d->cfg->hub_endpoint, d->cfg->mesh, n + 1);
    d->members = n + 1;
    d->state = HUB_REGISTERED;
    d->refused[0] = '\0';
    update_detail(d);
    keep_saved_peers(d, &clean);
    if (have_store(d) && store_save_peers(d->store, &clean) != 0)
        (*d->count.redis_errors)++;
    save_hub_state(d);
    publish_peers(d, &clean);
    free(kept);
    send_held_signals(d);
}

static void hub_signal(discovery_t *d, const Weft__Signal *sig)
{
    char why[80];
    if (!hub_valid_signal(sig, why, sizeof why) || memcmp(sig->to.data, d->id, 32) != 0) {
        (*d->count.bad_replies)++;
        log_warn("dropped a signal from the hub: %s", sig->to.len == 32 ? "not addressed to us" : why);
        return;
    }
    (*d->count.signals_from_hub)++;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_SIGNAL;
    env.signal = (Weft__Signal *)sig;
    push_envelope(d, &env, OUT_NAT, OUT_NAT);
}

static void hub_error(discovery_t *d, const Weft__HubError *error)
{
    (*d->count.hub_errors)++;
    const char *message = error->message ? error->message : "";
    if (error->code == WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE) {
        log_error("the hub refused our address %s: %s (change mesh.address in weft.yaml)", d->cfg->overlay_addr,
                  message);
        snprintf(d->refused, sizeof d->refused, "address %s in use: %s", d->cfg->overlay_addr, message);
        save_hub_state(d);  // `weft status` and `weft up --wait` say so
    } else
        log_warn("hub error %s: %s", hub_error_code_name(error->code), message);
    if (error->code == WEFT__HUB_ERROR__CODE__NOT_MEMBER && d->refused_until <= clock_now_ms())
        d->next_heartbeat = clock_now_ms();  // the hub forgot us (restart, timeout): register now
    if (error->code == WEFT__HUB_ERROR__CODE__REVOKED || error->code == WEFT__HUB_ERROR__CODE__NOT_IN_MESH ||
        error->code == WEFT__HUB_ERROR__CODE__NO_SUCH_MESH || error->code == WEFT__HUB_ERROR__CODE__CLOSED_MESH ||
        error->code == WEFT__HUB_ERROR__CODE__QUOTA) {
        log_error("the hub refuses us in mesh %s: %s (`weft mesh leave` removes this mesh from the node)",
                  d->cfg->mesh, message);
        snprintf(d->refused, sizeof d->refused, "%s: %s", hub_error_code_name(error->code), message);
        d->refused_until = clock_now_ms() + 30000;  // keep trying, slowly: an admin may add us back
        d->next_heartbeat = d->refused_until;
        d->members = 0;
        d->state = HUB_UNREACHABLE;
        update_detail(d);
        save_hub_state(d);
    }
}

// ---- the admin's role: sign a joiner's certificate ----

static void send_cert_issued(discovery_t *d, uint64_t request_id, const uint8_t *cert, size_t cert_len,
                             const uint8_t *sealed, size_t sealed_len, const char *error)
{
    Weft__CertIssued issued = WEFT__CERT_ISSUED__INIT;
    issued.request_id = request_id;
    issued.cert.data = (uint8_t *)cert;
    issued.cert.len = cert_len;
    issued.sealed_psk.data = (uint8_t *)sealed;
    issued.sealed_psk.len = sealed_len;
    issued.error = (char *)(error ? error : "");
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_CERT_ISSUED;
    req.cert_issued = &issued;
    if (send_to_hub(d, &req) != 0)
        log_warn("could not send the certificate for join %llu to the hub", (unsigned long long)request_id);
}

static void hub_cert_request(discovery_t *d, const Weft__CertRequest *cr)
{
    struct in_addr addr;
    const char *problem = NULL;
    if (!d->is_admin)
        problem = "this node is not the mesh's admin";
    else if (cr->mesh_id.len != MESH_ID_LEN || memcmp(cr->mesh_id.data, d->mesh_id, MESH_ID_LEN) != 0)
        problem = "the request is for another mesh";
    else if (!hub_valid_id(cr->member_key) || !hub_valid_name(cr->name))
        problem = "malformed member key or name";
    else if (!cr->address || inet_pton(AF_INET, cr->address, &addr) != 1 || cr->prefix < 8 || cr->prefix > 30)
        problem = "malformed address";
    // the hub is not trusted to name the key, the address or the expiry: the invite must be ours, the joiner
    // must have signed for it, the address must be in our network, and the expiry is ours (lib/invite.h)
    uint64_t now = (uint64_t)(zclock_time() / 1000), expires = 0;
    char why[240];
    struct in_addr own;
    invite_policy_t policy = {.prefix = d->cfg->overlay_prefix, .now = now, .max_days = (uint32_t)d->cfg->cert_max_days};
    if (!problem) {
        memcpy(policy.mesh_id, d->mesh_id, MESH_ID_LEN);
        memcpy(policy.admin_key, d->admin.public_key, 32);
        if (inet_pton(AF_INET, d->cfg->overlay_addr, &own) == 1)
            policy.own_address = policy.network = ntohl(own.s_addr);
        if (invite_check_cert_request(&policy, cr->invite.data, cr->invite.len, cr->member_key.data,
                                      cr->joiner_sig.data, cr->joiner_sig.len, ntohl(addr.s_addr), (int)cr->prefix,
                                      cr->expires, &expires, why, sizeof why) != 0)
            problem = why;
    }
    if (problem) {
        (*d->count.cert_requests_refused)++;
        log_warn("certificate request refused: %s", problem);
        send_cert_issued(d, cr->request_id, NULL, 0, NULL, 0, problem);
        return;
    }
    cert_t cert = {0};
    memcpy(cert.mesh_id, d->mesh_id, MESH_ID_LEN);
    memcpy(cert.member_key, cr->member_key.data, 32);
    cert.address = ntohl(addr.s_addr);
    cert.prefix = (uint8_t)cr->prefix;
    cert.issued = now;
    cert.expires = expires;
    cert_sign(&cert, &d->admin);
    uint8_t encoded[CERT_LEN];
    cert_encode(&cert, encoded);
    // the psk goes to the joiner only, sealed to its X25519 key: the hub relays bytes it cannot open
    uint8_t psk[32], joiner_x[32], sealed[32 + crypto_box_SEALBYTES];
    size_t sealed_len = 0, psk_len = 0;
    if (d->cfg->network_key[0]) {
        if (sodium_hex2bin(psk, sizeof psk, d->cfg->network_key, strlen(d->cfg->network_key), NULL, &psk_len, NULL) != 0 ||
            psk_len != 32 || identity_peer_x25519(cr->member_key.data, joiner_x) != 0 ||
            crypto_box_seal(sealed, psk, sizeof psk, joiner_x) != 0) {
            sodium_memzero(psk, sizeof psk);
            send_cert_issued(d, cr->request_id, NULL, 0, NULL, 0, "the admin could not seal the network key");
            return;
        }
        sealed_len = sizeof sealed;
        sodium_memzero(psk, sizeof psk);
    }
    send_cert_issued(d, cr->request_id, encoded, sizeof encoded, sealed, sealed_len, NULL);
    (*d->count.certs_signed)++;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(cr->member_key.data, fp);
    log_info("signed a certificate for %s (%s) at %s/%u", cr->name, fp, cr->address, cr->prefix);
}

static void hub_turn_credentials(discovery_t *d, const Weft__TurnCredentials *creds)
{
    char why[160];
    if (discovery_turn_take(&d->turn, creds, zclock_time() / 1000, why, sizeof why) != 0) {
        (*d->count.bad_replies)++;
        log_warn("dropped TURN credentials from the hub: %s", why);
        return;
    }
    (*d->count.turn_credentials)++;
    log_info("TURN credentials from the hub for %zu server(s), valid until %lld", creds->n_servers,
             (long long)creds->expires_unix);
    if (discovery_turn_push(&d->turn, d->out[OUT_NAT], clock_now_ms(), true) != 0)
        log_warn("nat's inbox is full: TURN credentials passed on later");
}

static void receive_from_hub(discovery_t *d)
{
    size_t frames;
    Weft__HubReply *reply = hub_client_recv(d->hub, &frames);
    if (!reply && frames == 0)
        return;
    if (!reply) {
        (*d->count.bad_replies)++;
        log_warn("dropped a reply from the hub that is not a HubReply (%zu frames)", frames);
    } else {
        d->last_reply = clock_now_ms();
        d->last_reply_unix_ms = (uint64_t)zclock_time();
        if (reply->body_case == WEFT__HUB_REPLY__BODY_PEERS)
            hub_peer_list(d, reply->peers);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_SIGNAL)
            hub_signal(d, reply->signal);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_CERT_REQUEST)
            hub_cert_request(d, reply->cert_request);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_ERROR)
            hub_error(d, reply->error);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_TURN_CREDENTIALS)
            hub_turn_credentials(d, reply->turn_credentials);
        else
            (*d->count.bad_replies)++;
    }
    if (reply)
        weft__hub_reply__free_unpacked(reply, NULL);
}

// ---- from nat ----

static void receive_inbox(discovery_t *d)
{
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(d->inbox, &payload);
    zframe_destroy(&payload);
    if (!env) {
        (*d->count.bad_inbox)++;
        return;
    }
    if (env->body_case != WEFT__ENVELOPE__BODY_SIGNAL) {
        (*d->count.bad_inbox)++;
        log_warn("dropped an inbox message that is not a Signal (body %d)", (int)env->body_case);
        weft__envelope__free_unpacked(env, NULL);
        return;
    }
    Weft__Signal sig = *env->signal;  // shallow copy: `from` points at our id, the rest into env
    sig.from.data = d->id;
    sig.from.len = 32;
    char why[80];
    if (!hub_valid_signal(&sig, why, sizeof why) || memcmp(sig.to.data, d->id, 32) == 0) {
        (*d->count.bad_inbox)++;
        log_warn("dropped a signal from nat: %s", sig.to.len == 32 ? "addressed to ourselves" : why);
    } else {
        Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
        req.body_case = WEFT__HUB_REQUEST__BODY_SIGNAL;
        req.signal = &sig;
        if (d->state != HUB_REGISTERED)
            hold_signal(d, &req);
        else if (send_to_hub(d, &req) == 0)
            (*d->count.signals_to_hub)++;
    }
    weft__envelope__free_unpacked(env, NULL);
}

// ---- set-up ----

static bool valid_hub_key(const char *key)
{
    uint8_t decoded[32];
    char why[200];
    return hub_key_parse(key, decoded, why, sizeof why) == 0;  // 64 hex, or the old 40-character Z85
}

// The DEALER to the hub, CURVE client with our identity's X25519 key pair. Returns NULL with why filled.
static hub_client_t *connect_hub(discovery_t *d, const identity_t *identity, char *why, size_t why_len)
{
    // linger: time for the Leave to go out on shutdown; immediate: no requests queued while disconnected
    static const hub_client_opts_t opts = {.linger_ms = 500, .immediate = true, .sndhwm = 100};
    return hub_client_new(d->cfg->hub_endpoint, d->cfg->hub_public_key, identity, &opts, why, why_len);
}

static int check_config(const weft_config_t *cfg, char *why, size_t why_len)
{
    if (!cfg->hub_endpoint[0])
        snprintf(why, why_len, "hub.endpoint in weft.yaml is empty (want e.g. tcp://10.0.0.1:7400)");
    else if (!valid_hub_key(cfg->hub_public_key))
        snprintf(why, why_len, "hub.public_key in weft.yaml must be the 64 hex characters `weft hub key` prints");
    else if (!cfg->overlay_addr[0])
        snprintf(why, why_len, "mesh.address in weft.yaml is empty (want e.g. 10.100.0.2/16)");
    else if (cfg->mesh_id[0] && strlen(cfg->mesh_id) != 32)
        snprintf(why, why_len, "mesh.id '%s' must be 32 hex characters", cfg->mesh_id);
    else if (!cfg->mesh_id[0] && strlen(cfg->mesh) == 32 && strspn(cfg->mesh, "0123456789abcdefABCDEF") == 32)
        snprintf(why, why_len, "mesh.name '%s': 32 hex characters name a managed mesh at the hub; set mesh.id "
                 "for that, or choose another name", cfg->mesh);
    else if (!hub_valid_mesh(cfg->mesh))
        snprintf(why, why_len, "mesh.name '%s' must be 1..63 characters of A-Z a-z 0-9 . _ -", cfg->mesh);
    else
        return 0;
    return -1;
}

static int open_sockets(discovery_t *d, char *why, size_t why_len)
{
    identity_t identity;
    char err[256];
    if (identity_load(d->cfg->identity_file, &identity, err, sizeof err) != 0) {
        snprintf(why, why_len, "%s", err);
        return -1;
    }
    memcpy(d->id, identity.public_key, 32);
    char id_hex[ID_HEX_LEN];
    id_to_hex(identity.public_key, id_hex);
    if (d->cfg->mesh_id[0] && mesh_id_from_hex(d->cfg->mesh_id, d->mesh_id) == 0 &&
        strcmp(d->cfg->mesh_admin_key, id_hex) == 0) {
        d->is_admin = true;  // we sign members' certificates: the identity stays in memory
        d->admin = identity;
    }
    d->hub = connect_hub(d, &identity, why, why_len);
    identity_wipe(&identity);
    if (!d->hub)
        return -1;
    d->inbox = service_bind_inbox(d->svc);
    d->control = service_bind_control(d->svc);
    for (int i = 0; i < OUT_COUNT; i++)
        d->out[i] = service_connect_inbox(d->svc, out_services[i]);
    if (!d->inbox || !d->control || !d->out[OUT_ROUTER] || !d->out[OUT_CRYPTO] || !d->out[OUT_NAT]) {
        snprintf(why, why_len, "cannot open the service sockets (see above)");
        return -1;
    }
    return 0;
}

static void close_sockets(discovery_t *d)
{
    discovery_turn_clear(&d->turn);
    hub_client_destroy(&d->hub);
    zsock_destroy(&d->inbox);
    zsock_destroy(&d->control);
    for (int i = 0; i < OUT_COUNT; i++)
        zsock_destroy(&d->out[i]);
    store_destroy(&d->store);
    if (d->saved_peers)
        weft__peer_list__free_unpacked(d->saved_peers, NULL);
    d->saved_peers = NULL;
    zframe_t *frame;
    while (d->held_signals && (frame = zlist_pop(d->held_signals)))
        zframe_destroy(&frame);
    zlist_destroy(&d->held_signals);
    identity_wipe(&d->admin);
}

// What is due after any event and at least every DUE_CHECK_MS: the heartbeat (or a registration the hub
// asked for) and the Redis check.
#define DUE_CHECK_MS 100
static int run_due(void *arg)
{
    discovery_t *d = arg;
    if (clock_now_ms() >= d->next_heartbeat)
        heartbeat(d);
    check_store(d);
    return 0;
}

static int on_hub(void *arg)
{
    receive_from_hub(arg);
    return run_due(arg);
}

static int on_inbox(void *arg)
{
    receive_inbox(arg);
    return run_due(arg);
}

void discovery_actor(zsock_t *pipe, void *args)
{
    service_t *svc = args;
    discovery_t d = {.svc = svc, .cfg = &svc->config, .state = HUB_CONNECTING, .held_signals = zlist_new()};
    register_counters(&d);
    d.mesh = d.cfg->mesh_id[0] ? d.cfg->mesh_id : d.cfg->mesh;
    char why[512] = "cannot set up the actor loop";   // check_config and open_sockets say their own why
    actor_loop_t *loop = NULL;
    if (check_config(d.cfg, why, sizeof why) != 0 || open_sockets(&d, why, sizeof why) != 0 ||
        !(loop = actor_loop_new(pipe, svc, d.control, &d)) ||
        actor_loop_on_socket(loop, hub_client_socket(d.hub), on_hub) != 0 ||
        actor_loop_on_socket(loop, d.inbox, on_inbox) != 0 || actor_loop_every(loop, DUE_CHECK_MS, run_due) != 0) {
        actor_loop_destroy(&loop);
        close_sockets(&d);
        service_actor_fail(pipe, why);
        return;
    }
    char url[CONFIG_STR];
    config_redis_url(d.cfg, url, sizeof url);
    store_link_init(&d.redis, url);
    d.last_reply = clock_now_ms();
    update_detail(&d);
    save_hub_state(&d);
    publish_stored_peers(&d);
    zsock_signal(pipe, 0);
    log_info("registering with %s as %s (%s) in mesh %s%s%s", d.cfg->hub_endpoint, d.cfg->name, d.cfg->overlay_addr,
             d.cfg->mesh, d.cfg->mesh_id[0] ? " id " : "", d.cfg->mesh_id[0] ? d.cfg->mesh_id : "");
    if (d.is_admin)
        log_info("this node is the mesh's admin: it signs the certificates of members who join");

    actor_loop_run(loop);
    actor_loop_destroy(&loop);

    send_leave(&d);
    d.state = HUB_CONNECTING;
    d.members = 0;
    save_hub_state(&d);
    close_sockets(&d);
}
