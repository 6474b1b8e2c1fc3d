// cmd_mesh.c — `weft mesh create|invite|join|kick|list|leave`: meshes with an admin, invite codes and
// membership certificates (docs/membership.md). Each mesh the node is in is an instance directory under
// <home>/meshes/ (mesh_home.h) that `weft up` runs.
#include <arpa/inet.h>
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert.h"
#include "commands.h"
#include "hub_proto.h"
#include "identity.h"
#include "invite.h"
#include "json.h"
#include "mesh_home.h"
#include "store.h"

#define HUB_CALL_TIMEOUT_MS 5000
#define JOIN_TIMEOUT_MS 15000       // the hub gives an admin 10 s to sign

static void mesh_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh COMMAND [options]   (weft mesh COMMAND --help for each)\n"
            "Meshes with an admin: members join with an invite code and hold a certificate the admin signed.\n"
            "A node can be in several meshes at once, one TUN device each (<home>/meshes/NAME/).\n\n"
            "commands:\n"
            "  create   create a mesh on a hub; this node becomes its admin\n"
            "  invite   print an invite code for the mesh (admin only)\n"
            "  join     join a mesh with an invite code\n"
            "  kick     remove a member; every member cuts it off at once (admin only)\n"
            "  list     the meshes this node is in\n"
            "  leave    leave a mesh and remove it from this node\n");
}

// ---- shared helpers ----

static uint64_t now_s(void)
{
    return (uint64_t)(zclock_time() / 1000);
}

static bool is_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
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

