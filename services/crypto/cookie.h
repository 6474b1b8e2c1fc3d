// cookie.h — the cheap checks in front of weft-crypto's handshakes (WireGuard's mac1, mac2 and cookie
// reply, docs/protocol.md "Handshake flood protection"): the two MACs at the end of every handshake
// message and the encrypted cookie a busy responder sends back instead of doing a Diffie-Hellman.
//
// - mac1 = MAC(HASH("weft mac1" || receiver's static public key), message up to mac1). Anyone who knows
//   the receiver's node id can make it, but random bytes cannot pass it, and it is checked before any DH.
// - mac2 = MAC(cookie, message up to mac2), all zero without a fresh cookie. A cookie is
//   MAC(responder's secret, binding); the responder's secret is random and changes every 2 minutes. The
//   binding is the member id nat tagged the datagram with (the ICE agent that received it).
// - A cookie reply carries the cookie encrypted (XChaCha20-Poly1305) under the pair's cookie key,
//   HASH("weft cookie" || X25519(our static private, the peer's static public)): only the two members can
//   make or read it (unlike WireGuard, whose responder does not yet know who initiates; here nat's tag
//   names the member). So the member can use any cookie reply sent on its path, also one that answers a
//   forged initiation, and the replies can be rate limited without starving it.
// MAC is keyed BLAKE2b with a 16-byte output, HASH is BLAKE2b-256. No sockets, no clock of its own.
#ifndef WEFT_CRYPTO_COOKIE_H
#define WEFT_CRYPTO_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COOKIE_MAC_LEN 16
#define COOKIE_MACS_LEN (2 * COOKIE_MAC_LEN)   // mac1 || mac2 at the end of a handshake message
#define COOKIE_LEN 16
#define COOKIE_NONCE_LEN 24
#define COOKIE_SECRET_MS 120000                // the responder's secret changes this often
#define COOKIE_VALID_MS (COOKIE_SECRET_MS - 10000)   // an initiator stops using a cookie this old
#define COOKIE_BINDING_LEN 32                  // what a cookie is bound to: a member id

// The receiving side: our key for checking mac1, and the cookie secret.
typedef struct {
    uint8_t mac1_key[32];
    uint8_t secret[32];
    int64_t secret_ms;          // when secret was made; a new one after COOKIE_SECRET_MS
    bool secret_set;
} cookie_checker_t;

// One per peer: the peer's mac1 key, the pair's cookie key (both directions) and the last cookie the
// peer gave us.
typedef struct {
    uint8_t mac1_key[32];
    uint8_t cookie_key[32];
    uint8_t cookie[COOKIE_LEN];
    int64_t cookie_ms;          // when the cookie arrived
    bool have_cookie;
} cookie_maker_t;

// The checker's keys come from our own static public key; a maker's from the peer's static public key
// and our static private key. Returns -1 if the pair's X25519 fails (a low-order peer key).
void cookie_checker_init(cookie_checker_t *checker, const uint8_t local_public[32]);
int cookie_maker_init(cookie_maker_t *maker, const uint8_t peer_public[32], const uint8_t local_private[32]);
// True while the maker holds a cookie younger than COOKIE_VALID_MS (mac2 will be made with it).
bool cookie_fresh(const cookie_maker_t *maker, int64_t now_ms);

// Writes mac1 and mac2 into the last COOKIE_MACS_LEN bytes of msg (len includes them). mac2 is zero
// unless the maker's cookie is fresh. Returns -1 if len is too short for the MACs.
int cookie_add_macs(const cookie_maker_t *maker, uint8_t *msg, size_t len, int64_t now_ms);

// True if the mac1 at the end of msg (len includes both MACs) is ours.
bool cookie_check_mac1(const cookie_checker_t *checker, const uint8_t *msg, size_t len);

// True if the mac2 at the end of msg was made with the cookie of binding under the current secret.
bool cookie_check_mac2(cookie_checker_t *checker, const uint8_t *msg, size_t len,
                       const uint8_t binding[COOKIE_BINDING_LEN], int64_t now_ms);

// The body of a cookie reply for the member binding: a random nonce then the cookie encrypted with the
// pair's cookie key (pair_key = that member's maker's cookie_key), the reply's 8-byte header as
// associated data. out holds COOKIE_REPLY_BODY_LEN bytes. Returns 0 or -1.
#define COOKIE_REPLY_HEADER_LEN 8
#define COOKIE_REPLY_BODY_LEN (COOKIE_NONCE_LEN + COOKIE_LEN + 16)
int cookie_reply_body(cookie_checker_t *checker, const uint8_t pair_key[32],
                      const uint8_t header[COOKIE_REPLY_HEADER_LEN], const uint8_t binding[COOKIE_BINDING_LEN],
                      int64_t now_ms, uint8_t out[COOKIE_REPLY_BODY_LEN]);

// Reads a cookie reply from the maker's peer (header and body): keeps the cookie if it decrypts with the
// pair's key. Returns 0, or -1 (nothing kept).
int cookie_read_reply(cookie_maker_t *maker, const uint8_t header[COOKIE_REPLY_HEADER_LEN], const uint8_t *body,
                      size_t body_len, int64_t now_ms);

#endif
