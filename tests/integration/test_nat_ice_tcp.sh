#!/usr/bin/env bash
# test_nat_ice_tcp.sh BIN_DIR — ICE-TCP: two nodes on one LAN whose hosts drop every UDP packet
# (nftables in each host's namespace; the hub is reached over TCP anyway) and no STUN or TURN server at
# all. The only candidates that can work are the TCP host candidates (RFC 6544, libnice ice-tcp): the
# nodes must connect over them (`weft peers`: a host candidate pair, the active side's port learned as
# peer-reflexive), there must be a TCP connection between the hosts, and ping must work, both ways.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_nat_ice_tcp.sh BIN_DIR}"

lab_switch
lab_hub hub 10.99.0.1
lab_host alpha 10.99.0.2/24
lab_host beta 10.99.0.3/24
for n in alpha beta; do
  # IPv4 only: IPv6 link-local candidates would pair up across the bridge and hide what is tested
  lab_exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  lab_exec $n nft -f - <<'EOF' || lab_fail "nftables in $n"
table inet no_udp {
  chain out { type filter hook output priority filter; policy accept; oifname "eth0" meta l4proto udp counter drop; }
  chain in { type filter hook input priority filter; policy accept; iifname "eth0" meta l4proto udp counter drop; }
}
EOF
done
# the nodes in those namespaces (lab_node would make new hosts)
for pair in "alpha 10.100.0.1" "beta 10.100.0.2"; do
  set -- $pair
  "$BIN/weft" init --home "$(lab_home $1)" --name $1 --address "$2/16" --hub "$HUB_ENDPOINT" --hub-key "$HUB_KEY" \
    >/dev/null || lab_fail "weft init $1 failed"
  LAB_HOMES+=("$(lab_home $1)")
  lab_exec $1 "$BIN/weft" up --home "$(lab_home $1)" || lab_fail "weft up $1 failed"
done

lab_wait 60 "alpha connected over ICE-TCP" lab_peer_connected alpha 10.100.0.2
lab_wait 20 "beta connected over ICE-TCP" lab_peer_connected beta 10.100.0.1
lab_exec alpha ping -c 1 -W 10 10.100.0.2 >/dev/null || true   # the first one waits for the handshake
"$BIN/weft" peers --home "$(lab_home alpha)"
# an active TCP candidate connects from an ephemeral port: the other side learns it as peer-reflexive
case "$(lab_path_field alpha local_type)/$(lab_path_field alpha remote_type)" in
  host/host | host/prflx | prflx/host) ;;
  *) lab_fail "not a pair of host candidates: $(lab_path_field alpha local_type)/$(lab_path_field alpha remote_type)" ;;
esac
lab_exec alpha ping -c 10 -i 0.1 -W 2 10.100.0.2 >/dev/null || lab_fail "alpha -> beta ping failed"
lab_exec beta ping -c 10 -i 0.1 -W 2 10.100.0.1 >/dev/null || lab_fail "beta -> alpha ping failed"
# the path is TCP: an established TCP connection between the two hosts' addresses other than the hub's
lab_exec alpha ss -Htn state established | grep -q "10.99.0.3:" || lab_fail "no TCP connection between the hosts"
dropped=$(lab_exec alpha nft list table inet no_udp | grep -o "packets [0-9]*" | awk '{s += $2} END {print s + 0}')
[ "$dropped" -gt 0 ] || lab_fail "no UDP was even tried (test is blind)"
lab_log "connected over ICE-TCP; $dropped UDP packets dropped on alpha meanwhile"
lab_log "PASS"
