// hub_mesh.c — see hub_mesh.h. Who may do what: the sender of every request is its connection's CURVE key
// (the ZAP handler sets User-Id); a request naming a key is accepted only when that key is the
// connection's. CreateMesh makes the sender the admin; RegisterInvite needs the admin; Join needs an
// invite signed by the admin and registered with the hub; Kick needs a revocation signed by the admin;
// RoutesAllow (the subnets a member may advertise) needs the admin's connection.
#include "hub_mesh.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>

#include "cert.h"
#include "hub_quota.h"
#include "identity.h"
#include "invite.h"
#include "log.h"
#include "route_table.h"

typedef struct {
    bool used;
    uint64_t request_id;
    uint8_t rid[MEMBERS_ROUTING_MAX];   // the joiner's connection
    size_t rid_len;
    uint8_t mesh_id[16];
    uint8_t key[32];
    uint8_t nonce[16];
    char address[16];
    bool was_member;                    // already in the roster before this join: keep it on failure
    int64_t deadline;                   // monotonic ms
} pending_join_t;

// The counters this module adds to the hub's (some shared with hub_actor.c), registered at start.
typedef struct {
    uint64_t *meshes_created, *creates_refused, *invites_registered, *bad_invites, *joins, *joins_failed;
    uint64_t *cert_requests, *late_certs, *kicks, *leaves, *rosters_sent, *no_such_mesh, *pruned;
    uint64_t *bad_requests, *errors_sent, *redis_errors, *routes_changed;
} hub_mesh_counters_t;

struct hub_mesh {
    store_t *store;                     // not owned
    members_t *members;                 // not owned
    mesh_store_t *meshes;
    service_t *stats;                   // not owned
    hub_mesh_counters_t count;
    hub_send_fn *send;
    void *send_ctx;
    hub_push_fn *push;
    void *push_ctx;
    member_t *scratch;                  // live members of a mesh
    pending_join_t pending[HUB_MESH_MAX_PENDING];
    uint64_t next_request_id;
    uint8_t *revoked;                   // HUB_MESH_MAX_REVOKED encoded revocations
    ProtobufCBinaryData revoked_list[HUB_MESH_MAX_REVOKED];
    mesh_route_allow_t *routes;         // a mesh's allow list (MESH_STORE_MAX_ALLOWANCES), sorted by key
    char **route_texts;                 // routes[i].prefix, for Peer.allowed_routes
    size_t n_routes;
    hub_quota_t *create_keys;           // CreateMesh per creator key, per hour
    hub_quota_t *create_addrs;          // CreateMesh per peer address, per hour
    int create_per_key, create_per_address;
};

#define QUOTA_WINDOW_MS (3600 * 1000)
#define QUOTA_SLOTS 4096

hub_mesh_t *hub_mesh_new(store_t *store, members_t *members, service_t *stats, hub_send_fn *send, void *send_ctx,
                         hub_push_fn *push, void *push_ctx)
{
    hub_mesh_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->members = members;
    self->meshes = mesh_store_new(store);
    self->stats = stats;
    hub_mesh_counters_t *c = &self->count;
    c->meshes_created = service_counter(stats, "meshes_created");
    c->creates_refused = service_counter(stats, "creates_refused");
    c->invites_registered = service_counter(stats, "invites_registered");
    c->bad_invites = service_counter(stats, "bad_invites");
    c->joins = service_counter(stats, "joins");
    c->joins_failed = service_counter(stats, "joins_failed");
    c->cert_requests = service_counter(stats, "cert_requests");
    c->late_certs = service_counter(stats, "late_certs");
    c->kicks = service_counter(stats, "kicks");
    c->leaves = service_counter(stats, "leaves");
    c->rosters_sent = service_counter(stats, "rosters_sent");
    c->no_such_mesh = service_counter(stats, "no_such_mesh");
    c->pruned = service_counter(stats, "pruned");
    c->bad_requests = service_counter(stats, "bad_requests");
    c->errors_sent = service_counter(stats, "errors_sent");
    c->redis_errors = service_counter(stats, "redis_errors");
    c->routes_changed = service_counter(stats, "routes_changed");
    self->send = send;
    self->send_ctx = send_ctx;
    self->push = push;
    self->push_ctx = push_ctx;
    self->scratch = calloc(MEMBERS_MAX_PER_MESH, sizeof *self->scratch);
    self->revoked = calloc(HUB_MESH_MAX_REVOKED, REVOCATION_LEN);
    self->routes = calloc(MESH_STORE_MAX_ALLOWANCES, sizeof *self->routes);
    self->route_texts = calloc(MESH_STORE_MAX_ALLOWANCES, sizeof *self->route_texts);
    randombytes_buf(&self->next_request_id, sizeof self->next_request_id);
    self->create_keys = hub_quota_new(QUOTA_SLOTS, QUOTA_WINDOW_MS);
    self->create_addrs = hub_quota_new(QUOTA_SLOTS, QUOTA_WINDOW_MS);
    hub_mesh_set_create_quota(self, 0, 0);
    if (!self->meshes || !self->scratch || !self->revoked || !self->routes || !self->route_texts ||
        !self->create_keys || !self->create_addrs)
        hub_mesh_destroy(&self);
    return self;
}

