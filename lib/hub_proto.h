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

bool hub_valid_mesh(const char *mesh);
bool hub_valid_name(const char *name);
bool hub_valid_ipv4(const char *addr);
bool hub_valid_id(ProtobufCBinaryData id);
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
