// ice_settings.h — the STUN and TURN servers every agent uses, parsed once from the config
// (nat.stun_servers "host:port", nat.turn_servers "turn://user:pass@host:port"; the first entry of each).
// libnice wants numeric addresses, so host names are resolved here, at start.
#ifndef WEFT_NAT_ICE_SETTINGS_H
#define WEFT_NAT_ICE_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

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
    // The overlay is never an ICE path: ICE over our own TUN device would loop packets into itself.
    char overlay_device[16];        // device.name: its addresses are not offered as candidates
    uint32_t overlay_net, overlay_mask;   // mesh.address prefix, host order: candidates in it are skipped
} ice_settings_t;

// True when addr (a numeric IPv4 or IPv6 address) lies inside the overlay prefix.
bool ice_settings_in_overlay(const ice_settings_t *settings, const char *addr);

// Fills settings from cfg. A server that does not parse or resolve is logged and left out (returns -1);
// the agents then work with what remains (host candidates always).
int ice_settings_from_config(ice_settings_t *settings, const weft_config_t *cfg);

#endif