void hub_mesh_destroy(hub_mesh_t **self)
{
    if (self && *self) {
        mesh_store_destroy(&(*self)->meshes);
        hub_quota_destroy(&(*self)->create_keys);
        hub_quota_destroy(&(*self)->create_addrs);
        free((*self)->scratch);
        free((*self)->revoked);
        free((*self)->routes);
        free((*self)->route_texts);
        free(*self);
        *self = NULL;
    }
}

void hub_mesh_set_create_quota(hub_mesh_t *self, int per_key, int per_address)
{
    self->create_per_key = per_key > 0 ? per_key : 5;
    self->create_per_address = per_address > 0 ? per_address : 20;
}

static void send_reply(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const Weft__HubReply *reply)
{
    size_t len = 0;
    uint8_t *buf = hub_reply_pack(reply, &len);
    if (!buf) {
        log_error("out of memory packing a reply");
        return;
    }
    self->send(self->send_ctx, rid, rid_len, buf, len);
    free(buf);
}

static void send_error(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, Weft__HubError__Code code,
                       const char *message)
{
    size_t len = 0;
    uint8_t *buf = hub_error_pack(code, message, &len);
    if (buf)
        self->send(self->send_ctx, rid, rid_len, buf, len);
    free(buf);
    (*self->count.errors_sent)++;
}

static void send_done(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *message)
{
    Weft__Done done = WEFT__DONE__INIT;
    done.message = (char *)message;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_DONE;
    reply.done = &done;
    send_reply(self, rid, rid_len, &reply);
}

bool hub_is_connection_key(const uint8_t id[32], const char *user_id)
{
    uint8_t x_public[32];
    char z85[41];
    if (!user_id || strlen(user_id) != 40 || identity_peer_x25519(id, x_public) != 0)
        return false;
    zmq_z85_encode(z85, x_public, 32);
    return strcmp(z85, user_id) == 0;
}

bool hub_mesh_is_managed(const char *mesh, uint8_t id[16])
{
    return mesh && strlen(mesh) == 32 && mesh_id_from_hex(mesh, id) == 0;
}

static uint64_t now_s(void)
{
    return (uint64_t)(zclock_time() / 1000);
}

// Loads a mesh or answers the error. true when found.
static bool load_mesh(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const uint8_t id[16], mesh_info_t *mesh)
{
    int rc = mesh_store_get(self->meshes, id, mesh);
    if (rc == 0)
        return true;
    if (rc == -1) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the hub's storage failed; try again");
    } else {
        char why[160];
        snprintf(why, sizeof why, "mesh %s does not exist on this hub (never created, deleted, or a room "
                                  "that expired)", mesh->id_hex);
        (*self->count.no_such_mesh)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__NO_SUCH_MESH, why);
    }
    return false;
}

// ---- CreateMesh ----

static void handle_create(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id,
                          const char *peer, const Weft__CreateMesh *m)
{
    if (!hub_is_connection_key(m->admin_key.data, user_id)) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                   "create mesh: admin_key is not the CURVE key of this connection");
        return;
    }
    // quotas before anything is written: fresh keys from one address do not make meshes without end
    int64_t now = zclock_mono();
    char key_hex[65];
    sodium_bin2hex(key_hex, sizeof key_hex, m->admin_key.data, 32);
    bool key_ok = hub_quota_allows(self->create_keys, key_hex, self->create_per_key, now);
    if (!key_ok || !hub_quota_allows(self->create_addrs, peer, self->create_per_address, now)) {
        char why[200];
        snprintf(why, sizeof why, "create mesh refused: at most %d new meshes per hour per %s (hub.create_per_%s)",
                 key_ok ? self->create_per_address : self->create_per_key, key_ok ? "address" : "key",
                 key_ok ? "address" : "key");
        (*self->count.creates_refused)++;
        if (*self->count.creates_refused % 100 == 1)
            log_warn("%s (from %s)", why, peer[0] ? peer : "?");
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__QUOTA, why);
        return;
    }
    hub_quota_count(self->create_keys, key_hex, now);
    hub_quota_count(self->create_addrs, peer, now);
    mesh_info_t mesh;
    mesh_member_t admin;
    int rc = mesh_store_create(self->meshes, m->name, m->cidr, m->admin_key.data, m->psk_present, m->ttl_s, &mesh);
    if (rc == 0)
        rc = mesh_store_add_member(self->meshes, mesh.id, m->admin_key.data, m->member_name, NULL, &admin);
    if (rc != 0) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "create mesh: the hub's storage failed");
        return;
    }
    uint32_t network;
    int prefix = 16;
    hub_parse_cidr(mesh.cidr, &network, &prefix);
    Weft__MeshCreated created = WEFT__MESH_CREATED__INIT;
    created.mesh_id.data = mesh.id;
    created.mesh_id.len = 16;
    created.name = mesh.name;
    created.cidr = mesh.cidr;
    created.address = admin.address;
    created.prefix = (uint32_t)prefix;
    created.expires = mesh.expires;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_MESH_CREATED;
    reply.mesh_created = &created;
    send_reply(self, rid, rid_len, &reply);
    (*self->count.meshes_created)++;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(m->admin_key.data, fp);
    log_info("mesh %s (%s) created by %s: %s%s", mesh.name, mesh.id_hex, fp, mesh.cidr,
             mesh.ttl_s ? ", a room" : "");
}

