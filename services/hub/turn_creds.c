// turn_creds.c — TURN REST API credentials (HMAC-SHA1 from OpenSSL's libcrypto; libsodium has none).
// See turn_creds.h.
#include "turn_creds.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hub.pb-c.h"
#include "identity.h"
#include "log.h"

void turn_creds_config_from(turn_creds_config_t *out, const weft_config_t *cfg)
{
    memset(out, 0, sizeof *out);
    snprintf(out->secret, sizeof out->secret, "%s", cfg->hub_turn_secret);
    for (int i = 0; i < cfg->hub_turn_server_count && i < CONFIG_MAX_SERVERS; i++)
        snprintf(out->servers[out->server_count++], CONFIG_STR, "%s", cfg->hub_turn_servers[i]);
    out->ttl_s = cfg->hub_turn_ttl;
    if (out->secret[0] && out->server_count)
        log_info("TURN credentials for members: %d server(s), first %s, valid %d s", out->server_count,
                 out->servers[0], out->ttl_s);
    else if (out->secret[0] || out->server_count)
        log_warn("hub.turn_secret and hub.turn_servers go together: no TURN credentials for members");
}

int turn_creds_hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *message, size_t len, uint8_t out[20])
{
    unsigned int out_len = 0;
    if (key_len > INT32_MAX || !HMAC(EVP_sha1(), key, (int)key_len, message, len, out, &out_len) || out_len != 20)
        return -1;
    return 0;
}

int turn_creds_hmac_sha1_base64(const char *key, const char *message, char *out, size_t out_len)
{
    uint8_t mac[20];
    if (turn_creds_hmac_sha1((const uint8_t *)key, strlen(key), (const uint8_t *)message, strlen(message), mac) != 0)
        return -1;
    if (out_len < sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL))
        return -1;
    sodium_bin2base64(out, out_len, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

int turn_creds_make(const turn_creds_config_t *config, const uint8_t id[32], int64_t now_unix, char *username,
                    size_t username_len, char *password, size_t password_len, int64_t *expires_unix)
{
    if (!config->secret[0])
        return -1;
    char hex[ID_HEX_LEN];
    id_to_hex(id, hex);
    *expires_unix = now_unix + config->ttl_s;
    int n = snprintf(username, username_len, "%" PRId64 ":%s", *expires_unix, hex);
    if (n < 0 || (size_t)n >= username_len)
        return -1;
    return turn_creds_hmac_sha1_base64(config->secret, username, password, password_len);
}

uint8_t *turn_creds_reply_pack(const turn_creds_config_t *config, const uint8_t id[32], int64_t now_unix,
                               size_t *len)
{
    char username[TURN_CREDS_USER_LEN], password[TURN_CREDS_PASS_LEN];
    int64_t expires;
    if (!config->server_count ||
        turn_creds_make(config, id, now_unix, username, sizeof username, password, sizeof password, &expires) != 0)
        return NULL;
    char *servers[CONFIG_MAX_SERVERS];
    for (int i = 0; i < config->server_count; i++)
        servers[i] = (char *)config->servers[i];
    Weft__TurnCredentials creds = WEFT__TURN_CREDENTIALS__INIT;
    creds.username = username;
    creds.password = password;
    creds.n_servers = (size_t)config->server_count;
    creds.servers = servers;
    creds.expires_unix = (uint64_t)expires;
    creds.ttl_s = (uint32_t)config->ttl_s;
    Weft__HubReply reply = WEFT__HUB_REPLY__INIT;
    reply.body_case = WEFT__HUB_REPLY__BODY_TURN_CREDENTIALS;
    reply.turn_credentials = &creds;
    *len = weft__hub_reply__get_packed_size(&reply);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        weft__hub_reply__pack(&reply, buf);
    sodium_memzero(password, sizeof password);
    return buf;
}
