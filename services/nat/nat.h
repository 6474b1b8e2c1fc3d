// nat.h — weft-nat's shared state, owned by the actor thread: the peer table (one ICE path per peer, with
// its signalling, retry and trial state), the counters and the timing constants. Types only; each file's
// functions are declared in its own header:
//   nat_actor.c  sockets, the actor loop and its timers, outbound datagrams, the Redis connection
//   nat_peers.c  the peer table and each peer's ICE state machine (PeerList, Signals, agent events, timers)
//   nat_agent.c  one peer's agents: path state, selected pair, descriptions sent and received
//   nat_trial.c  trial agents: from a relayed path back to a direct one
//   nat_path.c   the weft:path:<id> hashes for `weft peers`
//   nat_resume.c the last description that connected, per peer (weft:remote:<id>), to resume without the hub
//   nat_direct.c direct pairs handed to the data plane, which then sends and receives on them itself
#ifndef WEFT_NAT_H
#define WEFT_NAT_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "ice_peer.h"
#include "ice_settings.h"
#include "portmap.h"
#include "predict.h"
#include "identity.h"
#include "nat_servers.h"
#include "node.pb-c.h"
#include "service.h"
#include "store.h"
#include "wire.h"

#define NAT_BACKOFF_MIN_MS 1000
#define NAT_BACKOFF_MAX_MS 5000   // a peer reached through a mesh hop meanwhile goes direct within this once its path heals
#define NAT_PATH_WRITE_MS 2000
#define NAT_PATH_TTL_S 60
#define NAT_OLD_UFRAGS 4          // earlier offers remembered, to tell a stale RESTART
#define NAT_HOLD_MAX 8            // datagrams held per peer while its path is being (re)built...
#define NAT_HOLD_BYTES 1600       // ...each at most this long (a handshake or one packet)
#define NAT_HOLD_MS 5000          // ...and sent when the path comes up, if not older than this
// Path liveness (path_probe.h). A connected path is probed at least every nat.keepalive s. When nothing
// came from the peer for NAT_SUSPECT_MS although we sent to it, it is probed every NAT_PROBE_MS; when
// NAT_DEAD_MS pass after the first unanswered probe, the path is dead and ICE starts again at once.
#define NAT_SUSPECT_MS 1000
#define NAT_PROBE_MS 250
#define NAT_DEAD_MS 2000
// Back from a relay: while a path is relayed and direct paths are allowed, the controlling side keeps
// trying a trial agent with direct candidates only next to it (NAT_TRIAL_MS each, NAT_TRIAL_GAP_MS apart
// for the first minute on the relay, NAT_TRIAL_GAP_LONG_MS after); one that connects takes over.
#define NAT_TRIAL_MS 3000
#define NAT_TRIAL_GAP_MS 250
#define NAT_TRIAL_GAP_LONG_MS 15000
#define NAT_TRIAL_FAST_FOR_MS 60000
// Resuming after a restart of nat (nat_resume.c): a peer whose path was up within the last
// NAT_RESUME_TTL_S gets an agent with that path's credentials, port and remote description, no signalling;
// if it has not connected within NAT_RESUME_MS, the usual OFFER/RESTART follows at once.
#define NAT_RESUME_TTL_S 60
#define NAT_RESUME_MS 3000
// ... and waits at most this long for the data plane to let go of the resumed port (nat_resume_port_busy)
#define NAT_RESUME_PORT_WAIT_MS 500

// The last ICE description that connected to a peer: ours (ufrag, pwd, the port of our side of the
// pair) and the peer's (ufrag, pwd, candidates).
typedef struct {
    char local_ufrag[ICE_MAX_CRED_LEN + 1];
    char local_pwd[ICE_MAX_CRED_LEN + 1];
    unsigned local_port;
    char local_addr[64], remote_addr[64];   // the pair that connected ("ip:port", as in weft:path)
    ice_remote_t *remote;           // NULL: nothing to resume
} nat_resume_t;

// Datagrams that arrived for a peer with no usable path. A restarted side's first datagram is
// usually crypto's handshake initiation: holding it saves a 5 s handshake retry.
typedef struct {
    uint8_t data[NAT_HOLD_MAX][NAT_HOLD_BYTES];
    uint16_t len[NAT_HOLD_MAX];
    int64_t at_ms[NAT_HOLD_MAX];
    unsigned count;
} nat_hold_t;

typedef enum {
    PATH_WAITING = 0,       // no agent yet (controlled side waiting for an offer)
    PATH_GATHERING,
    PATH_CONNECTING,
    PATH_CONNECTED,
    PATH_READY,
    PATH_FAILED,
} path_state_t;

