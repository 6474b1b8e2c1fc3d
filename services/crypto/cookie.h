// cookie.h — the cheap checks in front of weft-crypto's handshakes (WireGuard's mac1, mac2 and cookie
// reply, docs/protocol.md "Handshake flood protection"): the two MACs at the end of every handshake
// message and the encrypted cookie a busy responder sends back instead of doing a Diffie-Hellman.
//
// - mac1 = MAC(HASH("weft mac1" || receiver's static public key), message up to mac1). Anyone who knows
//   the receiver's node id can make it, but random bytes cannot pass it, and it is checked before any DH.
// - mac2 = MAC(cookie, message up to mac2), all zero without a fresh cookie. A cookie is
//   MAC(responder's secret, binding); the responder's secret is random and changes every 2 minutes. The
//   binding is the member id nat tagged the datagram with (the ICE agent that received it).
// - A cookie reply carries the cookie encrypted (XChaCha20-Poly1305) under HASH("weft cookie" || the
//   responder's static public key), with the mac1 of the message it answers as associated data, so only
//   the sender of that message can use it.
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

// The receiving side: our keys for checking mac1 and encrypting cookie replies, and the cookie secret.
typedef struct {
    uint8_t mac1_key[32];
    uint8_t cookie_key[32];
    uint8_t secret[32];
    int64_t secret_ms;          // when secret was made; a new one after COOKIE_SECRET_MS
    bool secret_set;
} cookie_checker_t;

// The sending side, one per peer: the peer's keys, the last cookie it gave us and the mac1 of the last
// initiation we sent it (a cookie reply must answer that one).
typedef struct {
    uint8_t mac1_key[32];
    uint8_t cookie_key[32];
    uint8_t cookie[COOKIE_LEN];
    int64_t cookie_ms;          // when the cookie arrived
    bool have_cookie;
    uint8_t last_mac1[COOKIE_MAC_LEN];
    bool last_mac1_valid;
} cookie_maker_t;

// Keys derived from our own static public key (checker) or from a peer's (maker).
void cookie_checker_init(cookie_checker_t *checker, const uint8_t local_public[32]);
void cookie_maker_init(cookie_maker_t *maker, const uint8_t peer_public[32]);

// Writes mac1 and mac2 into the last COOKIE_MACS_LEN bytes of msg (len includes them). mac2 is zero
// unless the maker holds a cookie younger than COOKIE_VALID_MS. remember: keep this mac1 as the one a
// cookie reply may answer (initiations). Returns -1 if len is too short for the MACs.
int cookie_add_macs(cookie_maker_t *maker, uint8_t *msg, size_t len, int64_t now_ms, bool remember);

// True if the mac1 at the end of msg (len includes both MACs) is ours.
bool cookie_check_mac1(const cookie_checker_t *checker, const uint8_t *msg, size_t len);

// True if the mac2 at the end of msg was made with the cookie of binding under the current secret.
bool cookie_check_mac2(cookie_checker_t *checker, const uint8_t *msg, size_t len,
                       const uint8_t binding[COOKIE_BINDING_LEN], int64_t now_ms);

// The body of a cookie reply to msg (whose mac1 becomes the associated data): a random nonce then the
// encrypted cookie of binding. out holds COOKIE_NONCE_LEN + COOKIE_LEN + 16 bytes. Returns 0 or -1.
#define COOKIE_REPLY_BODY_LEN (COOKIE_NONCE_LEN + COOKIE_LEN + 16)
int cookie_reply_body(cookie_checker_t *checker, const uint8_t *msg, size_t len,
                      const uint8_t binding[COOKIE_BINDING_LEN], int64_t now_ms,
                      uint8_t out[COOKIE_REPLY_BODY_LEN]);

// Reads the body of a cookie reply from the maker's peer: decrypts it with the mac1 of our last
// initiation as associated data and keeps the cookie. Returns 0, or -1 (nothing kept) if it does not
// decrypt or answers no initiation of ours; a cookie reply is used once.
int cookie_read_reply(cookie_maker_t *maker, const uint8_t *body, size_t body_len, int64_t now_ms);

#endif
