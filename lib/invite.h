// invite.h — invite codes: one copy-pasteable string an admin hands to a new member. It names the mesh,
// how to reach its hub (endpoints and CURVE key) and how long and how often it may be used, and is
// signed by the admin; a checksum catches typos before anything else is said about the code.
//
//   code = "weft1-" + base32 (RFC 4648, lowercase, no padding; see base32.h) of:
//     u8 version=1 | mesh_id[16] | name_len u8 + name (1..63) | hub_count u8 (1..4), each
//     (len u8 + "tcp://host:port") | hub_key[32] (CURVE public key) | expires u64 | max_uses u16 |
//     nonce[16] | admin_key[32] | signature[64] | checksum[4]
//   signature = Ed25519(admin, "weft-invite-v1" || every byte before the signature)
//   checksum  = first 4 bytes of BLAKE2b(every byte before the checksum)
// Integers are big endian. docs/membership.md.
#ifndef WEFT_INVITE_H
#define WEFT_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "identity.h"

#define INVITE_VERSION 1
#define INVITE_PREFIX "weft1-"
#define INVITE_MAX_NAME 63
#define INVITE_MAX_HUBS 4
#define INVITE_MAX_ENDPOINT 255
#define INVITE_NONCE_LEN 16
// Largest binary invite, and the largest code (prefix + base32 + NUL).
#define INVITE_MAX_BYTES \
    (1 + MESH_ID_LEN + 1 + INVITE_MAX_NAME + 1 + INVITE_MAX_HUBS * (1 + INVITE_MAX_ENDPOINT) + 32 + 8 + 2 + \
     INVITE_NONCE_LEN + 32 + 64 + 4)
#define INVITE_MAX_CODE (sizeof INVITE_PREFIX - 1 + (INVITE_MAX_BYTES * 8 + 4) / 5 + 1)

typedef struct {
    uint8_t version;                              // INVITE_VERSION
    uint8_t mesh_id[MESH_ID_LEN];
    char mesh_name[INVITE_MAX_NAME + 1];          // NUL-terminated
    uint8_t hub_count;                            // 1..INVITE_MAX_HUBS
    char hubs[INVITE_MAX_HUBS][INVITE_MAX_ENDPOINT + 1];   // "tcp://host:port", NUL-terminated
    uint8_t hub_key[32];                          // the hub's CURVE public key (binary)
    uint64_t expires;                             // unix seconds
    uint16_t max_uses;                            // how many members may join with it, >= 1
    uint8_t nonce[INVITE_NONCE_LEN];              // random; the hub counts uses under it
    uint8_t admin_key[32];                        // the admin's Ed25519 key (signer)
    uint8_t signature[64];
} invite_t;

// Checks the fields (name, hubs, max_uses), sets version and admin_key and signs. Fill mesh_id,
// mesh_name, hubs, hub_key, expires, max_uses and nonce first (invite_new_nonce). Returns 0 or -1 + err.
int invite_sign(invite_t *inv, const identity_t *admin, char *err, size_t err_len);
void invite_new_nonce(invite_t *inv);

// The binary form with its checksum. Returns its length, or -1 (err) if a field is out of range.
int invite_pack(const invite_t *inv, uint8_t *out, size_t out_len, char *err, size_t err_len);
// Parses the binary form: version, lengths and counts, checksum, field contents, signature. A problem
// found before the checksum is reported as a typo when the checksum does not match either. Returns 0
// or -1 + err.
int invite_unpack(const uint8_t *data, size_t len, invite_t *inv, char *err, size_t err_len);

// The code string "weft1-...". Returns 0 or -1 + err (fields out of range, out too small).
int invite_encode(const invite_t *inv, char *out, size_t out_len, char *err, size_t err_len);
// Decodes a code: prefix, base32, then invite_unpack (version, lengths, checksum, fields, signature),
// each with its own message (a typo: "invite code has a typo (checksum mismatch): copy it again").
// Surrounding whitespace is ignored. Does not check expiry. Returns 0 or -1 + err.
int invite_decode(const char *code, invite_t *inv, char *err, size_t err_len);
// 0 if the invite is still valid at `now`; else -1 + "invite expired 3 h ago: ask for a new one with
// `weft mesh invite`".
int invite_check_expiry(const invite_t *inv, uint64_t now, char *err, size_t err_len);

// "3 h", "12 min", "2 d", "40 s": a duration for messages.
void invite_format_duration(uint64_t seconds, char *out, size_t out_len);

#endif
