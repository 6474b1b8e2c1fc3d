// predict.h — port prediction for a symmetric NAT with sequential allocation. Owns a probe thread (a
// zactor) that learns how our NAT allocates public ports: from each of two sockets, a STUN Binding to the
// configured server and one to its other address (RFC 5780 OTHER-ADDRESS / RFC 3489 CHANGED-ADDRESS, or
// the second nat.stun_servers entry), four public ports in allocation order:
//   - same public port for both destinations: endpoint-independent mapping, nothing to predict;
//   - every port a small step (1..PREDICT_MAX_GAP) past the one before, all in one direction: sequential,
//     with the smallest of those steps as the NAT's step (other flows of this host, such as the agents'
//     own gathering, take ports in between now and then);
//   - anything else: random (symmetric with random ports; prediction cannot help).
// Probed at start and every PREDICT_REPROBE_MS. When sequential, the offer/answer gets PREDICT_COUNT extra
// srflx candidates after our own srflx port (port + k * step): the ports our NAT will most likely give the
// agent's next flows, its connectivity checks to the peer. The peer's checks to them open its own
// (port-restricted or cone) NAT for our checks, which then come from one of those ports.
#ifndef WEFT_NAT_PREDICT_H
#define WEFT_NAT_PREDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define PREDICT_COUNT 10                // predicted candidates offered
#define PREDICT_MAX_GAP 32              // a larger gap between two probes' ports is taken as random
#define PREDICT_PROBE_PORTS 4
#define PREDICT_REPROBE_MS 300000       // probe again after this
#define PREDICT_BINDING_MS 1000         // one Binding, retransmits included
#define PREDICT_FRESH_MS 10000          // without a srflx line, predict from the probe's ports this long
#define PREDICT_MAX_SERVERS 8

typedef enum {
    PREDICT_UNKNOWN = 0,       // not probed yet, or no STUN server / alternate destination answered
    PREDICT_INDEPENDENT,       // endpoint-independent mapping (cone NAT, or none)
    PREDICT_SEQUENTIAL,        // symmetric, ports allocated in steps of `step`
    PREDICT_RANDOM,            // symmetric, ports not predictable
} predict_kind_t;

typedef struct predict predict_t;

// Starts the probe thread with the nat.stun_servers entries ("host:port", resolved here to IPv4). It uses
// the first that answers, and as the second destination that server's alternate address or else the next
// server. NULL (logged) when no server resolves.
predict_t *predict_new(const char servers[][CONFIG_STR], int count);
void predict_destroy(predict_t **self_p);

// What the last probe found (step is 0 unless sequential).
predict_kind_t predict_kind(predict_t *self, int *step);
const char *predict_kind_name(predict_kind_t kind);

// The classification of the probe's public ports, in the order they were allocated: ports[0] and
// ports[1] from one socket to two destinations, then the same from a second socket (count >= 3). *step
// is set when sequential.
predict_kind_t predict_classify(const uint16_t *ports, size_t count, int *step);

// When our NAT is sequential: appends up to PREDICT_COUNT predicted srflx lines after the first IPv4 UDP
// srflx line among lines[0..count) (at lines[count...], at most `max` lines in all; malloc'd). Without a
// srflx line (the agent gathered before any STUN server answered) and within PREDICT_FRESH_MS of the
// probe, the ports after the probe's last one, based on the first host line. Returns how many were
// appended. NULL self: none.
size_t predict_add_candidates(predict_t *self, char **lines, size_t count, size_t max);
// The same with the step given (what predict_add_candidates does once the probe found one).
size_t predict_lines(int step, char **lines, size_t count, size_t max);
// Without a srflx line: last_port + k * step on public_ip, raddr/rport the first IPv4 UDP host line.
size_t predict_lines_after(int step, const char *public_ip, uint16_t last_port, char **lines, size_t count,
                           size_t max);

#endif
