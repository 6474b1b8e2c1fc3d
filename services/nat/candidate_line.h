// candidate_line.h — one ICE candidate as an SDP attribute line ("a=candidate:<foundation> <component>
// <transport> <priority> <ip> <port> typ <type> [raddr <ip> rport <port>]"): parsing our own gathered
// lines and writing the extra lines weft adds to an offer or answer (port mappings, predicted ports).
// Owns nothing beyond the strings it returns.
#ifndef WEFT_NAT_CANDIDATE_LINE_H
#define WEFT_NAT_CANDIDATE_LINE_H

#include <stdbool.h>
#include <stdint.h>

#define CANDIDATE_IP_LEN 46          // INET6_ADDRSTRLEN
#define CANDIDATE_FOUNDATION_LEN 33  // RFC 5245: at most 32 ice-chars

// RFC 5245 type preferences for the priority of the lines we add
#define CANDIDATE_PREF_MAPPED 110    // a gateway's port mapping: reaches us from anywhere, below host (126)
#define CANDIDATE_PREF_SRFLX 100
#define CANDIDATE_PREF_PREDICTED 90  // a guess: checked after what is known to exist

typedef struct {
    char foundation[CANDIDATE_FOUNDATION_LEN];
    unsigned component;
    bool udp;
    uint32_t priority;
    char ip[CANDIDATE_IP_LEN];
    uint16_t port;
    char type[8];                    // host, srflx, prflx, relay
    char raddr[CANDIDATE_IP_LEN];    // "" when absent
    uint16_t rport;
} candidate_line_t;

// Parses one line (with or without the "a=" prefix). Returns 0, or -1 when it is not a candidate line.
int candidate_line_parse(const char *line, candidate_line_t *out);

// RFC 5245 priority: (2^24) type preference + (2^8) local preference + (256 - component).
uint32_t candidate_priority(unsigned type_pref, unsigned local_pref, unsigned component);

// A new srflx line for address ip:port whose base is host (the related address). Returns a malloc'd
// string (free it), or NULL.
char *candidate_line_srflx(const char *foundation, unsigned component, uint32_t priority, const char *ip,
                           uint16_t port, const char *host_ip, uint16_t host_port);

#endif