// ---- RegisterInvite ----

static void handle_register_invite(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id,
                                   const Weft__RegisterInvite *r)
{
    mesh_info_t mesh;
    if (!load_mesh(self, rid, rid_len, r->mesh_id.data, &mesh))
        return;
    if (!hub_is_connection_key(mesh.admin_key, user_id)) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__NOT_ADMIN,
                   "only the mesh's admin can register invites");
        return;
    }
    if (r->expires <= now_s()) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__INVITE_EXPIRED, "the invite has already expired");
        return;
    }
    if (mesh_store_invite_register(self->meshes, mesh.id, r->nonce.data, r->max_uses, r->expires) != 0) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the hub's storage failed; try again");
        return;
    }
    (*self->count.invites_registered)++;
    send_done(self, rid, rid_len, "invite registered");
}

// ---- Join ----

static int find_live(hub_mesh_t *self, const char *mesh_hex, const uint8_t key[32])
{
    size_t expired = 0;
    int n = members_load(self->members, mesh_hex, self->scratch, MEMBERS_MAX_PER_MESH, &expired);
    for (int i = 0; i < n; i++)
        if (memcmp(self->scratch[i].id, key, 32) == 0)
            return i;
    return -1;
}

static pending_join_t *new_pending(hub_mesh_t *self)
{
    for (size_t i = 0; i < HUB_MESH_MAX_PENDING; i++)
        if (!self->pending[i].used)
            return &self->pending[i];
    return NULL;
}

// A join that cannot complete: its invite use and (new) address go back, the joiner gets the error.
static void fail_join(hub_mesh_t *self, pending_join_t *p, Weft__HubError__Code code, const char *why)
{
    if (mesh_store_invite_give_back(self->meshes, p->nonce) != 0 ||
        (!p->was_member && mesh_store_undo_member(self->meshes, p->mesh_id, p->key) != 0))
        (*self->count.redis_errors)++;
    send_error(self, p->rid, p->rid_len, code, why);
    (*self->count.joins_failed)++;
    log_info("join refused: %s", why);
    p->used = false;
}

