// identity.h — a node's Ed25519 identity: the key file (mode 0600), its X25519 form for Noise and
// CURVE, hex ids and short fingerprints. The node id is the 32-byte Ed25519 public key.
#ifndef WEFT_IDENTITY_H
#define WEFT_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define ID_HEX_LEN 65            // 64 hex chars + NUL
#define FINGERPRINT_LEN 24       // "xxxx-xxxx-xxxx-xxxx" + NUL

typedef struct {
    uint8_t public_key[32];      // Ed25519 public key = node id
    uint8_t secret_key[64];      // Ed25519 secret key (seed || public)
} identity_t;

// Creates a new identity and writes it to path (mode 0600). Refuses to overwrite an existing file.
int identity_create(const char *path, identity_t *out, char *err, size_t err_len);
// Reads an identity; refuses a file that others can read. Returns 0 or -1 with err filled.
int identity_load(const char *path, identity_t *out, char *err, size_t err_len);
// Wipes the secret.
void identity_wipe(identity_t *id);
// Only the node id (the public key) of the identity at path, for a service that needs no secret: the
// secret is wiped at once. Returns 0, or -1 with why filled ("cannot load this node's identity: ...").
int identity_load_id(const char *path, uint8_t id[32], char *why, size_t why_len);

// X25519 key pair derived from the Ed25519 identity (for Noise and ZeroMQ CURVE).
int identity_x25519(const identity_t *id, uint8_t x_public[32], uint8_t x_secret[32]);
// X25519 public key of a peer, from its node id. Returns -1 for an invalid Ed25519 point.
int identity_peer_x25519(const uint8_t node_id[32], uint8_t x_public[32]);

void id_to_hex(const uint8_t id[32], char out[ID_HEX_LEN]);
int id_from_hex(const char *hex, uint8_t id[32]);
// Short, human-comparable fingerprint of a node id: first 8 bytes of BLAKE2b(id), "abcd-ef01-2345-6789".
void id_fingerprint(const uint8_t id[32], char out[FINGERPRINT_LEN]);

#endif
