// session.h — weft-crypto's session table: one Noise IKpsk2 session per member peer, the handshakes
// that create them, the per-peer queue of packets waiting for a handshake, and the WireGuard timers.
//
// No sockets and no clock of its own: every call gets the current time (session_time_t) and writes its
// output datagrams / plaintext packets into the caller's batches (session_io_t), so tests can drive two
// session sets against each other in one process with a fake clock.
#ifndef WEFT_CRYPTO_SESSION_H
#define WEFT_CRYPTO_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "node.pb-c.h"
#include "service.h"
#include "key_msg.h"
#include "transport.h"
#include "wire.h"

// WireGuard's timers (whitepaper section 6), in milliseconds: the handshake's own; the ones of the keys
// (rekey after time or messages, reject after, rekey on receive) and the queue are the keyring's (keyring.h).
#define SESSION_REKEY_TIMEOUT_MS 5000          // resend an unanswered initiation
#define SESSION_REKEY_ATTEMPT_MS 90000         // give up a handshake (and its queued packets)
#define SESSION_REJECT_AFTER_MS 180000         // a keypair this old is dead (the keyring's REJECT_AFTER)
#define SESSION_INDEX_HELD_MS (SESSION_REJECT_AFTER_MS + 10000)   // an index handed over is not reused for this long
#define SESSION_PROLOGUE "weft v2"          // v2: handshake messages end with mac1 || mac2
// Transport cipher negotiation, inside the authenticated handshake (docs/protocol.md "Transport cipher"):
// the initiator offers AES-256-GCM with the top bit of its timestamp's nanosecond field (TAI64N
// nanoseconds are below 10^9 < 2^30: the bit is zero in every timestamp of the old format), and a
// responder that picks AES-256-GCM mixes SESSION_AES_LABEL into the transcript before the response.
#define SESSION_OFFER_AES_BYTE 8
#define SESSION_OFFER_AES_BIT 0x80
#define SESSION_AES_LABEL "weft transport cipher aes-256-gcm"
// Handshake flood protection (docs/protocol.md): initiations that reach the Diffie-Hellman, per member
// and for the whole node; at SESSION_LOAD_INITIATIONS mac1-valid initiations in a second the node is
// under load and wants a cookie (mac2) for a second; the mac1s of the last SESSION_RECENT_INITIATIONS
// initiations per member are remembered so an exact replay costs no DH.
#define SESSION_PEER_INITIATIONS_PER_S 50
#define SESSION_PEER_INITIATIONS_BURST 10
#define SESSION_ALL_INITIATIONS_PER_S 200
#define SESSION_ALL_INITIATIONS_BURST 40
#define SESSION_LOAD_INITIATIONS 20
#define SESSION_RECENT_INITIATIONS 16
#define SESSION_COOKIE_REPLIES_PER_S 10      // cookie replies sent on one member's path
#define SESSION_COOKIE_REPLIES_BURST 5

typedef struct session_set session_set_t;

// The time of a call: monotonic milliseconds for timers, wall-clock nanoseconds for the initiation
// timestamp and the unix-ms fields of the status.
typedef struct {
    int64_t mono_ms;
    int64_t unix_ns;
} session_time_t;

// Where a call writes its output: handshake datagrams, each tagged with its peer. flush is called with a
// full batch: it must send and empty it.
typedef struct {
    packet_batch_t *to_wire;
    void (*flush)(void *ctx, packet_batch_t *batch);
    void *ctx;
} session_io_t;

// Where the handshakes hand their keys: the data plane's keyring (weft-dataplane, over ZeroMQ; or a
// keyring in the same process in tests). install hands over one finished handshake's keypair (the
// caller wipes kp after) and returns 0, or -1 when it could not be sent (the handshake then counts as
// not finished). drop wipes a peer's keypairs (keys) and/or the packets waiting for it (queue). What
// became of a keypair comes back as key events (session_set_key_event).
typedef struct {
    int (*install)(void *ctx, const keyring_keypair_t *kp);
    void (*drop)(void *ctx, const uint8_t peer[WIRE_ID_LEN], bool keys, bool queue);
    void *ctx;
} session_keys_t;

