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

enum { OUT_ROUTER = 0, OUT_CRYPTO, OUT_DATAPLANE, OUT_NAT, OUT_COUNT };
static const service_id_t out_services[OUT_COUNT] = {SVC_ROUTER, SVC_CRYPTO, SVC_DATAPLANE, SVC_NAT};

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
    zsock_t *out[OUT_COUNT];        // PUSH to router, crypto, dataplane, nat
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
static void register_counters(discovery_t *self)
{
    discovery_counters_t *c = &self->count;
    c->registrations_sent = service_counter(self->svc, "registrations_sent");
    c->peer_lists_received = service_counter(self->svc, "peer_lists_received");
    c->signals_to_hub = service_counter(self->svc, "signals_to_hub");
    c->signals_from_hub = service_counter(self->svc, "signals_from_hub");
    c->hub_errors = service_counter(self->svc, "hub_errors");
    c->bad_replies = service_counter(self->svc, "bad_replies");
    c->bad_inbox = service_counter(self->svc, "bad_inbox");
    c->redis_errors = service_counter(self->svc, "redis_errors");
    c->push_dropped = service_counter(self->svc, "push_dropped");
    c->drop_hub_not_connected = service_counter(self->svc, "drop_hub_not_connected");
    c->signals_dropped_unregistered = service_counter(self->svc, "signals_dropped_unregistered");
    c->cert_requests_refused = service_counter(self->svc, "cert_requests_refused");
    c->certs_signed = service_counter(self->svc, "certs_signed");
    c->turn_credentials = service_counter(self->svc, "turn_credentials");
}

// ---- Redis ----

// weft:verified from <home>/verified, the file `weft verify` appends to (one hex id a line): the file is
// what survives, Redis holds a copy for the readers (weft peers, weft-api).
static void rewrite_verified(discovery_t *self)
{
    char path[PATH_MAX + 16], line[128];
    snprintf(path, sizeof path, "%s/verified", self->cfg->home);
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
        if (store_exec(self->store, "SADD weft:verified %s", line) != 0) {
            (*self->count.redis_errors)++;
            break;
        }
        written++;
    }
    fclose(f);
    if (written)
        log_info("redis: weft:verified holds the %d members of %s", written, path);
}

static bool have_store(discovery_t *self)
{
    if (self->store)
        return true;
    if (store_link_connect(&self->redis, &self->store) == STORE_LINK_DOWN) {
        (*self->count.redis_errors)++;
        return false;
    }
    rewrite_verified(self);
    return true;
}

// Keeps a copy of what weft:peers now holds, to write again if Redis loses it.
static void keep_saved_peers(discovery_t *self, const Weft__PeerList *list)
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
    if (self->saved_peers)
        weft__peer_list__free_unpacked(self->saved_peers, NULL);
    self->saved_peers = copy;
}

static void save_hub_state(discovery_t *self)
{
    if (!have_store(self))
        return;
    char last[24], members[24];
    snprintf(last, sizeof last, "%llu", (unsigned long long)self->last_reply_unix_ms);
    snprintf(members, sizeof members, "%zu", self->members);
    if (store_exec(self->store, "HSET weft:hub endpoint %s state %s last_reply_ms %s members %s refused %s",
                   self->cfg->hub_endpoint, hub_state_names[self->state], last, members, self->refused) != 0)
        (*self->count.redis_errors)++;
}

// Once a second: a Redis that restarted (or lost a write) gets back everything discovery owns.
static void check_store(discovery_t *self)
{
    int64_t now = clock_now_ms();
    if (now < self->next_store_check)
        return;
    self->next_store_check = now + 1000;
    if (!have_store(self))
        return;
    if (store_restarted(self->store))
        self->store_rewrite = true;
    if (!self->store_rewrite)
        return;
    if (self->saved_peers && store_save_peers(self->store, self->saved_peers) != 0) {
        (*self->count.redis_errors)++;
        return;   // again in a second
    }
    save_hub_state(self);
    rewrite_verified(self);
    self->store_rewrite = false;
    log_info("redis: rewrote weft:peers (%zu peers), weft:hub and weft:verified",
             self->saved_peers ? self->saved_peers->n_peers : 0);
}

