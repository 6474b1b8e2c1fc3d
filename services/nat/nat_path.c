// nat_path.c — the weft:path:<hex id> hashes (see nat_path.h).
#include "nat_path.h"

#include <inttypes.h>
#include <string.h>

#include "nat_agent.h"

static const char *connection_kind(const nat_peer_t *peer)
{
    if (!peer->local_type[0])
        return "";
    bool relayed = strcmp(peer->local_type, "relay") == 0 || strcmp(peer->remote_type, "relay") == 0;
    return relayed ? "relay" : "direct";
}

int nat_path_write(nat_t *nat, nat_peer_t *peer)
{
    if (!nat->store)
        return -1;
    uint64_t rx_bytes = peer->rx_bytes_before, rx_packets = peer->rx_packets_before;
    if (peer->ice) {
        uint64_t bytes, packets;
        ice_peer_rx(peer->ice, &bytes, &packets);
        rx_bytes += bytes;
        rx_packets += packets;
    }
    char connected_ms[24], rx_b[24], tx_b[24], rx_p[24], tx_p[24], restarts[24], rtt[24], rtt_us[24];
    int64_t us = nat_peer_usable(peer) && peer->rtt_us >= 0 ? peer->rtt_us : -1;
    snprintf(rtt, sizeof rtt, "%" PRId64, us >= 0 ? us / 1000 : -1);
    snprintf(rtt_us, sizeof rtt_us, "%" PRId64, us);
    char error[sizeof peer->last_error + sizeof nat->servers.status + 4];
    snprintf(error, sizeof error, "%s%s%s", peer->last_error, peer->last_error[0] && nat->servers.status[0] ? "; " : "",
             nat->servers.status);
    snprintf(connected_ms, sizeof connected_ms, "%" PRId64, nat_peer_usable(peer) ? peer->connected_unix_ms : 0);
    snprintf(rx_b, sizeof rx_b, "%" PRIu64, rx_bytes);
    snprintf(tx_b, sizeof tx_b, "%" PRIu64, peer->tx_bytes);
    snprintf(rx_p, sizeof rx_p, "%" PRIu64, rx_packets);
    snprintf(tx_p, sizeof tx_p, "%" PRIu64, peer->tx_packets);
    snprintf(restarts, sizeof restarts, "%" PRIu64, peer->attempts > 1 ? peer->attempts - 1 : 0);
    int rc = store_exec(nat->store,
                        "HSET weft:path:%s state %s controlling %s local_type %s remote_type %s local_addr %s "
                        "remote_addr %s connection %s connected_ms %s rx_bytes %s tx_bytes %s rx_packets %s "
                        "tx_packets %s restarts %s rtt_ms %s rtt_us %s transport %s server %s last_error %s",
                        peer->hex, nat_path_state_name(peer->state), peer->controlling ? "1" : "0", peer->local_type,
                        peer->remote_type, peer->local_addr, peer->remote_addr, connection_kind(peer), connected_ms,
                        rx_b, tx_b, rx_p, tx_p, restarts, rtt, rtt_us, peer->transport, peer->server, error);
    if (rc == 0)
        rc = store_exec(nat->store, "EXPIRE weft:path:%s %d", peer->hex, NAT_PATH_TTL_S);
    if (rc == 0)
        peer->dirty = false;
    return rc;
}

void nat_path_delete(nat_t *nat, const nat_peer_t *peer)
{
    if (nat->store)
        store_exec(nat->store, "DEL weft:path:%s", peer->hex);
}
