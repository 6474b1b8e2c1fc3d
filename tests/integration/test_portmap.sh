#!/usr/bin/env bash
# test_portmap.sh BIN_DIR — weft-nat's gateway port mappings against a real miniupnpd (nftables backend).
#
# alpha sits behind a port-restricted NAT (router ra) that runs miniupnpd; beta behind a symmetric NAT
# (router rb). Neither has a STUN or TURN server, so without a mapping neither has an address the other
# can reach: the control run (nat.port_mapping: false) must not connect. With mappings on:
#   - UPnP-IGD: the mapping of alpha's host candidate is on the router (nftables dnat rule), the mapped
#     address is the candidate beta's path uses, the overlay pings; after kill -9 of alpha's nat the
#     restarted one resumes the path on the old port at once (no fresh path, no signalling) and removes
#     the mapping left behind once nothing holds its port; `weft down` removes the mapping;
#   - NAT-PMP (miniupnpd with UPnP off): the same through NAT-PMP.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_portmap.sh BIN_DIR}"
command -v miniupnpd >/dev/null || lab_fail "miniupnpd is not installed"

# start_miniupnpd ROUTER upnp|natpmp: miniupnpd (nftables backend) on the router's LAN with one of its two
# protocols. (Not natlab_upnp: miniupnpd 2.3.1 disables port forwarding on an external address in a
# reserved block such as the lab's 198.18.0.0/15 - unless it learns by STUN, from the lab's coturn, that
# the address is reachable; the router must then let the server's answers in.)
start_miniupnpd() {
  local r=$1 proto=$2 ns lan conf="$LAB_DIR/miniupnpd-$1.conf"
  ns=$(lab_ns "$r")
  lan=$(natlab_lan_net "$r")
  if ! ip netns exec "$ns" nft list table inet filter >/dev/null 2>&1; then
    ip netns exec "$ns" nft -f - <<'EOF2' || lab_fail "miniupnpd nftables on $r"
table inet filter {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
EOF2
    ip netns exec "$ns" nft insert rule ip natlab input iifname wan ip saddr "{ $NATLAB_SERVER_IP, $NATLAB_SERVER_IP2 }" \
      udp sport "{ $NATLAB_TURN_PORT, $NATLAB_TURN_ALT_PORT }" accept || lab_fail "STUN answers into $r"
  fi
  cat >"$conf" <<EOF2
ext_ifname=wan
listening_ip=br0
http_port=0
enable_natpmp=$([ "$proto" = natpmp ] && echo yes || echo no)
enable_upnp=$([ "$proto" = upnp ] && echo yes || echo no)
ext_perform_stun=yes
ext_stun_host=$NATLAB_SERVER_IP
ext_stun_port=$NATLAB_TURN_PORT
secure_mode=yes
system_uptime=yes
uuid=$(cat /proc/sys/kernel/random/uuid)
allow 1024-65535 $lan.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF2
  ip netns exec "$ns" miniupnpd -d -f "$conf" -P "$LAB_DIR/miniupnpd-$r.pid" >>"$LAB_DIR/miniupnpd-$r.log" 2>&1 &
  MINIUPNPD_PID=$!
  LAB_PIDS+=($MINIUPNPD_PID)
  lab_wait 15 "miniupnpd on $r to enable port forwarding" grep -q "Port forwarding is now enabled" "$LAB_DIR/miniupnpd-$r.log"
  if [ "$proto" = natpmp ]; then
    lab_wait 10 "miniupnpd on $r to listen for NAT-PMP" bash -c "ip netns exec $ns ss -Hlun | grep -q ':5351 '"
  else
    lab_wait 10 "miniupnpd on $r to listen for SSDP" bash -c "ip netns exec $ns ss -Hlun | grep -q ':1900 '"
  fi
}

stop_miniupnpd() {
  kill "$MINIUPNPD_PID"
  lab_wait 10 "miniupnpd to stop" bash -c "! kill -0 $MINIUPNPD_PID 2>/dev/null"
  : >"$LAB_DIR/miniupnpd-$1.log"
}

natlab_hub
natlab_router ra port
natlab_router rb symmetric
natlab_host a ra
natlab_host b rb
ra_ns=$(lab_ns ra)
alpha_ip=${NATLAB_HOST_IP[a]}
ra_wan=$(natlab_wan_ip ra)

# a node without STUN or TURN: only host candidates, plus what the gateway maps
node_init() {
  local name=$1 overlay=$2 mapping=$3 home="$LAB_DIR/$1"
  # a fresh home but the same identity: the hub keeps an open mesh's address for the key that held it
  [ -d "$home" ] && find "$home" -mindepth 1 -maxdepth 1 ! -name identity.key -exec rm -rf {} +
  "$BIN/weft" init --home "$home" --name "$name" --address "$overlay/16" --hub "$HUB_ENDPOINT" \
    --hub-key "$HUB_KEY" >/dev/null || lab_fail "weft init $name failed"
  grep -q '^nat:$' "$home/weft.yaml" || lab_fail "no nat: section in $home/weft.yaml"
  sed -i "s/^nat:\$/nat:\n  port_mapping: $mapping/" "$home/weft.yaml"
  LAB_HOMES+=("$home")
}

# the dnat rules miniupnpd made on ra for alpha ("port" per line)
mapped_ports() {
  ip netns exec "$ra_ns" nft list chain inet filter prerouting_miniupnpd 2>/dev/null |
    sed -n "s/.* dport \([0-9]*\) .*dnat ip to $alpha_ip:\([0-9]*\).*/\1 \2/p"
}

beta_path() {   # prints "state remote_type remote_addr" of beta's path to alpha
  "$BIN/weft" peers --home "$(lab_home beta)" --json | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["overlay_addr"] == "10.100.0.1":
        print(p["path"]["state"], p["path"]["remote_type"] or "-", p["path"]["remote_addr"] or "-")'
}

lab_log "control: mappings off, no STUN/TURN: alpha (port-restricted) and beta (symmetric) must not connect"
node_init alpha 10.100.0.1 false
node_init beta 10.100.0.2 true
natlab_node_up alpha a
natlab_node_up beta b
sleep 14
if lab_peer_connected beta 10.100.0.1 || lab_peer_connected alpha 10.100.0.2; then
  lab_fail "connected without a port mapping: the test cannot show the mapping is what connects"
fi
lab_log "not connected after 14 s, as expected (beta sees: $(beta_path))"
natlab_node_down alpha
natlab_node_down beta
natlab_reset

# After kill -9 of alpha's nat, each mapping the killed one left must be removed by the restarted nat, or
# adopted by it: kept only while the restarted nat itself holds that port again (it resumes the path on the
# old port when it can). A mapping that stays while no nat socket holds its port is an orphan and fails
# (the restarted nat gives a resume PORTMAP_CHECK_MS, 3 s, to bind it; the wait below is 40 s).
leftovers_settled() {
  local now p nat_pid held
  now=$(mapped_ports | awk '{ print $1 }')
  nat_pid=$(lab_service_pid alpha nat) || return 1
  for p in $leftover; do
    echo "$now" | grep -qx "$p" || continue
    held=$(lab_exec a ss -Huanp "sport = :$p" 2>/dev/null)
    echo "$held" | grep -q "pid=$nat_pid," || return 1
  done
  return 0
}

run_case() {   # run_case LABEL: alpha with mappings on, checks, then weft down
  local label=$1
  node_init alpha 10.100.0.1 true
  node_init beta 10.100.0.2 true
  natlab_node_up alpha a
  natlab_node_up beta b
  lab_wait 40 "beta to connect to alpha ($label)" lab_peer_connected beta 10.100.0.1
  lab_wait 20 "alpha to connect to beta ($label)" lab_peer_connected alpha 10.100.0.2
  local maps
  maps=$(mapped_ports)
  [ -n "$maps" ] || lab_fail "$label: no mapping for $alpha_ip on the router"
  lab_log "$label: mappings on ra (external internal): $(echo "$maps" | tr '\n' ';')"
  local path
  path=$(beta_path)
  lab_log "$label: beta's path to alpha: $path"
  local remote=${path##* }
  echo "$maps" | awk -v r="$remote" -v w="$ra_wan" '$0 != "" && w ":" $1 == r { found = 1 } END { exit !found }' ||
    lab_fail "$label: beta's path goes to $remote, not to a mapped port of $ra_wan"
  grep -q "port mapping: $label $ra_wan:" "$LAB_DIR/alpha/log/nat.log" ||
    lab_fail "$label: alpha's nat log does not show a $label mapping"
  lab_exec a ping -c 5 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "$label: overlay ping alpha -> beta failed"
  if [ "$label" = upnp ]; then
    # a killed nat cannot delete its mappings: the restarted one finds them (UPnP lists them) and does
    leftover=$(echo "$maps" | awk '{ print $1 }')
    local t0 since
    since=$(($(wc -l <"$LAB_DIR/alpha/log/nat.log") + 1))   # the restarted nat's lines start here
    kill -9 "$(lab_service_pid alpha nat)"
    t0=$(date +%s.%N)
    # the restarted nat resumes the path on the old port at once, without waiting for beta's agent to check:
    # its pair was the gateway mapping (srflx) -> beta's peer-reflexive address, which a resumed agent (host
    # candidates only) and beta's saved description lack; it selects the host socket on the mapped port and
    # adds beta's address (services/nat/ice_peer.c, select_resumed_pair)
    lab_wait 20 "an overlay ping alpha -> beta after the kill" lab_exec a ping -c 1 -W 1 10.100.0.2
    lab_log "$label: overlay ping reply $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s after kill -9 of alpha's nat"
    restarted_log() { tail -n "+$since" "$LAB_DIR/alpha/log/nat.log"; }
    lab_wait 5 "alpha's restarted nat to log the resumed path" bash -c "tail -n +$since '$LAB_DIR/alpha/log/nat.log' | grep -q 'resumed in'"
    restarted_log | grep -q "selected the resumed pair" ||
      lab_fail "$label: the restarted nat did not select the resumed pair at once"
    ! restarted_log | grep -E "did not resume|cannot select the resumed pair|offering again|RESTART" ||
      lab_fail "$label: the restarted nat fell back to a new path instead of resuming the old one"
    lab_log "$label: $(restarted_log | grep -o "resumed in [0-9]* ms.*")"
    # (the resumed path keeps the mapping of its port while the port is held, and the nat removes it once its
    # agents have moved on: 22 s after the kill under AddressSanitizer)
    lab_wait 40 "the restarted nat to remove or adopt the mappings the killed one left" leftovers_settled
    grep -q "mappings an earlier weft-nat left" "$LAB_DIR/alpha/log/nat.log" || lab_fail "no leftover removal logged"
    # the path back is the restarted nat's own (alpha's view; beta's may still show the old one), and
    # carries traffic
    lab_wait 40 "alpha's restarted nat to connect to beta again" lab_peer_connected alpha 10.100.0.2
    lab_wait 20 "an overlay ping alpha -> beta after the restart" lab_exec a ping -c 1 -W 1 10.100.0.2
    lab_log "$label: after kill -9 of alpha's nat, its old mappings were removed or adopted (now: $(mapped_ports | tr '\n' ';')) and the path came back"
  fi
  lab_log "$label: overlay ping works; weft down on alpha"
  natlab_node_down alpha
  lab_wait 10 "alpha's mappings to be deleted ($label)" test -z "$(mapped_ports)"
  grep -q "port mapping: removed" "$LAB_DIR/alpha/log/nat.log" || lab_fail "$label: no removal in alpha's nat log"
  natlab_node_down beta
  natlab_reset
}

start_miniupnpd ra upnp
run_case upnp
stop_miniupnpd ra

lab_log "NAT-PMP: miniupnpd again with UPnP off"
start_miniupnpd ra natpmp
run_case natpmp

lab_log "PASS"