static void update_detail(discovery_t *self)
{
    if (self->state == HUB_REGISTERED)
        snprintf(self->svc->detail, sizeof self->svc->detail, "registered with %s: %zu members", self->cfg->hub_endpoint,
                 self->members);
    else
        snprintf(self->svc->detail, sizeof self->svc->detail, "%s %s", self->state == HUB_CONNECTING ? "connecting to"
                 : "hub unreachable:", self->cfg->hub_endpoint);
}

static void set_hub_state(discovery_t *self, hub_state_t state)
{
    if (self->state == state)
        return;
    self->state = state;
    update_detail(self);
    save_hub_state(self);
}

// ---- to the other services ----

static void push_envelope(discovery_t *self, const Weft__Envelope *env, int first, int last)
{
    for (int i = first; i <= last; i++) {
        if (wire_send(self->out[i], env, NULL, 0, true) != 0) {
            (*self->count.push_dropped)++;
            log_warn("%s inbox full or gone: message dropped", service_name(out_services[i]));
        }
    }
}

static void publish_peers(discovery_t *self, const Weft__PeerList *list)
{
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_PEERS;
    env.peers = (Weft__PeerList *)list;
    push_envelope(self, &env, OUT_ROUTER, OUT_NAT);
}

static void publish_stored_peers(discovery_t *self)
{
    if (!have_store(self))
        return;
    Weft__PeerList *list = store_load_peers(self->store);
    if (!list)
        return;
    log_info("pushed the stored member list (%zu peers) to router, crypto and nat", list->n_peers);
    publish_peers(self, list);
    if (self->saved_peers)
        weft__peer_list__free_unpacked(self->saved_peers, NULL);
    self->saved_peers = list;
}

// ---- to the hub ----

static int send_to_hub(discovery_t *self, const Weft__HubRequest *req)
{
    // immediate: with no connection to the hub this fails at once instead of queueing stale requests
    int rc = hub_client_send(self->hub, req, ZMQ_DONTWAIT);
    if (rc < 0)
        (*self->count.drop_hub_not_connected)++;
    return rc < 0 ? -1 : 0;
}

static int send_register(discovery_t *self)
{
    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = (char *)self->mesh;
    reg.id.data = self->id;
    reg.id.len = 32;
    reg.name = (char *)self->cfg->name;
    reg.overlay_addr = (char *)self->cfg->overlay_addr;
    reg.want_turn_credentials = discovery_turn_wanted(&self->turn, zclock_time() / 1000);
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req.register_ = &reg;
    if (send_to_hub(self, &req) != 0)
        return -1;
    (*self->count.registrations_sent)++;
    return 0;
}

static void send_leave(discovery_t *self)
{
    Weft__Leave leave = WEFT__LEAVE__INIT;
    leave.mesh = (char *)self->mesh;
    leave.id.data = self->id;
    leave.id.len = 32;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE;
    req.leave = &leave;
    if (send_to_hub(self, &req) == 0)
        log_info("sent Leave to the hub");
}

static void heartbeat(discovery_t *self)
{
    int64_t next = (int64_t)self->cfg->heartbeat_interval * 1000;
    if (send_register(self) != 0 && self->state != HUB_REGISTERED)
        next = 250;  // not connected yet (the CURVE handshake takes a moment): try again soon
    int64_t silent = clock_now_ms() - self->last_reply;
    if (self->state != HUB_UNREACHABLE && silent > (int64_t)UNREACHABLE_INTERVALS * self->cfg->heartbeat_interval * 1000) {
        log_warn("hub unreachable: no answer from %s for %lld s (is it running? does hub.public_key match "
                 "what `weft hub` printed?); still trying",
                 self->cfg->hub_endpoint, (long long)(silent / 1000));
        set_hub_state(self, HUB_UNREACHABLE);
    }
    if (self->refused_until > clock_now_ms())
        next = self->refused_until - clock_now_ms();
    self->next_heartbeat = clock_now_ms() + next;
    discovery_turn_push(&self->turn, self->out[OUT_NAT], clock_now_ms(), false);   // again, for a restarted nat
}

// ---- from the hub ----

