// hub_proto.h — the hub protocol's checks (proto/hub.proto): decoding one request frame and validating
// every field that comes from outside (mesh names, 32-byte ids, overlay addresses, signal sizes), and
// packing replies. Pure functions with no sockets or Redis, shared by the hub, discovery, the unit
// tests and the fuzz target.
#ifndef WEFT_HUB_PROTO_H
#define WEFT_HUB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub.pb-c.h"

#define HUB_MAX_FRAME (64 * 1024)       // largest request or reply frame
#define HUB_MESH_MAX 63                 // mesh name: 1..63 of [A-Za-z0-9._-]
#define HUB_NAME_MAX 63                 // member name: 0..63 printable bytes
#define HUB_ID_LEN 32                   // node id: Ed25519 public key
#define HUB_SIGNAL_MAX_CANDIDATES 64
#define HUB_SIGNAL_MAX_FIELD 1024       // ufrag, pwd, answers, each candidate line
// membership requests (docs/membership.md)
#define HUB_MESH_ID_LEN 16
#define HUB_NONCE_LEN 16
#define HUB_INVITE_MAX 1024             // an encoded invite
#define HUB_INVITE_MAX_USES 1000
#define HUB_CERT_LEN 166                // = CERT_LEN (lib/cert.h)
#define HUB_REVOCATION_LEN 153          // = REVOCATION_LEN (lib/cert.h)
#define HUB_SEALED_PSK_LEN (32 + 48)    // crypto_box_seal of a 32-byte psk
#define HUB_JOIN_SIG_LEN 64             // Join.joiner_sig (= INVITE_JOIN_SIG_LEN)
#define HUB_ROOM_MAX_TTL (30 * 24 * 3600)
#define HUB_CIDR_MIN_PREFIX 8
#define HUB_CIDR_MAX_PREFIX 30

bool hub_valid_mesh(const char *mesh);
bool hub_valid_name(const char *name);
bool hub_valid_ipv4(const char *addr);
bool hub_valid_id(ProtobufCBinaryData id);
// "10.100.0.0/16" -> network (host order, host bits cleared) and prefix (8..30). False if malformed.
bool hub_parse_cidr(const char *cidr, uint32_t *network, int *prefix);
// A Signal's ids are 32 bytes, kind is known and its strings fit the limits above.
bool hub_valid_signal(const Weft__Signal *sig, char *why, size_t why_len);

// Decodes and validates one request frame. Returns the request (free it with
// weft__hub_request__free_unpacked(req, NULL)) or NULL with why filled in.
Weft__HubRequest *hub_request_parse(const uint8_t *data, size_t len, char *why, size_t why_len);

// Packs a reply into a new buffer (free() it); returns NULL when out of memory.
uint8_t *hub_reply_pack(const Weft__HubReply *reply, size_t *len);
// Packs a HubError reply.
uint8_t *hub_error_pack(Weft__HubError__Code code, const char *message, size_t *len);

const char *hub_error_code_name(Weft__HubError__Code code);

#endif
