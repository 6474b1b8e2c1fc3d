// up_checks.c — see up_checks.h.
#include "up_checks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "commands.h"
#include "config_check.h"
#include "hub_client.h"
#include "identity.h"
#include "mesh_home.h"
#include "sockaddr_text.h"

#define CAP_NET_ADMIN_BIT 12  // linux/capability.h

// ---- the right to create the TUN device ----

// CAP_NET_ADMIN in this process's effective set (/proc/self/status CapEff); root has it unless a
// container took it away.
static bool have_net_admin(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return geteuid() == 0;
    char line[256];
    bool have = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "CapEff:", 7) == 0) {
            unsigned long long caps = strtoull(line + 7, NULL, 16);
            have = (caps >> CAP_NET_ADMIN_BIT) & 1;
            break;
        }
    }
    fclose(f);
    return have;
}

// A program given capabilities of its own (`setcap cap_net_admin+ep weft-device`) may create the device
// when we may not.
static bool has_file_caps(const char *program)
{
    char path[PATH_MAX];
    program_path(program, path, sizeof path);
    return getxattr(path, "security.capability", NULL, 0) > 0;
}

static int check_privilege(const weft_config_t *cfg, char *err, size_t err_len)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno != EACCES && errno != EPERM) {
        snprintf(err, err_len, "cannot open /dev/net/tun (%s): this machine or container has no TUN driver "
                 "(modprobe tun, or give the container --device /dev/net/tun)", strerror(errno));
        return -1;
    }
    if (fd >= 0)
        close(fd);
    if (have_net_admin() || has_file_caps("weft-device") || has_file_caps("weft-node"))
        return 0;
    snprintf(err, err_len, "creating the TUN device %s needs root or CAP_NET_ADMIN, and this is uid %d without "
             "it: run `sudo weft up`, or `sudo setcap cap_net_admin+ep` on weft-device (and weft-node)",
             cfg->device_name, (int)getuid());
    return -1;
}

// ---- the device's name ----

static int check_device_free(const weft_config_t *cfg, char *err, size_t err_len)
{
    if (if_nametoindex(cfg->device_name) == 0)
        return 0;
    snprintf(err, err_len, "a network interface named %s already exists (another weft node, or another "
             "program: `ip link show %s`); give this node another with device.name in %s",
             cfg->device_name, cfg->device_name, cfg->config_file);
    return -1;
}

// ---- the HTTP API's address ----

static int check_api_port(const weft_config_t *cfg, char *err, size_t err_len)
{
    if (!cfg->api_listen[0] || strcmp(cfg->api_listen, "off") == 0)
        return 0;
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    char why[256];
    if (sockaddr_parse(cfg->api_listen, true, &addr, &addr_len, why, sizeof why) != 0) {
        snprintf(err, err_len, "api.listen %s: %s", cfg->api_listen, why);
        return -1;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_len, "api.listen %s: cannot make a socket: %s", cfg->api_listen, strerror(errno));
        return -1;
    }
    int one = 1;  // as the API server binds: a port left in TIME_WAIT by our last run is free
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&addr, (socklen_t)addr_len);
    int bind_errno = errno;
    close(fd);
    if (rc == 0)
        return 0;
    if (bind_errno == EADDRINUSE)
        snprintf(err, err_len, "api.listen %s is already taken (another weft node or hub? `ss -ltnp`); set "
                 "api.listen in %s to a free port, or to off", cfg->api_listen, cfg->config_file);
    else
        snprintf(err, err_len, "api.listen %s cannot be bound: %s; set api.listen in %s", cfg->api_listen,
                 strerror(bind_errno), cfg->config_file);
    return -1;
}

// ---- the mesh's network ----

static uint32_t prefix_mask(int prefix)
{
    return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : 0xffffffffu << (32 - prefix);
}

// Two networks overlap when the shorter prefix's mask makes them equal.
static bool overlaps(uint32_t a, int a_prefix, uint32_t b, int b_prefix)
{
    uint32_t mask = prefix_mask(a_prefix < b_prefix ? a_prefix : b_prefix);
    return (a & mask) == (b & mask);
}

static void net_text(uint32_t network, int prefix, char *out, size_t out_len)
{
    struct in_addr a = {.s_addr = htonl(network & prefix_mask(prefix))};
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    snprintf(out, out_len, "%s/%d", ip, prefix);
}

