#!/usr/bin/env bash
# throughput.sh [BIN_DIR] [SECONDS] — iperf3 TCP between two weft nodes over the overlay, in network
# namespaces on one bridge, and ping RTT over the overlay and over the underlay for comparison.
# Prints Mbit/s and RTTs. Needs root. Everything it starts is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/bin}
duration=${2:-10}
source "$here/../tests/lib/netlab.sh"
lab_init "$bin"
lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2
lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to connect to alpha" lab_peer_connected beta 10.100.0.1
lab_exec alpha ping -c 3 -W 2 10.100.0.2 >/dev/null || lab_fail "no overlay ping"

rtt() { lab_exec alpha ping -q -c "$2" -i 0.05 "$1" | awk -F'/' '/^rtt/ {print $5}'; }
echo "ping RTT underlay 10.99.0.3: $(rtt 10.99.0.3 50) ms avg"
echo "ping RTT overlay  10.100.0.2: $(rtt 10.100.0.2 50) ms avg"

lab_exec beta iperf3 -s -B 10.100.0.2 >/dev/null 2>&1 & LAB_PIDS+=($!)
sleep 0.5
for direction in "" "-R"; do
  mbit=$(lab_exec alpha iperf3 -c 10.100.0.2 -t "$duration" $direction -J |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0f" % (d["end"]["sum_received"]["bits_per_second"]/1e6))')
  echo "iperf3 TCP overlay ${direction:-(alpha->beta)}${direction:+(beta->alpha)}: $mbit Mbit/s over ${duration}s"
done
echo "ping RTT overlay under no load after the run: $(rtt 10.100.0.2 20) ms avg"
"$BIN/weft" status --home "$(lab_home alpha)" | sed -n '/SERVICE/,$p'
