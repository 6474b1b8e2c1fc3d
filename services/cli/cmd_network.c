// cmd_network.c — `weft network`: what the network around this machine looks like to peers. Runs the NAT
// probe (lib/natprobe.h) against the node's STUN servers (nat.stun_servers / WEFT_STUN_SERVERS, else the
// hub's own, lib/node_stun.h) or the ones given with --stun, and prints the public address, the NAT's
// behaviour and type, and advice. It talks only to the STUN servers (and the node's Redis, for the port
// the hub told): the node need not be up, nor even initialised when --stun is given.
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "natprobe.h"
#include "node_stun.h"

static const char network_usage[] =
    "usage: weft network [--home DIR] [--stun HOST:PORT]... [--json] [--timeout MS]\n"
    "Probes this machine's NAT with STUN: local and public addresses, mapping and filtering behaviour,\n"
    "hairpinning, the NAT type (open, full-cone, restricted-cone, port-restricted-cone, symmetric,\n"
    "udp-blocked), whether peers can reach this node, and what to do about it.\n"
    "  --stun HOST:PORT  a STUN server to use (repeatable, tried in order); default: the node's\n"
    "                    nat.stun_servers (or WEFT_STUN_SERVERS), else the hub's STUN server (the host of\n"
    "                    hub.endpoint, at the port the hub told the node, 3478 until it has)\n"
    "  --timeout MS      how long to wait for each answer, retransmits included (default 1000)\n"
    "  --json            print the result as JSON\n"
    "Exit status 0 when a server answered, 1 when none did, 2 on a usage error.\n";

// "label       text", the text wrapped at 100 columns under itself.
static void print_wrapped(const char *label, const char *text)
{
    const int indent = 12, width = 100;
    printf("%-*s", indent, label);
    int column = indent;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        int word = (int)strcspn(p, " ");
        if (word == 0)
            break;
        if (column > indent && column + 1 + word > width) {
            printf("\n%*s", indent, "");
            column = indent;
        } else if (column > indent) {
            putchar(' ');
            column++;
        }
        printf("%.*s", word, p);
        column += word;
        p += word;
    }
    putchar('\n');
}

static void print_human(const natprobe_result_t *r, const node_stun_t *hub)
{
    const char *hairpin = r->hairpin < 0 ? "not tested" : r->hairpin ? "yes" : "no";
    printf("nat type    %s%s\n", nat_type_name(r->type), r->behind_nat ? "  (behind a NAT)" : "");
    if (r->used >= 0) {
        printf("public      %s\n", r->public_address);
        printf("local       %s\n", r->local_endpoint);
    }
    printf("addresses  ");
    for (int i = 0; i < r->local_count; i++)
        printf(" %s", r->local_addresses[i]);
    printf("%s\n", r->local_count ? "" : " (none)");
    if (r->used >= 0) {
        printf("mapping     %s\n", nat_behaviour_name(r->mapping));
        printf("filtering   %s\n", nat_behaviour_name(r->filtering));
        printf("hairpin     %s\n", hairpin);
    }
    printf("reachable   %s\n", r->reachable ? "yes, peers can reach this node directly"
                                            : "not without help (hole punching or a relay)");
    for (int i = 0; i < r->server_count; i++) {
        const natprobe_server_t *s = &r->servers[i];
        if (s->answered)
            printf("server      %s (%s%s%s%s, rtt %d ms%s%s)\n", s->server, s->address,
                   r->server_software[0] ? ", \"" : "", r->server_software, r->server_software[0] ? "\"" : "",
                   s->rtt_ms, r->rfc5780 ? ", RFC 5780" : r->alternate[0] ? ", RFC 3489" : "",
                   r->alternate[0] ? "" : ", no alternate address");
        else
            printf("skipped     %s: %s\n", s->server, s->error);
    }
    if (hub && hub->from_hub)
        print_wrapped("stun", hub->hub_port_known ? "the hub's STUN server (nat.stun_servers is empty)"
                                                  : "the hub's STUN server at the default port (nat.stun_servers is "
                                                    "empty, and the node has not heard the hub's port yet)");
    if (r->note[0])
        print_wrapped("note", r->note);
    print_wrapped("advice", r->advice);
}

int cmd_network(int argc, char **argv)
{
    static struct option options[] = {{"home", required_argument, 0, 'H'},
                                      {"stun", required_argument, 0, 's'},
                                      {"json", no_argument, 0, 'j'},
                                      {"timeout", required_argument, 0, 't'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};
    const char *home = NULL;
    const char *servers[NATPROBE_MAX_SERVERS];
    int server_count = 0;
    bool json = false;
    natprobe_options_t opt;
    natprobe_options_default(&opt);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hj", options, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'j': json = true; break;
        case 's':
            if (server_count == NATPROBE_MAX_SERVERS) {
                fprintf(stderr, "weft network: at most %d --stun servers\n", NATPROBE_MAX_SERVERS);
                return EXIT_USAGE;
            }
            servers[server_count++] = optarg;
            break;
        case 't': {
            char *end = NULL;
            errno = 0;
            long ms = strtol(optarg, &end, 10);
            if (errno || !end || *end || end == optarg || ms < 50 || ms > 60000) {
                fprintf(stderr, "weft network: --timeout wants milliseconds from 50 to 60000, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            opt.timeout_ms = (int)ms;
            break;
        }
        case 'h': fputs(network_usage, stdout); return EXIT_OK;
        default: fputs(network_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft network: unexpected argument '%s'\n%s", argv[optind], network_usage);
        return EXIT_USAGE;
    }

    // without --stun: the node's servers (weft.yaml, or WEFT_STUN_SERVERS when there is no weft.yaml)
    // (or, with none, the hub's: its port from the node's Redis when the node has heard it)
    static weft_config_t cfg;
    static node_stun_t node;
    if (server_count == 0) {
        char err[512];
        if (config_load(&cfg, home, err, sizeof err) != 0) {
            fprintf(stderr, "weft network: %s\n", err);
            return EXIT_FAIL;
        }
        char url[CONFIG_STR + PATH_MAX];
        config_redis_url(&cfg, url, sizeof url);
        store_t *store = cfg.stun_server_count ? NULL : store_connect(url, err, sizeof err);  // down: NULL
        node_stun_servers(&cfg, store, &node);
        store_destroy(&store);
        for (int i = 0; i < node.count && server_count < NATPROBE_MAX_SERVERS; i++)
            servers[server_count++] = node.servers[i];
        if (server_count == 0) {
            fprintf(stderr, "weft network: no STUN server: %s; set nat.stun_servers in %s, WEFT_STUN_SERVERS, or "
                            "give --stun HOST:PORT\n", node.why, cfg.config_file);
            return EXIT_FAIL;
        }
    }

    natprobe_result_t *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "weft network: out of memory\n");
        return EXIT_FAIL;
    }
    int rc = natprobe_run(servers, server_count, &opt, r);
    if (json) {
        json_t j;
        json_init(&j, stdout);
        natprobe_write_json(r, &j);
        json_finish(&j);
    } else if (rc == 0) {
        print_human(r, &node);
    }
    if (rc != 0) {
        fprintf(stderr, "weft network: no STUN server answered (UDP blocked, or the servers are down%s):\n",
                node.from_hub ? "; the one tried is the hub's, as nat.stun_servers is empty" : "");
        for (int i = 0; i < r->server_count; i++)
            fprintf(stderr, "  %s: %s\n", r->servers[i].server, r->servers[i].error);
        if (r->server_count == 0 && r->note[0])
            fprintf(stderr, "  %s\n", r->note);
    }
    free(r);
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}
