// hub_proto.c — see hub_proto.h.
#include "hub_proto.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool hub_valid_mesh(const char *mesh)
{
    if (!mesh)
        return false;
    size_t n = strlen(mesh);
    if (n < 1 || n > HUB_MESH_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = mesh[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool hub_valid_name(const char *name)
{
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n > HUB_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

bool hub_valid_ipv4(const char *addr)
{
    struct in_addr a;
    return addr && strlen(addr) <= 15 && inet_pton(AF_INET, addr, &a) == 1;
}

bool hub_valid_id(ProtobufCBinaryData id)
{
    return id.len == HUB_ID_LEN && id.data;
}

static bool short_string(const char *s)
{
    return s && strlen(s) <= HUB_SIGNAL_MAX_FIELD;
}

bool hub_valid_signal(const Weft__Signal *sig, char *why, size_t why_len)
{
    const char *problem = NULL;
    if (!hub_valid_id(sig->from) || !hub_valid_id(sig->to))
        problem = "signal ids must be 32 bytes";
    else if (sig->kind != WEFT__SIGNAL__KIND__OFFER && sig->kind != WEFT__SIGNAL__KIND__ANSWER &&
             sig->kind != WEFT__SIGNAL__KIND__RESTART)
        problem = "unknown signal kind";
    else if (!short_string(sig->ufrag) || !short_string(sig->pwd) || !short_string(sig->answers))
        problem = "signal credentials too long";
    else if (sig->n_candidates > HUB_SIGNAL_MAX_CANDIDATES)
        problem = "too many candidates";
    for (size_t i = 0; !problem && i < sig->n_candidates; i++)
        if (!short_string(sig->candidates[i]))
            problem = "candidate line too long";
    if (problem) {
        snprintf(why, why_len, "%s", problem);
        return false;
    }
    return true;
}

static bool check_register(const Weft__Register *r, char *why, size_t why_len)
{
    const char *problem = NULL;
    if (!hub_valid_mesh(r->mesh))
        problem = "mesh must be 1..63 characters of A-Z a-z 0-9 . _ -";
    else if (!hub_valid_id(r->id))
        problem = "id must be 32 bytes";
    else if (!hub_valid_name(r->name))
        problem = "name must be at most 63 printable characters";
    else if (!hub_valid_ipv4(r->overlay_addr))
        problem = "overlay_addr must be an IPv4 address";
    if (problem)
        snprintf(why, why_len, "register: %s", problem);
    return !problem;
}

static bool check_leave(const Weft__Leave *l, char *why, size_t why_len)
{
    if (!hub_valid_mesh(l->mesh) || !hub_valid_id(l->id)) {
        snprintf(why, why_len, "leave: needs a valid mesh and a 32-byte id");
        return false;
    }
    return true;
}

bool hub_parse_cidr(const char *cidr, uint32_t *network, int *prefix)
{
    char addr[16];
    const char *slash = cidr ? strchr(cidr, '/') : NULL;
    if (!slash || (size_t)(slash - cidr) >= sizeof addr || strlen(slash + 1) < 1 || strlen(slash + 1) > 2)
        return false;
    memcpy(addr, cidr, (size_t)(slash - cidr));
    addr[slash - cidr] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, addr, &a) != 1)
        return false;
    int p = 0;
    for (const char *c = slash + 1; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        p = p * 10 + (*c - '0');
    }
    if (p < HUB_CIDR_MIN_PREFIX || p > HUB_CIDR_MAX_PREFIX)
        return false;
    uint32_t mask = 0xffffffffu << (32 - p);
    *network = ntohl(a.s_addr) & mask;
    *prefix = p;
    return true;
}

static bool bytes_of(ProtobufCBinaryData b, size_t len)
{
    return b.len == len && b.data;
}

static bool check_membership(const Weft__HubRequest *req, char *why, size_t why_len)
{
    const char *problem = NULL;
    uint32_t net;
    int prefix;
    switch (req->body_case) {
    case WEFT__HUB_REQUEST__BODY_CREATE_MESH: {
        const Weft__CreateMesh *m = req->create_mesh;
        if (!hub_valid_mesh(m->name))
            problem = "create mesh: name must be 1..63 characters of A-Z a-z 0-9 . _ -";
        else if (!hub_parse_cidr(m->cidr, &net, &prefix))
            problem = "create mesh: cidr must be an IPv4 network with a prefix of 8..30, e.g. 10.100.0.0/16";
        else if (!hub_valid_id(m->admin_key))
            problem = "create mesh: admin_key must be 32 bytes";
        else if (!hub_valid_name(m->member_name))
            problem = "create mesh: member_name must be at most 63 printable characters";
        else if (m->ttl_s > HUB_ROOM_MAX_TTL)
            problem = "create mesh: ttl_s is more than 30 days";
        break;
    }
    case WEFT__HUB_REQUEST__BODY_REGISTER_INVITE: {
        const Weft__RegisterInvite *r = req->register_invite;
        if (!bytes_of(r->mesh_id, HUB_MESH_ID_LEN) || !bytes_of(r->nonce, HUB_NONCE_LEN))
            problem = "register invite: mesh_id and nonce must be 16 bytes";
        else if (r->max_uses < 1 || r->max_uses > HUB_INVITE_MAX_USES)
            problem = "register invite: max_uses must be 1..1000";
        else if (r->expires == 0)
            problem = "register invite: expires missing";
        break;
    }
    case WEFT__HUB_REQUEST__BODY_JOIN:
        if (req->join->invite.len < 1 || req->join->invite.len > HUB_INVITE_MAX || !req->join->invite.data)
            problem = "join: invite must be 1..1024 bytes";
        else if (!hub_valid_id(req->join->key))
            problem = "join: key must be 32 bytes";
        else if (!hub_valid_name(req->join->name))
            problem = "join: name must be at most 63 printable characters";
        else if (req->join->joiner_sig.len != HUB_JOIN_SIG_LEN)
            problem = "join: joiner_sig must be 64 bytes (a weft older than the hub? update it)";
        break;
    case WEFT__HUB_REQUEST__BODY_CERT_ISSUED: {
        const Weft__CertIssued *c = req->cert_issued;
        if (c->cert.len != 0 && c->cert.len != HUB_CERT_LEN)
            problem = "cert issued: cert has the wrong length";
        else if (c->sealed_psk.len != 0 && c->sealed_psk.len != HUB_SEALED_PSK_LEN)
            problem = "cert issued: sealed_psk has the wrong length";
        else if (!c->error || strlen(c->error) > 256)
            problem = "cert issued: error too long";
        break;
    }
    case WEFT__HUB_REQUEST__BODY_KICK:
        if (!bytes_of(req->kick->mesh_id, HUB_MESH_ID_LEN) || !bytes_of(req->kick->revocation, HUB_REVOCATION_LEN))
            problem = "kick: needs a 16-byte mesh_id and an encoded revocation";
        break;
    case WEFT__HUB_REQUEST__BODY_LEAVE_MESH:
        if (!bytes_of(req->leave_mesh->mesh_id, HUB_MESH_ID_LEN) || !hub_valid_id(req->leave_mesh->key))
            problem = "leave mesh: needs a 16-byte mesh_id and a 32-byte key";
        break;
    case WEFT__HUB_REQUEST__BODY_LIST_MEMBERS:
        if (!bytes_of(req->list_members->mesh_id, HUB_MESH_ID_LEN) || !hub_valid_id(req->list_members->key))
            problem = "list members: needs a 16-byte mesh_id and a 32-byte key";
        break;
    case WEFT__HUB_REQUEST__BODY_ROUTES_ALLOW:
        if (!bytes_of(req->routes_allow->mesh_id, HUB_MESH_ID_LEN) || !hub_valid_id(req->routes_allow->member_key))
            problem = "routes allow: needs a 16-byte mesh_id and a 32-byte member_key";
        else if (!req->routes_allow->prefix || strlen(req->routes_allow->prefix) > 18)
            problem = "routes allow: prefix must be an IPv4 prefix like 192.168.50.0/24";
        break;
    default:
        problem = "request has no body";
    }
    if (problem)
        snprintf(why, why_len, "%s", problem);
    return !problem;
}

static bool check_request(const Weft__HubRequest *req, char *why, size_t why_len)
{
    switch (req->body_case) {
    case WEFT__HUB_REQUEST__BODY_CREATE_MESH:
        return req->create_mesh && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_REGISTER_INVITE:
        return req->register_invite && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_JOIN:
        return req->join && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_CERT_ISSUED:
        return req->cert_issued && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_KICK:
        return req->kick && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_LEAVE_MESH:
        return req->leave_mesh && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_LIST_MEMBERS:
        return req->list_members && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_ROUTES_ALLOW:
        return req->routes_allow && check_membership(req, why, why_len);
    case WEFT__HUB_REQUEST__BODY_REGISTER:
        return req->register_ && check_register(req->register_, why, why_len);
    case WEFT__HUB_REQUEST__BODY_LEAVE:
        return req->leave && check_leave(req->leave, why, why_len);
    case WEFT__HUB_REQUEST__BODY_SIGNAL:
        return req->signal && hub_valid_signal(req->signal, why, why_len);
    default:
        snprintf(why, why_len, "request has no body");
        return false;
    }
}

// protobuf-c 1.4 decodes field number 0 written as an overlong varint (80 00) into an unknown field, then
// packs it as 00, which no decoder, protobuf-c included, accepts: a Signal carrying one would be relayed to
// its recipient as a HubReply that does not decode (found by fuzz_hub_request). No valid message has a
// field 0, so a request with one, at the top or in its body, is refused.
static bool has_field_zero(const ProtobufCMessage *m)
{
    for (size_t i = 0; m && i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    return false;
}

static bool request_has_field_zero(const Weft__HubRequest *req)
{
    if (has_field_zero(&req->base))
        return true;
    switch (req->body_case) {
    case WEFT__HUB_REQUEST__BODY_REGISTER: return req->register_ && has_field_zero(&req->register_->base);
    case WEFT__HUB_REQUEST__BODY_LEAVE: return req->leave && has_field_zero(&req->leave->base);
    case WEFT__HUB_REQUEST__BODY_SIGNAL: return req->signal && has_field_zero(&req->signal->base);
    case WEFT__HUB_REQUEST__BODY_CREATE_MESH: return req->create_mesh && has_field_zero(&req->create_mesh->base);
    case WEFT__HUB_REQUEST__BODY_REGISTER_INVITE:
        return req->register_invite && has_field_zero(&req->register_invite->base);
    case WEFT__HUB_REQUEST__BODY_JOIN: return req->join && has_field_zero(&req->join->base);
    case WEFT__HUB_REQUEST__BODY_CERT_ISSUED: return req->cert_issued && has_field_zero(&req->cert_issued->base);
    case WEFT__HUB_REQUEST__BODY_KICK: return req->kick && has_field_zero(&req->kick->base);
    case WEFT__HUB_REQUEST__BODY_LEAVE_MESH: return req->leave_mesh && has_field_zero(&req->leave_mesh->base);
    case WEFT__HUB_REQUEST__BODY_LIST_MEMBERS:
        return req->list_members && has_field_zero(&req->list_members->base);
    case WEFT__HUB_REQUEST__BODY_ROUTES_ALLOW:
        return req->routes_allow && has_field_zero(&req->routes_allow->base);
    default: return false;
    }
}

Weft__HubRequest *hub_request_parse(const uint8_t *data, size_t len, char *why, size_t why_len)
{
    if (len > HUB_MAX_FRAME) {
        snprintf(why, why_len, "request of %zu bytes is larger than %d", len, HUB_MAX_FRAME);
        return NULL;
    }
    Weft__HubRequest *req = weft__hub_request__unpack(NULL, len, data);
    if (!req) {
        snprintf(why, why_len, "request of %zu bytes does not decode as a HubRequest", len);
        return NULL;
    }
    if (request_has_field_zero(req)) {
        snprintf(why, why_len, "request has a field numbered 0");
        weft__hub_request__free_unpacked(req, NULL);
        return NULL;
    }
    if (!check_request(req, why, why_len)) {
        weft__hub_request__free_unpacked(req, NULL);
        return NULL;
    }
    return req;
}

uint8_t *hub_reply_pack(const Weft__HubReply *reply, size_t *len)
{
    *len = weft__hub_reply__get_packed_size(reply);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        weft__hub_reply__pack(reply, buf);
    return buf;
}

uint8_t *hub_error_pack(Weft__HubError__Code code, const char *message, size_t *len)
{
    Weft__HubError error = WEFT__HUB_ERROR__INIT;
    error.code = code;
    error.message = (char *)message;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_ERROR;
    reply.error = &error;
    return hub_reply_pack(&reply, len);
}

const char *hub_error_code_name(Weft__HubError__Code code)
{
    switch (code) {
    case WEFT__HUB_ERROR__CODE__BAD_REQUEST: return "BAD_REQUEST";
    case WEFT__HUB_ERROR__CODE__NOT_MEMBER: return "NOT_MEMBER";
    case WEFT__HUB_ERROR__CODE__UNKNOWN_PEER: return "UNKNOWN_PEER";
    case WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE: return "ADDRESS_IN_USE";
    case WEFT__HUB_ERROR__CODE__NO_SUCH_MESH: return "NO_SUCH_MESH";
    case WEFT__HUB_ERROR__CODE__NOT_ADMIN: return "NOT_ADMIN";
    case WEFT__HUB_ERROR__CODE__BAD_INVITE: return "BAD_INVITE";
    case WEFT__HUB_ERROR__CODE__INVITE_USED_UP: return "INVITE_USED_UP";
    case WEFT__HUB_ERROR__CODE__INVITE_EXPIRED: return "INVITE_EXPIRED";
    case WEFT__HUB_ERROR__CODE__NO_ADMIN_ONLINE: return "NO_ADMIN_ONLINE";
    case WEFT__HUB_ERROR__CODE__REVOKED: return "REVOKED";
    case WEFT__HUB_ERROR__CODE__MESH_FULL: return "MESH_FULL";
    case WEFT__HUB_ERROR__CODE__NOT_IN_MESH: return "NOT_IN_MESH";
    case WEFT__HUB_ERROR__CODE__QUOTA: return "QUOTA";
    case WEFT__HUB_ERROR__CODE__CLOSED_MESH: return "CLOSED_MESH";
    default: return "UNKNOWN_CODE";
    }
}
