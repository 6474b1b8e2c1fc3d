// key_msg.h — the key hand-over between the handshake side (weft-crypto, services/crypto/session.c) and
// the data plane (weft-dataplane, services/dataplane/keyring.c): the plain values both sides use
// (keyring_keypair_t, key_event_t) and their protobuf messages (proto/node.proto: Keypair, KeysDrop,
// KeyEvent), built from the plain values and strictly decoded back. The keys in a Keypair are secret: key_msg_wipe clears them in an
// unpacked envelope before it is freed (lib/wire.c wipes the packed buffers on both ends).
#ifndef WEFT_KEY_MSG_H
#define WEFT_KEY_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "node.pb-c.h"
#include "transport.h"
#include "wire.h"

// What a handshake hands over: the transport keys of one session (wiped by whoever holds them once
// handed on; never logged or stored outside the data plane's keyring).
typedef struct {
    uint8_t peer[WIRE_ID_LEN];
    uint32_t local_index;        // ours: what the peer writes as receiver index
    uint32_t remote_index;       // the peer's: what we write
    bool initiator;              // we sent the initiation (the session is usable at once); else it waits
                                 // in next until the initiator's first packet confirms it
    transport_cipher_t cipher;
    uint8_t send_key[TRANSPORT_KEY_LEN];
    uint8_t recv_key[TRANSPORT_KEY_LEN];
} keyring_keypair_t;

// What the data plane tells the handshake side (KeyEvent).
typedef enum {
    KEY_EVENT_WANT_SESSION = 0,
    KEY_EVENT_WANT_REKEY = 1,
    KEY_EVENT_WANT_UNKNOWN_INDEX = 2,
    KEY_EVENT_ESTABLISHED = 3,
    KEY_EVENT_REFUSED = 4,
    KEY_EVENT_CURRENT = 5,
} key_event_kind_t;

typedef struct {
    uint8_t peer[WIRE_ID_LEN];
    key_event_kind_t kind;
    transport_cipher_t cipher;   // ESTABLISHED
    uint64_t age_ms;             // CURRENT: how old the current keypair is
} key_event_t;

// Fills msg (weft__keypair__init'ed by this call) to point into kp: valid while kp is.
void key_msg_keypair(Weft__Keypair *msg, const keyring_keypair_t *kp);
// Checks and copies a received Keypair into out. Returns 0, or -1 with why filled (out wiped).
int key_msg_read_keypair(const Weft__Keypair *msg, keyring_keypair_t *out, char *why, size_t why_len);

void key_msg_event(Weft__KeyEvent *msg, const key_event_t *ev);
int key_msg_read_event(const Weft__KeyEvent *msg, key_event_t *out, char *why, size_t why_len);

// Fills msg (weft__keys_drop__init'ed by this call) for peer: wipe its keys and/or its queued packets.
void key_msg_drop(Weft__KeysDrop *msg, const uint8_t peer[WIRE_ID_LEN], bool keys, bool queue);

// Each message in its envelope, sent without blocking on sock. Return 0, or -1 (the peer's inbox is full
// or gone). The Keypair's packed bytes are wiped by wire_send; kp stays the caller's to wipe.
int key_msg_send_keypair(zsock_t *sock, const keyring_keypair_t *kp);
int key_msg_send_drop(zsock_t *sock, const uint8_t peer[WIRE_ID_LEN], bool keys, bool queue);
int key_msg_send_event(zsock_t *sock, const key_event_t *ev);

// Wipes the key bytes of an unpacked envelope that holds a Keypair (nothing for other bodies).
void key_msg_wipe(Weft__Envelope *env);

#endif
