// mesh_home.c — see mesh_home.h.
#define _XOPEN_SOURCE 700
#include "mesh_home.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
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

// ---- writing an instance ----

int mesh_home_write_instance(const char *home, const char *local, const char *node_name, const uint8_t mesh_id[16],
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
    // each instance's HTTP API on its own port: weft0 -> 127.0.0.1:7401, weftK -> 7402+K (7402 is the hub
    // API's default: a node that also runs a hub must not take it)
    int device_index = atoi(device + 4);
    if (strcmp(cfg.api_listen, "off") != 0)
        snprintf(cfg.api_listen, sizeof cfg.api_listen, "127.0.0.1:%d", device_index == 0 ? 7401 : 7402 + device_index);
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

const char *mesh_home_overlap(const char *home, uint32_t network, int prefix)
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

const char *mesh_home_exists(const char *home, const char *local)
{
    static char dir[PATH_MAX];
    mesh_home_instance(home, local, dir, sizeof dir);
    return access(dir, F_OK) == 0 ? dir : NULL;
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
            bool running = running_pid(pid_file) != 0;
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
            rc = 0;  // already in the state asked for
        }
    }
    free(args);
    return rc;
}