static void hold_signal(discovery_t *self, const Weft__HubRequest *req)
{
    size_t size = weft__hub_request__get_packed_size(req);
    zframe_t *frame = zframe_new(NULL, size);
    if (!frame)
        return;
    weft__hub_request__pack(req, zframe_data(frame));
    if (zlist_size(self->held_signals) >= HELD_SIGNALS_MAX) {
        zframe_t *oldest = zlist_pop(self->held_signals);
        zframe_destroy(&oldest);
        (*self->count.signals_dropped_unregistered)++;
    }
    zlist_append(self->held_signals, frame);
}

static void send_held_signals(discovery_t *self)
{
    zframe_t *frame;
    while ((frame = zlist_pop(self->held_signals))) {
        if (hub_client_send_packed(self->hub, zframe_data(frame), zframe_size(frame), ZMQ_DONTWAIT) == 0)
            (*self->count.signals_to_hub)++;
        zframe_destroy(&frame);
    }
}

static void hub_peer_list(discovery_t *self, const Weft__PeerList *list)
{
    if (!list->mesh || strcmp(list->mesh, self->mesh) != 0) {
        (*self->count.bad_replies)++;
        log_warn("dropped a member list for mesh '%s' (we are in '%s')", list->mesh ? list->mesh : "", self->mesh);
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
            (*self->count.bad_replies)++;
            log_warn("dropped a malformed member entry from the hub");
            continue;
        }
        if (memcmp(p->id.data, self->id, 32) != 0)
            kept[n++] = list->peers[i];
    }
    Weft__PeerList clean = *list;
    clean.n_peers = n;
    clean.peers = kept;
    (*self->count.peer_lists_received)++;
    if (self->members != n + 1 || self->state != HUB_REGISTERED)
        log_info("registered with %s: mesh %s has %zu members", self->cfg->hub_endpoint, self->cfg->mesh, n + 1);
    self->members = n + 1;
    self->state = HUB_REGISTERED;
    self->refused[0] = '\0';
    update_detail(self);
    keep_saved_peers(self, &clean);
    if (have_store(self) && store_save_peers(self->store, &clean) != 0)
        (*self->count.redis_errors)++;
    save_hub_state(self);
    publish_peers(self, &clean);
    free(kept);
    send_held_signals(self);
}

static void hub_signal(discovery_t *self, const Weft__Signal *sig)
{
    char why[80];
    if (!hub_valid_signal(sig, why, sizeof why) || memcmp(sig->to.data, self->id, 32) != 0) {
        (*self->count.bad_replies)++;
        log_warn("dropped a signal from the hub: %s", sig->to.len == 32 ? "not addressed to us" : why);
        return;
    }
    (*self->count.signals_from_hub)++;
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_SIGNAL;
    env.signal = (Weft__Signal *)sig;
    push_envelope(self, &env, OUT_NAT, OUT_NAT);
}

static void hub_error(discovery_t *self, const Weft__HubError *error)
{
    (*self->count.hub_errors)++;
    const char *message = error->message ? error->message : "";
    if (error->code == WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE) {
        log_error("the hub refused our address %s: %s (change mesh.address in weft.yaml)", self->cfg->overlay_addr,
                  message);
        snprintf(self->refused, sizeof self->refused, "address %s in use: %s", self->cfg->overlay_addr, message);
        save_hub_state(self);  // `weft status` and `weft up --wait` say so
    } else
        log_warn("hub error %s: %s", hub_error_code_name(error->code), message);
    if (error->code == WEFT__HUB_ERROR__CODE__NOT_MEMBER && self->refused_until <= clock_now_ms())
        self->next_heartbeat = clock_now_ms();  // the hub forgot us (restart, timeout): register now
    if (error->code == WEFT__HUB_ERROR__CODE__REVOKED || error->code == WEFT__HUB_ERROR__CODE__NOT_IN_MESH ||
        error->code == WEFT__HUB_ERROR__CODE__NO_SUCH_MESH || error->code == WEFT__HUB_ERROR__CODE__CLOSED_MESH ||
        error->code == WEFT__HUB_ERROR__CODE__QUOTA) {
        log_error("the hub refuses us in mesh %s: %s (`weft mesh leave` removes this mesh from the node)",
                  self->cfg->mesh, message);
        snprintf(self->refused, sizeof self->refused, "%s: %s", hub_error_code_name(error->code), message);
        self->refused_until = clock_now_ms() + 30000;  // keep trying, slowly: an admin may add us back
        self->next_heartbeat = self->refused_until;
        self->members = 0;
        self->state = HUB_UNREACHABLE;
        update_detail(self);
        save_hub_state(self);
    }
}

