// weft_cert.c — membership certificates by hand, for tests/integration/test_membership.sh: issue a
// certificate signed by any key (the admin's, or a stranger's), put a member on a hub's roster, and kick a
// member the way an admin does (a signed revocation in a Kick request over the hub's CURVE socket).
//
//   weft-cert id KEYFILE                      prints the identity's node id (hex)
//   weft-cert keygen KEYFILE                  makes a new identity, prints its id
//   weft-cert issue --signer KEYFILE --mesh HEX --member HEX --address A/P --out FILE
//                   [--issued-ago S] [--expires-in S | --expired-ago S]
//   weft-cert show FILE                       decodes a certificate file (signature checked)
//   weft-cert mesh --redis URL --name NAME --admin HEX [--cidr CIDR]    creates a managed mesh in a
//                   hub's Redis (the hub's own mesh_store), prints its id
//   weft-cert roster --redis URL --mesh HEX --member HEX --name NAME --address A
//   weft-cert kick --hub EP --hub-key KEY --admin KEYFILE --mesh HEX --member HEX
//                                             sends Kick; prints the hub's answer; exit 0 on Done
#include <czmq.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "hub.pb-c.h"
#include "hub_key.h"
#include "identity.h"
#include "mesh_store.h"
#include "store.h"

static int usage(void)
{
    fprintf(stderr, "usage: weft-cert id|keygen|issue|show|mesh|roster|kick ... (see tests/tools/weft_cert.c)\n");
    return 2;
}

typedef struct {
    const char *signer, *mesh, *member, *address, *out, *redis, *name, *admin, *cidr, *hub, *hub_key;
    long issued_ago, expires_in;
    bool expired;
} args_t;

static int parse(int argc, char **argv, args_t *a)
{
    static const struct option opts[] = {
        {"signer", required_argument, 0, 's'}, {"mesh", required_argument, 0, 'm'},
        {"member", required_argument, 0, 'M'}, {"address", required_argument, 0, 'a'},
        {"out", required_argument, 0, 'o'},    {"redis", required_argument, 0, 'r'},
        {"name", required_argument, 0, 'n'},   {"admin", required_argument, 0, 'A'},
        {"cidr", required_argument, 0, 'c'},   {"hub", required_argument, 0, 'h'},
        {"hub-key", required_argument, 0, 'k'}, {"issued-ago", required_argument, 0, 'i'},
        {"expires-in", required_argument, 0, 'e'}, {"expired-ago", required_argument, 0, 'x'},
        {0, 0, 0, 0}};
    *a = (args_t){.issued_ago = 60, .expires_in = 86400, .cidr = "10.100.0.0/16"};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': a->signer = optarg; break;
        case 'm': a->mesh = optarg; break;
        case 'M': a->member = optarg; break;
        case 'a': a->address = optarg; break;
        case 'o': a->out = optarg; break;
        case 'r': a->redis = optarg; break;
        case 'n': a->name = optarg; break;
        case 'A': a->admin = optarg; break;
        case 'c': a->cidr = optarg; break;
        case 'h': a->hub = optarg; break;
        case 'k': a->hub_key = optarg; break;
        case 'i': a->issued_ago = atol(optarg); break;
        case 'e': a->expires_in = atol(optarg); break;
        case 'x': a->expires_in = -atol(optarg); a->expired = true; break;
        default: return -1;
        }
    }
    return 0;
}

static int load_key(const char *path, identity_t *id)
{
    char err[512];
    if (!path || identity_load(path, id, err, sizeof err) != 0) {
        fprintf(stderr, "weft-cert: %s\n", path ? err : "a key file is required");
        return -1;
    }
    return 0;
}

