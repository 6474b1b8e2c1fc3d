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

// The joiner's consent: Ed25519(joiner, "weft-join-v1" || mesh_id[16] || joiner key[32] || invite nonce[16]).
// Sent in Join, passed by the hub in the CertRequest, checked by the admin's node before it signs, so the
// hub cannot have a certificate signed for a key that never asked with this invite.
#define INVITE_JOIN_SIG_LEN 64
void invite_join_sign(const identity_t *joiner, const uint8_t mesh_id[MESH_ID_LEN],
                      const uint8_t nonce[INVITE_NONCE_LEN], uint8_t sig[INVITE_JOIN_SIG_LEN]);
// 0 when sig is joiner_key's signature over (mesh_id, joiner_key, nonce), else -1.
int invite_join_verify(const uint8_t joiner_key[32], const uint8_t mesh_id[MESH_ID_LEN],
                       const uint8_t nonce[INVITE_NONCE_LEN], const uint8_t *sig, size_t sig_len);

// What the admin's node signs for (its discovery, on a CertRequest from the hub): the hub is not trusted
// to name the key, the address or the expiry.
typedef struct {
    uint8_t mesh_id[MESH_ID_LEN];   // the admin's mesh
    uint8_t admin_key[32];          // the admin's own id: the invite must be signed by it
    uint32_t network;               // the admin's overlay network (host order) and prefix: the address must be
    int prefix;                     // a host address in it, with this prefix, and not the admin's own
    uint32_t own_address;
    uint64_t now;                   // unix s
    uint32_t max_days;              // longest certificate it signs (mesh.cert_max_days)
} invite_policy_t;

// Checks a certificate request: the invite decodes, is signed by policy->admin_key for policy->mesh_id and
// has not expired (60 s of grace: the hub took its use moments ago); joiner_sig is member_key's join
// signature over this mesh and the invite's nonce; address/prefix lie in the admin's network. The
// certificate's expiry is set here: the hub's (a room's end) when there is one and it is sooner, else
// now + max_days; never 0. Returns 0 with *expires, or -1 with err ("the invite is not signed by this
// admin", ...).
int invite_check_cert_request(const invite_policy_t *policy, const uint8_t *invite, size_t invite_len,
                              const uint8_t member_key[32], const uint8_t *joiner_sig, size_t sig_len,
                              uint32_t address, int prefix, uint64_t hub_expires, uint64_t *expires, char *err,
                              size_t err_len);

// "3 h", "12 min", "2 d", "40 s": a duration for messages.
void invite_format_duration(uint64_t seconds, char *out, size_t out_len);

#endif