// Writes the instance <home>/meshes/<local>/: weft.yaml and member.cert. Removes it again on failure.
static int write_instance(const char *home, const char *local, const char *node_name, const uint8_t mesh_id[16],
                          const uint8_t admin_key[32], const char *address, int prefix, const char *psk_hex,
                          const char *hub_endpoint, const char *hub_key, const cert_t *cert, char *err,
                          size_t err_len)
{
    char meshes[PATH_MAX], dir[PATH_MAX];
    snprintf(meshes, sizeof meshes, "%s/meshes", home);
    mkdir(meshes, 0700);
    mesh_home_instance(home, local, dir, sizeof dir);
    weft_config_t cfg;
    config_defaults(&cfg, dir);
    if (strlen(cfg.run_dir) + 20 > 107) {
        snprintf(err, err_len, "home path too long for unix sockets under %s; use a shorter --home", dir);
        return -1;
    }
    char device[16];
    mesh_home_free_device(home, device, sizeof device);
    if (mkdir(dir, 0700) != 0) {
        snprintf(err, err_len, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(cfg.identity_file, sizeof cfg.identity_file, "%s/identity.key", home);
    if (node_name && node_name[0])
        snprintf(cfg.name, sizeof cfg.name, "%s", node_name);
    snprintf(cfg.mesh, sizeof cfg.mesh, "%s", local);
    mesh_id_to_hex(mesh_id, cfg.mesh_id);
    id_to_hex(admin_key, cfg.mesh_admin_key);
    snprintf(cfg.overlay_addr, sizeof cfg.overlay_addr, "%s", address);
    cfg.overlay_prefix = prefix;
    snprintf(cfg.network_key, sizeof cfg.network_key, "%s", psk_hex ? psk_hex : "");
    snprintf(cfg.hub_endpoint, sizeof cfg.hub_endpoint, "%s", hub_endpoint);
    snprintf(cfg.hub_public_key, sizeof cfg.hub_public_key, "%s", hub_key);
    snprintf(cfg.device_name, sizeof cfg.device_name, "%s", device);
    // each instance's HTTP API on its own port: weftK -> 127.0.0.1:7401+K (the legacy home's weft0 keeps 7401)
    int device_index = atoi(device + 4);
    if (strcmp(cfg.api_listen, "off") != 0)
        snprintf(cfg.api_listen, sizeof cfg.api_listen, "127.0.0.1:%d", 7401 + device_index);
    if (config_save(&cfg, cfg.config_file) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", cfg.config_file, strerror(errno));
        mesh_home_remove_tree(dir);
        return -1;
    }
    char cert_err[200];
    if (cert_save(cfg.certificate_file, cert, cert_err, sizeof cert_err) != 0) {
        snprintf(err, err_len, "%s", cert_err);
        mesh_home_remove_tree(dir);
        return -1;
    }
    // a check that what we wrote reads back (the same parser `weft up` uses)
    weft_config_t back;
    if (config_load(&back, dir, cert_err, sizeof cert_err) != 0) {
        snprintf(err, err_len, "the instance's weft.yaml does not load back: %s", cert_err);
        mesh_home_remove_tree(dir);
        return -1;
    }
    return 0;
}

// The name of a mesh of this node whose overlay network overlaps network/prefix (their routes would
// collide on this node), or NULL.
static const char *overlapping_mesh(const char *home, uint32_t network, int prefix)
{
    static mesh_local_name_t names[MESH_HOME_MAX];
    int n = mesh_home_list(home, names, MESH_HOME_MAX);
    for (int i = 0; i < n; i++) {
        char dir[PATH_MAX], err[256];
        weft_config_t cfg;
        struct in_addr a;
        mesh_home_instance(home, names[i], dir, sizeof dir);
        if (config_load(&cfg, dir, err, sizeof err) != 0 || inet_pton(AF_INET, cfg.overlay_addr, &a) != 1)
            continue;
        int shorter = cfg.overlay_prefix < prefix ? cfg.overlay_prefix : prefix;
        uint32_t mask = shorter ? 0xffffffffu << (32 - shorter) : 0;
        if ((ntohl(a.s_addr) & mask) == (network & mask))
            return names[i];
    }
    return NULL;
}

static const char *instance_exists(const char *home, const char *local)
{
    static char dir[PATH_MAX];
    mesh_home_instance(home, local, dir, sizeof dir);
    return access(dir, F_OK) == 0 ? dir : NULL;
}

int mesh_op_create(const char *home_opt, const char *name, const char *cidr, const char *hub, const char *hub_key,
                   bool psk, uint32_t ttl_s, const char *node_name, const char *cmd)
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
        fprintf(stderr, "weft %s: --hub-key KEY (or WEFT_HUB_KEY) is required: the 40 characters `weft hub key` "
                        "prints on the hub\n", cmd);
        return EXIT_USAGE;
    }
    if (hub_endpoint_normalise(hub, endpoint, sizeof endpoint, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        return EXIT_USAGE;
    }
    if (instance_exists(home, name)) {
        fprintf(stderr, "weft %s: this node already has a mesh named '%s' (%s); pick another name\n", cmd, name,
                instance_exists(home, name));
        return EXIT_FAIL;
    }
    const char *overlap = overlapping_mesh(home, network, prefix);
    if (overlap) {
        int free_b = 101;
        while (free_b < 255 && overlapping_mesh(home, (10u << 24) | ((uint32_t)free_b << 16), 16))
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
    hub_client_t *client = hub_client_new(endpoint, hub_key, &id, err, sizeof err);
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
    if (write_instance(home, name, node_name, mc->mesh_id.data, id.public_key, mc->address, (int)mc->prefix, psk_hex,
                       endpoint, hub_key, &cert, err, sizeof err) != 0) {
        fprintf(stderr, "weft %s: %s\n", cmd, err);
        goto done;
    }
    char id_hex[MESH_ID_HEX_LEN];
    mesh_id_to_hex(mc->mesh_id.data, id_hex);
    FILE *out = ttl_s ? stderr : stdout;  // `weft room open` prints only the invite code on stdout
    fprintf(out, "created %s %s (id %s) on %s\n  network  %s%s\n  this node %s/%u (admin)\n", ttl_s ? "room" : "mesh",
            name, id_hex, endpoint, mc->cidr, psk ? ", with a network key" : "", mc->address, mc->prefix);
    if (mc->expires)
        fprintf(out, "  a room: it expires by itself in %u s\n", ttl_s);
    if (!ttl_s)
        printf("Next: weft up%s%s, then `weft mesh invite --mesh %s` for each new member\n", home_opt ? " --home " : "",
           home_opt ? home_opt : "", name);
    sodium_memzero(psk_hex, sizeof psk_hex);
    rc = EXIT_OK;
done:
    identity_wipe(&id);
    weft__hub_reply__free_unpacked(reply, NULL);
    return rc;
}

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
    hub_client_t *client = hub_client_new(cfg->hub_endpoint, cfg->hub_public_key, id, err, sizeof err);
    Weft__HubReply *reply = client ? hub_client_call(client, req, timeout_ms, err, sizeof err) : NULL;
    hub_client_destroy(&client);
    if (!reply)
        fprintf(stderr, "weft %s: %s\n", cmd, err);
    return reply;
}

int mesh_op_invite(const char *home_opt, const char *mesh, uint64_t valid_s, unsigned uses, const char *cmd)
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
    if (strlen(cfg.hub_public_key) != 40 || !zmq_z85_decode(inv.hub_key, cfg.hub_public_key)) {
        identity_wipe(&id);
        fprintf(stderr, "weft %s: hub.public_key in %s is not a 40-character key\n", cmd, cfg.config_file);
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
    printf("%s\n", code);
    return EXIT_OK;
}

// ---- create ----

static void create_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh create --name NAME --hub HOST:PORT --hub-key KEY [--cidr CIDR] [--no-psk] [options]\n"
            "Creates a mesh on the hub; this node becomes its admin (it signs members' certificates, so keep it\n"
            "up while people join). Writes <home>/meshes/NAME/ and this node's certificate; `weft up` starts it.\n\n"
            "  --name NAME         the mesh's name, 1..63 of A-Z a-z 0-9 . _ -\n"
            "  --hub HOST:PORT     the hub (also tcp://HOST:PORT)\n"
            "  --hub-key KEY       the hub's public key, 40 characters (`weft hub key`); or set WEFT_HUB_KEY\n"
            "  --cidr CIDR         the overlay network (default 10.100.0.0/16); the admin gets its first address.\n"
            "                      It must not overlap another mesh of this node (their routes would collide)\n"
            "  --no-psk            no network key (by default the mesh also gets a random one, sealed to each\n"
            "                      joiner, so a stranger needs both a certificate and the key); --psk: the default\n"
            "  --node-name NAME    this node's name in the mesh (default: the hostname)\n"
            "  --home DIR          node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help          this help\n");
}