static void handle_join(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id,
                        const Weft__Join *j)
{
    char err[200], why[320];
    if (!hub_is_connection_key(j->key.data, user_id)) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                   "join: key is not the CURVE key of this connection");
        return;
    }
    invite_t inv;
    if (invite_unpack(j->invite.data, j->invite.len, &inv, err, sizeof err) != 0) {
        snprintf(why, sizeof why, "invite refused: %s", err);
        (*self->count.bad_invites)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_INVITE, why);
        return;
    }
    mesh_info_t mesh;
    if (!load_mesh(self, rid, rid_len, inv.mesh_id, &mesh))
        return;
    if (memcmp(inv.admin_key, mesh.admin_key, 32) != 0) {
        (*self->count.bad_invites)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_INVITE,
                   "invite refused: it is not signed by the admin of this mesh");
        return;
    }
    if (invite_check_expiry(&inv, now_s(), err, sizeof err) != 0) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__INVITE_EXPIRED, err);
        return;
    }
    if (invite_join_verify(j->key.data, inv.mesh_id, inv.nonce, j->joiner_sig.data, j->joiner_sig.len) != 0) {
        (*self->count.bad_invites)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                   "join: joiner_sig is not this key's signature over the mesh id and the invite's nonce");
        return;
    }
    int revoked = mesh_store_is_revoked(self->meshes, mesh.id, j->key.data);
    if (revoked != 0) {
        send_error(self, rid, rid_len, revoked > 0 ? WEFT__HUB_ERROR__CODE__REVOKED : WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                   revoked > 0 ? "you were removed from this mesh by its admin; an invite does not undo that"
                               : "the hub's storage failed; try again");
        return;
    }
    int rc = mesh_store_invite_use(self->meshes, mesh.id, inv.nonce);
    if (rc != 0) {
        (*(rc == -1 ? self->count.redis_errors : self->count.bad_invites))++;
        send_error(self, rid, rid_len,
                   rc == MESH_STORE_USED_UP ? WEFT__HUB_ERROR__CODE__INVITE_USED_UP
                   : rc == -1              ? WEFT__HUB_ERROR__CODE__BAD_REQUEST
                                           : WEFT__HUB_ERROR__CODE__BAD_INVITE,
                   rc == MESH_STORE_USED_UP ? "this invite has been used up: ask for a new one with `weft mesh invite`"
                   : rc == -1              ? "the hub's storage failed; try again"
                                           : "this invite was never registered with this hub (or it expired)");
        return;
    }
    pending_join_t *p = new_pending(self);
    if (!p) {
        mesh_store_invite_give_back(self->meshes, inv.nonce);
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__NO_ADMIN_ONLINE, "the hub is busy with joins; try again");
        return;
    }
    memset(p, 0, sizeof *p);
    p->used = true;
    p->request_id = ++self->next_request_id;
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    memcpy(p->mesh_id, mesh.id, 16);
    memcpy(p->key, j->key.data, 32);
    memcpy(p->nonce, inv.nonce, 16);
    p->deadline = zclock_mono() + HUB_MESH_JOIN_TIMEOUT_MS;
    int admin = find_live(self, mesh.id_hex, mesh.admin_key);
    if (admin < 0) {
        snprintf(why, sizeof why, "no admin of mesh %s is online to sign your certificate: ask them to run `weft up`",
                 mesh.name);
        p->was_member = true;  // nothing allocated yet
        fail_join(self, p, WEFT__HUB_ERROR__CODE__NO_ADMIN_ONLINE, why);
        return;
    }
    mesh_member_t existing, member;
    p->was_member = mesh_store_get_member(self->meshes, mesh.id, p->key, &existing) == 0;
    rc = mesh_store_add_member(self->meshes, mesh.id, p->key, j->name, NULL, &member);
    if (rc != 0) {
        snprintf(why, sizeof why, rc == MESH_STORE_FULL ? "mesh %s has no free address left" : "the hub's storage "
                 "failed joining mesh %s; try again", mesh.name);
        fail_join(self, p, rc == MESH_STORE_FULL ? WEFT__HUB_ERROR__CODE__MESH_FULL : WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                  why);
        return;
    }
    snprintf(p->address, sizeof p->address, "%s", member.address);
    uint32_t network;
    int prefix = 16;
    hub_parse_cidr(mesh.cidr, &network, &prefix);
    Weft__CertRequest cr = WEFT__CERT_REQUEST__INIT;
    cr.request_id = p->request_id;
    cr.mesh_id.data = mesh.id;
    cr.mesh_id.len = 16;
    cr.member_key.data = p->key;
    cr.member_key.len = 32;
    cr.address = member.address;
    cr.prefix = (uint32_t)prefix;
    cr.expires = mesh.expires;
    cr.name = j->name;
    cr.invite = j->invite;          // the admin checks both itself: the hub is not trusted to pick the key
    cr.joiner_sig = j->joiner_sig;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_CERT_REQUEST;
    reply.cert_request = &cr;
    const member_t *a = &self->scratch[admin];
    send_reply(self, a->routing_id, a->routing_id_len, &reply);
    (*self->count.cert_requests)++;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(p->key, fp);
    log_info("join of %s (%s) to mesh %s: address %s, asked the admin to sign", j->name, fp, mesh.name,
             member.address);
}

static void handle_cert_issued(hub_mesh_t *self, const char *user_id, const Weft__CertIssued *c)
{
    pending_join_t *p = NULL;
    for (size_t i = 0; i < HUB_MESH_MAX_PENDING && !p; i++)
        if (self->pending[i].used && self->pending[i].request_id == c->request_id)
            p = &self->pending[i];
    if (!p) {
        (*self->count.late_certs)++;
        log_warn("a certificate for unknown or timed-out join %llu dropped", (unsigned long long)c->request_id);
        return;
    }
    mesh_info_t mesh;
    if (mesh_store_get(self->meshes, p->mesh_id, &mesh) != 0) {
        fail_join(self, p, WEFT__HUB_ERROR__CODE__NO_SUCH_MESH, "the mesh disappeared during the join");
        return;
    }
    if (!hub_is_connection_key(mesh.admin_key, user_id)) {
        (*self->count.bad_requests)++;
        log_warn("a certificate for join %llu from a connection that is not the admin: ignored",
                 (unsigned long long)c->request_id);
        return;
    }
    char err[200], why[320];
    cert_t cert;
    if (c->error[0] || c->cert.len == 0) {
        snprintf(why, sizeof why, "the admin did not sign your certificate: %s", c->error[0] ? c->error : "no reason");
        fail_join(self, p, WEFT__HUB_ERROR__CODE__NOT_ADMIN, why);
        return;
    }
    struct in_addr addr;
    inet_pton(AF_INET, p->address, &addr);
    if (cert_decode(c->cert.data, c->cert.len, &cert, err, sizeof err) != 0 ||
        cert_check(&cert, mesh.id, mesh.admin_key, now_s(), err, sizeof err) != 0 ||
        (memcmp(cert.member_key, p->key, 32) != 0 && snprintf(err, sizeof err, "for another member")) ||
        (cert.address != ntohl(addr.s_addr) && snprintf(err, sizeof err, "for another address"))) {
        snprintf(why, sizeof why, "the admin's certificate is not valid (%s); try again", err);
        fail_join(self, p, WEFT__HUB_ERROR__CODE__NOT_ADMIN, why);
        return;
    }
    if (mesh.psk_present && c->sealed_psk.len != HUB_SEALED_PSK_LEN) {
        fail_join(self, p, WEFT__HUB_ERROR__CODE__NOT_ADMIN, "the admin sent no network key for this mesh");
        return;
    }
    uint32_t network;
    int prefix = 16;
    hub_parse_cidr(mesh.cidr, &network, &prefix);
    Weft__JoinReply jr = WEFT__JOIN_REPLY__INIT;
    jr.mesh_id.data = mesh.id;
    jr.mesh_id.len = 16;
    jr.name = mesh.name;
    jr.cidr = mesh.cidr;
    jr.address = p->address;
    jr.prefix = (uint32_t)prefix;
    jr.cert = c->cert;
    jr.sealed_psk = c->sealed_psk;
    jr.admin_key.data = mesh.admin_key;
    jr.admin_key.len = 32;
    jr.expires = mesh.expires;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_JOIN_REPLY;
    reply.join_reply = &jr;
    send_reply(self, p->rid, p->rid_len, &reply);
    (*self->count.joins)++;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(p->key, fp);
    log_info("%s joined mesh %s at %s", fp, mesh.name, p->address);
    p->used = false;
}

