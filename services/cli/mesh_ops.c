// mesh_ops.c — see mesh_ops.h.
#include "mesh_ops.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "commands.h"
#include "hub_client.h"
#include "hub_key.h"
#include "hub_proto.h"
#include "identity.h"
#include "invite.h"
#include "json.h"
#include "mesh_home.h"
#include "route_table.h"
#include "store.h"

#define HUB_CALL_TIMEOUT_MS 5000
#define JOIN_TIMEOUT_MS 15000       // the hub gives an admin 10 s to sign
#define VERIFIED_MAX 1024           // lines of <home>/verified read

// ---- shared ----

static uint64_t now_s(void)
{
    return (uint64_t)(zclock_time() / 1000);
}

// Prints a HubError reply as the command's error. Returns EXIT_FAIL.
static int hub_refused(const char *cmd, const Weft__HubReply *reply)
{
    if (reply->body_case == WEFT__HUB_REPLY__BODY_ERROR)
        fprintf(stderr, "weft mesh %s: the hub refused: %s\n", cmd,
                reply->error->message && reply->error->message[0] ? reply->error->message
                                                                  : hub_error_code_name(reply->error->code));
    else
        fprintf(stderr, "weft mesh %s: unexpected answer from the hub (reply %d)\n", cmd, (int)reply->body_case);
    return EXIT_FAIL;
}

// "host:port" or "tcp://host:port" -> "tcp://host:port". Returns 0 or -1 with err.
static int hub_endpoint_normalise(const char *in, char *out, size_t out_len, char *err, size_t err_len)
{
    const char *hostport = strncmp(in, "tcp://", 6) == 0 ? in + 6 : in;
    const char *colon = strrchr(hostport, ':');
    bool ok = colon && colon > hostport && colon[1] && strlen(hostport) < 200 && !strpbrk(hostport, " \t\n/\"\\");
    for (const char *c = colon ? colon + 1 : ""; ok && *c; c++)
        ok = *c >= '0' && *c <= '9';
    if (!ok || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535) {
        snprintf(err, err_len, "hub '%s' must be HOST:PORT or tcp://HOST:PORT", in);
        return -1;
    }
    snprintf(out, out_len, "tcp://%s", hostport);
    return 0;
}

// ---- create ----

