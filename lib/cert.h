// cert.h — mesh membership: the certificate an admin signs for each member (which mesh, which node
// key, which overlay address, valid when) and the revocation an admin signs to cut a member off.
// Both have one fixed binary form (version 1, integers big endian); the signature is Ed25519 by the
// issuer over a context string followed by every byte before the signature. docs/membership.md.
//
//   certificate (CERT_LEN = 166 bytes):
//     u8 version=1 | mesh_id[16] | member_key[32] | address u32 | prefix u8 | issued u64 |
//     expires u64 | issuer_key[32] | signature[64]        signed with context "weft-cert-v1"
//   revocation (REVOCATION_LEN = 153 bytes):
//     u8 version=1 | mesh_id[16] | member_key[32] | revoked_at u64 | issuer_key[32] | signature[64]
//                                                         signed with context "weft-revoke-v1"
#ifndef WEFT_CERT_H
#define WEFT_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"

#define CERT_VERSION 1
#define CERT_LEN 166
#define CERT_HEX_LEN (2 * CERT_LEN + 1)
#define CERT_CLOCK_SKEW 300        // seconds a certificate may be used before its issue time
#define MESH_ID_LEN 16
#define MESH_ID_HEX_LEN 33         // 32 hex chars + NUL

#define REVOCATION_VERSION 1
#define REVOCATION_LEN 153
#define REVOCATION_MEMBER_OFFSET (1 + MESH_ID_LEN)   // where member_key starts in the encoded form

typedef struct {
    uint8_t version;               // CERT_VERSION
    uint8_t mesh_id[MESH_ID_LEN];
    uint8_t member_key[32];        // the member's Ed25519 node id
    uint32_t address;              // overlay IPv4 address, host byte order (network order on the wire)
    uint8_t prefix;                // overlay prefix length, 1..32
    uint64_t issued;               // unix seconds
    uint64_t expires;              // unix seconds; 0 = never
    uint8_t issuer_key[32];        // the admin's Ed25519 key
    uint8_t signature[64];
} cert_t;

typedef struct {
    uint8_t version;               // REVOCATION_VERSION
    uint8_t mesh_id[MESH_ID_LEN];
    uint8_t member_key[32];        // the member cut off
    uint64_t revoked_at;           // unix seconds
    uint8_t issuer_key[32];        // the admin's Ed25519 key
    uint8_t signature[64];
} revocation_t;

// --- certificates ---
// Sets version and issuer_key (admin's public key) and signs every other field as they are. Returns 0.
int cert_sign(cert_t *cert, const identity_t *admin);
void cert_encode(const cert_t *cert, uint8_t out[CERT_LEN]);
// Decodes and checks length, version, prefix and the issuer's signature. Returns 0 or -1 with err.
int cert_decode(const uint8_t *data, size_t len, cert_t *cert, char *err, size_t err_len);
// Checks that a decoded certificate belongs to mesh_id, was issued by admin_key, and is valid at `now`
// (not expired; not more than CERT_CLOCK_SKEW seconds before its issue time). Returns 0 or -1 with err.
int cert_check(const cert_t *cert, const uint8_t mesh_id[MESH_ID_LEN], const uint8_t admin_key[32],
               uint64_t now, char *err, size_t err_len);

// One hex line: 332 chars. from_hex decodes (cert_decode) too.
void cert_to_hex(const cert_t *cert, char out[CERT_HEX_LEN]);
int cert_from_hex(const char *hex, cert_t *cert, char *err, size_t err_len);
// A node keeps its own certificate in <home>/member.cert: the hex line. save writes mode 0644 via a
// temporary file and rename; load decodes (signature checked) but does not cert_check.
int cert_save(const char *path, const cert_t *cert, char *err, size_t err_len);
int cert_load(const char *path, cert_t *cert, char *err, size_t err_len);

// --- revocations ---
// Sets version and issuer_key and signs. Returns 0.
int revocation_sign(revocation_t *rev, const identity_t *admin);
void revocation_encode(const revocation_t *rev, uint8_t out[REVOCATION_LEN]);
// Decodes and checks length, version and signature. Returns 0 or -1 with err.
int revocation_decode(const uint8_t *data, size_t len, revocation_t *rev, char *err, size_t err_len);
// Checks the revocation is for mesh_id and signed by admin_key. Returns 0 or -1 with err.
int revocation_check(const revocation_t *rev, const uint8_t mesh_id[MESH_ID_LEN],
                     const uint8_t admin_key[32], char *err, size_t err_len);

// --- mesh ids: 16 random bytes, shown as 32 lowercase hex chars ---
void mesh_id_generate(uint8_t mesh_id[MESH_ID_LEN]);
void mesh_id_to_hex(const uint8_t mesh_id[MESH_ID_LEN], char out[MESH_ID_HEX_LEN]);
int mesh_id_from_hex(const char *hex, uint8_t mesh_id[MESH_ID_LEN]);   // 0, or -1 if not 32 hex chars

#endif
