// ice_settings.h — the STUN and TURN servers agents may use, parsed once from the config
// (nat.stun_servers "host:port"; nat.turn_servers "turn://user:pass@host:port[?transport=udp|tcp]"),
// in the configured order, plus the TURN servers and time-limited credentials the hub hands out
// (TURN REST API, hub.turn_secret). Which entry an agent uses now is nat_servers.c's business.
// libnice wants numeric addresses, so host names are resolved here, once.
#ifndef WEFT_NAT_ICE_SETTINGS_H
#define WEFT_NAT_ICE_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define ICE_MAX_SERVERS 8
#define ICE_SERVER_NAME 96      // "host:port" as configured (for logs and `weft peers`), never a password

typedef struct {
    char name[ICE_SERVER_NAME];
    char ip[64];
    unsigned port;
} ice_stun_server_t;

typedef struct {
    char name[ICE_SERVER_NAME];     // "host:port" or "host:port/tcp"
    char ip[64];
    unsigned port;
    bool tcp;                       // TURN over TCP (?transport=tcp)
    char user[160];
    char pass[160];
    int64_t expires_unix;           // ephemeral credentials from the hub: when they stop working; 0 = static
} ice_turn_server_t;

typedef struct {
    ice_stun_server_t stun[ICE_MAX_SERVERS];
    int stun_count;
    bool stun_from_hub;             // stun[0] is the hub's own STUN server (no nat.stun_servers configured)
    char hub_stun_unusable[ICE_SERVER_NAME];  // the hub's STUN server as last refused (not resolved again)
    ice_turn_server_t turn[ICE_MAX_SERVERS];        // static ones from the config
    int turn_count;
    ice_turn_server_t hub_turn[ICE_MAX_SERVERS];    // from the hub (ephemeral credentials), tried first
    int hub_turn_count;
    bool ice_tcp;                   // also offer and try ICE-TCP candidates (UDP may be blocked)
    bool direct;                    // connection.direct: host/srflx candidates may be used
    bool relay_allowed;             // connection.relay != never
    bool relay_only;                // connection.relay == only (or direct off): libnice force-relay
    // The overlay is never an ICE path: ICE over our own TUN device would loop packets into itself.
    char overlay_device[16];        // device.name: its addresses are not offered as candidates
    uint32_t overlay_net, overlay_mask;   // mesh.address prefix, host order: candidates in it are skipped
} ice_settings_t;

// True when addr (a numeric IPv4 or IPv6 address) lies inside the overlay prefix.
bool ice_settings_in_overlay(const ice_settings_t *settings, const char *addr);

// Fills settings from cfg. An entry that does not parse or resolve is logged and left out (returns -1);
// the agents then work with what remains (host candidates always).
int ice_settings_from_config(ice_settings_t *settings, const weft_config_t *cfg);

// The hub's STUN server (PeerList.hub_stun_port on the host of hub.endpoint, "tcp://HOST:PORT"), used
// only when nat.stun_servers configured none: it becomes the one STUN server, or (port 0) is dropped again.
// Returns 1 when the list changed, 0 when not (same server, or the config's servers win), -1 with why
// filled when the endpoint has no host or it does not resolve.
int ice_settings_hub_stun(ice_settings_t *settings, const char *hub_endpoint, unsigned port, char *why,
                          size_t why_len);

// Parses one TURN server "turn://user:pass@host:port[?transport=tcp]" (user:pass@ may be left out when
// `user`/`pass` are given, for the hub's list). Returns 0, or -1 with why filled (never the password).
int ice_settings_parse_turn(const char *text, const char *user, const char *pass, ice_turn_server_t *out,
                            char *why, size_t why_len);

// The TURN servers to try, in order: the hub's (while their credentials are valid at now_unix), then
// the static ones. Returns how many were written to out (at most max).
int ice_settings_turn_list(const ice_settings_t *settings, int64_t now_unix, const ice_turn_server_t **out,
                           int max);

#endif
