// hub_api_body.c — see hub_api_body.h.
#include "hub_api_body.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hub_proto.h"
#include "route_table.h"

static bool parse_hex(const char *text, uint8_t *out, size_t len)
{
    if (!text || strlen(text) != len * 2)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = text[i * 2 + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= (unsigned)(c - 'A' + 10);
            else
                return false;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

bool hub_api_parse_mesh_id(const char *text, uint8_t id[16])
{
    return parse_hex(text, id, 16);
}

bool hub_api_parse_key(const char *text, uint8_t key[32])
{
    return parse_hex(text, key, 32);
}

bool hub_api_is_json(const char *content_type)
{
    if (!content_type)
        return false;
    size_t n = strlen("application/json");
    if (strncasecmp(content_type, "application/json", n) != 0)
        return false;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ';
}

// The body as a JSON object, or NULL with why filled. Rejects NUL bytes inside and anything but an object.
static cJSON *parse_object(const char *body, size_t len, char *why, size_t why_len)
{
    if (!body || len == 0) {
        snprintf(why, why_len, "the request needs a JSON object body");
        return NULL;
    }
    if (len > HUB_API_MAX_BODY) {
        snprintf(why, why_len, "the body is larger than %d bytes", HUB_API_MAX_BODY);
        return NULL;
    }
    if (memchr(body, '\0', len)) {
        snprintf(why, why_len, "the body holds a NUL byte");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!root) {
        snprintf(why, why_len, "not valid JSON (near byte %zu)", end && end >= body ? (size_t)(end - body) : 0);
        return NULL;
    }
    if (end) {  // only whitespace may follow the value
        for (const char *c = end; c < body + len; c++)
            if (!isspace((unsigned char)*c)) {
                snprintf(why, why_len, "something follows the JSON value (byte %zu)", (size_t)(c - body));
                cJSON_Delete(root);
                return NULL;
            }
    }
    if (!cJSON_IsObject(root)) {
        snprintf(why, why_len, "the body must be a JSON object");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

// Every key of obj is one of allowed (NULL-terminated) and none repeats.
static bool known_keys(const cJSON *obj, const char *const *allowed, char *why, size_t why_len)
{
    for (const cJSON *item = obj->child; item; item = item->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = item->string && strcmp(item->string, *a) == 0;
        if (!ok) {
            snprintf(why, why_len, "unknown field '%.40s'", item->string ? item->string : "");
            return false;
        }
        for (const cJSON *other = item->next; other; other = other->next)
            if (other->string && strcmp(other->string, item->string) == 0) {
                snprintf(why, why_len, "field '%.40s' appears twice", item->string);
                return false;
            }
    }
    return true;
}

// A string field into out (capacity out_len). required: absent is an error; else out stays "".
static bool string_field(const cJSON *obj, const char *name, bool required, char *out, size_t out_len, char *why,
                         size_t why_len)
{
    out[0] = '\0';
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item) {
        if (required)
            snprintf(why, why_len, "missing field '%s'", name);
        return !required;
    }
    if (!cJSON_IsString(item) || !item->valuestring) {
        snprintf(why, why_len, "'%s' must be a string", name);
        return false;
    }
    if (strlen(item->valuestring) >= out_len) {
        snprintf(why, why_len, "'%s' is longer than %zu characters", name, out_len - 1);
        return false;
    }
    snprintf(out, out_len, "%s", item->valuestring);
    return true;
}

int hub_api_parse_network(const char *body, size_t len, hub_api_network_t *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    cJSON *root = parse_object(body, len, why, why_len);
    if (!root)
        return -1;
    static const char *const allowed[] = {"name", "cidr", "admin_key", "psk", "ttl_s", NULL};
    int rc = -1;
    char key_hex[80];
    uint32_t network;
    int prefix;
    if (!known_keys(root, allowed, why, why_len) ||
        !string_field(root, "name", true, out->name, sizeof out->name, why, why_len) ||
        !string_field(root, "cidr", true, out->cidr, sizeof out->cidr, why, why_len) ||
        !string_field(root, "admin_key", true, key_hex, sizeof key_hex, why, why_len))
        goto done;
    if (!hub_valid_mesh(out->name)) {
        snprintf(why, why_len, "'name' must be 1..63 characters of A-Z a-z 0-9 . _ -");
        goto done;
    }
    if (!hub_parse_cidr(out->cidr, &network, &prefix)) {
        snprintf(why, why_len, "'cidr' must be an IPv4 network with a prefix of %d..%d, e.g. 10.100.0.0/16",
                 HUB_CIDR_MIN_PREFIX, HUB_CIDR_MAX_PREFIX);
        goto done;
    }
    if (!hub_api_parse_key(key_hex, out->admin_key)) {
        snprintf(why, why_len, "'admin_key' must be 64 hex characters (the admin's node id, `weft id`)");
        goto done;
    }
    const cJSON *psk = cJSON_GetObjectItemCaseSensitive(root, "psk");
    if (psk && !cJSON_IsBool(psk)) {
        snprintf(why, why_len, "'psk' must be true or false");
        goto done;
    }
    out->psk = psk && cJSON_IsTrue(psk);
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(root, "ttl_s");
    if (ttl) {
        double v = cJSON_IsNumber(ttl) ? ttl->valuedouble : -1;
        if (!(v >= 0 && v <= HUB_ROOM_MAX_TTL) || v != (double)(uint32_t)v) {
            snprintf(why, why_len, "'ttl_s' must be a whole number of seconds, 0..%d (0: forever)", HUB_ROOM_MAX_TTL);
            goto done;
        }
        out->ttl_s = (uint32_t)v;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

int hub_api_parse_peer(const char *body, size_t len, hub_api_peer_t *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    cJSON *root = parse_object(body, len, why, why_len);
    if (!root)
        return -1;
    static const char *const allowed[] = {"key", "name", "address", NULL};
    int rc = -1;
    char key_hex[80];
    if (!known_keys(root, allowed, why, why_len) ||
        !string_field(root, "key", true, key_hex, sizeof key_hex, why, why_len) ||
        !string_field(root, "name", true, out->name, sizeof out->name, why, why_len) ||
        !string_field(root, "address", false, out->address, sizeof out->address, why, why_len))
        goto done;
    if (!hub_api_parse_key(key_hex, out->key)) {
        snprintf(why, why_len, "'key' must be 64 hex characters (the member's node id, `weft id`)");
        goto done;
    }
    if (!hub_valid_name(out->name)) {
        snprintf(why, why_len, "'name' must be at most 63 printable characters");
        goto done;
    }
    if (out->address[0] && !hub_valid_ipv4(out->address)) {
        snprintf(why, why_len, "'address' must be an IPv4 address inside the network's cidr");
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

int hub_api_parse_route(const char *body, size_t len, hub_api_route_t *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    cJSON *root = parse_object(body, len, why, why_len);
    if (!root)
        return -1;
    static const char *const allowed[] = {"member", "prefix", "allow", NULL};
    int rc = -1;
    char key_hex[80], prefix[40];
    uint32_t net;
    int plen;
    if (!known_keys(root, allowed, why, why_len) ||
        !string_field(root, "member", true, key_hex, sizeof key_hex, why, why_len) ||
        !string_field(root, "prefix", true, prefix, sizeof prefix, why, why_len))
        goto done;
    if (!hub_api_parse_key(key_hex, out->member)) {
        snprintf(why, why_len, "'member' must be 64 hex characters (the member's node id, `weft id`)");
        goto done;
    }
    if (ipv4_prefix_from_text(prefix, &net, &plen) != 0) {
        snprintf(why, why_len, "'prefix' must be an IPv4 prefix with no host bits past its length, like "
                               "192.168.50.0/24");
        goto done;
    }
    char a[16];
    ipv4_to_text(net, a);
    snprintf(out->prefix, sizeof out->prefix, "%s/%d", a, plen);
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(root, "allow");
    if (allow && !cJSON_IsBool(allow)) {
        snprintf(why, why_len, "'allow' must be true or false");
        goto done;
    }
    out->allow = !allow || cJSON_IsTrue(allow);
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