typedef struct {
    uint8_t id[WIRE_ID_LEN];
    char hex[ID_HEX_LEN];
    bool controlling;               // our id is the lower one: we offer
    bool listed;                    // seen in the latest PeerList (sweep mark)

    ice_peer_t *ice;                // current agent, or NULL
    uint64_t serial;                // its serial: events of older agents are ignored
    path_state_t state;
    char local_ufrag[ICE_MAX_CRED_LEN + 1];   // current agent's ufrag, once gathered
    char local_pwd[ICE_MAX_CRED_LEN + 1];     // current agent's pwd, once gathered
    ice_remote_t *applied_remote;             // a copy of the peer's description given to the current agent
    bool resuming;                            // the current agent resumes `resume` (nat_resume.c)
    int64_t resume_wait_until_ms;             // monotonic: a resume waits for its port until then (0: none)
    nat_resume_t resume;                      // the last description that connected (weft:remote:<id>)
    char offer_ufrag[ICE_MAX_CRED_LEN + 1];   // controlled: the offer the current agent answers
    char failed_offer[ICE_MAX_CRED_LEN + 1];  // controlled: the offer whose agent failed last (RESTART answers)
    bool answer_applied;            // controlling: an ANSWER was applied to the current agent
    char old_ufrags[NAT_OLD_UFRAGS][ICE_MAX_CRED_LEN + 1];  // controlling: our last offers (stale RESTARTs)
    unsigned old_ufrag_next;

    int64_t attempt_ms;             // monotonic: current agent created (connect timeout runs from here)
    int64_t last_attempt_ms;        // monotonic: last agent created (RESTARTs cannot restart faster)
    int64_t retry_at_ms;            // monotonic: next retry (offer again / send RESTART), 0 = none
    int backoff_ms;                 // wait before the next retry; doubles, reset when connected
    uint64_t attempts;              // agents created for this peer

    // trial agent (direct candidates only) next to a relayed path; see NAT_TRIAL_MS
    ice_peer_t *trial;
    uint64_t trial_serial;
    char trial_local_ufrag[ICE_MAX_CRED_LEN + 1];  // its gathered ufrag (controlling: the trial offer)
    char trial_offer_ufrag[ICE_MAX_CRED_LEN + 1];  // controlled: the trial offer it answers
    bool trial_answered;            // controlling: the trial ANSWER was applied
    int64_t trial_started_ms;       // monotonic
    int64_t next_trial_ms;          // monotonic: controlling side's next trial, 0 = not planned
    int64_t relay_since_ms;         // monotonic: the path went onto a relay (0: not on one)

    // liveness (monotonic ms)
    int64_t usable_since_ms;        // the current agent became usable
    int64_t last_tx_ms;             // last datagram sent to the peer
    int64_t last_probe_ms;          // last probe sent
    int64_t probe_unanswered_ms;    // first probe sent since the last datagram came; 0 = none

    // path for `weft peers`
    char local_type[8], remote_type[8], local_addr[64], remote_addr[64];
    char transport[4];              // udp|tcp: the selected pair's transport
    char server[ICE_SERVER_NAME];   // the STUN/TURN server behind our candidate of the pair ("" for host)
    char last_error[160];           // why the last attempt or path ended ("" when none)
    int64_t rtt_us;                 // last probe round trip in µs, -1 unknown
    int64_t connected_unix_ms;
    uint64_t tx_bytes, tx_packets;
    uint64_t rx_bytes_before, rx_packets_before;   // received on agents already destroyed
    bool dirty;                     // write weft:path:<id> soon
    nat_hold_t held;                // datagrams waiting for the path

    // the direct pair handed to the data plane (nat_direct.c)
    bool direct;                    // the data plane has direct_local -> direct_remote
    bool direct_refused;            // the pair direct_pair names could not be shared: it stays on nat's path
    char direct_pair[130];          // "local_addr remote_addr" of the pair last handed over or refused
    char direct_local[64], direct_remote[64];   // the socket's bound address, the peer's end
} nat_peer_t;

typedef struct {
    uint64_t *datagrams_out, *datagrams_in, *bytes_out, *bytes_in;
    uint64_t *drop_no_path, *drop_send_error, *drop_bad_batch, *drop_crypto_full, *drop_not_weft, *drop_handshake_flood;
    uint64_t *signals_out, *signals_in, *signals_stale, *signals_bad, *signals_unknown_peer, *drop_signal_out;
    uint64_t *agents_created, *ice_restarts, *peers_connected, *peerlist_bad, *held, *held_sent;
    uint64_t *peers_direct, *peers_relay, *paths_died, *probes_sent, *trials, *trials_promoted;
    uint64_t *direct_handovers, *drop_direct_out, *links_sent, *links_dropped;
} nat_counters_t;

typedef struct {
    service_t *svc;
    uint8_t self_id[WIRE_ID_LEN];
    char self_hex[ID_HEX_LEN];
    ice_settings_t ice_settings;
    nat_servers_t servers;          // which STUN/TURN server new agents use
    glib_bridge_t *bridge;
    portmap_t *portmap;             // gateway port mappings (nat.port_mapping), or NULL
    predict_t *predict;             // port prediction (nat.port_prediction), or NULL
    zsock_t *discovery;             // PUSH to discovery's inbox (signals out)
    zsock_t *dataplane;             // PUSH to the data plane's inbox (direct paths; datagrams go from the GLib thread's own sockets)
    zsock_t *router;                // PUSH to router's inbox (LinkState: the mesh's links, docs/routing.md)
    int64_t next_direct_ms;         // monotonic: when every handed-over path is said again (nat_direct.c)
    store_t *store;                 // NULL until Redis answers
    bool have_peer_list;            // discovery sent one: Redis's copy is older
    nat_peer_t **peers;
    size_t peer_count, peer_cap;
    uint64_t next_serial;
    nat_counters_t count;
} nat_t;

#endif
