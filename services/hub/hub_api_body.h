// hub_api_body.h — decoding and checking what HTTP clients send the hub's API (docs/api.md): the JSON
// bodies of POST /api/v1/mesh/networks, POST .../networks/{id}/peers and POST /api/v1/mesh/routes/{mesh} (cJSON, then every field checked:
// types, lengths, known keys only), and the ids in URL paths. Everything from a client goes through here
// first; fuzz/fuzz_api_json.c drives it with arbitrary bytes.
#ifndef WEFT_HUB_API_BODY_H
#define WEFT_HUB_API_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_API_MAX_BODY 16384

typedef struct {
    char name[64];          // hub_valid_mesh
    char cidr[32];          // "10.100.0.0/16", prefix 8..30
    uint8_t admin_key[32];  // the admin's Ed25519 key (64 hex)
    bool psk;               // the mesh uses a pre-shared key (default false)
    uint32_t ttl_s;         // a room's lifetime, 0 = forever (at most HUB_ROOM_MAX_TTL)
} hub_api_network_t;

typedef struct {
    uint8_t key[32];        // the member's Ed25519 key (64 hex)
    char name[64];          // hub_valid_name
    char address[16];       // wanted overlay address, or "" to allocate one
} hub_api_peer_t;

typedef struct {
    uint8_t member[32];     // the member's Ed25519 key (64 hex)
    char prefix[19];        // canonical "a.b.c.d/len", no host bits
    bool allow;             // false: take it back (default true)
} hub_api_route_t;

// Each returns 0, or -1 with `why` saying what is wrong (for the 400 answer's detail).
int hub_api_parse_network(const char *body, size_t len, hub_api_network_t *out, char *why, size_t why_len);
int hub_api_parse_peer(const char *body, size_t len, hub_api_peer_t *out, char *why, size_t why_len);
// POST /api/v1/mesh/routes/{mesh}: {"member": hex, "prefix": "192.168.50.0/24", "allow": bool}
int hub_api_parse_route(const char *body, size_t len, hub_api_route_t *out, char *why, size_t why_len);

// A mesh id in a path: exactly 32 hex characters. A member key: exactly 64.
bool hub_api_parse_mesh_id(const char *text, uint8_t id[16]);
bool hub_api_parse_key(const char *text, uint8_t key[32]);

// Content-Type is application/json (parameters such as charset allowed).
bool hub_api_is_json(const char *content_type);

#endif