// The home that holds this instance: <root>/meshes/<name> -> <root>; a legacy home is its own root.
static void home_root(const char *home, char *out, size_t out_len)
{
    char copy[PATH_MAX], parent[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", home);
    snprintf(parent, sizeof parent, "%s", dirname(copy));
    char base_copy[PATH_MAX];
    snprintf(base_copy, sizeof base_copy, "%s", parent);
    if (strcmp(basename(base_copy), "meshes") == 0)
        snprintf(out, out_len, "%s", dirname(parent));
    else
        snprintf(out, out_len, "%s", home);
}

// Another mesh of this home that runs now with an overlapping network.
static int check_home_meshes(const weft_config_t *cfg, uint32_t net, char *err, size_t err_len)
{
    char root[PATH_MAX], dir[PATH_MAX], pid_file[PATH_MAX + 32], why[256], self_real[PATH_MAX], real[PATH_MAX];
    home_root(cfg->home, root, sizeof root);
    if (!realpath(cfg->home, self_real))
        snprintf(self_real, sizeof self_real, "%s", cfg->home);
    mesh_local_name_t names[MESH_HOME_MAX];
    int n = mesh_home_list(root, names, MESH_HOME_MAX);
    for (int i = -1; i < n; i++) {  // -1: the legacy home itself
        if (i < 0)
            snprintf(dir, sizeof dir, "%s", root);
        else
            mesh_home_instance(root, names[i], dir, sizeof dir);
        snprintf(pid_file, sizeof pid_file, "%s/run/weft.pid", dir);
        if (!realpath(dir, real) || strcmp(real, self_real) == 0 || !running_pid(pid_file))
            continue;
        weft_config_t other;
        struct in_addr a;
        if (config_load(&other, dir, why, sizeof why) != 0 || inet_pton(AF_INET, other.overlay_addr, &a) != 1)
            continue;
        if (!overlaps(net, cfg->overlay_prefix, ntohl(a.s_addr), other.overlay_prefix))
            continue;
        char mine[32], theirs[32];
        net_text(net, cfg->overlay_prefix, mine, sizeof mine);
        net_text(ntohl(a.s_addr), other.overlay_prefix, theirs, sizeof theirs);
        snprintf(err, err_len, "this mesh's network %s overlaps %s of mesh '%s', running in this home on %s: "
                 "their routes would collide; stop it first (`weft down --mesh %s`)",
                 mine, theirs, i < 0 ? other.mesh : names[i], other.device_name, i < 0 ? other.mesh : names[i]);
        return -1;
    }
    return 0;
}

// The host's IPv4 routes (/proc/net/route, the main table): one inside the mesh's network is a collision
// (the same network twice, or a LAN whose hosts the mesh would hide); a broader one that also covers it
// is only noted, since the mesh's longer prefix wins.
static int check_routes(const weft_config_t *cfg, uint32_t net, char *err, size_t err_len, FILE *notes)
{
    FILE *f = fopen("/proc/net/route", "r");
    if (!f)
        return 0;
    char line[512], mine[32], theirs[32];
    net_text(net, cfg->overlay_prefix, mine, sizeof mine);
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char iface[IF_NAMESIZE + 1];
        unsigned dest, gateway, flags, refcnt, use, metric, mask;
        if (sscanf(line, "%16s %x %x %x %u %u %u %x", iface, &dest, &gateway, &flags, &refcnt, &use, &metric,
                   &mask) != 8 || mask == 0)
            continue;  // the header, or a default route
        uint32_t route_net = ntohl(dest), route_mask = ntohl(mask);
        int prefix = __builtin_popcount(route_mask);
        if (!overlaps(net, cfg->overlay_prefix, route_net, prefix))
            continue;
        net_text(route_net, prefix, theirs, sizeof theirs);
        if (prefix >= cfg->overlay_prefix) {
            snprintf(err, err_len, "this mesh's network %s overlaps the route to %s on %s already on this host: "
                     "choose another network for the mesh, or remove that route", mine, theirs, iface);
            rc = -1;
        } else if (notes) {
            fprintf(notes, "note: the route to %s on %s also covers this mesh's %s; the mesh's route is more "
                    "specific and takes that part of it\n", theirs, iface, mine);
        }
    }
    fclose(f);
    return rc;
}

// An address of this host inside the mesh's network (a /32 has no route of its own in the main table).
static int check_addresses(const weft_config_t *cfg, uint32_t net, char *err, size_t err_len)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return 0;
    int rc = 0;
    for (struct ifaddrs *a = list; a && rc == 0; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET)
            continue;
        uint32_t ip = ntohl(((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr);
        if (!overlaps(net, cfg->overlay_prefix, ip, 32))
            continue;
        char mine[32], text[INET_ADDRSTRLEN];
        net_text(net, cfg->overlay_prefix, mine, sizeof mine);
        inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, text, sizeof text);
        snprintf(err, err_len, "this host already has the address %s (on %s) inside this mesh's network %s: "
                 "choose another network for the mesh, or remove that address", text, a->ifa_name, mine);
        rc = -1;
    }
    freeifaddrs(list);
    return rc;
}