typedef struct {
    uint8_t local_id[WIRE_ID_LEN];  // our node id (members with this id are ignored)
    uint8_t static_private[32];     // our X25519 private key (copied; wipe yours)
    uint8_t psk[32];                // the network key, all zero when none
    size_t max_packet;              // largest plaintext packet that can wait in a queue
    // A mesh with certificates (mesh.id set): every handshake carries our certificate and must carry the
    // peer's, valid for mesh_id, signed by admin_key, for the peer's own key and overlay address, and
    // not revoked. Without (certificates false) handshakes carry none and peers that send one are refused.
    bool certificates;
    uint8_t mesh_id[MESH_ID_LEN];
    uint8_t admin_key[32];
    uint8_t certificate[CERT_LEN];  // our own encoded certificate
    // The transport cipher (docs/protocol.md "Transport cipher"): crypto.cipher, and whether this CPU
    // runs AES-256-GCM (transport_aes_available(); tests pretend either way).
    transport_preference_t cipher;
    bool aes_ni;
} session_config_t;

typedef enum {
    SESSION_STATE_NONE = 0,
    SESSION_STATE_HANDSHAKING,
    SESSION_STATE_ESTABLISHED,
} session_state_t;

const char *session_state_name(session_state_t state);   // "none", "handshaking", "established"

// What may be said about a peer's session in public (no keys).
typedef struct {
    uint8_t id[WIRE_ID_LEN];
    session_state_t state;
    int64_t established_unix_ms;    // when the current session was made
    int64_t last_handshake_unix_ms;
    uint64_t handshakes;            // completed handshakes
    transport_cipher_t cipher;      // of the current session
} session_peer_status_t;

// Counters are registered on svc (service_counter). keys: where finished handshakes go. Returns NULL
// (logged) for an unusable key.
session_set_t *session_set_new(const session_config_t *cfg, service_t *svc, const session_keys_t *keys);
// Wipes every key and frees the set.
void session_set_destroy(session_set_t **self);

// Replaces the member set with list (discovery's snapshot). Entries with a bad id or address are
// skipped (logged). Peers no longer listed lose their sessions and queue. Returns the member count.
size_t session_set_update_members(session_set_t *self, const Weft__PeerList *list);
size_t session_set_member_count(const session_set_t *self);

// One handshake datagram (initiation, response, cookie reply) received from peer (NULL when untagged:
// dropped). Answers go to io->to_wire, keys to the session_keys_t. Transport datagrams are the data
// plane's: counted (drop_transport) and dropped.
void session_set_inbound(session_set_t *self, const uint8_t *datagram, size_t len,
                         const uint8_t *peer_id, const session_time_t *now, session_io_t *io);

// What the data plane says of a peer's keys: it wants a handshake (no session, rekey due, an unknown
// index), a keypair became current (with its age: also said again every few seconds, so a restarted
// crypto learns which sessions run), or a keypair was refused (a new handshake is started).
void session_set_key_event(session_set_t *self, const key_event_t *ev, const session_time_t *now,
                           session_io_t *io);

// Timers: initiation retries and give-up, certificate expiry, the end of sessions the data plane no
// longer confirms. Call about once a second.
void session_set_tick(session_set_t *self, const session_time_t *now, session_io_t *io);

// Revokes a member (the key of a revocation the caller checked): its sessions, handshake and queue are
// wiped at once, its handshakes are refused, none is started to it and packets for it are dropped.
// Returns true if it was not revoked before.
bool session_set_revoke(session_set_t *self, const uint8_t member_key[WIRE_ID_LEN]);
bool session_set_is_revoked(const session_set_t *self, const uint8_t member_key[WIRE_ID_LEN]);
size_t session_set_revoked_count(const session_set_t *self);

// Number of peers with an established session.
size_t session_set_established(const session_set_t *self);

// Calls fn for every peer whose status changed since the last call (every peer when all), and once
// with removed = true for each peer removed since the last call.
typedef void session_status_fn(void *ctx, const session_peer_status_t *status, bool removed);
void session_set_report(session_set_t *self, bool all, session_status_fn *fn, void *ctx);

#endif
