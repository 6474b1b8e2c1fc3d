// config.h — a node's configuration: the YAML file in the node's home (weft.yaml), defaults for every
// key, WEFT_* environment overrides, and the endpoints each service binds and connects to.
//
// The file is read with libyaml; unknown keys and wrong types are errors that name the file and line.
// Values are ${VAR}-expanded (config_expand.h) and checked (config_check.h) before they are set.
#ifndef WEFT_CONFIG_H
#define WEFT_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "service_id.h"    // SVC_COUNT: one inbox and one control endpoint per service

#define CONFIG_MAX_SERVERS 8
#define CONFIG_STR 256

typedef struct {
    char home[PATH_MAX];            // the node's home directory (--home / WEFT_HOME)
    char run_dir[PATH_MAX];         // sockets and pid files: <home>/run
    char log_dir[PATH_MAX];         // one log file per service: <home>/log
    char config_file[PATH_MAX];     // <home>/weft.yaml

    // node:
    char name[64];                  // node.name: a human name, default the hostname
    char identity_file[PATH_MAX];   // node.identity: Ed25519 key file, default <home>/identity.key

    // mesh:
    char mesh[64];                  // mesh.name, default "default"
    char overlay_addr[64];          // mesh.address without prefix, e.g. "10.100.0.2"
    int overlay_prefix;             // mesh.address prefix length, e.g. 16
    char network_key[CONFIG_STR];   // mesh.network_key: 64 hex chars (Noise psk) or "" for none
    char mesh_id[CONFIG_STR];       // mesh.id: 32 hex chars; "" = a mesh without certificates (legacy)
    char mesh_admin_key[CONFIG_STR];// mesh.admin_key: the admin's Ed25519 key, 64 hex chars
    char certificate_file[PATH_MAX];// mesh.certificate: this node's certificate, default <home>/member.cert
    int cert_max_days;              // mesh.cert_max_days: longest certificate the admin's node signs, default 365

    // hub:
    char hub_endpoint[CONFIG_STR];  // hub.endpoint, e.g. "tcp://10.0.0.1:7400"
    char hub_public_key[CONFIG_STR];// hub.public_key: the hub's CURVE public key (Z85, 40 chars)
    char hub_listen[CONFIG_STR];    // hub.listen (only `weft hub`), default "tcp://*:7400"
    char hub_http_listen[CONFIG_STR];   // hub.http_listen: the hub's HTTP API, "127.0.0.1:7402" or "off"
    char hub_api_token_file[PATH_MAX];  // hub.api_token_file: bearer token of admin calls, default <home>/api.token
    int hub_http_rate;              // hub.http_rate: reads per second per client address (burst twice that), default 20
    int hub_member_timeout;         // hub.member_timeout seconds, default 15
    int heartbeat_interval;         // hub.heartbeat seconds, default 3
    char hub_turn_secret[CONFIG_STR];   // hub.turn_secret (only `weft hub`): coturn's static-auth-secret; "" = no TURN credentials
    char hub_turn_servers[CONFIG_MAX_SERVERS][CONFIG_STR];  // hub.turn_servers: "host:port[?transport=tcp]" handed to members
    int hub_turn_server_count;
    int hub_turn_ttl;               // hub.turn_ttl seconds the credentials live, default 86400
    int hub_stun_port;              // hub.stun_port: UDP port of the hub's STUN server, default 3478, 0 = none
    bool hub_open_meshes;           // hub.open_meshes: admit Register into plain-name (open) meshes, default false
    int hub_max_connections;        // hub.max_connections: connections at once, all addresses, default 1000
    int hub_max_connections_per_address; // hub.max_connections_per_address: connections from one address, default 32
    int hub_handshake_timeout;      // hub.handshake_timeout: seconds a connection has to finish CURVE + ZAP, default 5
    int hub_create_per_key;         // hub.create_per_key: CreateMesh per key per hour, default 5
    int hub_create_per_address;     // hub.create_per_address: CreateMesh per address per hour, default 20
    int hub_register_per_key;       // hub.register_per_key: meshes a key newly registers in per hour, default 16
    int hub_register_per_address;   // hub.register_per_address: new members from one address per hour, default 64

    // device:
    char device_name[16];           // device.name, default "weft0"
    int mtu;                        // device.mtu, default 1400
    bool device_offload;            // device.offload: TUN checksum/TSO offload (IFF_VNET_HDR), default true
    char device_mode[8];            // device.mode: "tun" (L3, the only mode supported today; "tap" is refused)
    char device_mac[18];            // device.mac: "" or "02:xx:xx:xx:xx:xx" (unicast); only for device.mode tap

    // connection: (how peers are reached; nat honours them)
    bool connection_direct;         // connection.direct: try direct paths (host/srflx), default true
    char connection_relay[8];       // connection.relay: allow|never|only (TURN), default "allow"

    bool connection_relay_via_peers;// connection.relay_via_peers: carry other members' traffic (a mesh hop), default true

    // routing: (weft-router; docs/routing.md)
    bool routing_broadcast;         // routing.broadcast: IPv4 broadcast/multicast go to every peer, default false
    int routing_announce_interval;  // routing.announce_interval seconds between periodic announcements, default 10
    bool routing_split_horizon;     // routing.split_horizon: poisoned reverse towards the next hop, default true
    int routing_max_hops;           // routing.max_hops: longest route (1 = direct only), default 8
    int routing_route_timeout;      // routing.route_timeout seconds a route lives unannounced, default 300
    char routing_advertise[CONFIG_MAX_SERVERS][CONFIG_STR];  // routing.advertise: subnets behind this node
    int routing_advertise_count;
    bool routing_accept_routes;     // routing.accept_routes: install other members' subnets, default false
    bool routing_masquerade;        // routing.masquerade: NAT mesh traffic leaving to an advertised subnet, default false
    bool dataplane_direct;          // dataplane.direct: crypto sends and receives on direct ICE pairs itself, default true
    bool dataplane_tun;             // dataplane.tun: crypto borrows the TUN from device and reads and writes it itself, default true
    bool dataplane_gso;             // dataplane.gso: UDP GSO on those sends where the kernel has it, default true
    bool dataplane_gro;             // dataplane.gro: UDP GRO on those receives, default false (see docs/performance.md)

    // crypto:
    char crypto_cipher[24];         // crypto.cipher: auto|chacha20-poly1305|aes-256-gcm (transport AEAD), default auto

    // nat:
    char stun_servers[CONFIG_MAX_SERVERS][CONFIG_STR];  // nat.stun_servers: "host:port"
    int stun_server_count;
    char turn_servers[CONFIG_MAX_SERVERS][CONFIG_STR];  // nat.turn_servers: "turn://user:pass@host:port"
    int turn_server_count;
    int keepalive_interval;         // connection.keepalive (old name nat.keepalive) seconds, default 25
    int connect_timeout;            // connection.connect_timeout (old name nat.connect_timeout) s, default 10
    bool port_mapping;              // nat.port_mapping: ask the gateway (UPnP-IGD, NAT-PMP) for mappings, default true
    bool port_prediction;           // nat.port_prediction: offer predicted ports when our NAT is sequential symmetric, default true

    // redis:
    char redis_url[CONFIG_STR];     // redis.url: "" = a local redis-server on <run>/redis.sock

    // api:
    char api_listen[CONFIG_STR];    // api.listen: the node HTTP API (weft-api), "127.0.0.1:7401" or "off"

    // log:
    char log_level[16];             // log.level: debug|info|warn|error, default info

    // endpoints: (each overridable; default ipc:// under run_dir)
    char inbox[SVC_COUNT][CONFIG_STR];    // endpoints.<svc>: the service's PULL inbox
    char control[SVC_COUNT][CONFIG_STR];  // endpoints.<svc>_control: the service's REP control socket
    char device_tun[CONFIG_STR];          // endpoints.device_tun: unix socket where device lends its TUN fd
} weft_config_t;