void hub_mesh_tick(hub_mesh_t *self)
{
    int64_t now = zclock_mono();
    for (size_t i = 0; i < HUB_MESH_MAX_PENDING; i++) {
        pending_join_t *p = &self->pending[i];
        if (p->used && now >= p->deadline)
            fail_join(self, p, WEFT__HUB_ERROR__CODE__NO_ADMIN_ONLINE,
                      "the mesh's admin did not sign your certificate within 10 s: is its node up? try again");
    }
}

// ---- Kick and LeaveMesh ----

// Removes key's live registration (telling it why) and pushes the new PeerList to the rest.
static void drop_live(hub_mesh_t *self, const mesh_info_t *mesh, const uint8_t key[32], Weft__HubError__Code code,
                      const char *why)
{
    int live = find_live(self, mesh->id_hex, key);
    if (live >= 0) {
        const member_t *m = &self->scratch[live];
        send_error(self, m->routing_id, m->routing_id_len, code, why);
        if (members_remove(self->members, mesh->id_hex, key) != 0)
            (*self->count.redis_errors)++;
    }
    self->push(self->push_ctx, mesh->id_hex);
}

static void handle_kick(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const Weft__Kick *k)
{
    char err[200], why[320];
    revocation_t rev;
    if (revocation_decode(k->revocation.data, k->revocation.len, &rev, err, sizeof err) != 0) {
        snprintf(why, sizeof why, "kick: %s", err);
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, why);
        return;
    }
    mesh_info_t mesh;
    if (!load_mesh(self, rid, rid_len, k->mesh_id.data, &mesh))
        return;
    if (revocation_check(&rev, mesh.id, mesh.admin_key, err, sizeof err) != 0) {
        snprintf(why, sizeof why, "kick refused: %s", err);
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__NOT_ADMIN, why);
        return;
    }
    if (memcmp(rev.member_key, mesh.admin_key, 32) == 0) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the admin cannot kick itself");
        return;
    }
    mesh_member_t m;
    bool was_member = mesh_store_get_member(self->meshes, mesh.id, rev.member_key, &m) == 0;
    if (mesh_store_revoke(self->meshes, mesh.id, rev.member_key, k->revocation.data, k->revocation.len) != 0 ||
        (was_member && mesh_store_remove_member(self->meshes, mesh.id, rev.member_key, "kick") != 0)) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the hub's storage failed; try again");
        return;
    }
    drop_live(self, &mesh, rev.member_key, WEFT__HUB_ERROR__CODE__REVOKED,
              "you were removed from this mesh by its admin");
    (*self->count.kicks)++;
    char fp[FINGERPRINT_LEN];
    id_fingerprint(rev.member_key, fp);
    log_info("mesh %s: %s (%s) kicked by the admin", mesh.name, was_member ? m.name : "(not a member)", fp);
    snprintf(why, sizeof why, "%s removed from mesh %s; every member was told", fp, mesh.name);
    send_done(self, rid, rid_len, why);
}

static void handle_leave_mesh(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id,
                              const Weft__LeaveMesh *l)
{
    if (!hub_is_connection_key(l->key.data, user_id)) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                   "leave mesh: key is not the CURVE key of this connection");
        return;
    }
    mesh_info_t mesh;
    if (!load_mesh(self, rid, rid_len, l->mesh_id.data, &mesh))
        return;
    if (memcmp(l->key.data, mesh.admin_key, 32) == 0) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                   "the admin cannot leave its own mesh (members would have nobody to sign certificates)");
        return;
    }
    int rc = mesh_store_remove_member(self->meshes, mesh.id, l->key.data, "leave");
    if (rc == -1) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the hub's storage failed; try again");
        return;
    }
    drop_live(self, &mesh, l->key.data, WEFT__HUB_ERROR__CODE__NOT_IN_MESH, "you left this mesh");
    (*self->count.leaves)++;
    send_done(self, rid, rid_len, rc == 0 ? "left the mesh" : "you were not a member of this mesh");
}