static int cmd_issue(const args_t *a)
{
    identity_t signer;
    if (load_key(a->signer, &signer) != 0)
        return 1;
    cert_t c = {0};
    unsigned addr[4], prefix;
    char tail;
    if (!a->mesh || mesh_id_from_hex(a->mesh, c.mesh_id) != 0 || !a->member || id_from_hex(a->member, c.member_key) != 0 ||
        !a->address || sscanf(a->address, "%u.%u.%u.%u/%u%c", &addr[0], &addr[1], &addr[2], &addr[3], &prefix, &tail) != 5 ||
        addr[0] > 255 || addr[1] > 255 || addr[2] > 255 || addr[3] > 255 || prefix < 1 || prefix > 32 || !a->out) {
        fprintf(stderr, "weft-cert issue: --mesh (32 hex), --member (64 hex), --address A.B.C.D/P and --out are required\n");
        return 2;
    }
    c.address = addr[0] << 24 | addr[1] << 16 | addr[2] << 8 | addr[3];
    c.prefix = (uint8_t)prefix;
    uint64_t now = (uint64_t)time(NULL);
    c.issued = now - (uint64_t)a->issued_ago;
    c.expires = (uint64_t)((int64_t)now + a->expires_in);
    if (a->expired && c.issued >= c.expires)
        c.issued = c.expires - 3600;
    cert_sign(&c, &signer);
    identity_wipe(&signer);
    char err[512];
    if (cert_save(a->out, &c, err, sizeof err) != 0) {
        fprintf(stderr, "weft-cert: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_show(const char *path)
{
    cert_t c;
    char err[512];
    if (cert_load(path, &c, err, sizeof err) != 0) {
        fprintf(stderr, "weft-cert: %s\n", err);
        return 1;
    }
    char mesh[MESH_ID_HEX_LEN], member[ID_HEX_LEN], issuer[ID_HEX_LEN];
    mesh_id_to_hex(c.mesh_id, mesh);
    id_to_hex(c.member_key, member);
    id_to_hex(c.issuer_key, issuer);
    printf("mesh %s\nmember %s\naddress %u.%u.%u.%u/%u\nissued %llu\nexpires %llu\nissuer %s\n", mesh, member,
           c.address >> 24, c.address >> 16 & 255, c.address >> 8 & 255, c.address & 255, c.prefix,
           (unsigned long long)c.issued, (unsigned long long)c.expires, issuer);
    return 0;
}

static mesh_store_t *open_meshes(const char *url, store_t **store)
{
    char err[512];
    *store = url ? store_connect(url, err, sizeof err) : NULL;
    if (!*store) {
        fprintf(stderr, "weft-cert: %s\n", url ? err : "--redis URL is required");
        return NULL;
    }
    return mesh_store_new(*store);
}

static int cmd_mesh(const args_t *a)
{
    uint8_t admin[32];
    if (!a->name || !a->admin || id_from_hex(a->admin, admin) != 0) {
        fprintf(stderr, "weft-cert mesh: --name and --admin (64 hex) are required\n");
        return 2;
    }
    store_t *store;
    mesh_store_t *meshes = open_meshes(a->redis, &store);
    if (!meshes)
        return 1;
    mesh_info_t info;
    int rc = mesh_store_create(meshes, a->name, a->cidr, admin, false, 0, &info);
    if (rc == 0)
        printf("%s\n", info.id_hex);
    else
        fprintf(stderr, "weft-cert: mesh_store_create failed (%d)\n", rc);
    mesh_store_destroy(&meshes);
    store_destroy(&store);
    return rc == 0 ? 0 : 1;
}

static int cmd_roster(const args_t *a)
{
    uint8_t mesh[MESH_ID_LEN], member[32];
    if (!a->mesh || mesh_id_from_hex(a->mesh, mesh) != 0 || !a->member || id_from_hex(a->member, member) != 0 ||
        !a->name || !a->address) {
        fprintf(stderr, "weft-cert roster: --mesh, --member, --name and --address are required\n");
        return 2;
    }
    store_t *store;
    mesh_store_t *meshes = open_meshes(a->redis, &store);
    if (!meshes)
        return 1;
    mesh_member_t m;
    int rc = mesh_store_add_member(meshes, mesh, member, a->name, a->address, &m);
    if (rc != 0)
        fprintf(stderr, "weft-cert: mesh_store_add_member failed (%d)\n", rc);
    mesh_store_destroy(&meshes);
    store_destroy(&store);
    return rc == 0 ? 0 : 1;
}

static int cmd_kick(const args_t *a)
{
    identity_t admin;
    if (load_key(a->admin, &admin) != 0)
        return 1;
    revocation_t rev = {0};
    uint8_t server_key[32];
    char why[200];
    if (!a->mesh || mesh_id_from_hex(a->mesh, rev.mesh_id) != 0 || !a->member ||
        id_from_hex(a->member, rev.member_key) != 0 || !a->hub || !a->hub_key ||
        hub_key_parse(a->hub_key, server_key, why, sizeof why) != 0) {
        fprintf(stderr, "weft-cert kick: --hub, --hub-key (64 hex or Z85), --mesh and --member are required\n");
        identity_wipe(&admin);
        return 2;
    }
    rev.revoked_at = (uint64_t)time(NULL);
    revocation_sign(&rev, &admin);
    uint8_t encoded[REVOCATION_LEN];
    revocation_encode(&rev, encoded);

    uint8_t x_public[32], x_secret[32];
    identity_x25519(&admin, x_public, x_secret);
    identity_wipe(&admin);
    zcert_t *cert = zcert_new_from(x_public, x_secret);
    sodium_memzero(x_secret, sizeof x_secret);
    zsock_t *hub = zsock_new(ZMQ_DEALER);
    zcert_apply(cert, hub);
    zcert_destroy(&cert);
    zsock_set_curve_serverkey_bin(hub, server_key);
    zsock_set_rcvtimeo(hub, 5000);
    if (zsock_connect(hub, "%s", a->hub) != 0) {
        fprintf(stderr, "weft-cert: cannot connect to %s\n", a->hub);
        zsock_destroy(&hub);
        return 1;
    }
    Weft__Kick kick = WEFT__KICK__INIT;
    kick.mesh_id.data = rev.mesh_id;
    kick.mesh_id.len = MESH_ID_LEN;
    kick.revocation.data = encoded;
    kick.revocation.len = sizeof encoded;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_KICK;
    req.kick = &kick;
    size_t len = weft__hub_request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    weft__hub_request__pack(&req, buf);
    zframe_t *frame = zframe_new(buf, len);
    free(buf);
    zframe_send(&frame, hub, 0);
    int rc = 1;
    for (int i = 0; i < 10; i++) {   // skip anything that is not the answer (none expected)
        zframe_t *answer = zframe_recv(hub);
        if (!answer) {
            fprintf(stderr, "weft-cert: no answer from the hub in 5 s\n");
            break;
        }
        Weft__HubReply *reply = weft__hub_reply__unpack(NULL, zframe_size(answer), zframe_data(answer));
        zframe_destroy(&answer);
        if (!reply)
            continue;
        bool done = reply->body_case == WEFT__HUB_REPLY__BODY_DONE;
        bool error = reply->body_case == WEFT__HUB_REPLY__BODY_ERROR;
        if (done)
            printf("%s\n", reply->done->message);
        if (error)
            fprintf(stderr, "weft-cert: hub refused: %s\n", reply->error->message);
        weft__hub_reply__free_unpacked(reply, NULL);
        if (done || error) {
            rc = done ? 0 : 1;
            break;
        }
    }
    zsock_destroy(&hub);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || sodium_init() < 0)
        return usage();
    const char *cmd = argv[1];
    identity_t id;
    char err[512], hex[ID_HEX_LEN];
    if (strcmp(cmd, "id") == 0 || strcmp(cmd, "keygen") == 0) {
        int rc = strcmp(cmd, "id") == 0 ? identity_load(argv[2], &id, err, sizeof err)
                                        : identity_create(argv[2], &id, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "weft-cert: %s\n", err);
            return 1;
        }
        id_to_hex(id.public_key, hex);
        identity_wipe(&id);
        printf("%s\n", hex);
        return 0;
    }
    if (strcmp(cmd, "show") == 0)
        return cmd_show(argv[2]);
    args_t a;
    if (parse(argc, argv, &a) != 0)
        return usage();
    if (strcmp(cmd, "issue") == 0)
        return cmd_issue(&a);
    if (strcmp(cmd, "mesh") == 0)
        return cmd_mesh(&a);
    if (strcmp(cmd, "roster") == 0)
        return cmd_roster(&a);
    if (strcmp(cmd, "kick") == 0)
        return cmd_kick(&a);
    return usage();
}
