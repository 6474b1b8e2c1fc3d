// ice_settings.h — the STUN and TURN servers every agent uses, parsed once from the config
// (nat.stun_servers "host:port", nat.turn_servers "turn://user:pass@host:port"; the first entry of each).
// libnice wants numeric addresses, so host names are resolved here, at start.
#ifndef WEFT_NAT_ICE_SETTINGS_H
#define WEFT_NAT_ICE_SETTINGS_H

#include <stdbool.h>

#include "config.h"

typedef struct {
    bool has_stun;
    char stun_ip[64];
    unsigned stun_port;
    bool has_turn;
    char turn_ip[64];
    unsigned turn_port;
    char turn_user[128];
    char turn_pass[128];
} ice_settings_t;

// Fills settings from cfg. A server that does not parse or resolve is logged and left out (returns -1);
// the agents then work with what remains (host candidates always).
int ice_settings_from_config(ice_settings_t *settings, const weft_config_t *cfg);

#endif
