/*
 * transport.h - data-plane cipher states produced by the Noise split.
 *
 * Owns per-direction packet encryption: ChaCha20-Poly1305 (IETF) with an
 * empty associated data, nonce = 4 zero bytes || 64-bit little-endian
 * counter (the Noise ChaChaPoly nonce encoding), a monotonically increasing
 * send counter, and the anti-replay window on the receive side.
 * No allocation; not thread-safe (one owner per direction).
 */
#ifndef WEFT_TRANSPORT_H
#define WEFT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

#define TRANSPORT_KEY_LEN 32
#define TRANSPORT_TAG_LEN 16
/* A key may protect at most this many messages per direction; counters at
 * or above it are refused on both the sending and the receiving side. */
#define TRANSPORT_REJECT_AFTER_MESSAGES ((uint64_t)1 << 60)

typedef struct {
    uint8_t key[TRANSPORT_KEY_LEN];
    uint64_t counter; /* next nonce counter to use */
} transport_sender_t;

typedef struct {
    uint8_t key[TRANSPORT_KEY_LEN];
    replay_window_t window;
} transport_receiver_t;

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