// ---- RoutesAllow: the subnets a member may advertise (the admin's allow list) ----

static void handle_routes_allow(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id,
                                const Weft__RoutesAllow *r)
{
    mesh_info_t mesh;
    if (!load_mesh(self, rid, rid_len, r->mesh_id.data, &mesh))
        return;
    if (!hub_is_connection_key(mesh.admin_key, user_id)) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__NOT_ADMIN,
                   "only the mesh's admin can allow or deny subnet routes");
        return;
    }
    char why[240], canon[MESH_STORE_PREFIX_LEN];
    if (!mesh_store_prefix_valid(r->prefix, canon)) {
        snprintf(why, sizeof why, "'%.18s' is not an IPv4 prefix with no host bits (like 192.168.50.0/24)",
                 r->prefix);
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, why);
        return;
    }
    mesh_member_t m;
    int rc = mesh_store_get_member(self->meshes, mesh.id, r->member_key.data, &m);
    if (rc == MESH_STORE_NOT_FOUND && r->allow) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__NOT_MEMBER, "no such member in this mesh");
        return;
    }
    if (rc == -1) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the hub's storage failed; try again");
        return;
    }
    rc = r->allow ? mesh_store_routes_allow(self->meshes, mesh.id_hex, r->member_key.data, canon, mesh.expires)
                  : mesh_store_routes_deny(self->meshes, mesh.id_hex, r->member_key.data, canon);
    char fp[FINGERPRINT_LEN];
    id_fingerprint(r->member_key.data, fp);
    if (rc == MESH_STORE_FULL) {
        snprintf(why, sizeof why, "%s may already advertise %d prefixes (the most a member may)", fp,
                 MESH_STORE_MAX_ROUTES);
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, why);
        return;
    }
    if (rc == MESH_STORE_NOT_FOUND) {
        snprintf(why, sizeof why, "%s was not allowed to advertise %s", fp, canon);
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, why);
        return;
    }
    if (rc != 0) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the hub's storage failed; try again");
        return;
    }
    (*self->count.routes_changed)++;
    log_info("mesh %s: %s (%s) %s advertise %s", mesh.name, m.name[0] ? m.name : "(not a member)", fp,
             r->allow ? "may" : "may no longer", canon);
    hub_mesh_routes_changed(self, mesh.id_hex);  // pushed now: the sweep need not push it again
    self->push(self->push_ctx, mesh.id_hex);
    snprintf(why, sizeof why, "%s %s advertise %s; every member was told", m.name[0] ? m.name : fp,
             r->allow ? "may" : "may no longer", canon);
    send_done(self, rid, rid_len, why);
}

// ---- ListMembers: the roster with presence, for `weft mesh members` and kicks of offline members ----

// Fills info for key; online from the live table in self->scratch[0..live).
static void member_info(hub_mesh_t *self, const mesh_info_t *mesh, int live, const uint8_t key[32],
                        Weft__MemberInfo *info)
{
    info->admin = memcmp(key, mesh->admin_key, 32) == 0;
    for (int i = 0; i < live && !info->online; i++)
        info->online = memcmp(self->scratch[i].id, key, 32) == 0;
    if (members_last_seen(self->members, mesh->id_hex, key, &info->last_seen_ms, NULL) < 0)
        (*self->count.redis_errors)++;
}