static int check_network(const weft_config_t *cfg, char *err, size_t err_len, FILE *notes)
{
    struct in_addr a;
    if (inet_pton(AF_INET, cfg->overlay_addr, &a) != 1) {
        snprintf(err, err_len, "mesh.address '%s' in %s is not an IPv4 address", cfg->overlay_addr, cfg->config_file);
        return -1;
    }
    uint32_t net = ntohl(a.s_addr) & prefix_mask(cfg->overlay_prefix);
    if (check_home_meshes(cfg, net, err, err_len) != 0 || check_routes(cfg, net, err, err_len, notes) != 0 ||
        check_addresses(cfg, net, err, err_len) != 0)
        return -1;
    return 0;
}

// ---- the hub ----

static int check_hub(const weft_config_t *cfg, char *err, size_t err_len)
{
    char why[256];
    if (!cfg->hub_endpoint[0])
        snprintf(err, err_len, "hub.endpoint in %s is empty: set it to the hub's tcp://HOST:7400",
                 cfg->config_file);
    else if (!cfg->hub_public_key[0])
        snprintf(err, err_len, "hub.public_key in %s is empty: set it to what `weft hub key` prints on the hub",
                 cfg->config_file);
    else if (config_check_curve_key(cfg->hub_public_key, why, sizeof why) != 0)
        snprintf(err, err_len, "hub.public_key in %s: %s", cfg->config_file, why);
    else
        return 0;
    return -1;
}

#define HUB_PROBE_MS 1500  // how long `weft up` watches the hub connection's first handshakes

// A hub that takes the TCP connection but closes the CURVE handshake has another key than hub.public_key.
// One that does not answer at all is no failure: the node starts and keeps trying (docs/operations.md).
// Watches the events of a hub connection made as discovery makes it, for at most HUB_PROBE_MS.
static int check_hub_answers(const weft_config_t *cfg, char *err, size_t err_len)
{
    identity_t id;
    char why[300], monitor[64];
    if (identity_load(cfg->identity_file, &id, why, sizeof why) != 0) {
        snprintf(err, err_len, "%s", why);
        return -1;
    }
    snprintf(monitor, sizeof monitor, "inproc://weft-up-hub-events-%d", (int)getpid());
    zsock_t *events = zsock_new(ZMQ_PAIR);
    if (!events || zsock_connect(events, "%s", monitor) != 0) {  // inproc: connecting before the bind is fine
        zsock_destroy(&events);
        identity_wipe(&id);
        return 0;
    }
    hub_client_opts_t opts = {.linger_ms = 0, .monitor = monitor};
    hub_client_t *hub = hub_client_new(cfg->hub_endpoint, cfg->hub_public_key, &id, &opts, why, sizeof why);
    identity_wipe(&id);
    if (!hub) {
        zsock_destroy(&events);
        snprintf(err, err_len, "hub.endpoint %s: %s", cfg->hub_endpoint, why);
        return -1;
    }
    int64_t deadline = zclock_mono() + HUB_PROBE_MS;
    int failed = 0;
    bool done = false;
    while (!done && failed < 2 && zclock_mono() < deadline) {
        zsock_set_rcvtimeo(events, (int)(deadline - zclock_mono()));
        zmsg_t *msg = zmsg_recv(events);
        zframe_t *head = msg ? zmsg_first(msg) : NULL;
        if (!head || zframe_size(head) < 2) {
            zmsg_destroy(&msg);
            break;
        }
        uint16_t event;
        memcpy(&event, zframe_data(head), 2);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            done = true;  // the key is right (a refusal at the door is the hub's limits, not a wrong key)
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            failed++;
        zmsg_destroy(&msg);
    }
    hub_client_destroy(&hub);
    zsock_destroy(&events);
    if (done || failed == 0)
        return 0;
    snprintf(err, err_len, "the hub at %s closes every CURVE handshake: hub.public_key in %s is not its key "
             "(`weft hub key` on the hub prints it)", cfg->hub_endpoint, cfg->config_file);
    return -1;
}

int up_checks_run(const weft_config_t *cfg, char *err, size_t err_len, FILE *notes)
{
    if (check_hub(cfg, err, err_len) != 0 || check_privilege(cfg, err, err_len) != 0 ||
        check_device_free(cfg, err, err_len) != 0 || check_api_port(cfg, err, err_len) != 0 ||
        check_network(cfg, err, err_len, notes) != 0 || check_hub_answers(cfg, err, err_len) != 0)
        return -1;
    return 0;
}
