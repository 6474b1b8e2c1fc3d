// config_check.h — what a configuration value may be: the syntax checks of single values (endpoints,
// URLs, keys, names, MAC addresses; nothing is resolved or connected to here) and the checks of key
// combinations no single key can make. Each fills `why` with a message for the user; config.c adds
// the file and line.
#ifndef WEFT_CONFIG_CHECK_H
#define WEFT_CONFIG_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

// Checks of one string value: 0, or -1 with why filled.
int config_check_host_port(const char *text, char *why, size_t why_len);     // host:port or [v6]:port
int config_check_zmq_endpoint(const char *text, char *why, size_t why_len);  // tcp://, ipc://, inproc://; "" = not set
int config_check_redis_url(const char *text, char *why, size_t why_len);     // "", unix:///path, redis://host:port
int config_check_turn_url(const char *text, char *why, size_t why_len);      // turn://user:pass@host:port[?transport=]
int config_check_network_key(const char *text, char *why, size_t why_len);   // 64 hex characters or ""
int config_check_curve_key(const char *text, char *why, size_t why_len);     // 64 hex, old 40 Z85, or ""
int config_check_device_name(const char *text, char *why, size_t why_len);
int config_check_ipv4_prefix(const char *text, char *why, size_t why_len);   // a.b.c.d/len, no host bits   // a Linux interface name

// Is text exactly one of the words in choices ("a|b|c")?
bool config_check_choice(const char *text, const char *choices);

// A unicast, non-zero MAC address ("02:ab:cd:ef:01:23" or with '-'), written to out lower case with ':'.
// Returns 0, or -1 with why filled.
int config_check_mac(const char *text, char *out, size_t out_len, char *why, size_t why_len);

// The combinations that cannot work (device.mac without tap, no path left to peers): NULL when there is
// none, else the problem, with *at set to the key the message points at ("device.mac").
const char *config_check_combination(const weft_config_t *cfg, const char **at);

#endif
