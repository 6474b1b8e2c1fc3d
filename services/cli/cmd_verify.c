// cmd_verify.c — `weft verify MEMBER`: the short authentication string of this node and a member (sas.h),
// for two people to compare out of band; once they match, the member is marked verified: a line in
// <home>/verified (what survives; discovery copies it into Redis at start and after a Redis restart) and
// the set weft:verified in the node's Redis, which `weft peers` reads.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "commands.h"
#include "identity.h"
#include "json.h"
#include "mesh_home.h"
#include "mesh_ops.h"
#include "sas.h"
#include "store.h"

static void verify_usage(FILE *out)
{
    fprintf(out,
            "usage: weft verify MEMBER [--mesh NAME] [--yes] [--json] [--home DIR]\n"
            "Shows the short authentication string (6 digits) of this node and MEMBER. Run it on both nodes and\n"
            "compare the digits out of band (a call, in person): the same digits mean each node sees the other's\n"
            "real key. Then confirm, and MEMBER shows as verified in `weft peers`.\n\n"
            "  MEMBER          its node id (64 hex), fingerprint or name (from `weft peers`)\n"
            "  --mesh NAME     which mesh (default: the only one)\n"
            "  --yes           the digits match: mark MEMBER verified without asking\n"
            "  --json          {\"member\",\"id\",\"fingerprint\",\"sas\",\"verified\"} on stdout instead of the digits\n"
            "  --home DIR      node home (default $WEFT_HOME, else ~/.weft)\n"
            "  -h, --help      this help\n"
            "Without --yes it asks on a terminal; otherwise it only prints the digits.\n");
}

// Appends hex to <dir>/verified (0600, one id a line) unless it is there. Returns 0, or -1 with err filled.
static int remember_verified(const char *dir, const char *hex, char *err, size_t err_len)
{
    char path[PATH_MAX + 16], line[128];
    snprintf(path, sizeof path, "%s/verified", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "a+") : NULL;
    if (!f) {
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, hex) == 0) {
            fclose(f);
            return 0;
        }
    }
    bool ok = fprintf(f, "%s\n", hex) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (!ok)
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
    if (fclose(f) != 0 && ok) {
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        ok = false;
    }
    return ok ? 0 : -1;
}

// The result for scripts (as_json): one object on stdout. Returns EXIT_OK.
static int print_json(bool as_json, const char *member, const char *hex, const char *fp, const char *sas,
                      bool verified)
{
    if (!as_json)
        return EXIT_OK;
    json_t j;
    json_init(&j, stdout);
    json_object_begin(&j, NULL);
    json_string(&j, "member", member);
    json_string(&j, "id", hex);
    json_string(&j, "fingerprint", fp);
    json_string(&j, "sas", sas);
    json_bool(&j, "verified", verified);
    json_object_end(&j);
    json_finish(&j);
    return EXIT_OK;
}

int cmd_verify(int argc, char **argv)
{
    static struct option options[] = {{"mesh", required_argument, 0, 'm'}, {"yes", no_argument, 0, 'y'},
                                      {"home", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'},
                                      {"json", no_argument, 0, 'j'},       {0, 0, 0, 0}};
    const char *mesh = NULL, *home_opt = NULL;
    bool yes = false, as_json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hy", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mesh = optarg; break;
        case 'y': yes = true; break;
        case 'j': as_json = true; break;
        case 'H': home_opt = optarg; break;
        case 'h': verify_usage(stdout); return EXIT_OK;
        default: verify_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "weft verify: name exactly one MEMBER\n");
        verify_usage(stderr);
        return EXIT_USAGE;
    }
    char home[PATH_MAX], dir[PATH_MAX], err[1200];
    config_resolve_home(home_opt, home, sizeof home);
    if (mesh_home_select(home, mesh, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "weft verify: %s\n", err);
        return EXIT_FAIL;
    }
    weft_config_t cfg;
    if (load_node_config(dir, &cfg) != 0)
        return EXIT_FAIL;
    identity_t id;
    if (identity_load(cfg.identity_file, &id, err, sizeof err) != 0) {
        fprintf(stderr, "weft verify: %s\n", err);
        return EXIT_FAIL;
    }
    uint8_t me[32], member[32], mesh_id[MESH_ID_LEN];
    memcpy(me, id.public_key, 32);
    identity_wipe(&id);
    if (mesh_resolve_member(&cfg, argv[optind], member, err, sizeof err) != 0) {
        fprintf(stderr, "weft verify: %s\n", err);
        return EXIT_FAIL;
    }
    if (memcmp(me, member, 32) == 0) {
        fprintf(stderr, "weft verify: that is this node itself; name another member\n");
        return EXIT_USAGE;
    }
    bool have_mesh_id = cfg.mesh_id[0] && mesh_id_from_hex(cfg.mesh_id, mesh_id) == 0;
    char sas[SAS_LEN], fp_me[FINGERPRINT_LEN], fp_member[FINGERPRINT_LEN], hex[ID_HEX_LEN];
    sas_compute(me, member, have_mesh_id ? mesh_id : NULL, sas);
    id_fingerprint(me, fp_me);
    id_fingerprint(member, fp_member);
    id_to_hex(member, hex);
    if (!as_json)
        printf("%s\n", sas);
    fprintf(stderr, "short authentication string of this node (%s) and %s (%s) in mesh %s.\n"
                    "On %s, `weft verify %s` must show the same digits.\n",
            fp_me, argv[optind], fp_member, cfg.mesh, argv[optind], fp_me);
    if (!yes && isatty(STDIN_FILENO)) {
        fprintf(stderr, "Do both sides show %s? [y/N] ", sas);
        char answer[16] = "";
        if (fgets(answer, sizeof answer, stdin))
            yes = answer[0] == 'y' || answer[0] == 'Y';
        if (!yes)
            fprintf(stderr, "not marked verified\n");
    }
    if (!yes)
        return print_json(as_json, argv[optind], hex, fp_member, sas, false);
    if (remember_verified(dir, hex, err, sizeof err) != 0) {
        fprintf(stderr, "weft verify: %s\n", err);
        return EXIT_FAIL;
    }
    char url[CONFIG_STR + PATH_MAX];
    config_redis_url(&cfg, url, sizeof url);
    store_t *store = store_connect(url, err, sizeof err);
    if (!store || store_exec(store, "SADD weft:verified %s", hex) != 0)   // the node's discovery copies it when up
        fprintf(stderr, "weft verify: the node's Redis does not answer (%s); `weft peers` shows it once the node is up\n",
                store ? "write failed" : err);
    store_destroy(&store);
    fprintf(stderr, "%s (%s) marked verified\n", argv[optind], fp_member);
    return print_json(as_json, argv[optind], hex, fp_member, sas, true);
}
