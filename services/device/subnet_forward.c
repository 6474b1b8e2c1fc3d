// subnet_forward.c — see subnet_forward.h.
#define _GNU_SOURCE   // memfd_create, pipe2
#include "subnet_forward.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "route_table.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

struct subnet_forward {
    bool advertising;
    bool ok;
    bool table_made;
    char table[48];
    char note[300];
};

void subnet_forward_table_name(const char *ifname, char *out, size_t out_len)
{
    snprintf(out, out_len, "weft_%s", ifname);
    for (char *c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
            *c = '_';
}

int subnet_forward_ruleset(const char *table, const char *overlay_net, int overlay_prefix,
                           const char advertise[][CONFIG_STR], int n_advertise, char *out, size_t out_len)
{
    size_t n = (size_t)snprintf(out, out_len,
                                "table ip %s\ndelete table ip %s\ntable ip %s {\n"
                                "  chain postrouting {\n"
                                "    type nat hook postrouting priority 100; policy accept;\n"
                                "    ip saddr %s/%d ip daddr { ",
                                table, table, table, overlay_net, overlay_prefix);
    for (int i = 0; i < n_advertise && n < out_len; i++)
        n += (size_t)snprintf(out + n, out_len - n, "%s%s", i ? ", " : "", advertise[i]);
    if (n < out_len)
        n += (size_t)snprintf(out + n, out_len - n, " } masquerade\n  }\n}\n");
    return n < out_len ? 0 : -1;
}

// Runs `nft -f -` with script on its stdin (a memfd: nothing to write to a pipe that may close). 0, or -1 with
// err (nft's own message when it gave one).
static int run_nft(const char *script, char *err, size_t err_len)
{
    int in = memfd_create("weft-nft", MFD_CLOEXEC), errp[2] = {-1, -1};
    size_t len = strlen(script);
    if (in < 0 || write(in, script, len) != (ssize_t)len || lseek(in, 0, SEEK_SET) != 0 ||
        pipe2(errp, O_CLOEXEC) != 0) {
        snprintf(err, err_len, "cannot hand nft its ruleset: %s", strerror(errno));
        if (in >= 0)
            close(in);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {   // only async-signal-safe calls until exec
        dup2(in, 0);
        dup2(errp[1], 1);
        dup2(errp[1], 2);
        char *argv[] = {"nft", "-f", "-", NULL};
        execv("/usr/sbin/nft", argv);
        execvp("nft", argv);
        static const char msg[] = "cannot run nft (is nftables installed?)";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    close(in);
    close(errp[1]);
    if (pid < 0) {
        snprintf(err, err_len, "fork: %s", strerror(errno));
        close(errp[0]);
        return -1;
    }
    char out[400];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof out - 1 && ((r = read(errp[0], out + got, sizeof out - 1 - got)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            got += (size_t)r;
    out[got] = '\0';
    close(errp[0]);
    for (char *c = out; *c; c++)   // one line for the log and the status
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(err, err_len, "nft failed: %s", got ? out : "no message");
    return -1;
}

// ip_forward = 1. 0, or -1 with err.
static int forwarding_on(char *err, size_t err_len)
{
    FILE *f = fopen(IP_FORWARD, "r+");
    char now[8] = "";
    if (!f || !fgets(now, sizeof now, f)) {
        snprintf(err, err_len, "cannot read %s: %s", IP_FORWARD, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if (now[0] == '1') {
        fclose(f);
        return 0;
    }
    rewind(f);
    bool ok = fputs("1\n", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        snprintf(err, err_len, "cannot write 1 to %s: %s", IP_FORWARD, strerror(errno));
        return -1;
    }
    log_info("IPv4 forwarding turned on (%s = 1): this node forwards between the mesh and its advertised subnets",
             IP_FORWARD);
    return 0;
}

subnet_forward_t *subnet_forward_new(const weft_config_t *cfg, const char *ifname)
{
    subnet_forward_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->advertising = cfg->routing_advertise_count > 0;
    self->ok = true;
    if (!self->advertising)
        return self;
    char err[400];
    if (forwarding_on(err, sizeof err) != 0) {
        self->ok = false;
        log_warn("advertised subnets will not be reached: %s", err);
        snprintf(self->note, sizeof self->note, "forwarding off: %s", err);
        return self;
    }
    if (!cfg->routing_masquerade) {
        snprintf(self->note, sizeof self->note, "forwarding on");
        return self;
    }
    subnet_forward_table_name(ifname, self->table, sizeof self->table);
    uint32_t addr;
    char net[16], script[CONFIG_MAX_SERVERS * CONFIG_STR + 512];
    if (ipv4_from_text(cfg->overlay_addr, &addr) != 0) {
        snprintf(err, sizeof err, "'%s' is not an IPv4 address", cfg->overlay_addr);
    } else {
        ipv4_to_text(addr & ipv4_prefix_mask(cfg->overlay_prefix), net);
        if (subnet_forward_ruleset(self->table, net, cfg->overlay_prefix, cfg->routing_advertise,
                                   cfg->routing_advertise_count, script, sizeof script) != 0)
            snprintf(err, sizeof err, "the ruleset does not fit");
        else if (run_nft(script, err, sizeof err) == 0)
            self->table_made = true;
    }
    if (!self->table_made) {
        self->ok = false;
        log_warn("routing.masquerade: no masquerade for the advertised subnets: %s", err);
        snprintf(self->note, sizeof self->note, "forwarding on, masquerade failed: %.200s", err);
        return self;
    }
    log_info("routing.masquerade: packets from %s/%d to the advertised subnets leave masqueraded (nftables table "
             "ip %s)", net, cfg->overlay_prefix, self->table);
    snprintf(self->note, sizeof self->note, "forwarding on, masquerade (table ip %s)", self->table);
    return self;
}

void subnet_forward_destroy(subnet_forward_t **self)
{
    if (!self || !*self)
        return;
    if ((*self)->table_made) {
        char script[128], err[400];
        snprintf(script, sizeof script, "delete table ip %s\n", (*self)->table);
        if (run_nft(script, err, sizeof err) != 0)
            log_warn("cannot delete the nftables table ip %s: %s", (*self)->table, err);
        else
            log_info("nftables table ip %s deleted", (*self)->table);
    }
    free(*self);
    *self = NULL;
}

const char *subnet_forward_note(const subnet_forward_t *self)
{
    return self->note;
}

bool subnet_forward_ok(const subnet_forward_t *self)
{
    return self->ok;
}
