#!/usr/bin/env bash
# demo.sh — the README's first command: installs what is missing, builds weft, then shows a mesh being
# made and used, end to end, in network namespaces on this machine (nothing leaves them):
#   - a small "internet" with a STUN/TURN server (coturn) and a hub on public addresses;
#   - three homes behind three kinds of NAT: alpha behind a full-cone NAT, beta behind a port-restricted
#     one (a typical home router), gamma behind a symmetric one (a carrier-grade NAT);
#   - alpha creates a mesh and invites; beta and gamma join with the invite code; all three talk over the
#     encrypted overlay, directly where the NATs allow it and through the TURN relay where they don't
#     (beta <-> gamma), and `weft peers` shows which.
# Everything it starts is removed at the end. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build
source tests/lib/netlab.sh
source tests/lib/natlab.sh
export NATLAB_HUB_TURN=1          # the hub hands members short-lived TURN credentials (TURN REST API)
natlab_init build/bin
W=$BIN/weft

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# run NAME CMD...: a weft command on host NAME, in its namespace
run() { local h=$1; shift; lab_exec "$h" "$W" "$@" --home "$(lab_home "$h")"; }
up() {  # up NAME [weft up args]
  local d h=$1
  shift
  for d in "$(lab_home "$h")"/meshes/*/; do LAB_HOMES+=("${d%/}"); done
  run "$h" up "$@" >/dev/null
}
ping_ok() { lab_exec "$1" ping -c 2 -i 0.2 -W 2 "$2" >/dev/null 2>&1; }

step "the internet: coturn on $NATLAB_SERVER_IP (STUN + TURN), a hub on $NATLAB_HUB_IP"
natlab_hub
echo "hub key (what members trust): $HUB_KEY"

step "three homes behind three kinds of NAT"
natlab_router home full && natlab_host alpha home
natlab_router office port && natlab_host beta office
natlab_router phone symmetric && natlab_host gamma phone
echo "alpha ${NATLAB_HOST_IP[alpha]} behind a full-cone NAT ($(natlab_wan_ip home))"
echo "beta  ${NATLAB_HOST_IP[beta]} behind a port-restricted NAT ($(natlab_wan_ip office))"
echo "gamma ${NATLAB_HOST_IP[gamma]} behind a symmetric NAT ($(natlab_wan_ip phone))"

step "what beta's NAT does (weft network, RFC 5780 against coturn)"
lab_exec beta "$W" network --stun "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT"

step "alpha creates mesh 'demo' and becomes its admin"
run alpha mesh create --name demo --hub "$NATLAB_HUB_IP:7400" --hub-key "$HUB_KEY" --psk --node-name alpha
up alpha
lab_wait 20 "alpha to register with the hub" bash -c "'$W' status --home '$(lab_home alpha)' --json | grep -q registered"
code=$(run alpha mesh invite --uses 2 --hours 1)
echo "invite code (2 uses, 1 hour): $code"

step "beta and gamma join with the code, then start (--wait shows each peer as it connects)"
run beta mesh join "$code" --node-name beta
run gamma mesh join "$code" --node-name gamma
up beta --wait 30
up gamma --wait 30

step "waiting for ICE and the Noise handshakes"
t0=$SECONDS
for pair in "alpha 10.100.0.2" "alpha 10.100.0.3" "beta 10.100.0.3"; do
  set -- $pair
  lab_wait 60 "$1 to reach $2" ping_ok "$1" "$2"
done
echo "all three reach each other after $((SECONDS - t0)) s"

step "ping across the overlay"
lab_exec alpha ping -c 3 10.100.0.2
lab_exec beta ping -c 3 10.100.0.3

step "weft peers on beta: alpha direct, gamma through the TURN relay (symmetric <-> port-restricted)"
run beta peers

step "weft status on alpha"
run alpha status

step "the node's HTTP API and metrics (alpha, 127.0.0.1:7401 inside its namespace)"
port=$(sed -n 's/^ *listen: *"\{0,1\}127.0.0.1:\([0-9]*\).*/\1/p' "$(lab_home alpha)/meshes/demo/weft.yaml" | head -1)
lab_exec alpha curl -s "http://127.0.0.1:${port:-7401}/api/v1/peers" | head -c 600; echo
lab_exec alpha curl -s "http://127.0.0.1:${port:-7401}/metrics" | grep -E '^weft_peers' || true

step "a TCP stream over the overlay (iperf3, 3 s, alpha -> beta)"
lab_exec beta iperf3 -s -1 -B 10.100.0.2 >/dev/null 2>&1 & LAB_PIDS+=($!)
sleep 0.5
lab_exec alpha iperf3 -c 10.100.0.2 -t 3 -f m | tail -4

step "alpha kicks gamma: every member drops it at once"
run alpha mesh kick gamma
sleep 1
if ping_ok beta 10.100.0.3; then echo "gamma still reachable (unexpected)"; else echo "gamma is cut off"; fi

step "done: stopping nodes, hub and coturn, removing namespaces"
