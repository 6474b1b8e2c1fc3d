// turn_creds.h — time-limited TURN credentials for members (the TURN REST API that coturn implements with
// use-auth-secret / static-auth-secret): username "<expiry unix>:<member id hex>", password
// base64(HMAC-SHA1(secret, username)). The hub gives them to a member whose Register asks for them;
// the member asks again when a third of the TTL is left. The secret stays in the hub's config (never
// in Redis, never on the wire).
#ifndef WEFT_HUB_TURN_CREDS_H
#define WEFT_HUB_TURN_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define TURN_CREDS_USER_LEN 96      // "<20 digits>:<64 hex>"
#define TURN_CREDS_PASS_LEN 32      // base64 of 20 bytes is 28

typedef struct {
    char secret[CONFIG_STR];                        // hub.turn_secret; "" = the hub hands out none
    char servers[CONFIG_MAX_SERVERS][CONFIG_STR];   // hub.turn_servers
    int server_count;
    int ttl_s;                                      // hub.turn_ttl
} turn_creds_config_t;

// From the hub's config (hub.turn_*). Logs what it will hand out (never the secret).
void turn_creds_config_from(turn_creds_config_t *out, const weft_config_t *cfg);

// base64(HMAC-SHA1(key, message)) (standard alphabet, padded). Returns 0 or -1.
int turn_creds_hmac_sha1_base64(const char *key, const char *message, char *out, size_t out_len);

// HMAC-SHA1 itself (20 bytes out), for the RFC 2202 tests.
int turn_creds_hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *message, size_t len, uint8_t out[20]);

// The credentials for member `id`, valid until now_unix + ttl. Returns 0 or -1.
int turn_creds_make(const turn_creds_config_t *config, const uint8_t id[32], int64_t now_unix, char *username,
                    size_t username_len, char *password, size_t password_len, int64_t *expires_unix);

// A packed HubReply{turn_credentials} for member id (malloc'ed, *len set), or NULL when the hub has no
// TURN secret or servers (or out of memory).
uint8_t *turn_creds_reply_pack(const turn_creds_config_t *config, const uint8_t id[32], int64_t now_unix,
                               size_t *len);

#endif
