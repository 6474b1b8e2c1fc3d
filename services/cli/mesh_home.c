// mesh_home.c — see mesh_home.h.
#define _XOPEN_SOURCE 700
#include "mesh_home.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "hub_proto.h"

void mesh_home_instance(const char *home, const char *name, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/meshes/%s", home, name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int mesh_home_list(const char *home, mesh_local_name_t *names, int max)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/meshes", home);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.' || !hub_valid_mesh(e->d_name))
            continue;
        char yaml[PATH_MAX + 300];
        snprintf(yaml, sizeof yaml, "%s/%s/weft.yaml", dir, e->d_name);
        if (access(yaml, F_OK) == 0)
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    return n;
}

static void list_names(const mesh_local_name_t *names, int n, char *out, size_t out_len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used + 2 < out_len; i++)
        used += (size_t)snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", names[i]);
}

int mesh_home_select(const char *home, const char *mesh, char *out, size_t out_len, char *err, size_t err_len)
{
    mesh_local_name_t names[MESH_HOME_MAX];
    int n = mesh_home_list(home, names, MESH_HOME_MAX);
    char listed[1024];
    list_names(names, n, listed, sizeof listed);
    if (mesh) {
        if (!hub_valid_mesh(mesh)) {
            snprintf(err, err_len, "'%s' is not a mesh name (1..63 of A-Z a-z 0-9 . _ -)", mesh);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (strcmp(names[i], mesh) == 0) {
                mesh_home_instance(home, mesh, out, out_len);
                return 0;
            }
        }
        snprintf(err, err_len, "this node is not in a mesh named '%s' (its meshes: %s)", mesh, n ? listed : "none");
        return -1;
    }
    char yaml[PATH_MAX + 16];
    snprintf(yaml, sizeof yaml, "%s/weft.yaml", home);
    if (access(yaml, F_OK) == 0 || n == 0) {
        snprintf(out, out_len, "%s", home);  // legacy single-mesh home (or nothing yet: its own error later)
        return 0;
    }
    if (n == 1) {
        mesh_home_instance(home, names[0], out, out_len);
        return 0;
    }
    snprintf(err, err_len, "this node is in %d meshes (%s): choose one with --mesh NAME", n, listed);
    return -1;
}

void mesh_home_free_device(const char *home, char *out, size_t out_len)
{
    mesh_local_name_t names[MESH_HOME_MAX];
    int n = mesh_home_list(home, names, MESH_HOME_MAX);
    char used[MESH_HOME_MAX + 1][16];
    int used_n = 0;
    weft_config_t cfg;
    char err[256], dir[PATH_MAX];
    for (int i = 0; i <= n; i++) {
        if (i < n)
            mesh_home_instance(home, names[i], dir, sizeof dir);
        else
            snprintf(dir, sizeof dir, "%s", home);
        char yaml[PATH_MAX + 16];
        snprintf(yaml, sizeof yaml, "%s/weft.yaml", dir);
        if (access(yaml, F_OK) == 0 && config_load(&cfg, dir, err, sizeof err) == 0)
            snprintf(used[used_n++], sizeof used[0], "%s", cfg.device_name);
    }
    for (int k = 0;; k++) {
        snprintf(out, out_len, "weft%d", k);
        bool taken = false;
        for (int i = 0; i < used_n && !taken; i++)
            taken = strcmp(used[i], out) == 0;
        if (!taken)
            return;
    }
}

