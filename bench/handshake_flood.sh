#!/usr/bin/env bash
# handshake_flood.sh [BIN_DIR] [SECONDS] — established overlay traffic while a host on the same switch
# floods a node's ICE port with handshake initiations (docs/protocol.md, "Handshake flood protection").
# Two nodes (alpha, beta), a hub and an attacker (mallory) in network namespaces on one bridge. Phases:
#   baseline  no flood (and "after", the same once the floods are over)
#   control   the spoofed phase's two floods, same rates and forged source, aimed at a port on alpha where
#             nothing listens: what sending and delivering 20000 datagrams a second costs this machine
#             (the flooder shares its CPUs with both nodes here; a real attacker's do not), before weft
#             handles any of them
#   spoofed   20000/s initiations forged from beta's path address to alpha's ICE port: half random
#             116-byte ones (the old size: nat drops them, lib/datagram.h), half 148-byte ones with a
#             valid mac1 for alpha (no mac2: crypto answers "cookie required", rate limited)
#   replay    20000/s copies of the genuine initiations captured on the switch while the nodes
#             connected, each from its captured source to its captured destination (so the target is
#             whichever node answered the first handshake)
# Each phase: iperf3 TCP alpha->beta over the overlay (FLOOD_RUNS runs, default 3: the median), then 200
# pings 25 ms apart, with the CPU share of each node's weft-crypto over the phase. Prints one line per phase:
#   phase=NAME mbit=M loss_pct=L rtt_ms=R alpha_crypto_cpu_pct=A beta_crypto_cpu_pct=B
# then both nodes' crypto counters, nat's drop_not_weft and drop_handshake_flood, and the kernel's drop count
# of alpha's ICE port ("counter NODE NAME=VALUE"). Needs root. Everything it starts is removed at the end.
# tests/integration/test_handshake_flood.sh runs it and checks the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/bin}
duration=${2:-5}
source "$here/../tests/lib/netlab.sh"
lab_init "$bin"
FLOOD="$BIN/weft-handshake-flood"
[ -x "$FLOOD" ] || lab_fail "no weft-handshake-flood in $BIN (built from tests/tools/)"
RATE=${FLOOD_RATE:-20000}
RUNS=${FLOOD_RUNS:-3}   # iperf3 runs per phase; the median is printed (one short run on 2 shared cores is noisy)

lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
# the capture an attacker on the switch would have: the handshakes of the nodes connecting, taken on alpha's
# side of the link (beta is not up yet): on the bridge device the capture missed them twice here
ip netns exec "$(lab_ns alpha)" tcpdump -i eth0 -U -w "$LAB_DIR/switch.pcap" udp 2>/dev/null &
capture_pid=$!
LAB_PIDS+=($capture_pid)
sleep 0.5
lab_node beta 10.99.0.3 10.100.0.2
lab_host mallory 10.99.0.66/24
lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to connect to alpha" lab_peer_connected beta 10.100.0.1
lab_exec alpha ping -c 3 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "no overlay ping"
sleep 0.5
kill "$capture_pid" 2>/dev/null || true   # the capture holds the genuine handshakes, not the floods