static void handle_list_members(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id,
                                const Weft__ListMembers *l)
{
    if (!hub_is_connection_key(l->key.data, user_id)) {
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST,
                   "list members: key is not the CURVE key of this connection");
        return;
    }
    mesh_info_t mesh;
    if (!load_mesh(self, rid, rid_len, l->mesh_id.data, &mesh))
        return;
    int is_member = mesh_store_is_member(self->meshes, mesh.id, l->key.data);
    if (is_member != 1) {
        send_error(self, rid, rid_len, is_member < 0 ? WEFT__HUB_ERROR__CODE__BAD_REQUEST
                                                     : WEFT__HUB_ERROR__CODE__NOT_IN_MESH,
                   is_member < 0 ? "the hub's storage failed; try again" : "only members of a mesh see its roster");
        return;
    }
    mesh_member_t *roster = calloc(MESH_STORE_MAX_MEMBERS, sizeof *roster);
    Weft__MemberInfo *infos = calloc(MESH_STORE_MAX_MEMBERS + HUB_MESH_MAX_REVOKED, sizeof *infos);
    Weft__MemberInfo **list = calloc(MESH_STORE_MAX_MEMBERS + HUB_MESH_MAX_REVOKED, sizeof *list);
    revocation_t *revoked = calloc(HUB_MESH_MAX_REVOKED, sizeof *revoked);
    char (*names)[64] = calloc(HUB_MESH_MAX_REVOKED, 64);
    size_t expired = 0;
    int n = roster ? mesh_store_list_members(self->meshes, mesh.id, roster, MESH_STORE_MAX_MEMBERS) : -1;
    int live = members_load(self->members, mesh.id_hex, self->scratch, MEMBERS_MAX_PER_MESH, &expired);
    int n_rev = mesh_store_revocations(self->meshes, mesh.id, self->revoked, REVOCATION_LEN, HUB_MESH_MAX_REVOKED);
    if (!infos || !list || !revoked || !names || n < 0 || live < 0 || n_rev < 0) {
        (*self->count.redis_errors)++;
        send_error(self, rid, rid_len, WEFT__HUB_ERROR__CODE__BAD_REQUEST, "the hub's storage failed; try again");
        goto done;
    }
    hub_mesh_load_routes(self, mesh.id_hex);
    size_t k = 0;
    for (int i = 0; i < n; i++, k++) {
        Weft__MemberInfo *info = &infos[k];
        weft__member_info__init(info);
        info->key.data = roster[i].key;
        info->key.len = 32;
        info->name = roster[i].name;
        info->address = roster[i].address;
        info->joined_ms = roster[i].joined_ms;
        member_info(self, &mesh, live, roster[i].key, info);
        info->n_allowed_routes = hub_mesh_routes_of(self, roster[i].key, &info->allowed_routes);
        list[k] = info;
    }
    // kicked members are off the roster: their revocations say who they were; the name is the one they
    // last registered with, if they ever did
    for (int i = 0; i < n_rev; i++) {
        char err[160];
        if (revocation_decode(self->revoked + (size_t)i * REVOCATION_LEN, REVOCATION_LEN, &revoked[i], err,
                              sizeof err) != 0)
            continue;
        Weft__MemberInfo *info = &infos[k];
        weft__member_info__init(info);
        info->key.data = revoked[i].member_key;
        info->key.len = 32;
        info->revoked = true;
        member_info(self, &mesh, live, revoked[i].member_key, info);
        uint64_t seen;
        if (members_last_seen(self->members, mesh.id_hex, revoked[i].member_key, &seen, names[i]) == 1)
            info->name = names[i];
        list[k++] = info;
    }
    Weft__MemberList ml = WEFT__MEMBER_LIST__INIT;
    ml.mesh_id.data = mesh.id;
    ml.mesh_id.len = 16;
    ml.n_members = k;
    ml.members = list;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_MEMBER_LIST;
    reply.member_list = &ml;
    send_reply(self, rid, rid_len, &reply);
    (*self->count.rosters_sent)++;
done:
    free(roster);
    free(infos);
    free(list);
    free(revoked);
    free(names);
}

void hub_mesh_handle(hub_mesh_t *self, const uint8_t *rid, size_t rid_len, const char *user_id, const char *peer,
                     const Weft__HubRequest *req)
{
    switch (req->body_case) {
    case WEFT__HUB_REQUEST__BODY_CREATE_MESH:
        handle_create(self, rid, rid_len, user_id, peer ? peer : "", req->create_mesh);
        break;
    case WEFT__HUB_REQUEST__BODY_REGISTER_INVITE:
        handle_register_invite(self, rid, rid_len, user_id, req->register_invite);
        break;
    case WEFT__HUB_REQUEST__BODY_JOIN: handle_join(self, rid, rid_len, user_id, req->join); break;
    case WEFT__HUB_REQUEST__BODY_CERT_ISSUED: handle_cert_issued(self, user_id, req->cert_issued); break;
    case WEFT__HUB_REQUEST__BODY_KICK: handle_kick(self, rid, rid_len, req->kick); break;
    case WEFT__HUB_REQUEST__BODY_LEAVE_MESH: handle_leave_mesh(self, rid, rid_len, user_id, req->leave_mesh); break;
    case WEFT__HUB_REQUEST__BODY_LIST_MEMBERS:
        handle_list_members(self, rid, rid_len, user_id, req->list_members);
        break;
    case WEFT__HUB_REQUEST__BODY_ROUTES_ALLOW:
        handle_routes_allow(self, rid, rid_len, user_id, req->routes_allow);
        break;
    default: break;
    }
}

// ---- for Register and PeerLists ----

