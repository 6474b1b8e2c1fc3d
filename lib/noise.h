/*
 * noise.h - the Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b handshake (Noise
 * protocol framework, revision 34), and nothing else.
 *
 *   IKpsk2:
 *     <- s
 *     ...
 *     -> e, es, s, ss
 *     <- e, ee, se, psk
 *
 * One noise_handshake_t is one handshake attempt.  It is a plain struct (no
 * allocation); wipe it with noise_handshake_wipe() when abandoned.
 * noise_handshake_read()/noise_handshake_write() are transactional: on
 * failure the handshake state is left exactly as before the call, so a
 * forged or corrupted message cannot kill a handshake in progress.
 *
 * libsodium must be usable: the functions below call sodium_init() (which is
 * idempotent), but callers should still call it once at startup.
 */
#ifndef WEFT_NOISE_H
#define WEFT_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

#define NOISE_PROTOCOL_NAME "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"
#define NOISE_PUBLIC_KEY_LEN 32
#define NOISE_PRIVATE_KEY_LEN 32
#define NOISE_SYMMETRIC_KEY_LEN 32
#define NOISE_PSK_LEN 32
#define NOISE_HASH_LEN 64
#define NOISE_TAG_LEN 16
/* Noise limits every handshake message to 65535 bytes. */
#define NOISE_MAX_MESSAGE_LEN 65535u

/* message sizes for IKpsk2: msg1 = 32 + (32+16) + payload+16 ; msg2 = 32 + payload+16 */
#define NOISE_MSG1_OVERHEAD (32 + 48 + 16)
#define NOISE_MSG2_OVERHEAD (32 + 16)

typedef struct {
    uint8_t pub[NOISE_PUBLIC_KEY_LEN];
    uint8_t priv[NOISE_PRIVATE_KEY_LEN];
} noise_keypair_t;

/* Fresh random X25519 key pair. */
void noise_keypair_generate(noise_keypair_t *kp);
/* Key pair from an existing private key (public = X25519 base point mult).
 * Returns 0, or -1 (kp zeroed) if libsodium refuses the key. */
int noise_keypair_from_private(noise_keypair_t *kp, const uint8_t priv[NOISE_PRIVATE_KEY_LEN]);

typedef enum {
    NOISE_STATE_NONE = 0,      /* not initialised, failed or wiped */
    NOISE_STATE_WRITE_MSG1,    /* initiator: next is write(msg1) */
    NOISE_STATE_READ_MSG1,     /* responder: next is read(msg1)  */
    NOISE_STATE_READ_MSG2,     /* initiator: next is read(msg2)  */
    NOISE_STATE_WRITE_MSG2,    /* responder: next is write(msg2) */
    NOISE_STATE_COMPLETE       /* ready for noise_handshake_split() */
} noise_state_t;

/* Public so it can be embedded without allocation; treat fields as private. */
typedef struct noise_handshake {
    noise_state_t state;
    bool initiator;
    bool has_rs;               /* rs known (initiator: always; responder: after msg1) */
    bool has_fixed_e;          /* ephemeral injected by noise_handshake_set_ephemeral */

    /* SymmetricState */
    uint8_t ck[NOISE_HASH_LEN];
    uint8_t h[NOISE_HASH_LEN];
    /* CipherState inside the SymmetricState */
    uint8_t k[NOISE_SYMMETRIC_KEY_LEN];
    bool has_k;
    uint64_t n;

    /* HandshakeState */
    noise_keypair_t s;         /* local static */
    noise_keypair_t e;         /* local ephemeral */
    uint8_t rs[NOISE_PUBLIC_KEY_LEN];
    uint8_t re[NOISE_PUBLIC_KEY_LEN];
    uint8_t psk[NOISE_PSK_LEN];
} noise_handshake_t;

/*
 * Start a handshake.
 * initiator: rs = responder's static public key (required);
 * responder: rs = NULL (learned from msg 1; non-NULL is refused).
 * psk: 32 bytes (all-zero when there is no network key); prologue may be NULL/0.
 * Returns 0, or -1 on bad arguments (hs is then wiped).
 */
int noise_handshake_init(noise_handshake_t *hs, bool initiator, const uint8_t *prologue,
                         size_t prologue_len, const noise_keypair_t *s, const uint8_t *rs,
                         const uint8_t psk[NOISE_PSK_LEN]);

/* Tests only: use this ephemeral key pair instead of a random one. */
void noise_handshake_set_ephemeral(noise_handshake_t *hs, const noise_keypair_t *e);

/*
 * Write the next handshake message (msg 1 by the initiator, msg 2 by the
 * responder) carrying payload.  Returns 0 (*out_len set), or -1 on wrong
 * state, out_cap too small, message too long, or a failed DH (e.g. a
 * low-order remote key).
 */
int noise_handshake_write(noise_handshake_t *hs, const uint8_t *payload, size_t payload_len,
                          uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Read the next handshake message; on success its payload is decrypted into
 * payload_out (payload_cap must be >= msg_len - overhead).  Returns 0, or -1
 * on any failure (wrong state, bad length, bad MAC, invalid key); never
 * crashes on arbitrary input, and leaves hs unchanged on failure.
 */
int noise_handshake_read(noise_handshake_t *hs, const uint8_t *msg, size_t msg_len,
                         uint8_t *payload_out, size_t payload_cap, size_t *payload_len);

bool noise_handshake_complete(const noise_handshake_t *hs);

/* Remote static public key, or NULL while unknown (responder before msg1). */
const uint8_t *noise_handshake_remote_static(const noise_handshake_t *hs);

/*
 * Between msg 1 and msg 2 (both ends, before noise_handshake_write/read of
 * msg 2): MixHash(data) into the transcript, so that msg 2's payload opens
 * only for an end that mixed the same bytes (weft binds the responder's
 * transport cipher choice this way, docs/protocol.md).  Returns 0, or -1
 * in any other state (hs untouched).
 */
int noise_handshake_mix_hash(noise_handshake_t *hs, const uint8_t *data, size_t len);

/* Current handshake hash h (the channel binding once complete). */
void noise_handshake_hash(const noise_handshake_t *hs, uint8_t out[NOISE_HASH_LEN]);

/*
 * After completion: derive the transport keys (the initiator sends with k1
 * and receives with k2, the responder the other way round), reset counters
 * and replay window, set the cipher to ChaCha20-Poly1305 (transport.h), and
 * wipe the handshake state.  Returns 0, or -1 if the
 * handshake is not complete (send/recv untouched).
 */
int noise_handshake_split(noise_handshake_t *hs, transport_sender_t *send,
                          transport_receiver_t *recv);

/* Zero all secrets; the handshake must be re-initialised before reuse. */
void noise_handshake_wipe(noise_handshake_t *hs);

#endif /* WEFT_NOISE_H */