// ---- the admin's role: sign a joiner's certificate ----

static void send_cert_issued(discovery_t *self, uint64_t request_id, const uint8_t *cert, size_t cert_len,
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
    if (send_to_hub(self, &req) != 0)
        log_warn("could not send the certificate for join %llu to the hub", (unsigned long long)request_id);
}

static void hub_cert_request(discovery_t *self, const Weft__CertRequest *cr)
{
    struct in_addr addr;
    const char *problem = NULL;
    if (!self->is_admin)
        problem = "this node is not the mesh's admin";
    else if (cr->mesh_id.len != MESH_ID_LEN || memcmp(cr->mesh_id.data, self->mesh_id, MESH_ID_LEN) != 0)
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
    invite_policy_t policy = {.prefix = self->cfg->overlay_prefix, .now = now, .max_days = (uint32_t)self->cfg->cert_max_days};
    if (!problem) {
        memcpy(policy.mesh_id, self->mesh_id, MESH_ID_LEN);
        memcpy(policy.admin_key, self->admin.public_key, 32);
        if (inet_pton(AF_INET, self->cfg->overlay_addr, &own) == 1)
            policy.own_address = policy.network = ntohl(own.s_addr);
        if (invite_check_cert_request(&policy, cr->invite.data, cr->invite.len, cr->member_key.data,
                                      cr->joiner_sig.data, cr->joiner_sig.len, ntohl(addr.s_addr), (int)cr->prefix,
                                      cr->expires, &expires, why, sizeof why) != 0)
            problem = why;
    }
    if (problem) {
        (*self->count.cert_requests_refused)++;
        log_warn("certificate request refused: %s", problem);
        send_cert_issued(self, cr->request_id, NULL, 0, NULL, 0, problem);
        return;
    }
    cert_t cert = {0};
    memcpy(cert.mesh_id, self->mesh_id, MESH_ID_LEN);
    memcpy(cert.member_key, cr->member_key.data, 32);
    cert.address = ntohl(addr.s_addr);
    cert.prefix = (uint8_t)cr->prefix;
    cert.issued = now;
    cert.expires = expires;
    cert_sign(&cert, &self->admin);
    uint8_t encoded[CERT_LEN];
    cert_encode(&cert, encoded);
    // the psk goes to the joiner only, sealed to its X25519 key: the hub relays bytes it cannot open
    uint8_t psk[32], joiner_x[32], sealed[32 + crypto_box_SEALBYTES];
    size_t sealed_len = 0, psk_len = 0;
    if (self->cfg->network_key[0]) {
        if (sodium_hex2bin(psk, sizeof psk, self->cfg->network_key, strlen(self->cfg->network_key), NULL, &psk_len, NULL) != 0 ||
            psk_len != 32 || identity_peer_x25519(cr->member_key.data, joiner_x) != 0 ||
            crypto_box_seal(sealed, psk, sizeof psk, joiner_x) != 0) {
            sodium_memzero(psk, sizeof psk);
            send_cert_issued(self, cr->request_id, NULL, 0, NULL, 0, "the admin could not seal the network key");
            return;
        }
        sealed_len = sizeof sealed;
        sodium_memzero(psk, sizeof psk);
    }
    send_cert_issued(self, cr->request_id, encoded, sizeof encoded, sealed, sealed_len, NULL);
    (*self->count.certs_signed)++;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(cr->member_key.data, fp);
    log_info("signed a certificate for %s (%s) at %s/%u", cr->name, fp, cr->address, cr->prefix);
}

