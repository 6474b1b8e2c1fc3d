// key_msg.h — the key hand-over between the handshake side (session.c) and the data plane (keyring.c) as
// protobuf messages (proto/node.proto: Keypair, KeysDrop, KeyEvent): building them from the keyring's
// plain values, and strict decoding back. The keys in a Keypair are secret: key_msg_wipe clears them in an
// unpacked envelope before it is freed (lib/wire.c wipes the packed buffers on both ends).
#ifndef WEFT_CRYPTO_KEY_MSG_H
#define WEFT_CRYPTO_KEY_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "keyring.h"
#include "node.pb-c.h"

// What the data plane tells the handshake side (KeyEvent).
typedef enum {
    KEY_EVENT_WANT_SESSION = 0,
    KEY_EVENT_WANT_REKEY = 1,
    KEY_EVENT_WANT_UNKNOWN_INDEX = 2,
    KEY_EVENT_ESTABLISHED = 3,
    KEY_EVENT_REFUSED = 4,
} key_event_kind_t;

typedef struct {
    uint8_t peer[WIRE_ID_LEN];
    key_event_kind_t kind;
    transport_cipher_t cipher;   // ESTABLISHED
} key_event_t;

// Fills msg (weft__keypair__init'ed by this call) to point into kp: valid while kp is.
void key_msg_keypair(Weft__Keypair *msg, const keyring_keypair_t *kp);
// Checks and copies a received Keypair into out. Returns 0, or -1 with why filled (out wiped).
int key_msg_read_keypair(const Weft__Keypair *msg, keyring_keypair_t *out, char *why, size_t why_len);

void key_msg_event(Weft__KeyEvent *msg, const key_event_t *ev);
int key_msg_read_event(const Weft__KeyEvent *msg, key_event_t *out, char *why, size_t why_len);

// The want of a keyring as an event kind.
key_event_kind_t key_msg_want_kind(keyring_want_t why);

// Wipes the key bytes of an unpacked envelope that holds a Keypair (nothing for other bodies).
void key_msg_wipe(Weft__Envelope *env);

#endif
