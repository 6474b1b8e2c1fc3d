#!/usr/bin/env bash
# test_nat_prediction.sh BIN_DIR — weft-nat's port prediction against a symmetric NAT with sequential ports.
#
# alpha sits behind a symmetric NAT that gives each new UDP flow the next public port (nftables snat with
# a `numgen inc` map, as in bench/nat_prediction.sh), beta behind a port-restricted NAT; STUN, no TURN.
# Plain ICE cannot connect this pair. With nat.port_prediction off they must not connect; with it on,
# alpha's probe must find the NAT sequential (step 1), its offer or answer must carry the predicted
# candidates, and the pair must connect directly, beta's checks having opened its NAT for the port
# alpha's checks then came from (beta's path: a public port of alpha's NAT past alpha's srflx port).
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_nat_prediction.sh BIN_DIR}"

natlab_hub
natlab_router seq symmetric
natlab_router port port
seq_ns=$(lab_ns seq)
seq_wan=$(natlab_wan_ip seq)
elems=$(seq 0 999 | awk '{ printf "%s%d : %d", (NR > 1 ? ", " : ""), $1, 40000 + $1 }')
ip netns exec "$seq_ns" nft flush chain ip natlab post
ip netns exec "$seq_ns" nft add rule ip natlab post oifname wan meta l4proto udp \
  snat ip to "$seq_wan" : numgen inc mod 1000 map "{ $elems }"
ip netns exec "$seq_ns" nft add rule ip natlab post oifname wan masquerade
natlab_host a seq
natlab_host b port

node_init() {   # node_init NAME OVERLAY PREDICTION
  local home="$LAB_DIR/$1"
  # a fresh home but the same identity: the hub keeps an open mesh's address for the key that held it
  [ -d "$home" ] && find "$home" -mindepth 1 -maxdepth 1 ! -name identity.key -exec rm -rf {} +
  "$BIN/weft" init --home "$home" --name "$1" --address "$2/16" --hub "$HUB_ENDPOINT" --hub-key "$HUB_KEY" \
    --stun "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT" >/dev/null || lab_fail "weft init $1 failed"
  grep -q '^nat:$' "$home/weft.yaml" || lab_fail "no nat: section in $home/weft.yaml"
  sed -i "s/^nat:\$/nat:\n  port_prediction: $3/" "$home/weft.yaml"
  LAB_HOMES+=("$home")
}

beta_path() {
  "$BIN/weft" peers --home "$(lab_home beta)" --json | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["overlay_addr"] == "10.100.0.1":
        print(p["path"]["state"], p["path"]["remote_type"] or "-", p["path"]["remote_addr"] or "-")'
}

lab_log "control: prediction off: alpha (sequential symmetric) and beta (port-restricted) must not connect"
node_init alpha 10.100.0.1 false
node_init beta 10.100.0.2 false
natlab_node_up alpha a
natlab_node_up beta b
sleep 15
if lab_peer_connected beta 10.100.0.1 || lab_peer_connected alpha 10.100.0.2; then
  lab_fail "connected without prediction: this NAT pair does not need it, the test shows nothing"
fi
lab_log "not connected after 15 s, as expected (beta sees: $(beta_path))"
natlab_node_down alpha
natlab_node_down beta
natlab_reset

lab_log "prediction on"
node_init alpha 10.100.0.1 true
node_init beta 10.100.0.2 true
natlab_node_up alpha a
natlab_node_up beta b
lab_wait 30 "beta to connect to alpha" lab_peer_connected beta 10.100.0.1
lab_wait 10 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
nat_log="$LAB_DIR/alpha/log/nat.log"
grep -q "port prediction: .*symmetric, sequential ports; offering predicted ports" "$nat_log" ||
  lab_fail "alpha's probe did not find its NAT sequential"
grep -q "port prediction: offering [0-9]* predicted ports from $seq_wan:" "$nat_log" ||
  lab_fail "alpha's offer or answer does not carry the predicted candidates"
path=$(beta_path)
lab_log "beta's path to alpha: $path"
remote=${path##* }
[ "${remote%:*}" = "$seq_wan" ] || lab_fail "beta's path does not go to alpha's NAT ($remote)"
port=${remote##*:}
[ "$port" -ge 40000 ] && [ "$port" -le 40999 ] || lab_fail "beta's path port $port is not one the NAT hands out"
lab_exec a ping -c 5 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "overlay ping alpha -> beta failed"
lab_log "PASS"