static void hub_turn_credentials(discovery_t *self, const Weft__TurnCredentials *creds)
{
    char why[160];
    if (discovery_turn_take(&self->turn, creds, zclock_time() / 1000, why, sizeof why) != 0) {
        (*self->count.bad_replies)++;
        log_warn("dropped TURN credentials from the hub: %s", why);
        return;
    }
    (*self->count.turn_credentials)++;
    log_info("TURN credentials from the hub for %zu server(s), valid until %lld", creds->n_servers,
             (long long)creds->expires_unix);
    if (discovery_turn_push(&self->turn, self->out[OUT_NAT], clock_now_ms(), true) != 0)
        log_warn("nat's inbox is full: TURN credentials passed on later");
}

static void receive_from_hub(discovery_t *self)
{
    size_t frames;
    Weft__HubReply *reply = hub_client_recv(self->hub, &frames);
    if (!reply && frames == 0)
        return;
    if (!reply) {
        (*self->count.bad_replies)++;
        log_warn("dropped a reply from the hub that is not a HubReply (%zu frames)", frames);
    } else {
        self->last_reply = clock_now_ms();
        self->last_reply_unix_ms = (uint64_t)zclock_time();
        if (reply->body_case == WEFT__HUB_REPLY__BODY_PEERS)
            hub_peer_list(self, reply->peers);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_SIGNAL)
            hub_signal(self, reply->signal);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_CERT_REQUEST)
            hub_cert_request(self, reply->cert_request);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_ERROR)
            hub_error(self, reply->error);
        else if (reply->body_case == WEFT__HUB_REPLY__BODY_TURN_CREDENTIALS)
            hub_turn_credentials(self, reply->turn_credentials);
        else
            (*self->count.bad_replies)++;
    }
    if (reply)
        weft__hub_reply__free_unpacked(reply, NULL);
}

// ---- from nat ----

