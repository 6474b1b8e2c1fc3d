// natprobe.h — NAT behaviour discovery with our own STUN client (lib/stun_client.h): which configured STUN server
// answers (tried in order, with retransmits, failing over on silence or garbage), this host's local
// addresses, its public (mapped) address, the NAT's mapping and filtering behaviour (RFC 5780 tests when
// the server gives OTHER-ADDRESS, the same tests against RFC 3489's CHANGED-ADDRESS otherwise, else the
// mapping compared across two servers of the list), hairpinning,
// a classic NAT type name, whether the node is reachable from outside, and advice. IPv4 only.
//
// Used by `weft network`; natprobe_first_alive() picks a working server for libnice in weft-nat.
// Blocking: a probe takes a few round trips, plus one timeout per silent server or filtered test.
#ifndef WEFT_NATPROBE_H
#define WEFT_NATPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "stun.h"
#include "stun_client.h"

#define NATPROBE_MAX_SERVERS 16
#define NATPROBE_MAX_LOCAL 16
#define NATPROBE_TEXT 256

typedef enum {
    NAT_BEHAVIOUR_UNKNOWN = 0,
    NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT,
    NAT_BEHAVIOUR_ADDRESS_DEPENDENT,
    NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT,
} nat_behaviour_t;

typedef enum {
    NAT_TYPE_UNKNOWN = 0,         // a server answered but could not run the behaviour tests
    NAT_TYPE_OPEN,                // no NAT, nothing filters
    NAT_TYPE_FIREWALLED,          // no NAT, but a firewall filters unsolicited inbound UDP
    NAT_TYPE_FULL_CONE,           // endpoint-independent mapping and filtering
    NAT_TYPE_RESTRICTED_CONE,     // endpoint-independent mapping, address-dependent filtering
    NAT_TYPE_PORT_RESTRICTED_CONE,// endpoint-independent mapping, address-and-port-dependent filtering
    NAT_TYPE_SYMMETRIC,           // mapping depends on the destination
    NAT_TYPE_UDP_BLOCKED,         // no server answered
} nat_type_t;

// One configured server as tried.
typedef struct {
    char server[NATPROBE_TEXT];    // as configured, "host:port"
    char address[STUN_ADDR_TEXT];  // resolved "ip:port", "" if it did not resolve
    bool answered;                 // a valid Binding response arrived
    int rtt_ms;                    // of that response, -1 if none
    char error[NATPROBE_TEXT];     // why it was skipped ("no answer after 1000 ms (4 requests)", ...)
} natprobe_server_t;

typedef struct {
    int timeout_ms;      // total wait for one request, retransmits included (default 1000)
    bool skip_behaviour; // only find a server and the mapped address (natprobe_first_alive)
} natprobe_options_t;

typedef struct {
    natprobe_server_t servers[NATPROBE_MAX_SERVERS];   // every server tried, in order
    int server_count;
    int used;                                          // index of the server the tests ran against, -1 if none

    char local_addresses[NATPROBE_MAX_LOCAL][STUN_ADDR_TEXT];   // this host's IPv4 interface addresses
    int local_count;
    char local_endpoint[STUN_ADDR_TEXT];   // the probe socket's address toward the server ("ip:port")
    char public_address[STUN_ADDR_TEXT];   // the mapped address the server saw
    char server_software[128];             // the server's SOFTWARE attribute
    char alternate[STUN_ADDR_TEXT];        // the server's other address (OTHER-/CHANGED-ADDRESS), "" if none
    bool rfc5780;                          // the server sent OTHER-ADDRESS (else RFC 3489 or neither)

    bool behind_nat;                       // mapped address is not one of ours
    nat_behaviour_t mapping;
    nat_behaviour_t filtering;
    int hairpin;                           // 1 yes, 0 no, -1 not tested
    nat_type_t type;
    bool reachable;                        // peers can reach this node without hole punching
    char advice[512];
    char note[NATPROBE_TEXT];              // why a test could not run, "" if all ran
    int64_t duration_ms;
} natprobe_result_t;

void natprobe_options_default(natprobe_options_t *opt);

// Runs the probe against servers[0..count) in order (IPv4 "host:port" or "ip:port"). Fills result.
// Returns 0 when a server answered, -1 when none did (result->type NAT_TYPE_UDP_BLOCKED, each
// servers[i].error says why).
int natprobe_run(const char *const *servers, int count, const natprobe_options_t *opt, natprobe_result_t *result);

// The first server in the list that answers a Binding request within timeout_ms (retransmits included):
// its index, with its numeric address in ip / port. -1 if none answered (err says what each did).
int natprobe_first_alive(const char *const *servers, int count, int timeout_ms, char *ip, size_t ip_len,
                         unsigned *port, char *err, size_t err_len);

// Classification from the measured behaviour (the classic names; see nat_type_t). Also sets reachable
// and advice.
void natprobe_classify(natprobe_result_t *result);

const char *nat_type_name(nat_type_t type);            // "open", "full-cone", ..., "udp-blocked", "unknown"
const char *nat_behaviour_name(nat_behaviour_t b);     // "endpoint-independent", ..., "unknown"

// The result as one JSON object (what `weft network --json` prints and the node API serves).
void natprobe_write_json(const natprobe_result_t *result, json_t *j);

// Parses "host:port" / "ip:port" and resolves it to IPv4. Returns 0, or -1 with the reason in err.
int natprobe_resolve(const char *server, struct sockaddr_in *out, char *err, size_t err_len);

#endif