static int mesh_create(int argc, char **argv)
{
    static struct option options[] = {{"name", required_argument, 0, 'n'}, {"hub", required_argument, 0, 'u'},
                                      {"hub-key", required_argument, 0, 'k'}, {"cidr", required_argument, 0, 'c'},
                                      {"psk", no_argument, 0, 'p'},          {"node-name", required_argument, 0, 'N'},
                                      {"no-psk", no_argument, 0, 'P'},
                                      {"home", required_argument, 0, 'H'},   {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *name = NULL, *hub = NULL, *hub_key = getenv("WEFT_HUB_KEY"), *cidr = "10.100.0.0/16",
               *node_name = NULL, *home = NULL;
    bool psk = true;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': name = optarg; break;
        case 'u': hub = optarg; break;
        case 'k': hub_key = optarg; break;
        case 'c': cidr = optarg; break;
        case 'p': psk = true; break;
        case 'P': psk = false; break;
        case 'N': node_name = optarg; break;
        case 'H': home = optarg; break;
        case 'h': create_usage(stdout); return EXIT_OK;
        default: create_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc || !name) {
        fprintf(stderr, optind < argc ? "weft mesh create: unexpected argument '%s'\n"
                                      : "weft mesh create: --name NAME is required\n", argv[optind]);
        create_usage(stderr);
        return EXIT_USAGE;
    }
    if (node_name && !hub_valid_name(node_name)) {
        fprintf(stderr, "weft mesh create: --node-name must be at most 63 printable characters\n");
        return EXIT_USAGE;
    }
    return mesh_op_create(home, name, cidr, hub, hub_key, psk, 0, node_name, "mesh create");
}

// ---- invite ----

static void invite_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh invite [--mesh NAME] [--hours H | --seconds S] [--uses N] [--home DIR]\n"
            "Prints an invite code (one line, on stdout) for the mesh. Only its admin can invite; the code is\n"
            "signed by this node and registered with the hub, which counts its uses.\n\n"
            "  --mesh NAME     which mesh (default: the only one)\n"
            "  --hours H       how long the code is valid (default 24, at most 720)\n"
            "  --seconds S     the same in seconds, for short-lived codes\n"
            "  --uses N        how many members may join with it (default 1, at most 1000)\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int mesh_invite(int argc, char **argv)
{
    static struct option options[] = {{"mesh", required_argument, 0, 'm'}, {"hours", required_argument, 0, 'o'},
                                      {"uses", required_argument, 0, 'u'}, {"home", required_argument, 0, 'H'},
                                      {"seconds", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *mesh = NULL, *home = NULL;
    unsigned long hours = 24, uses = 1, seconds = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mesh = optarg; break;
        case 'o':
            if (parse_uint(optarg, 1, 720, &hours) != 0) {
                fprintf(stderr, "weft mesh invite: --hours must be a whole number of hours, 1..720\n");
                return EXIT_USAGE;
            }
            break;
        case 'u':
            if (parse_uint(optarg, 1, 1000, &uses) != 0) {
                fprintf(stderr, "weft mesh invite: --uses must be 1..1000\n");
                return EXIT_USAGE;
            }
            break;
        case 's':
            if (parse_uint(optarg, 1, 720 * 3600, &seconds) != 0) {
                fprintf(stderr, "weft mesh invite: --seconds must be 1..2592000\n");
                return EXIT_USAGE;
            }
            break;
        case 'H': home = optarg; break;
        case 'h': invite_usage(stdout); return EXIT_OK;
        default: invite_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft mesh invite: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    uint64_t valid_s = seconds ? seconds : hours * 3600;
    return mesh_op_invite(home, mesh, valid_s, (unsigned)uses, "mesh invite");
}

// ---- join ----

static void join_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh join CODE [--as NAME] [--node-name NAME] [--home DIR]\n"
            "Joins a mesh with an invite code from its admin (`weft mesh invite`). The code is checked here first\n"
            "(typos, signature, expiry), then the hub checks its uses and the admin's node signs this node's\n"
            "certificate. Writes <home>/meshes/NAME/; `weft up` starts it.\n\n"
            "  CODE                the invite code, weft1-...\n"
            "  --as NAME           the local name for the mesh (default: the mesh's own name)\n"
            "  --node-name NAME    this node's name in the mesh (default: the hostname)\n"
            "  --home DIR          node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help          this help\n");
}

static int mesh_join(int argc, char **argv)
{
    static struct option options[] = {{"as", required_argument, 0, 'a'}, {"node-name", required_argument, 0, 'N'},
                                      {"home", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *local = NULL, *node_name = NULL, *home_opt = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': local = optarg; break;
        case 'N': node_name = optarg; break;
        case 'H': home_opt = optarg; break;
        case 'h': join_usage(stdout); return EXIT_OK;
        default: join_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "weft mesh join: give exactly one invite code\n");
        join_usage(stderr);
        return EXIT_USAGE;
    }
    const char *code = argv[optind];
    char err[512], home[PATH_MAX];
    invite_t inv;
    if (invite_decode(code, &inv, err, sizeof err) != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    if (invite_check_expiry(&inv, now_s(), err, sizeof err) != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    if (!local)
        local = inv.mesh_name;
    if (!hub_valid_mesh(local)) {
        fprintf(stderr, "weft mesh join: '%s' cannot be a local mesh name; choose one with --as NAME\n", local);
        return EXIT_USAGE;
    }
    if (node_name && !hub_valid_name(node_name)) {
        fprintf(stderr, "weft mesh join: --node-name must be at most 63 printable characters\n");
        return EXIT_USAGE;
    }
    config_resolve_home(home_opt, home, sizeof home);
    if (instance_exists(home, local)) {
        fprintf(stderr, "weft mesh join: this node already has a mesh named '%s'; use --as NAME for another name "
                        "(or `weft mesh leave %s`)\n", local, local);
        return EXIT_FAIL;
    }
    char expires_in[32], hub_key[41];
    invite_format_duration(inv.expires - now_s(), expires_in, sizeof expires_in);
    fprintf(stderr, "invite ok: mesh %s, signed by its admin, valid for %s more\n", inv.mesh_name, expires_in);
    zmq_z85_encode(hub_key, inv.hub_key, 32);
    identity_t id;
    if (mesh_home_identity(home, &id, err, sizeof err) != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    weft_config_t defaults;
    config_defaults(&defaults, home);
    uint8_t packed[INVITE_MAX_BYTES];
    int packed_len = invite_pack(&inv, packed, sizeof packed, err, sizeof err);
    if (packed_len < 0) {
        identity_wipe(&id);
        fprintf(stderr, "weft mesh join: %s\n", err);
        return EXIT_FAIL;
    }
    Weft__Join join = WEFT__JOIN__INIT;
    join.invite.data = packed;
    join.invite.len = (size_t)packed_len;
    join.name = (char *)(node_name ? node_name : defaults.name);
    join.key.data = id.public_key;
    join.key.len = 32;
    uint8_t joiner_sig[INVITE_JOIN_SIG_LEN];
    invite_join_sign(&id, inv.mesh_id, inv.nonce, joiner_sig);
    join.joiner_sig.data = joiner_sig;
    join.joiner_sig.len = sizeof joiner_sig;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_JOIN;
    req.join = &join;
    Weft__HubReply *reply = NULL;
    for (int h = 0; h < inv.hub_count && !reply; h++) {
        fprintf(stderr, "asking the hub at %s; the admin's node signs this node's certificate...\n", inv.hubs[h]);
        hub_client_t *client = hub_client_new(inv.hubs[h], hub_key, &id, err, sizeof err);
        reply = client ? hub_client_call(client, &req, JOIN_TIMEOUT_MS, err, sizeof err) : NULL;
        hub_client_destroy(&client);
        if (!reply)
            fprintf(stderr, "weft mesh join: %s\n", err);
    }
    if (!reply) {
        identity_wipe(&id);
        return EXIT_FAIL;
    }
    int rc = EXIT_FAIL;
    if (reply->body_case != WEFT__HUB_REPLY__BODY_JOIN_REPLY) {
        rc = hub_refused("join", reply);
        goto done;
    }
    const Weft__JoinReply *jr = reply->join_reply;
    cert_t cert;
    struct in_addr addr;
    // the hub is trusted to route, not to grant: the certificate must be the admin's, for us, in this mesh
    if (jr->mesh_id.len != 16 || memcmp(jr->mesh_id.data, inv.mesh_id, 16) != 0 ||
        cert_decode(jr->cert.data, jr->cert.len, &cert, err, sizeof err) != 0 ||
        cert_check(&cert, inv.mesh_id, inv.admin_key, now_s(), err, sizeof err) != 0 ||
        memcmp(cert.member_key, id.public_key, 32) != 0 || inet_pton(AF_INET, jr->address, &addr) != 1 ||
        ntohl(addr.s_addr) != cert.address || jr->prefix != cert.prefix) {
        fprintf(stderr, "weft mesh join: the certificate the hub returned is not valid for this node (%s); nothing "
                        "was written\n", err[0] ? err : "mismatch");
        goto done;
    }
    char psk_hex[65] = "";
    if (jr->sealed_psk.len > 0) {
        uint8_t x_public[32], x_secret[32], psk[32];
        if (jr->sealed_psk.len != 32 + crypto_box_SEALBYTES || identity_x25519(&id, x_public, x_secret) != 0 ||
            crypto_box_seal_open(psk, jr->sealed_psk.data, jr->sealed_psk.len, x_public, x_secret) != 0) {
            sodium_memzero(x_secret, sizeof x_secret);
            fprintf(stderr, "weft mesh join: the network key from the admin does not open with this node's key\n");
            goto done;
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
                              ? overlapping_mesh(home, joined_net, joined_prefix) : NULL;
    if (overlap)
        fprintf(stderr, "warning: mesh %s uses %s, which overlaps this node's mesh %s: do not run both at once "
                        "(their routes collide)\n", local, jr->cidr, overlap);
    if (write_instance(home, local, node_name, inv.mesh_id, inv.admin_key, jr->address, (int)jr->prefix, psk_hex,
                       inv.hubs[0], hub_key, &cert, err, sizeof err) != 0) {
        fprintf(stderr, "weft mesh join: %s\n", err);
        goto done;
    }
    sodium_memzero(psk_hex, sizeof psk_hex);
    printf("joined mesh %s as %s/%u%s\nNext: weft up%s%s\n", local, jr->address, jr->prefix,
           jr->sealed_psk.len ? " (with its network key)" : "", home_opt ? " --home " : "", home_opt ? home_opt : "");
    rc = EXIT_OK;
done:
    identity_wipe(&id);
    weft__hub_reply__free_unpacked(reply, NULL);
    return rc;
}

// ---- kick ----

static void kick_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh kick MEMBER [--mesh NAME] [--home DIR]\n"
            "Removes a member (admin only): this node signs a revocation, the hub drops the member and pushes the\n"
            "revocation to every member, whose nodes cut it off at once and refuse it from then on.\n\n"
            "  MEMBER          its node id (64 hex), fingerprint (xxxx-xxxx-xxxx-xxxx) or name; fingerprints and\n"
            "                  names are looked up in the running node's member list (`weft peers`)\n"
            "  --mesh NAME     which mesh (default: the only one)\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

int mesh_resolve_member(const weft_config_t *cfg, const char *member, uint8_t key[32], char *err, size_t err_len)
{
    if (strlen(member) == 64 && id_from_hex(member, key) == 0)
        return 0;
    char url[CONFIG_STR + PATH_MAX], store_err[256];
    config_redis_url(cfg, url, sizeof url);
    store_t *store = store_connect(url, store_err, sizeof store_err);
    Weft__PeerList *list = store ? store_load_peers(store) : NULL;
    store_destroy(&store);
    if (!list) {
        snprintf(err, err_len, "cannot look up '%s': the node's member list is not available (is it up?); give the "
                               "member's 64-character node id instead", member);
        return -1;
    }
    int found = 0;
    for (size_t i = 0; i < list->n_peers; i++) {
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
    weft__peer_list__free_unpacked(list, NULL);
    if (found == 1)
        return 0;
    snprintf(err, err_len, found ? "'%s' names %d members: give the fingerprint or node id instead"
                                 : "no member '%s' in the node's member list (`weft peers` shows them)",
             member, found);
    return -1;
}

static int mesh_kick(int argc, char **argv)
{
    static struct option options[] = {{"mesh", required_argument, 0, 'm'}, {"home", required_argument, 0, 'H'},
                                      {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    const char *mesh = NULL, *home_opt = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mesh = optarg; break;
        case 'H': home_opt = optarg; break;
        case 'h': kick_usage(stdout); return EXIT_OK;
        default: kick_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "weft mesh kick: name exactly one MEMBER\n");
        kick_usage(stderr);
        return EXIT_USAGE;
    }
    char home[PATH_MAX], err[512];
    weft_config_t cfg;
    identity_t id;
    if (load_instance(home_opt, mesh, "mesh kick", home, sizeof home, &cfg) != 0 ||
        load_admin(&cfg, "mesh kick", &id) != 0)
        return EXIT_FAIL;
    revocation_t rev = {0};
    if (mesh_resolve_member(&cfg, argv[optind], rev.member_key, err, sizeof err) != 0) {
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
    if (reply->body_case == WEFT__HUB_REPLY__BODY_DONE)
        printf("%s\n", reply->done->message);
    else
        rc = hub_refused("kick", reply);
    weft__hub_reply__free_unpacked(reply, NULL);
    return rc;
}

// ---- list ----

static void list_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh list [--json] [--home DIR]\n"
            "The meshes this node is in: local name, mesh id, this node's address, role (admin, member, legacy),\n"
            "TUN device, whether it runs, when a room ends (ENDS; JSON expires, unix s, 0 never), and its hub.\n\n"
            "  --json          one JSON array\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

static int mesh_list(int argc, char **argv)
{
    static struct option options[] = {{"json", no_argument, 0, 'j'}, {"home", required_argument, 0, 'H'},
                                      {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *home_opt = NULL;
    bool as_json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': as_json = true; break;
        case 'H': home_opt = optarg; break;
        case 'h': list_usage(stdout); return EXIT_OK;
        default: list_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft mesh list: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    char home[PATH_MAX];
    config_resolve_home(home_opt, home, sizeof home);
    mesh_local_name_t names[MESH_HOME_MAX];
    int n = mesh_home_list(home, names, MESH_HOME_MAX);
    char legacy_yaml[PATH_MAX + 16];
    snprintf(legacy_yaml, sizeof legacy_yaml, "%s/weft.yaml", home);
    bool legacy = access(legacy_yaml, F_OK) == 0;
    char my_hex[ID_HEX_LEN] = "";
    identity_t id;
    char err[512], id_path[PATH_MAX + 16];
    snprintf(id_path, sizeof id_path, "%s/identity.key", home);
    if (identity_load(id_path, &id, err, sizeof err) == 0) {
        id_to_hex(id.public_key, my_hex);
        identity_wipe(&id);
    }
    json_t j;
    if (as_json) {
        json_init(&j, stdout);
        json_array_begin(&j, NULL);
    } else if (n == 0 && !legacy) {
        printf("this node is in no mesh: `weft mesh create` or `weft mesh join CODE`\n");
        return EXIT_OK;
    } else {
        printf("%-20s %-32s %-18s %-7s %-7s %-3s %-8s %s\n", "MESH", "ID", "ADDRESS", "ROLE", "DEVICE", "UP", "ENDS",
               "HUB");
    }
    for (int i = -1; i < n; i++) {
        char dir[PATH_MAX];
        if (i < 0 && !legacy)
            continue;
        if (i < 0)
            snprintf(dir, sizeof dir, "%s", home);
        else
            mesh_home_instance(home, names[i], dir, sizeof dir);
        weft_config_t cfg;
        if (config_load(&cfg, dir, err, sizeof err) != 0) {
            fprintf(stderr, "weft mesh list: %s\n", err);
            continue;
        }
        char pid_file[PATH_MAX + 16], address[80];
        snprintf(pid_file, sizeof pid_file, "%s/weft.pid", cfg.run_dir);
        bool up = running_pid(pid_file) != 0;
        snprintf(address, sizeof address, "%s/%d", cfg.overlay_addr, cfg.overlay_prefix);
        const char *role = !cfg.mesh_id[0] ? "legacy" : strcmp(cfg.mesh_admin_key, my_hex) == 0 ? "admin" : "member";
        const char *local = i < 0 ? "(this home)" : names[i];
        // a room's end is its certificates' expiry
        cert_t cert;
        uint64_t expires = cfg.mesh_id[0] && cert_load(cfg.certificate_file, &cert, err, sizeof err) == 0 ? cert.expires
                                                                                                         : 0;
        char ends[40] = "-";
        if (expires && expires <= now_s())
            snprintf(ends, sizeof ends, "expired");
        else if (expires)
            invite_format_duration(expires - now_s(), ends, sizeof ends);
        if (as_json) {
            json_object_begin(&j, NULL);
            json_string(&j, "name", local);
            json_string(&j, "mesh", cfg.mesh);
            json_string(&j, "id", cfg.mesh_id);
            json_string(&j, "address", address);
            json_string(&j, "role", role);
            json_string(&j, "device", cfg.device_name);
            json_bool(&j, "running", up);
            json_string(&j, "hub", cfg.hub_endpoint);
            json_string(&j, "home", cfg.home);
            json_uint(&j, "expires", expires);
            json_object_end(&j);
        } else {
            printf("%-20s %-32s %-18s %-7s %-7s %-3s %-8s %s\n", local, cfg.mesh_id[0] ? cfg.mesh_id : "-", address,
                   role, cfg.device_name, up ? "yes" : "no", ends, cfg.hub_endpoint);
        }
    }
    if (as_json) {
        json_array_end(&j);
        json_finish(&j);
    }
    return EXIT_OK;
}

// ---- leave ----

static void leave_usage(FILE *out)
{
    fprintf(out,
            "usage: weft mesh leave NAME [--force] [--home DIR]\n"
            "Leaves mesh NAME for good: stops it if it runs, tells the hub (which frees this node's address and\n"
            "tells the other members) and removes <home>/meshes/NAME/.\n\n"
            "  --force         remove it locally even if the hub cannot be told (unreachable, or this node is\n"
            "                  the admin: the mesh then has nobody to sign certificates)\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n");
}

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

static int mesh_leave(int argc, char **argv)
{
    static struct option options[] = {{"force", no_argument, 0, 'f'}, {"home", required_argument, 0, 'H'},
                                      {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *home_opt = NULL;
    bool force = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': force = true; break;
        case 'H': home_opt = optarg; break;
        case 'h': leave_usage(stdout); return EXIT_OK;
        default: leave_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "weft mesh leave: name exactly one mesh (`weft mesh list` shows them)\n");
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    char home[PATH_MAX], err[512];
    config_resolve_home(home_opt, home, sizeof home);
    if (!hub_valid_mesh(name) || !instance_exists(home, name)) {
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

int cmd_mesh(int argc, char **argv)
{
    if (argc < 2) {
        mesh_usage(stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        mesh_usage(stdout);
        return EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
        void (*usage)(FILE *);
    } subs[] = {{"create", mesh_create, create_usage}, {"invite", mesh_invite, invite_usage},
                {"join", mesh_join, join_usage},       {"kick", mesh_kick, kick_usage},
                {"list", mesh_list, list_usage},       {"leave", mesh_leave, leave_usage}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(sub, subs[i].name) == 0) {
            if (is_help(argc - 1, argv + 1)) {
                subs[i].usage(stdout);
                return EXIT_OK;
            }
            return subs[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "weft mesh: unknown command '%s'\n\n", sub);
    mesh_usage(stderr);
    return EXIT_USAGE;
}