// Fills every key with its default for a node whose home is `home`.
void config_defaults(weft_config_t *cfg, const char *home);

// Loads <home>/weft.yaml over the defaults, then applies WEFT_* environment overrides.
// On error returns -1 and writes "file:line: what" into err.
int config_load(weft_config_t *cfg, const char *home, char *err, size_t err_len);

// The same with an explicit file instead of <home>/weft.yaml (NULL: that one); an explicit file must exist.
int config_load_file(weft_config_t *cfg, const char *home, const char *file, char *err, size_t err_len);

// Every key of the table, for listing and --json: its path ("device.mtu") and its value as text.
typedef enum { CONFIG_KIND_STRING, CONFIG_KIND_INT, CONFIG_KIND_BOOL, CONFIG_KIND_LIST } config_kind_t;
size_t config_key_count(void);
const char *config_key_path(size_t i);
config_kind_t config_key_kind(size_t i);
// The newer name of a key kept for old files ("connection.keepalive" for "nat.keepalive"), else NULL.
const char *config_key_renamed_to(size_t i);
// True for keys whose value is a secret (never printed).
bool config_key_is_secret(size_t i);
// Writes key i's value (for lists, item `item`) into out; returns out, or NULL when item is past the end.
const char *config_key_text(const weft_config_t *cfg, size_t i, int item, char *out, size_t out_len);

// Parses YAML text (used by config_load and the tests). `source` names it in errors.
int config_parse(weft_config_t *cfg, const char *yaml, size_t len, const char *source, char *err,
                 size_t err_len);

// Checks what no single key can: combinations (device.mac without tap, no path left to peers).
// `source` prefixes the message ("weft.yaml", "environment"). Returns 0 or -1 with err filled.
int config_validate(const weft_config_t *cfg, const char *source, char *err, size_t err_len);

// Writes cfg as YAML to path (mode 0600); every $ is written as $$. Returns 0 or -1.
int config_save(const weft_config_t *cfg, const char *path);

// Resolves the home directory: explicit > $WEFT_HOME > ~/.weft. Writes an absolute path.
void config_resolve_home(const char *explicit_home, char *out, size_t out_len);

// Redis endpoint the node uses: the configured URL, or unix://<run>/redis.sock
void config_redis_url(const weft_config_t *cfg, char *out, size_t out_len);

#endif
