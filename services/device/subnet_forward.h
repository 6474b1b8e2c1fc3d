// subnet_forward.h — an advertising node (routing.advertise not empty) forwards between the mesh and the
// subnets behind it: IPv4 forwarding on (/proc/sys/net/ipv4/ip_forward = 1 in the node's network namespace;
// left on at exit, since other things may rely on it by then), and with routing.masquerade an nftables
// table of its own, `table ip weft_<device>`, that masquerades packets from the overlay prefix leaving to
// an advertised subnet (so the LAN's hosts need no route back to the mesh); the table is deleted at exit.
// nft is run as a program (`nft -f -`, the ruleset on its stdin). Failures are logged, kept for the status
// line, and never stop the node.
#ifndef WEFT_DEVICE_SUBNET_FORWARD_H
#define WEFT_DEVICE_SUBNET_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef struct subnet_forward subnet_forward_t;

// Does nothing (and returns an object that does nothing) when cfg advertises no subnet. ifname: the weft
// device. NULL only when out of memory.
subnet_forward_t *subnet_forward_new(const weft_config_t *cfg, const char *ifname);
// Deletes the masquerade table if it made one.
void subnet_forward_destroy(subnet_forward_t **self);

// The nftables ruleset for the masquerade (deletes then creates the table): into out. Returns 0, or -1 when
// it does not fit. table: "weft_<device>" with anything but [A-Za-z0-9_] as '_'.
int subnet_forward_ruleset(const char *table, const char *overlay_net, int overlay_prefix,
                           const char advertise[][CONFIG_STR], int n_advertise, char *out, size_t out_len);
// The table's name for device ifname.
void subnet_forward_table_name(const char *ifname, char *out, size_t out_len);

// One line for the status: "forwarding on, masquerade (table ip weft_weft0)", or the error; "" when not
// advertising.
const char *subnet_forward_note(const subnet_forward_t *self);
bool subnet_forward_ok(const subnet_forward_t *self);

#endif
