/*
 * transport.h - data-plane cipher states produced by the Noise split.
 *
 * Owns per-direction packet encryption with one of two AEADs, both with a
 * 32-byte key, a 12-byte nonce and a 16-byte tag: ChaCha20-Poly1305 (IETF,
 * the default) or AES-256-GCM (when both ends have AES-NI; the handshake
 * negotiates it, docs/protocol.md "Transport cipher").  Empty associated
 * data, nonce = 4 zero bytes || 64-bit little-endian counter (the Noise
 * ChaChaPoly nonce encoding, for both ciphers), a monotonically increasing
 * send counter, and the anti-replay window on the receive side.  Also owns
 * the choice between the ciphers (a pure function, unit-tested).
 * No allocation; not thread-safe (one owner per direction).
 */
#ifndef WEFT_TRANSPORT_H
#define WEFT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "replay.h"

#define TRANSPORT_KEY_LEN 32
#define TRANSPORT_TAG_LEN 16
/* A key may protect at most this many messages per direction; counters at
 * or above it are refused on both the sending and the receiving side. */
#define TRANSPORT_REJECT_AFTER_MESSAGES ((uint64_t)1 << 60)

typedef enum {
    TRANSPORT_CHACHA20_POLY1305 = 0,  /* the default: all a peer of the old handshake format speaks */
    TRANSPORT_AES256_GCM = 1,
} transport_cipher_t;

/* crypto.cipher: what this end offers and accepts. */
typedef enum {
    TRANSPORT_PREFER_AUTO = 0,  /* "auto": AES-256-GCM when both ends have AES-NI, else ChaCha20-Poly1305 */
    TRANSPORT_PREFER_CHACHA,    /* "chacha20-poly1305": never offer or accept AES-256-GCM */
    TRANSPORT_PREFER_AES,       /* "aes-256-gcm": as auto, and a fall back to ChaCha is logged */
} transport_preference_t;

/* noise_handshake_split() sets key/counter/window and the cipher to
 * ChaCha20-Poly1305; transport_*_set_cipher() then switches to the
 * negotiated one. */
typedef struct {
    transport_cipher_t cipher;
    uint8_t key[TRANSPORT_KEY_LEN];
    uint64_t counter;                 /* next nonce counter to use */
    crypto_aead_aes256gcm_state aes;  /* key schedule of key when cipher is AES-256-GCM */
} transport_sender_t;

typedef struct {
    transport_cipher_t cipher;
    uint8_t key[TRANSPORT_KEY_LEN];
    replay_window_t window;
    crypto_aead_aes256gcm_state aes;
} transport_receiver_t;

/* True when this CPU runs libsodium's AES-256-GCM (AES-NI and PCLMUL). */
bool transport_aes_available(void);

/* Whether an end with this preference and CPU offers (as initiator) or
 * accepts (as responder) AES-256-GCM. */
bool transport_offers_aes(transport_preference_t pref, bool aes_ni);

/* The responder's choice: AES-256-GCM when the initiator offered it
 * (peer_offers_aes; never for a peer of the old format) and this end
 * offers it too, else ChaCha20-Poly1305. */
transport_cipher_t transport_cipher_choose(transport_preference_t pref, bool aes_ni, bool peer_offers_aes);

/* "auto" | "chacha20-poly1305" | "aes-256-gcm" -> *out; 0, or -1 for
 * anything else (*out untouched). */
int transport_preference_parse(const char *text, transport_preference_t *out);

/* "chacha20-poly1305" or "aes-256-gcm". */
const char *transport_cipher_name(transport_cipher_t cipher);

/* Switch a keyed sender / receiver to cipher (AES-256-GCM: the key
 * schedule is computed here, once, not per packet).  Returns 0, or -1 for
 * AES-256-GCM on a CPU without it or an unknown cipher (state untouched). */
int transport_sender_set_cipher(transport_sender_t *s, transport_cipher_t cipher);
int transport_receiver_set_cipher(transport_receiver_t *r, transport_cipher_t cipher);

/*
 * Encrypt one packet.  Writes len + TRANSPORT_TAG_LEN bytes (ciphertext ||
 * tag) to out; out may be the same buffer as plain (in place), but must not
 * otherwise overlap it.  The counter used is returned in *counter_used (the
 * receiver needs it), and s->counter is incremented.
 * Returns 0, or -1 if the counter is exhausted (>= REJECT_AFTER_MESSAGES)
 * or len is too large for the AEAD; nothing is written then.
 */
int transport_encrypt(transport_sender_t *s, const uint8_t *plain, size_t len,
                      uint8_t *out, uint64_t *counter_used);

/*
 * Decrypt one packet received with the given counter.  cipher holds
 * ciphertext || tag (len bytes); out receives len - 16 bytes and may be the
 * same buffer as cipher.  Order: cheap replay pre-check (window untouched),
 * tag verification, and only then the window is updated.
 * Returns 0 on success (*out_len set), -1 on authentication failure or
 * len < 16, -2 if the counter is a replay, too old, or >= REJECT_AFTER_MESSAGES.
 * On failure *out_len is 0 and out holds no plaintext.
 */
int transport_decrypt(transport_receiver_t *r, uint64_t counter, const uint8_t *cipher,
                      size_t len, uint8_t *out, size_t *out_len);

/* Zero the key material (and window / counter). */
void transport_sender_wipe(transport_sender_t *s);
void transport_receiver_wipe(transport_receiver_t *r);

#endif /* WEFT_TRANSPORT_H */