bool hub_mesh_admit(hub_mesh_t *self, const char *mesh_name, const uint8_t id[32], const char *overlay_addr,
                    Weft__HubError__Code *code, char *why, size_t why_len)
{
    uint8_t mesh_id[16];
    if (!hub_mesh_is_managed(mesh_name, mesh_id))
        return true;
    mesh_info_t mesh;
    mesh_member_t m;
    int rc = mesh_store_get(self->meshes, mesh_id, &mesh);
    if (rc == 0) {
        int revoked = mesh_store_is_revoked(self->meshes, mesh_id, id);
        if (revoked != 0) {
            *code = revoked > 0 ? WEFT__HUB_ERROR__CODE__REVOKED : WEFT__HUB_ERROR__CODE__BAD_REQUEST;
            snprintf(why, why_len, revoked > 0 ? "you were removed from mesh %s by its admin"
                                               : "the hub's storage failed (mesh %s)", mesh.name);
            return false;
        }
        rc = mesh_store_get_member(self->meshes, mesh_id, id, &m);
        if (rc == 0 && strcmp(m.address, overlay_addr) == 0)
            return true;
        if (rc == 0) {
            *code = WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE;
            snprintf(why, why_len, "your address in mesh %s is %s, not %s", mesh.name, m.address, overlay_addr);
            return false;
        }
    }
    *code = rc == MESH_STORE_NOT_FOUND ? (mesh.name[0] ? WEFT__HUB_ERROR__CODE__NOT_IN_MESH
                                                      : WEFT__HUB_ERROR__CODE__NO_SUCH_MESH)
                                       : WEFT__HUB_ERROR__CODE__BAD_REQUEST;
    snprintf(why, why_len, "%s",
             *code == WEFT__HUB_ERROR__CODE__NOT_IN_MESH ? "you are not a member of this mesh (join it with an invite)"
             : *code == WEFT__HUB_ERROR__CODE__NO_SUCH_MESH
                 ? "this mesh does not exist on this hub (deleted, or a room that expired)"
                 : "the hub's storage failed");
    return false;
}

size_t hub_mesh_prune(hub_mesh_t *self, const char *mesh_name, member_t *live, size_t n)
{
    uint8_t mesh_id[16];
    if (!hub_mesh_is_managed(mesh_name, mesh_id) || n == 0)
        return 0;
    mesh_info_t mesh;
    int exists = mesh_store_get(self->meshes, mesh_id, &mesh);
    if (exists == -1)
        return 0;
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        int allowed = exists == 0 ? mesh_store_is_member(self->meshes, mesh_id, live[i].id) : 0;
        if (allowed != 0) {  // a member, or Redis failed: keep it
            live[kept++] = live[i];
            continue;
        }
        int revoked = exists == 0 ? mesh_store_is_revoked(self->meshes, mesh_id, live[i].id) : 0;
        Weft__HubError__Code code = exists != 0 ? WEFT__HUB_ERROR__CODE__NO_SUCH_MESH
                                    : revoked > 0 ? WEFT__HUB_ERROR__CODE__REVOKED
                                                  : WEFT__HUB_ERROR__CODE__NOT_IN_MESH;
        send_error(self, live[i].routing_id, live[i].routing_id_len, code,
                   exists != 0 ? "this mesh no longer exists on this hub (deleted, or a room that expired)"
                   : revoked > 0 ? "you were removed from this mesh by its admin"
                                 : "you are no longer a member of this mesh");
        if (members_remove(self->members, mesh_name, live[i].id) != 0)
            (*self->count.redis_errors)++;
        char fp[FINGERPRINT_LEN];
        id_fingerprint(live[i].id, fp);
        log_info("mesh %s: %s (%s) is no longer allowed in the mesh: dropped", mesh_name, live[i].name, fp);
        dropped++;
    }
    if (dropped)
        *self->count.pruned += dropped;
    return dropped;
}

void hub_mesh_fill_revoked(hub_mesh_t *self, const char *mesh_name, Weft__PeerList *list)
{
    uint8_t mesh_id[16];
    list->n_revoked = 0;
    list->revoked = NULL;
    if (!hub_mesh_is_managed(mesh_name, mesh_id))
        return;
    int n = mesh_store_revocations(self->meshes, mesh_id, self->revoked, REVOCATION_LEN, HUB_MESH_MAX_REVOKED);
    for (int i = 0; i < n; i++) {
        self->revoked_list[i].data = self->revoked + (size_t)i * REVOCATION_LEN;
        self->revoked_list[i].len = REVOCATION_LEN;
    }
    list->n_revoked = n > 0 ? (size_t)n : 0;
    list->revoked = n > 0 ? self->revoked_list : NULL;
}

void hub_mesh_load_routes(hub_mesh_t *self, const char *mesh_name)
{
    int n = mesh_store_routes_list(self->meshes, mesh_name, self->routes, MESH_STORE_MAX_ALLOWANCES);
    if (n < 0)
        (*self->count.redis_errors)++;
    self->n_routes = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < self->n_routes; i++)
        self->route_texts[i] = self->routes[i].prefix;
}

size_t hub_mesh_routes_of(hub_mesh_t *self, const uint8_t key[32], char ***out)
{
    size_t first = 0, n = 0;
    while (first < self->n_routes && memcmp(self->routes[first].key, key, 32) != 0)
        first++;
    while (first + n < self->n_routes && memcmp(self->routes[first + n].key, key, 32) == 0)
        n++;
    *out = n ? &self->route_texts[first] : NULL;
    return n;
}

bool hub_mesh_routes_changed(hub_mesh_t *self, const char *mesh_name)
{
    int rc = mesh_store_routes_take_change(self->meshes, mesh_name);
    if (rc < 0)
        (*self->count.redis_errors)++;
    return rc == 1;
}