static void receive_inbox(discovery_t *self)
{
    zframe_t *payload = NULL;
    Weft__Envelope *env = wire_recv(self->inbox, &payload);
    zframe_destroy(&payload);
    if (!env) {
        (*self->count.bad_inbox)++;
        return;
    }
    if (env->body_case != WEFT__ENVELOPE__BODY_SIGNAL) {
        (*self->count.bad_inbox)++;
        log_warn("dropped an inbox message that is not a Signal (body %d)", (int)env->body_case);
        weft__envelope__free_unpacked(env, NULL);
        return;
    }
    Weft__Signal sig = *env->signal;  // shallow copy: `from` points at our id, the rest into env
    sig.from.data = self->id;
    sig.from.len = 32;
    char why[80];
    if (!hub_valid_signal(&sig, why, sizeof why) || memcmp(sig.to.data, self->id, 32) == 0) {
        (*self->count.bad_inbox)++;
        log_warn("dropped a signal from nat: %s", sig.to.len == 32 ? "addressed to ourselves" : why);
    } else {
        Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
        req.body_case = WEFT__HUB_REQUEST__BODY_SIGNAL;
        req.signal = &sig;
        if (self->state != HUB_REGISTERED)
            hold_signal(self, &req);
        else if (send_to_hub(self, &req) == 0)
            (*self->count.signals_to_hub)++;
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
static hub_client_t *connect_hub(discovery_t *self, const identity_t *identity, char *why, size_t why_len)
{
    // linger: time for the Leave to go out on shutdown; immediate: no requests queued while disconnected
    static const hub_client_opts_t opts = {.linger_ms = 500, .immediate = true, .sndhwm = 100};
    return hub_client_new(self->cfg->hub_endpoint, self->cfg->hub_public_key, identity, &opts, why, why_len);
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

static int open_sockets(discovery_t *self, char *why, size_t why_len)
{
    identity_t identity;
    char err[256];
    if (identity_load(self->cfg->identity_file, &identity, err, sizeof err) != 0) {
        snprintf(why, why_len, "%s", err);
        return -1;
    }
    memcpy(self->id, identity.public_key, 32);
    char id_hex[ID_HEX_LEN];
    id_to_hex(identity.public_key, id_hex);
    if (self->cfg->mesh_id[0] && mesh_id_from_hex(self->cfg->mesh_id, self->mesh_id) == 0 &&
        strcmp(self->cfg->mesh_admin_key, id_hex) == 0) {
        self->is_admin = true;  // we sign members' certificates: the identity stays in memory
        self->admin = identity;
    }
    self->hub = connect_hub(self, &identity, why, why_len);
    identity_wipe(&identity);
    if (!self->hub)
        return -1;
    self->inbox = service_bind_inbox(self->svc);
    self->control = service_bind_control(self->svc);
    for (int i = 0; i < OUT_COUNT; i++)
        self->out[i] = service_connect_inbox(self->svc, out_services[i]);
    if (!self->inbox || !self->control || !self->out[OUT_ROUTER] || !self->out[OUT_CRYPTO] || !self->out[OUT_DATAPLANE] || !self->out[OUT_NAT]) {
        snprintf(why, why_len, "cannot open the service sockets (see above)");
        return -1;
    }
    return 0;
}

static void discovery_destroy(discovery_t **self_p)
{
    discovery_t *self = *self_p;
    if (!self)
        return;
    discovery_turn_clear(&self->turn);
    hub_client_destroy(&self->hub);
    zsock_destroy(&self->inbox);
    zsock_destroy(&self->control);
    for (int i = 0; i < OUT_COUNT; i++)
        zsock_destroy(&self->out[i]);
    store_destroy(&self->store);
    if (self->saved_peers)
        weft__peer_list__free_unpacked(self->saved_peers, NULL);
    self->saved_peers = NULL;
    zframe_t *frame;
    while (self->held_signals && (frame = zlist_pop(self->held_signals)))
        zframe_destroy(&frame);
    zlist_destroy(&self->held_signals);
    identity_wipe(&self->admin);
    free(self);
    *self_p = NULL;
}

// The service's state and sockets, from its config and identity; NULL with why filled if it cannot run.
static discovery_t *discovery_new(service_t *svc, char *why, size_t why_len)
{
    discovery_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    self->svc = svc;
    self->cfg = &svc->config;
    self->state = HUB_CONNECTING;
    self->held_signals = zlist_new();
    register_counters(self);
    self->mesh = self->cfg->mesh_id[0] ? self->cfg->mesh_id : self->cfg->mesh;
    if (check_config(self->cfg, why, why_len) != 0 || open_sockets(self, why, why_len) != 0) {
        discovery_destroy(&self);
        return NULL;
    }
    char url[CONFIG_STR];
    config_redis_url(self->cfg, url, sizeof url);
    store_link_init(&self->redis, url);
    return self;
}

// What is due after any event and at least every DUE_CHECK_MS: the heartbeat (or a registration the hub
// asked for) and the Redis check.
#define DUE_CHECK_MS 100
static int run_due(void *arg)
{
    discovery_t *self = arg;
    if (clock_now_ms() >= self->next_heartbeat)
        heartbeat(self);
    check_store(self);
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
    char why[512];   // check_config and open_sockets say their own why
    discovery_t *self = discovery_new(svc, why, sizeof why);
    if (!self) {
        service_actor_fail(pipe, why);
        return;
    }
    actor_loop_t *loop = actor_loop_new(pipe, svc, self->control, self);
    if (!loop || actor_loop_on_socket(loop, hub_client_socket(self->hub), on_hub) != 0 ||
        actor_loop_on_socket(loop, self->inbox, on_inbox) != 0 || actor_loop_every(loop, DUE_CHECK_MS, run_due) != 0) {
        actor_loop_destroy(&loop);
        discovery_destroy(&self);
        service_actor_fail(pipe, "cannot set up the actor loop");
        return;
    }
    self->last_reply = clock_now_ms();
    update_detail(self);
    save_hub_state(self);
    publish_stored_peers(self);
    zsock_signal(pipe, 0);
    const weft_config_t *cfg = self->cfg;
    log_info("registering with %s as %s (%s) in mesh %s%s%s", cfg->hub_endpoint, cfg->name, cfg->overlay_addr,
             cfg->mesh, cfg->mesh_id[0] ? " id " : "", cfg->mesh_id[0] ? cfg->mesh_id : "");
    if (self->is_admin)
        log_info("this node is the mesh's admin: it signs the certificates of members who join");

    actor_loop_run(loop);
    actor_loop_destroy(&loop);

    send_leave(self);
    self->state = HUB_CONNECTING;
    self->members = 0;
    save_hub_state(self);
    discovery_destroy(&self);
}