// mkdir -p, each new directory mode 0700
static int make_dirs(const char *path)
{
    char partial[PATH_MAX];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *slash = strchr(partial + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(partial, 0700) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    return mkdir(partial, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int mesh_home_identity(const char *home, identity_t *id, char *err, size_t err_len)
{
    char path[PATH_MAX + 16];
    if (make_dirs(home) != 0) {
        snprintf(err, err_len, "cannot create %s: %s", home, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/identity.key", home);
    if (access(path, F_OK) == 0)
        return identity_load(path, id, err, err_len);
    return identity_create(path, id, err, err_len);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

int mesh_home_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int hub_endpoint_normalise(const char *in, char *out, size_t out_len, char *err, size_t err_len)
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

struct hub_client {
    zsock_t *dealer;
    char endpoint[256];
};

hub_client_t *hub_client_new(const char *endpoint, const char *hub_key_z85, const identity_t *id, char *err,
                             size_t err_len)
{
    uint8_t decoded[32], x_public[32], x_secret[32];
    if (!hub_key_z85 || strlen(hub_key_z85) != 40 || !zmq_z85_decode(decoded, hub_key_z85)) {
        snprintf(err, err_len, "the hub key must be the 40-character key `weft hub key` prints");
        return NULL;
    }
    if (identity_x25519(id, x_public, x_secret) != 0) {
        snprintf(err, err_len, "cannot derive the CURVE key from the node identity");
        return NULL;
    }
    hub_client_t *self = calloc(1, sizeof *self);
    zcert_t *cert = zcert_new_from(x_public, x_secret);
    sodium_memzero(x_secret, sizeof x_secret);
    if (!self || !cert || !(self->dealer = zsock_new(ZMQ_DEALER))) {
        snprintf(err, err_len, "cannot create the hub socket");
        zcert_destroy(&cert);
        hub_client_destroy(&self);
        return NULL;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    zsock_set_linger(self->dealer, 200);
    zsock_set_maxmsgsize(self->dealer, 1 << 20);
    zcert_apply(cert, self->dealer);
    zcert_destroy(&cert);
    zsock_set_curve_serverkey(self->dealer, hub_key_z85);
    if (zsock_connect(self->dealer, "%s", endpoint) != 0) {
        snprintf(err, err_len, "cannot connect to the hub at '%s': %s", endpoint, zmq_strerror(zmq_errno()));
        hub_client_destroy(&self);
        return NULL;
    }
    return self;
}

void hub_client_destroy(hub_client_t **self)
{
    if (self && *self) {
        zsock_destroy(&(*self)->dealer);
        free(*self);
        *self = NULL;
    }
}

Weft__HubReply *hub_client_call(hub_client_t *self, const Weft__HubRequest *req, int timeout_ms, char *err,
                                size_t err_len)
{
    size_t size = weft__hub_request__get_packed_size(req);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    weft__hub_request__pack(req, buf);
    int rc = zmq_send(zsock_resolve(self->dealer), buf, size, 0);
    free(buf);
    if (rc < 0) {
        snprintf(err, err_len, "cannot send to the hub: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int64_t deadline = zclock_mono() + timeout_ms;
    while (zclock_mono() < deadline) {
        zpoller_t *poller = zpoller_new(self->dealer, NULL);
        void *which = zpoller_wait(poller, (int)(deadline - zclock_mono()));
        zpoller_destroy(&poller);
        if (!which)
            break;
        zframe_t *frame = zframe_recv(self->dealer);
        if (!frame)
            break;
        Weft__HubReply *reply = weft__hub_reply__unpack(NULL, zframe_size(frame), zframe_data(frame));
        zframe_destroy(&frame);
        if (!reply)
            continue;
        if (reply->body_case == WEFT__HUB_REPLY__BODY_PEERS || reply->body_case == WEFT__HUB_REPLY__BODY_SIGNAL ||
            reply->body_case == WEFT__HUB_REPLY__BODY__NOT_SET) {
            weft__hub_reply__free_unpacked(reply, NULL);  // not for us: keep waiting
            continue;
        }
        return reply;
    }
    snprintf(err, err_len,
             "no answer from the hub at %s within %d s: is it running and reachable, and is the hub key the "
             "one `weft hub key` prints there?",
             self->endpoint, timeout_ms / 1000);
    return NULL;
}

// ---- running a command on one mesh or on each ----

static bool takes_mesh(const char *cmd)
{
    static const char *const cmds[] = {"up", "down", "status", "peers", "id", "routes", "stats", NULL};
    for (int i = 0; cmds[i]; i++)
        if (strcmp(cmd, cmds[i]) == 0)
            return true;
    return false;
}

static bool running_pid_of(const char *pid_file)
{
    FILE *f = fopen(pid_file, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid > 0 && kill(pid, 0) == 0;
}

static bool runs_on_each(const char *cmd)
{
    return strcmp(cmd, "up") == 0 || strcmp(cmd, "down") == 0;
}

// Runs run(argc, argv) in a child process (commands may exit() or daemonize); returns its exit code.
static int run_child(int (*run)(int, char **), int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        _exit(run(argc, argv));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int mesh_home_dispatch(const char *cmd, int argc, char **argv, int (*run)(int, char **))
{
    if (!takes_mesh(cmd))
        return run(argc, argv);
    // pull --mesh out; note --home
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args)
        return 1;
    const char *mesh = NULL, *home_opt = NULL;
    bool foreground = false, help = false;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--mesh") == 0 && i + 1 < argc) {
            mesh = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--mesh=", 7) == 0) {
            mesh = argv[i] + 7;
            continue;
        }
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home_opt = argv[i + 1];
        else if (strncmp(argv[i], "--home=", 7) == 0)
            home_opt = argv[i] + 7;
        foreground |= strcmp(argv[i], "--foreground") == 0 || strcmp(argv[i], "-f") == 0;
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        args[n++] = argv[i];
    }
    char home[PATH_MAX], dir[PATH_MAX], err[1200], yaml[PATH_MAX + 16];
    config_resolve_home(home_opt, home, sizeof home);
    mesh_local_name_t names[MESH_HOME_MAX];
    int count = mesh_home_list(home, names, MESH_HOME_MAX);
    snprintf(yaml, sizeof yaml, "%s/weft.yaml", home);
    bool legacy = access(yaml, F_OK) == 0;
    int rc;
    if (help || (!mesh && count == 0)) {
        rc = run(n, args);  // a legacy home, or nothing yet: the command says what is missing
    } else if (mesh || count + legacy == 1 || !runs_on_each(cmd)) {
        if (mesh_home_select(home, mesh, dir, sizeof dir, err, sizeof err) != 0 && strcmp(cmd, "id") == 0 && !mesh)
            mesh_home_instance(home, names[0], dir, sizeof dir);  // one identity for every mesh
        else if (mesh_home_select(home, mesh, dir, sizeof dir, err, sizeof err) != 0) {
            fprintf(stderr, "weft %s: %s\n", cmd, err);
            free(args);
            return 2;
        }
        args[n++] = "--home";  // the last --home wins with getopt
        args[n++] = dir;
        rc = run(n, args);
    } else if (foreground) {
        fprintf(stderr, "weft %s: this node is in %d meshes; --foreground runs one: add --mesh NAME\n", cmd,
                count + legacy);
        rc = 2;
    } else {
        rc = 0;
        int acted = 0;
        args[n] = "--home";
        for (int i = legacy ? -1 : 0; i < count; i++) {
            if (i < 0)
                snprintf(dir, sizeof dir, "%s", home);
            else
                mesh_home_instance(home, names[i], dir, sizeof dir);
            args[n + 1] = dir;
            char pid_file[PATH_MAX + 32];
            snprintf(pid_file, sizeof pid_file, "%s/run/weft.pid", dir);
            bool running = access(pid_file, F_OK) == 0 && running_pid_of(pid_file);
            if (strcmp(cmd, "down") == 0 && !running)
                continue;  // stop what runs; a mesh that is down is no failure
            if (strcmp(cmd, "up") == 0 && running) {
                fprintf(stderr, "mesh %s: already running\n", i < 0 ? "(this home)" : names[i]);
                continue;
            }
            acted++;
            fprintf(stderr, "%s mesh %s\n", strcmp(cmd, "up") == 0 ? "starting" : "stopping",
                    i < 0 ? "(this home)" : names[i]);
            int one = run_child(run, n + 2, args);
            if (one != 0)
                rc = one;
        }
        if (acted == 0 && strcmp(cmd, "down") == 0) {
            fprintf(stderr, "weft down: none of this node's %d meshes is running\n", count + legacy);
            rc = 1;
        }
    }
    free(args);
    return rc;
}
