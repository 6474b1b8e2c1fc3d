#!/usr/bin/env bash
# demo.sh — the README's first command: installs what is missing, builds weft, then shows a mesh:
# a hub and three nodes in network namespaces on one bridge join, find each other through the hub,
# and talk over the encrypted overlay. Everything it starts is removed at the end. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build
source tests/lib/netlab.sh
lab_init build/bin

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a hub on 10.99.0.1 (its public key is what members trust)"
lab_switch
lab_hub hub 10.99.0.1
echo "hub key: $HUB_KEY"

step "three nodes join: weft init + weft up in their own namespaces"
lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2
lab_node gamma 10.99.0.4 10.100.0.3
for n in alpha beta gamma; do echo "$n: $(build/bin/weft id --home "$(lab_home $n)")"; done

step "waiting for ICE and the Noise handshakes"
lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "alpha to connect to gamma" lab_peer_connected alpha 10.100.0.3
lab_wait 30 "beta to connect to gamma" lab_peer_connected beta 10.100.0.3

step "ping across the overlay"
lab_exec alpha ping -c 3 10.100.0.2
lab_exec gamma ping -c 3 10.100.0.1

step "weft status (alpha)"
build/bin/weft status --home "$(lab_home alpha)"

step "weft peers (alpha)"
build/bin/weft peers --home "$(lab_home alpha)"

step "a TCP stream over the overlay (iperf3, 3 s)"
lab_exec beta iperf3 -s -1 -B 10.100.0.2 >/dev/null 2>&1 & LAB_PIDS+=($!)
sleep 0.5
lab_exec alpha iperf3 -c 10.100.0.2 -t 3 -f m | tail -4

step "done: stopping nodes and hub, removing namespaces"