int mesh_op_create(const char *home_opt, const char *name, const char *cidr, const char *hub, const char *hub_key,
                   bool psk, uint32_t ttl_s, const char *node_name, const char *cmd, bool as_json)
{
    char home[PATH_MAX], err[512], endpoint[256];
    config_resolve_home(home_opt, home, sizeof home);
    uint32_t network;
    int prefix;
    if (!hub_valid_mesh(name)) {
        fprintf(stderr, "weft %s: name '%s' must be 1..63 characters of A-Z a-z 0-9 . _ -\n", cmd, name);
        return EXIT_USAGE;
    }
    if (!hub_parse_cidr(cidr, &network, &prefix)) {
        fprintf(stderr, "weft %s: --cidr '%s' must be an IPv4 network with a prefix of 8..30, e.g. 10.100.0.0/16\n",
                cmd, cidr);
        return EXIT_USAGE;
    }
    if (!hub) {
        fprintf(stderr, "weft %s: --hub HOST:PORT is required (where `weft hub` runs)\n", cmd);
        return EXIT_USAGE;
    }
    if (!hub_key || !hub_key[0]) {
        fprintf(stderr, "weft %s: --hub-key KEY (or WEFT_HUB_KEY) is required: the 64 hex characters `weft hub "
                        "key` prints on the hub\n", cmd);
        return EXIT_USAGE;
    }
    char key_hex[HUB_KEY_HEX_LEN];  // written in the shell-safe hex form, whichever form was given
    if (hub_key_normalise(hub_key, key_hex, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: --hub-key: %s\n", cmd, err);
        return EXIT_USAGE;
    }
    hub_key = key_hex;
    if (hub_endpoint_normalise(hub, endpoint, sizeof endpoint, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return EXIT_USAGE;
    }
    if (mesh_home_exists(home, name)) {
        fprintf(stderr, "weft %s: this node already has a mesh named '%s' (%s); pick another name\n", cmd, name,
                mesh_home_exists(home, name));
        return EXIT_FAIL;
    }
    const char *overlap = mesh_home_overlap(home, network, prefix);
    if (overlap) {
        int free_b = 101;
        while (free_b < 255 && mesh_home_overlap(home, (10u << 24) | ((uint32_t)free_b << 16), 16))
            free_b++;
        fprintf(stderr, "weft %s: this node's mesh %s already uses addresses in %s; their routes would collide: "
                        "choose another network with --cidr, e.g. --cidr 10.%d.0.0/16\n", cmd, overlap, cidr, free_b);
        return EXIT_USAGE;
    }
    identity_t id;
    if (mesh_home_identity(home, &id, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    hub_client_t *client = hub_client_new(endpoint, hub_key, &id, NULL, err, sizeof err);
    if (!client) {
        identity_wipe(&id);
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return EXIT_USAGE;
    }
    weft_config_t defaults;
    config_defaults(&defaults, home);
    Weft__CreateMesh create = WEFT__CREATE_MESH__INIT;
    create.name = (char *)name;
    create.cidr = (char *)cidr;
    create.psk_present = psk;
    create.ttl_s = ttl_s;
    create.admin_key.data = id.public_key;
    create.admin_key.len = 32;
    create.member_name = (char *)(node_name ? node_name : defaults.name);
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_CREATE_MESH;
    req.create_mesh = &create;
    Weft__HubReply *reply = hub_client_call(client, &req, HUB_CALL_TIMEOUT_MS, err, sizeof err);
    hub_client_destroy(&client);
    if (!reply) {
        identity_wipe(&id);
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    if (reply->body_case != WEFT__HUB_REPLY__BODY_MESH_CREATED || reply->mesh_created->mesh_id.len != 16) {
        identity_wipe(&id);
        int rc = hub_refused(cmd, reply);
        weft__hub_reply__free_unpacked(reply, NULL);
        return rc;
    }
    const Weft__MeshCreated *mc = reply->mesh_created;
    // the creator is the admin: it signs its own certificate
    struct in_addr addr;
    cert_t cert = {0};
    int rc = EXIT_FAIL;
    if (inet_pton(AF_INET, mc->address, &addr) != 1 || mc->prefix < 8 || mc->prefix > 30) {
        fprintf(stderr, "weft %s: the hub answered a malformed address\n", cmd);
        goto done;
    }
    memcpy(cert.mesh_id, mc->mesh_id.data, 16);
    memcpy(cert.member_key, id.public_key, 32);
    cert.address = ntohl(addr.s_addr);
    cert.prefix = (uint8_t)mc->prefix;
    cert.issued = now_s();
    cert.expires = mc->expires;
    cert_sign(&cert, &id);
    char psk_hex[65] = "";
    if (psk) {
        uint8_t key[32];
        randombytes_buf(key, sizeof key);
        sodium_bin2hex(psk_hex, sizeof psk_hex, key, sizeof key);
        sodium_memzero(key, sizeof key);
    }
    if (mesh_home_write_instance(home, name, node_name, mc->mesh_id.data, id.public_key, mc->address,
                                 (int)mc->prefix, psk_hex, endpoint, hub_key, &cert, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        goto done;
    }
    char id_hex[MESH_ID_HEX_LEN];
    mesh_id_to_hex(mc->mesh_id.data, id_hex);
    FILE *out = ttl_s || as_json ? stderr : stdout;  // `weft room open` prints only the invite code on stdout
    if (as_json) {
        char address[40];
        snprintf(address, sizeof address, "%s/%u", mc->address, mc->prefix);
        json_t j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_string(&j, "mesh", name);
        json_string(&j, "id", id_hex);
        json_string(&j, "hub", endpoint);
        json_string(&j, "hub_key", hub_key);
        json_string(&j, "cidr", mc->cidr);
        json_string(&j, "address", address);
        json_string(&j, "role", "admin");
        json_bool(&j, "network_key", psk);
        json_uint(&j, "expires", mc->expires);
        json_string(&j, "home", home);
        json_object_end(&j);
        json_finish(&j);
    }
    fprintf(out, "created %s %s (id %s) on %s\n  network  %s%s\n  this node %s/%u (admin)\n", ttl_s ? "room" : "mesh",
            name, id_hex, endpoint, mc->cidr, psk ? ", with a network key" : "", mc->address, mc->prefix);
    if (mc->expires)
        fprintf(out, "  a room: it expires by itself in %u s\n", ttl_s);
    if (!ttl_s)
        fprintf(out, "Next: weft up%s%s, then `weft mesh invite --mesh %s` for each new member\n",
                home_opt ? " --home " : "", home_opt ? home_opt : "", name);
    sodium_memzero(psk_hex, sizeof psk_hex);
    rc = EXIT_OK;
done:
    identity_wipe(&id);
    weft__hub_reply__free_unpacked(reply, NULL);
    return rc;
}

// ---- invite, and what kick and leave share with it: the instance, its admin, one call to its hub ----

// Loads the instance's config for --mesh (or the only mesh). Returns 0 or -1 (printed).
static int load_instance(const char *home_opt, const char *mesh, const char *cmd, char *home, size_t home_len,
                         weft_config_t *cfg)
{
    char err[1200], dir[PATH_MAX];
    config_resolve_home(home_opt, home, home_len);
    if (mesh_home_select(home, mesh, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return -1;
    }
    char yaml[PATH_MAX + 16];
    snprintf(yaml, sizeof yaml, "%s/weft.yaml", dir);
    if (access(yaml, F_OK) != 0) {
        fprintf(stderr, "weft %s: this node is in no mesh yet: `weft mesh create` or `weft mesh join CODE`\n", cmd);
        return -1;
    }
    if (config_load(cfg, dir, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return -1;
    }
    if (!cfg->mesh_id[0]) {
        fprintf(stderr, "weft %s: %s is a mesh without an admin (made by `weft init --address`): it has no "
                        "invites or certificates\n", cmd, cfg->home);
        return -1;
    }
    return 0;
}

// Loads the identity and checks we are the instance's admin. Returns 0 or -1 (printed).
static int load_admin(const weft_config_t *cfg, const char *cmd, identity_t *id)
{
    char err[512], id_hex[ID_HEX_LEN];
    if (identity_load(cfg->identity_file, id, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return -1;
    }
    id_to_hex(id->public_key, id_hex);
    if (strcmp(id_hex, cfg->mesh_admin_key) != 0) {
        identity_wipe(id);
        fprintf(stderr, "weft %s: only the admin of mesh %s can do this (this node is a member)\n", cmd, cfg->mesh);
        return -1;
    }
    return 0;
}

static Weft__HubReply *call_hub(const weft_config_t *cfg, const identity_t *id, const Weft__HubRequest *req,
                                int timeout_ms, const char *cmd)
{
    char err[512];
    hub_client_t *client = hub_client_new(cfg->hub_endpoint, cfg->hub_public_key, id, NULL, err, sizeof err);
    Weft__HubReply *reply = client ? hub_client_call(client, req, timeout_ms, err, sizeof err) : NULL;
    hub_client_destroy(&client);
    if (!reply)
        fprintf(stderr, "weft %s: %s\n", cmd, err);
    return reply;
}

int mesh_op_invite(const char *home_opt, const char *mesh, uint64_t valid_s, unsigned uses, const char *cmd,
                   bool as_json)
{
    char home[PATH_MAX], err[512];
    weft_config_t cfg;
    identity_t id;
    if (load_instance(home_opt, mesh, cmd, home, sizeof home, &cfg) != 0 || load_admin(&cfg, cmd, &id) != 0)
        return EXIT_FAIL;
    invite_t inv = {0};
    mesh_id_from_hex(cfg.mesh_id, inv.mesh_id);
    snprintf(inv.mesh_name, sizeof inv.mesh_name, "%s", cfg.mesh);
    inv.hub_count = 1;
    snprintf(inv.hubs[0], sizeof inv.hubs[0], "%s", cfg.hub_endpoint);
    if (hub_key_parse(cfg.hub_public_key, inv.hub_key, err, sizeof err) != 0) {
        identity_wipe(&id);
        fprintf(stderr, "weft %s: hub.public_key in %s: %s\n", cmd, cfg.config_file, err);
        return EXIT_FAIL;
    }
    inv.expires = now_s() + valid_s;
    inv.max_uses = (uint16_t)uses;
    invite_new_nonce(&inv);
    char code[INVITE_MAX_CODE];
    if (invite_sign(&inv, &id, err, sizeof err) != 0 || invite_encode(&inv, code, sizeof code, err, sizeof err) != 0) {
        identity_wipe(&id);
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    Weft__RegisterInvite reg = WEFT__REGISTER_INVITE__INIT;
    reg.mesh_id.data = inv.mesh_id;
    reg.mesh_id.len = 16;
    reg.nonce.data = inv.nonce;
    reg.nonce.len = 16;
    reg.max_uses = uses;
    reg.expires = inv.expires;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER_INVITE;
    req.register_invite = &reg;
    Weft__HubReply *reply = call_hub(&cfg, &id, &req, HUB_CALL_TIMEOUT_MS, cmd);
    identity_wipe(&id);
    if (!reply)
        return EXIT_FAIL;
    int rc = EXIT_OK;
    if (reply->body_case != WEFT__HUB_REPLY__BODY_DONE)
        rc = hub_refused(cmd, reply);
    weft__hub_reply__free_unpacked(reply, NULL);
    if (rc != EXIT_OK)
        return rc;
    char valid[32];
    invite_format_duration(valid_s, valid, sizeof valid);
    fprintf(stderr, "invite to mesh %s: valid %s, %u use%s. The new member runs: weft mesh join CODE\n", cfg.mesh,
            valid, uses, uses == 1 ? "" : "s");
    if (!as_json) {
        printf("%s\n", code);
        return EXIT_OK;
    }
    json_t j;
    json_init(&j, stdout);
    json_object_begin(&j, NULL);
    json_string(&j, "mesh", cfg.mesh);
    json_string(&j, "id", cfg.mesh_id);
    json_string(&j, "code", code);
    json_uint(&j, "expires", inv.expires);
    json_uint(&j, "uses", uses);
    json_object_end(&j);
    json_finish(&j);
    return EXIT_OK;
}

// ---- join: check the code, ask the hub, install the instance ----

// Step 1, here: the code decodes, its admin signed it, it has not expired, and the local name is free.
// Returns EXIT_OK with inv and local filled, or the exit code (printed).
static int join_check(const char *home, const char *code, const char **local, const char *node_name, invite_t *inv)
{
    char err[512];
    if (invite_decode(code, inv, err, sizeof err) != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    if (invite_check_expiry(inv, now_s(), err, sizeof err) != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    if (!*local)
        *local = inv->mesh_name;
    if (!hub_valid_mesh(*local)) {
        fprintf(stderr, "weft mesh join: '%s' cannot be a local mesh name; choose one with --as NAME\n", *local);
        return EXIT_USAGE;
    }
    if (node_name && !hub_valid_name(node_name)) {
        fprintf(stderr, "weft mesh join: --node-name must be at most 63 printable characters\n");
        return EXIT_USAGE;
    }
    if (mesh_home_exists(home, *local)) {
        fprintf(stderr, "weft mesh join: this node already has a mesh named '%s'; use --as NAME for another name "
                        "(or `weft mesh leave %s`)\n", *local, *local);
        return EXIT_FAIL;
    }
    char expires_in[32];
    invite_format_duration(inv->expires - now_s(), expires_in, sizeof expires_in);
    fprintf(stderr, "invite ok: mesh %s, signed by its admin, valid for %s more\n", inv->mesh_name, expires_in);
    return EXIT_OK;
}

// Step 2: a Join to the invite's hubs in turn, until one answers (the admin's node signs meanwhile).
// Returns the answer or NULL (printed).
static Weft__HubReply *join_ask_hub(const char *home, const invite_t *inv, const char *hub_key, const identity_t *id,
                                    const char *node_name)
{
    char err[512];
    weft_config_t defaults;
    config_defaults(&defaults, home);
    uint8_t packed[INVITE_MAX_BYTES];
    int packed_len = invite_pack(inv, packed, sizeof packed, err, sizeof err);
    if (packed_len < 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return NULL;
    }
    Weft__Join join = WEFT__JOIN__INIT;
    join.invite.data = packed;
    join.invite.len = (size_t)packed_len;
    join.name = (char *)(node_name ? node_name : defaults.name);
    join.key.data = (uint8_t *)id->public_key;
    join.key.len = 32;
    uint8_t joiner_sig[INVITE_JOIN_SIG_LEN];
    invite_join_sign(id, inv->mesh_id, inv->nonce, joiner_sig);
    join.joiner_sig.data = joiner_sig;
    join.joiner_sig.len = sizeof joiner_sig;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_JOIN;
    req.join = &join;
    Weft__HubReply *reply = NULL;
    for (int h = 0; h < inv->hub_count && !reply; h++) {
        fprintf(stderr, "asking the hub at %s; the admin's node signs this node's certificate...\n", inv->hubs[h]);
        hub_client_t *client = hub_client_new(inv->hubs[h], hub_key, id, NULL, err, sizeof err);
        reply = client ? hub_client_call(client, &req, JOIN_TIMEOUT_MS, err, sizeof err) : NULL;
        hub_client_destroy(&client);
        if (!reply)
            fprintf(stderr, "weft mesh join: %s\n", err);
    }
    return reply;
}

// Step 3: the hub's answer checked (it routes, it does not grant), the network key opened, the instance
// written. Returns the exit code (printed).
static int join_install(const char *home, const char *home_opt, const char *local, const char *node_name,
                        const invite_t *inv, const char *hub_key, const identity_t *id, const Weft__HubReply *reply,
                        bool as_json)
{
    char err[512] = "";
    if (reply->body_case != WEFT__HUB_REPLY__BODY_JOIN_REPLY)
        return hub_refused("join", reply);
    const Weft__JoinReply *jr = reply->join_reply;
    cert_t cert;
    struct in_addr addr;
    // the hub is trusted to route, not to grant: the certificate must be the admin's, for us, in this mesh
    if (jr->mesh_id.len != 16 || memcmp(jr->mesh_id.data, inv->mesh_id, 16) != 0 ||
        cert_decode(jr->cert.data, jr->cert.len, &cert, err, sizeof err) != 0 ||
        cert_check(&cert, inv->mesh_id, inv->admin_key, now_s(), err, sizeof err) != 0 ||
        memcmp(cert.member_key, id->public_key, 32) != 0 || inet_pton(AF_INET, jr->address, &addr) != 1 ||
        ntohl(addr.s_addr) != cert.address || jr->prefix != cert.prefix) {
        fprintf(stderr, "weft mesh join: the certificate the hub returned is not valid for this node (%s); nothing "
                        "was written\n", err[0] ? err : "mismatch");
        return EXIT_FAIL;
    }
    char psk_hex[65] = "";
    if (jr->sealed_psk.len > 0) {
        uint8_t x_public[32], x_secret[32], psk[32];
        if (jr->sealed_psk.len != 32 + crypto_box_SEALBYTES || identity_x25519(id, x_public, x_secret) != 0 ||
            crypto_box_seal_open(psk, jr->sealed_psk.data, jr->sealed_psk.len, x_public, x_secret) != 0) {
            sodium_memzero(x_secret, sizeof x_secret);
            fprintf(stderr, "weft mesh join: the network key from the admin does not open with this node's key\n");
            return EXIT_FAIL;
        }
        sodium_memzero(x_secret, sizeof x_secret);
        sodium_bin2hex(psk_hex, sizeof psk_hex, psk, sizeof psk);
        sodium_memzero(psk, sizeof psk);
    }
    uint32_t joined_net;
    int joined_prefix;
    char joined_cidr[40];
    snprintf(joined_cidr, sizeof joined_cidr, "%s/%u", jr->address, jr->prefix);
    const char *overlap = hub_parse_cidr(joined_cidr, &joined_net, &joined_prefix)
                              ? mesh_home_overlap(home, joined_net, joined_prefix) : NULL;
    if (overlap)
        fprintf(stderr, "warning: mesh %s uses %s, which overlaps this node's mesh %s: do not run both at once "
                        "(their routes collide)\n", local, jr->cidr, overlap);
    int rc = mesh_home_write_instance(home, local, node_name, inv->mesh_id, inv->admin_key, jr->address,
                                      (int)jr->prefix, psk_hex, inv->hubs[0], hub_key, &cert, err, sizeof err);
    sodium_memzero(psk_hex, sizeof psk_hex);
    if (rc != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    if (as_json) {
        char address[40], id_hex[MESH_ID_HEX_LEN], admin_hex[ID_HEX_LEN];
        snprintf(address, sizeof address, "%s/%u", jr->address, jr->prefix);
        mesh_id_to_hex(inv->mesh_id, id_hex);
        id_to_hex(inv->admin_key, admin_hex);
        json_t j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_string(&j, "mesh", local);
        json_string(&j, "name", inv->mesh_name);
        json_string(&j, "id", id_hex);
        json_string(&j, "hub", inv->hubs[0]);
        json_string(&j, "cidr", jr->cidr);
        json_string(&j, "address", address);
        json_string(&j, "role", "member");
        json_string(&j, "admin", admin_hex);
        json_bool(&j, "network_key", jr->sealed_psk.len > 0);
        json_uint(&j, "expires", jr->expires);
        json_object_end(&j);
        json_finish(&j);
    }
    fprintf(as_json ? stderr : stdout, "joined mesh %s as %s/%u%s\nNext: weft up%s%s\n", local, jr->address,
            jr->prefix, jr->sealed_psk.len ? " (with its network key)" : "", home_opt ? " --home " : "",
            home_opt ? home_opt : "");
    return EXIT_OK;
}

int mesh_op_join(const char *home_opt, const char *code, const char *local, const char *node_name, bool as_json)
{
    char home[PATH_MAX], err[512], hub_key[HUB_KEY_HEX_LEN];
    invite_t inv;
    config_resolve_home(home_opt, home, sizeof home);
    int rc = join_check(home, code, &local, node_name, &inv);
    if (rc != EXIT_OK)
        return rc;
    hub_key_format(inv.hub_key, hub_key);
    identity_t id;
    if (mesh_home_identity(home, &id, err, sizeof err) != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    Weft__HubReply *reply = join_ask_hub(home, &inv, hub_key, &id, node_name);
    rc = reply ? join_install(home, home_opt, local, node_name, &inv, hub_key, &id, reply, as_json) : EXIT_FAIL;
    identity_wipe(&id);
    if (reply)
        weft__hub_reply__free_unpacked(reply, NULL);
    return rc;
}
// ---- the roster (ListMembers), members and kick ----

Weft__HubReply *mesh_roster_fetch(const weft_config_t *cfg, const identity_t *id, char *err, size_t err_len)
{
    uint8_t mesh_id[16];
    if (mesh_id_from_hex(cfg->mesh_id, mesh_id) != 0) {
        snprintf(err, err_len, "%s is a mesh without an admin: it has no roster", cfg->home);
        return NULL;
    }
    Weft__ListMembers list = WEFT__LIST_MEMBERS__INIT;
    list.mesh_id.data = mesh_id;
    list.mesh_id.len = 16;
    list.key.data = (uint8_t *)id->public_key;
    list.key.len = 32;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_LIST_MEMBERS;
    req.list_members = &list;
    hub_client_t *client = hub_client_new(cfg->hub_endpoint, cfg->hub_public_key, id, NULL, err, err_len);
    Weft__HubReply *reply = client ? hub_client_call(client, &req, HUB_CALL_TIMEOUT_MS, err, err_len) : NULL;
    hub_client_destroy(&client);
    if (reply && reply->body_case != WEFT__HUB_REPLY__BODY_MEMBER_LIST) {
        if (reply->body_case == WEFT__HUB_REPLY__BODY_ERROR)
            snprintf(err, err_len, "the hub refused the roster: %s",
                     reply->error->message[0] ? reply->error->message : hub_error_code_name(reply->error->code));
        else
            snprintf(err, err_len, "unexpected answer from the hub (reply %d)", (int)reply->body_case);
        weft__hub_reply__free_unpacked(reply, NULL);
        return NULL;
    }
    return reply;
}

// member in a roster: by fingerprint or name; members still in the mesh before revoked keys. 1 found (key
// filled), 0 none, or -(how many) when the name is not unique.
static int roster_find(const Weft__MemberList *ml, const char *member, uint8_t key[32])
{
    for (int revoked = 0; revoked < 2; revoked++) {
        int found = 0;
        for (size_t i = 0; i < ml->n_members; i++) {
            const Weft__MemberInfo *m = ml->members[i];
            char fp[FINGERPRINT_LEN];
            if (m->key.len != 32 || m->revoked != (revoked == 1))
                continue;
            id_fingerprint(m->key.data, fp);
            if (strcmp(fp, member) == 0 || (m->name[0] && strcmp(m->name, member) == 0)) {
                if (found++ == 0)
                    memcpy(key, m->key.data, 32);
            }
        }
        if (found)
            return found == 1 ? 1 : -found;
    }
    return 0;
}

int mesh_resolve_member(const weft_config_t *cfg, const char *member, uint8_t key[32], char *err, size_t err_len)
{
    if (strlen(member) == 64 && id_from_hex(member, key) == 0)
        return 0;
    // the running node's member list first (it answers without the hub), then the hub's roster, which
    // has the members that are offline too
    char url[CONFIG_STR + PATH_MAX], store_err[256];
    config_redis_url(cfg, url, sizeof url);
    store_t *store = store_connect(url, store_err, sizeof store_err);
    Weft__PeerList *list = store ? store_load_peers(store) : NULL;
    store_destroy(&store);
    int found = 0;
    for (size_t i = 0; list && i < list->n_peers; i++) {
        const Weft__Peer *p = list->peers[i];
        char fp[FINGERPRINT_LEN];
        if (p->id.len != 32)
            continue;
        id_fingerprint(p->id.data, fp);
        if (strcmp(fp, member) == 0 || (p->name && strcmp(p->name, member) == 0)) {
            if (found++ == 0)
                memcpy(key, p->id.data, 32);
        }
    }
    if (list)
        weft__peer_list__free_unpacked(list, NULL);
    if (found == 1)
        return 0;
    if (found > 1) {
        snprintf(err, err_len, "'%s' names %d members: give the fingerprint or node id instead", member, found);
        return -1;
    }
    char why[512];
    identity_t id;
    if (!cfg->mesh_id[0] || identity_load(cfg->identity_file, &id, why, sizeof why) != 0) {
        snprintf(err, err_len, "no member '%s' in the node's member list (`weft peers` shows them)%s", member,
                 cfg->mesh_id[0] ? "" : "; give its 64-character node id");
        return -1;
    }
    Weft__HubReply *reply = mesh_roster_fetch(cfg, &id, why, sizeof why);
    identity_wipe(&id);
    if (!reply) {
        snprintf(err, err_len, "'%s' is not in the node's member list and the roster is not available (%s); give "
                               "the member's 64-character node id instead", member, why);
        return -1;
    }
    found = roster_find(reply->member_list, member, key);
    weft__hub_reply__free_unpacked(reply, NULL);
    if (found == 1)
        return 0;
    if (found < 0)
        snprintf(err, err_len, "'%s' names %d members: give the fingerprint or node id instead", member, -found);
    else
        snprintf(err, err_len, "no member '%s' in mesh %s (`weft mesh members` shows them)", member, cfg->mesh);
    return -1;
}

// The ids in <dir>/verified (`weft verify`): one 64-hex id a line. Returns how many went into out.
static size_t load_verified(const char *dir, char (*out)[ID_HEX_LEN], size_t max)
{
    char path[PATH_MAX + 16], line[128];
    snprintf(path, sizeof path, "%s/verified", dir);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strlen(line) == 64)
            snprintf(out[n++], ID_HEX_LEN, "%s", line);
    }
    if (f)
        fclose(f);
    return n;
}

// text from the hub, for a terminal: anything but printable ASCII becomes '?' (a hub is trusted to route, not
// to write escape sequences to the admin's terminal)
static void printable(const char *in, char *out, size_t out_len)
{
    size_t k = 0;
    for (const char *c = in; *c && k + 1 < out_len; c++)
        out[k++] = *c >= 0x20 && *c < 0x7f ? *c : '?';
    out[k] = '\0';
}

static void format_ago(uint64_t then_ms, uint64_t now_ms, char *out, size_t out_len)
{
    if (!then_ms)
        snprintf(out, out_len, "never");
    else if (now_ms <= then_ms + 1000)
        snprintf(out, out_len, "now");
    else {
        char d[32];
        invite_format_duration((now_ms - then_ms) / 1000, d, sizeof d);
        snprintf(out, out_len, "%s ago", d);
    }
}

// The mesh's roster from the hub for `weft CMD` (mesh members, mesh routes): NULL when it cannot be had
// (said on stderr). cfg gets the instance's config, me (may be NULL) our id.
static Weft__HubReply *fetch_roster(const char *home_opt, const char *mesh, const char *cmd, weft_config_t *cfg,
                                    uint8_t me[32])
{
    char home[PATH_MAX], err[512];
    identity_t id;
    if (load_instance(home_opt, mesh, cmd, home, sizeof home, cfg) != 0)
        return NULL;
    if (identity_load(cfg->identity_file, &id, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return NULL;
    }
    if (me)
        memcpy(me, id.public_key, 32);
    Weft__HubReply *reply = mesh_roster_fetch(cfg, &id, err, sizeof err);
    identity_wipe(&id);
    if (!reply)
        fprintf(stderr, "weft %s: %s\n", cmd, err);
    return reply;
}

int mesh_op_members(const char *home_opt, const char *mesh, bool as_json)
{
    weft_config_t cfg;
    uint8_t me[32];
    Weft__HubReply *reply = fetch_roster(home_opt, mesh, "mesh members", &cfg, me);
    if (!reply)
        return EXIT_FAIL;
    static char verified[VERIFIED_MAX][ID_HEX_LEN];
    size_t n_verified = load_verified(cfg.home, verified, VERIFIED_MAX);
    const Weft__MemberList *ml = reply->member_list;
    uint64_t now_ms = (uint64_t)zclock_time();
    json_t j;
    if (as_json) {
        json_init(&j, stdout);
        json_array_begin(&j, NULL);
    } else {
        printf("%-20s %-19s %-15s %-8s %-14s %-8s %s\n", "NAME", "FINGERPRINT", "ADDRESS", "STATE", "LAST SEEN",
               "VERIFIED", "ID");
    }
    for (size_t i = 0; i < ml->n_members; i++) {
        const Weft__MemberInfo *m = ml->members[i];
        if (m->key.len != 32)
            continue;
        char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN], seen[48];
        id_to_hex(m->key.data, hex);
        id_fingerprint(m->key.data, fp);
        bool self_ = memcmp(m->key.data, me, 32) == 0, is_verified = false;
        for (size_t v = 0; v < n_verified && !is_verified; v++)
            is_verified = strcmp(verified[v], hex) == 0;
        const char *state = m->revoked ? "revoked" : m->online ? "online" : "offline";
        if (as_json) {
            json_object_begin(&j, NULL);
            json_string(&j, "name", m->name);
            json_string(&j, "fingerprint", fp);
            json_string(&j, "id", hex);
            json_string(&j, "address", m->address);
            json_bool(&j, "online", m->online);
            json_uint(&j, "last_seen_ms", m->last_seen_ms);
            json_uint(&j, "joined_ms", m->joined_ms);
            json_bool(&j, "verified", is_verified);
            json_bool(&j, "revoked", m->revoked);
            json_bool(&j, "admin", m->admin);
            json_bool(&j, "self", self_);
            json_object_end(&j);
            continue;
        }
        format_ago(m->online ? now_ms : m->last_seen_ms, now_ms, seen, sizeof seen);
        char name[80], shown[64], address[20];
        printable(m->name, shown, sizeof shown);
        printable(m->address, address, sizeof address);
        snprintf(name, sizeof name, "%s%s%s", shown[0] ? shown : "-", m->admin ? " (admin)" : "",
                 self_ ? " (this)" : "");
        printf("%-20s %-19s %-15s %-8s %-14s %-8s %s\n", name, fp, address[0] ? address : "-", state, seen,
               self_ ? "-" : is_verified ? "yes" : "no", hex);
    }
    if (as_json) {
        json_array_end(&j);
        json_finish(&j);
    }
    weft__hub_reply__free_unpacked(reply, NULL);
    return EXIT_OK;
}

int mesh_op_kick(const char *home_opt, const char *mesh, const char *member, bool as_json)
{
    char home[PATH_MAX], err[1024];
    weft_config_t cfg;
    identity_t id;
    if (load_instance(home_opt, mesh, "mesh kick", home, sizeof home, &cfg) != 0 ||
        load_admin(&cfg, "mesh kick", &id) != 0)
        return EXIT_FAIL;
    revocation_t rev = {0};
    if (mesh_resolve_member(&cfg, member, rev.member_key, err, sizeof err) != 0) {
        identity_wipe(&id);
        fprintf(stderr, "weft mesh kick: %s\n", err);
        return EXIT_FAIL;
    }
    if (memcmp(rev.member_key, id.public_key, 32) == 0) {
        identity_wipe(&id);
        fprintf(stderr, "weft mesh kick: that is this node, the admin; it cannot kick itself\n");
        return EXIT_FAIL;
    }
    mesh_id_from_hex(cfg.mesh_id, rev.mesh_id);
    rev.revoked_at = now_s();
    revocation_sign(&rev, &id);
    uint8_t encoded[REVOCATION_LEN];
    revocation_encode(&rev, encoded);
    Weft__Kick kick = WEFT__KICK__INIT;
    kick.mesh_id.data = rev.mesh_id;
    kick.mesh_id.len = 16;
    kick.revocation.data = encoded;
    kick.revocation.len = sizeof encoded;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_KICK;
    req.kick = &kick;
    Weft__HubReply *reply = call_hub(&cfg, &id, &req, HUB_CALL_TIMEOUT_MS, "mesh kick");
    identity_wipe(&id);
    if (!reply)
        return EXIT_FAIL;
    int rc = EXIT_OK;
    if (reply->body_case != WEFT__HUB_REPLY__BODY_DONE) {
        rc = hub_refused("kick", reply);
    } else if (as_json) {
        char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN];
        id_to_hex(rev.member_key, hex);
        id_fingerprint(rev.member_key, fp);
        json_t j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_string(&j, "mesh", cfg.mesh);
        json_string(&j, "id", hex);
        json_string(&j, "fingerprint", fp);
        json_uint(&j, "revoked_at", rev.revoked_at);
        json_string(&j, "message", reply->done->message);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("%s\n", reply->done->message);
    }
    weft__hub_reply__free_unpacked(reply, NULL);
    return rc;
}

// ---- leave ----

static void stop_instance(const weft_config_t *cfg)
{
    char pid_file[PATH_MAX + 16];
    snprintf(pid_file, sizeof pid_file, "%s/weft.pid", cfg->run_dir);
    int pid = running_pid(pid_file);
    if (!pid)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 150 && kill(pid, 0) == 0; i++)
        usleep(100 * 1000);
    fprintf(stderr, "stopped mesh %s (pid %d)\n", cfg->mesh, pid);
}

int mesh_op_leave(const char *home_opt, const char *name, bool force)
{
    char home[PATH_MAX], err[512];
    config_resolve_home(home_opt, home, sizeof home);
    if (!hub_valid_mesh(name) || !mesh_home_exists(home, name)) {
        fprintf(stderr, "weft mesh leave: this node is in no mesh named '%s' (`weft mesh list`)\n", name);
        return EXIT_FAIL;
    }
    char dir[PATH_MAX];
    mesh_home_instance(home, name, dir, sizeof dir);
    weft_config_t cfg;
    identity_t id;
    if (config_load(&cfg, dir, err, sizeof err) != 0 || identity_load(cfg.identity_file, &id, err, sizeof err) != 0) {
        if (!force) {
            fprintf(stderr, "weft mesh leave: %s (use --force to remove it anyway)\n", err);
            return EXIT_FAIL;
        }
        mesh_home_remove_tree(dir);
        printf("removed %s\n", dir);
        return EXIT_OK;
    }
    char my_hex[ID_HEX_LEN];
    id_to_hex(id.public_key, my_hex);
    if (cfg.mesh_id[0] && strcmp(my_hex, cfg.mesh_admin_key) == 0 && !force) {
        identity_wipe(&id);
        fprintf(stderr, "weft mesh leave: this node is the admin of %s: without it nobody can join or be kicked; "
                        "use --force to remove it anyway\n", name);
        return EXIT_FAIL;
    }
    stop_instance(&cfg);
    bool told = false;
    if (cfg.mesh_id[0] && strcmp(my_hex, cfg.mesh_admin_key) != 0) {
        Weft__LeaveMesh leave = WEFT__LEAVE_MESH__INIT;
        uint8_t mesh_id[16];
        mesh_id_from_hex(cfg.mesh_id, mesh_id);
        leave.mesh_id.data = mesh_id;
        leave.mesh_id.len = 16;
        leave.key.data = id.public_key;
        leave.key.len = 32;
        Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
        req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE_MESH;
        req.leave_mesh = &leave;
        Weft__HubReply *reply = call_hub(&cfg, &id, &req, HUB_CALL_TIMEOUT_MS, "mesh leave");
        if (reply && reply->body_case == WEFT__HUB_REPLY__BODY_DONE)
            told = true;
        else if (reply)
            hub_refused("leave", reply);
        if (reply)
            weft__hub_reply__free_unpacked(reply, NULL);
        if (!told && !force) {
            identity_wipe(&id);
            fprintf(stderr, "weft mesh leave: the hub was not told, so %s was kept; retry, or use --force\n", dir);
            return EXIT_FAIL;
        }
    }
    identity_wipe(&id);
    if (mesh_home_remove_tree(dir) != 0) {
        fprintf(stderr, "weft mesh leave: cannot remove %s: %s\n", dir, strerror(errno));
        return EXIT_FAIL;
    }
    printf("left mesh %s%s\n", name, told ? " (the hub and its members were told)" : "");
    return EXIT_OK;
}

// ---- routes: the subnets the admin lets each member advertise (RoutesAllow; the list is in the roster) ----

static int routes_list(const char *home_opt, const char *mesh, bool as_json)
{
    weft_config_t cfg;
    Weft__HubReply *reply = fetch_roster(home_opt, mesh, "mesh routes", &cfg, NULL);
    if (!reply)
        return EXIT_FAIL;
    const Weft__MemberList *ml = reply->member_list;
    json_t j;
    if (as_json) {
        json_init(&j, stdout);
        json_array_begin(&j, NULL);
    } else {
        printf("%-20s %-19s %s\n", "NAME", "FINGERPRINT", "MAY ADVERTISE");
    }
    for (size_t i = 0; i < ml->n_members; i++) {
        const Weft__MemberInfo *m = ml->members[i];
        if (m->key.len != 32 || m->revoked || m->n_allowed_routes == 0)
            continue;
        char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN], name[64];
        id_to_hex(m->key.data, hex);
        id_fingerprint(m->key.data, fp);
        printable(m->name, name, sizeof name);
        if (as_json) {
            json_object_begin(&j, NULL);
            json_string(&j, "name", m->name);
            json_string(&j, "fingerprint", fp);
            json_string(&j, "id", hex);
            json_array_begin(&j, "prefixes");
            for (size_t k = 0; k < m->n_allowed_routes; k++)
                json_string(&j, NULL, m->allowed_routes[k]);
            json_array_end(&j);
            json_object_end(&j);
            continue;
        }
        printf("%-20s %-19s", name[0] ? name : "-", fp);
        for (size_t k = 0; k < m->n_allowed_routes; k++) {
            char prefix[24];
            printable(m->allowed_routes[k], prefix, sizeof prefix);
            printf("%s%s", k ? ", " : " ", prefix);
        }
        printf("\n");
    }
    if (as_json) {
        json_array_end(&j);
        json_finish(&j);
    }
    weft__hub_reply__free_unpacked(reply, NULL);
    return EXIT_OK;
}

int mesh_op_routes(const char *home_opt, const char *mesh, const char *verb, const char *member, const char *prefix,
                   bool as_json)
{
    if (strcmp(verb, "list") == 0)
        return routes_list(home_opt, mesh, as_json);
    bool allow = strcmp(verb, "allow") == 0;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "mesh routes %s", allow ? "allow" : "deny");
    uint32_t net;
    int len;
    if (ipv4_prefix_from_text(prefix, &net, &len) != 0) {
        fprintf(stderr, "weft %s: '%s' is not an IPv4 prefix with no host bits past its length (like "
                        "192.168.50.0/24)\n", cmd, prefix);
        return EXIT_USAGE;
    }
    char home[PATH_MAX], err[1024];
    weft_config_t cfg;
    identity_t id;
    if (load_instance(home_opt, mesh, cmd, home, sizeof home, &cfg) != 0 || load_admin(&cfg, cmd, &id) != 0)
        return EXIT_FAIL;
    uint8_t key[32], mesh_id[16];
    if (mesh_resolve_member(&cfg, member, key, err, sizeof err) != 0) {
        identity_wipe(&id);
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    mesh_id_from_hex(cfg.mesh_id, mesh_id);
    Weft__RoutesAllow ra = WEFT__ROUTES_ALLOW__INIT;
    ra.mesh_id.data = mesh_id;
    ra.mesh_id.len = 16;
    ra.member_key.data = key;
    ra.member_key.len = 32;
    ra.prefix = (char *)prefix;
    ra.allow = allow;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_ROUTES_ALLOW;
    req.routes_allow = &ra;
    Weft__HubReply *reply = call_hub(&cfg, &id, &req, HUB_CALL_TIMEOUT_MS, cmd);
    identity_wipe(&id);
    if (!reply)
        return EXIT_FAIL;
    int rc = EXIT_OK;
    if (reply->body_case != WEFT__HUB_REPLY__BODY_DONE) {
        rc = hub_refused(allow ? "routes allow" : "routes deny", reply);
    } else if (as_json) {
        char hex[ID_HEX_LEN], fp[FINGERPRINT_LEN];
        id_to_hex(key, hex);
        id_fingerprint(key, fp);
        json_t j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_string(&j, "mesh", cfg.mesh);
        json_string(&j, "id", hex);
        json_string(&j, "fingerprint", fp);
        json_string(&j, "prefix", prefix);
        json_bool(&j, "allowed", allow);
        json_string(&j, "message", reply->done->message);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("%s\n", reply->done->message);
    }
    weft__hub_reply__free_unpacked(reply, NULL);
    return rc;
}