# alpha's ICE port (the target) and beta's end of the path (the forged source), alpha's node id (mac1)
peer_field() {
  "$BIN/weft" peers --home "$(lab_home alpha)" --json | python3 -c '
import json, sys
p = json.load(sys.stdin)[0]
print(p["path"][sys.argv[1]] if sys.argv[1] in p["path"] else p[sys.argv[1]])' "$1"
}
alpha_port=$(peer_field local_addr)
beta_port=$(peer_field remote_addr)
case "$alpha_port" in 10.99.0.2:*) ;; *) lab_fail "alpha's path is not on the underlay: $alpha_port" ;; esac
alpha_id=$("$BIN/weft" id --home "$(lab_home alpha)" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
lab_log "alpha's path: $alpha_port <-> $beta_port; alpha's id ${alpha_id:0:16}..."

for n in alpha beta; do
  p=$(lab_service_pid $n crypto)
  [ -n "$p" ] && [ -r "/proc/$p/stat" ] || lab_fail "cannot find $n's weft-crypto process"
done
# CPU ticks of NAME's weft-crypto
cpu_ticks() { awk '{print $14 + $15}' "/proc/$(lab_service_pid "$1" crypto)/stat"; }
cpu_pct() {
  python3 -c 'import os,sys; c0,c1,t0,t1=map(float,sys.argv[1:]); print("%.0f" % (100*(c1-c0)/os.sysconf("SC_CLK_TCK")/(t1-t0)))' "$@"
}

lab_exec beta iperf3 -s -B 10.100.0.2 >/dev/null 2>&1 & LAB_PIDS+=($!)
sleep 0.5

# measure NAME: iperf3 then pings, with crypto's CPU share over both
measure() {
  local name=$1 t0 a0 b0 t1 a1 b1 mbit ping_out loss rtt
  t0=$(date +%s.%N)
  a0=$(cpu_ticks alpha)
  b0=$(cpu_ticks beta)
  mbit=$(for _ in $(seq "$RUNS"); do
      lab_exec alpha timeout $((duration + 15)) iperf3 -c 10.100.0.2 -t "$duration" -J 2>/dev/null |
        python3 -c 'import json,sys
try: print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))
except Exception: print(0)'
    done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  ping_out=$(lab_exec alpha ping -q -c 200 -i 0.025 -W 1 10.100.0.2 2>&1 || true)
  loss=$(echo "$ping_out" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
  rtt=$(echo "$ping_out" | awk -F'/' '/^rtt/ {print $5}')
  a1=$(cpu_ticks alpha)
  b1=$(cpu_ticks beta)
  t1=$(date +%s.%N)
  echo "phase=$name mbit=${mbit:-0} loss_pct=${loss:-100} rtt_ms=${rtt:-none}" \
    "alpha_crypto_cpu_pct=$(cpu_pct "$a0" "$a1" "$t0" "$t1") beta_crypto_cpu_pct=$(cpu_pct "$b0" "$b1" "$t0" "$t1")"
}

# flood SECONDS ARGS...: one flooder in mallory's namespace, in the background
flood_pids=()
flood() {
  local seconds=$1
  shift
  lab_exec mallory "$FLOOD" --seconds "$seconds" "$@" >>"$LAB_DIR/flood.log" 2>&1 &
  flood_pids+=($!)
  LAB_PIDS+=($!)
}
flood_wait() {
  for p in "${flood_pids[@]}"; do wait "$p" || lab_fail "the flooder failed: $(tail -3 "$LAB_DIR/flood.log")"; done
  flood_pids=()
}

phase_seconds=$((RUNS * (duration + 1) + 8))   # the runs, 200 pings and a margin
measure baseline

closed_port="${alpha_port%:*}:9"   # discard: nothing listens on it in alpha's namespace
flood "$phase_seconds" --to "$closed_port" --from "$beta_port" --rate $((RATE / 2)) random 116
flood "$phase_seconds" --to "$closed_port" --from "$beta_port" --rate $((RATE / 2)) mac1 "$alpha_id"
sleep 1
measure control
flood_wait

flood "$phase_seconds" --to "$alpha_port" --from "$beta_port" --rate $((RATE / 2)) random 116
flood "$phase_seconds" --to "$alpha_port" --from "$beta_port" --rate $((RATE / 2)) mac1 "$alpha_id"
sleep 1
measure spoofed
flood_wait

flood "$phase_seconds" --rate "$RATE" replay "$LAB_DIR/switch.pcap"
sleep 1
measure replay
flood_wait
grep -h '^replay\|^sent' "$LAB_DIR/flood.log" >&2 || true
measure after   # no flood again: the machine may be shared, so the baseline is taken twice

echo "weft-crypto counters, weft-dataplane's direct_drop_handshake_flood, weft-nat's drop_not_weft and drop_handshake_flood as nat_*, and the drops of the"
echo "sockets on alpha's ICE port (its kernel filter, lib/udp_guard.h, and full queues) (counter NODE NAME=VALUE):"
port_hex=$(printf '%04X' "${alpha_port##*:}")
echo "counter alpha udp_drops=$(lab_exec alpha awk -v p=":$port_hex" 'substr($2, length($2) - 4) == p { s += $NF } END { print s + 0 }' /proc/net/udp)"
for n in alpha beta; do
  "$BIN/weft" status --home "$(lab_home $n)" --json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["service"] == "dataplane":   # its direct paths cut handshake floods where they are read
        print("counter %s direct_drop_handshake_flood=%s" % (sys.argv[1], s.get("counters", {}).get("direct_drop_handshake_flood", 0)))
    if s["service"] == "crypto":
        c = s.get("counters", {})
        for k in ("datagrams_in", "drop_malformed", "drop_handshake_mac1", "drop_handshake_mac2",
                  "cookie_replies_out", "cookie_replies_in", "drop_cookie_reply", "drop_handshake_repeat",
                  "cookie_replies_limited", "drop_handshake_rate_limit", "drop_handshake_replay", "drop_auth", "handshakes_responded",
                  "under_load"):
            print("counter %s %s=%s" % (sys.argv[1], k, c.get(k, 0)))
    if s["service"] == "nat":
        print("counter %s nat_drop_not_weft=%s" % (sys.argv[1], s.get("counters", {}).get("drop_not_weft", 0)))
        print("counter %s nat_drop_handshake_flood=%s" % (sys.argv[1], s.get("counters", {}).get("drop_handshake_flood", 0)))' $n
done
