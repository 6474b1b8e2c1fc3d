#!/usr/bin/env bash
# paths.sh [--paths LIST] [BIN_DIR] [SECONDS] [REPEATS] — weft over each kind of path between two nodes, in
# the NAT lab (tests/lib/natlab.sh: an "internet" namespace, a local coturn, a hub, two routers without NAT
# and a host behind each): the direct UDP path, the TURN-relayed path (the internet drops everything
# between the two routers, natlab_cut, so only the relay connects them) and ICE-TCP (both routers drop all
# UDP, natlab_block_udp). For each: connect time (`weft up` of the second node to the first overlay ping
# reply, median of CONNECT_RUNS fresh `weft up`s), iperf3 TCP 1 stream and UDP blast (median of REPEATS),
# ping idle and under TCP load, and the path both nodes report (`weft peers --json`). Prints a markdown
# table. A benchmark, not a test: it fails only when the lab cannot be built. Needs root. Everything it
# starts is removed by PID, also on failure or Ctrl-C; no traffic leaves its namespaces.
# docs/performance.md ("Relayed path and connect time") says what each column means.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ALL_PATHS="direct relay ice-tcp"

usage() {
  cat <<EOF
usage: bench/paths.sh [--paths LIST] [BIN_DIR] [SECONDS] [REPEATS]

Two weft nodes in the NAT lab of tests/lib/natlab.sh (each on a host behind its own router, no NAT; a hub
and a local coturn on the lab's "internet"; overlay MTU 1400), measured over each kind of path in turn:
  direct   nothing in the way: ICE picks a direct UDP pair
  relay    the internet drops everything between the two routers (nftables): only the TURN relay connects
  ice-tcp  both routers drop every UDP packet (nftables): only TCP candidates (RFC 6544) can connect
For each path: connect time, from the start of \`weft up\` of the second node (the first is running) to the
first reply of a ping at 50/s from the first node's host to the second's overlay address, started just
before \`weft up\` (median of PATHS_CONNECT_RUNS, each a fresh \`weft down\` + \`weft up\`); iperf3 TCP 1 stream and
UDP blast -u -b 0 -l 1200 received (median of REPEATS runs of SECONDS); ping avg idle (100 at 100/s) and
under one TCP stream (50/s); the CPU both nodes' processes use in 5 s without traffic; and the path the
nodes report (\`weft peers --json\`).

  BIN_DIR        weft's bin directory (default: build/bin)
  SECONDS        length of each iperf3 run (default 10)
  REPEATS        runs per throughput figure, the median is shown (default 3)
  --paths LIST   comma-separated subset of: ${ALL_PATHS// /,}
  --help         this text

Environment: PATHS_CONNECT_RUNS (default 5) fresh \`weft up\`s per path; PATHS_CONNECT_LIMIT (default 60)
seconds to wait for the first reply; PATHS_IDLE_WAIT (default 30) bounds the wait, before each path's
throughput runs, for the machine to be PATHS_IDLE_PCT (default 85) % idle (mpstat); the idle reached is
printed in the table. Needs root, iperf3, jq, mpstat (sysstat), turnserver (coturn), conntrack, nft.
EOF
}

paths=$ALL_PATHS
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --help|-h) usage; exit 0 ;;
    --paths) [ $# -ge 2 ] || { echo "paths.sh: --paths needs a list" >&2; exit 2; }
             paths=${2//,/ }; shift 2 ;;
    --paths=*) paths=${1#--paths=}; paths=${paths//,/ }; shift ;;
    -*) echo "paths.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -le 3 ] || { echo "paths.sh: too many arguments (try --help)" >&2; exit 2; }
bin=${args[0]:-$here/../build/bin}
DUR=${args[1]:-10}
REPEATS=${args[2]:-3}
RUNS=${PATHS_CONNECT_RUNS:-5}
LIMIT=${PATHS_CONNECT_LIMIT:-60}
IDLE_WAIT=${PATHS_IDLE_WAIT:-30}
IDLE_PCT=${PATHS_IDLE_PCT:-85}
for n in "$DUR" "$REPEATS" "$RUNS" "$LIMIT" "$IDLE_WAIT" "$IDLE_PCT"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "paths.sh: '$n' is not a whole number (try --help)" >&2; exit 2; }
done
[ "$DUR" -ge 2 ] && [ "$REPEATS" -ge 1 ] && [ "$RUNS" -ge 1 ] && [ "$LIMIT" -ge 1 ] ||
  { echo "paths.sh: SECONDS must be >= 2, REPEATS, PATHS_CONNECT_RUNS and PATHS_CONNECT_LIMIT >= 1" >&2; exit 2; }
for p in $paths; do
  [[ " $ALL_PATHS " == *" $p "* ]] || { echo "paths.sh: unknown path '$p' (known: $ALL_PATHS)" >&2; exit 2; }
done
for c in ip iperf3 jq mpstat timeout nft python3; do
  command -v "$c" >/dev/null || { echo "paths.sh: '$c' is missing (apt-get install -y iperf3 sysstat jq coturn conntrack nftables)" >&2; exit 1; }
done

source "$here/../tests/lib/netlab.sh"
source "$here/../tests/lib/natlab.sh"
source "$here/bench_lib.sh"
natlab_init "$bin"
export WEFT_DEVICE_MTU=1400   # as bench/compare.sh
log() { lab_log "$*"; }

# ---- the lab: hub and coturn on the internet, routers without NAT, a host behind each ---------------------
natlab_hub
natlab_router ra none
natlab_router rb none
natlab_host ha ra
natlab_host hb rb
natlab_node_init alpha 10.100.0.1   # STUN: coturn instance 1; TURN: instance 2's static user
natlab_node_init beta 10.100.0.2
NS_A=$(lab_ns ha) DST=10.100.0.2
natlab_node_up alpha ha

# the path NODE reports to its only peer, in one word: connection/local_type-remote_type/transport, and
# the TURN server when one is in it
path_of() {
  "$BIN/weft" peers --home "$(lab_home "$1")" --json 2>/dev/null | python3 -c '
import json, sys
try:
    p = json.load(sys.stdin)[0]["path"]
except Exception:
    print("none"); sys.exit()
s = "%s %s/%s-%s/%s" % (p["state"], p["connection"] or "-", p["local_type"] or "-", p["remote_type"] or "-",
                        p["transport"] or "-")
if p["server"] and "relay" in (p["local_type"], p["remote_type"]):
    s += " via " + p["server"]
print(s)'
}
connected() { lab_peer_connected alpha 10.100.0.2; }
beta_gone() { ! lab_peer_connected alpha 10.100.0.2; }

# ---- connect time -----------------------------------------------------------------------------------------
# one fresh start of beta: `weft down` (alpha must see it gone), then a ping at 50/s from alpha's host to
# beta's overlay address, started just before `weft up` of beta; prints the seconds from the start of
# `weft up` to the first reply (ping -D timestamps, same clock) in CONNECT_T, "" when no reply within LIMIT;
# how long `weft up` itself took to return (the node started, not yet connected) in UP_T
connect_once() {
  local out=$LAB_DIR/connect.ping pid t0 t1 deadline
  natlab_node_down beta
  wait_for 30 beta_gone || log "alpha still lists beta as connected 30 s after its \`weft down\`"
  natlab_reset   # no conntrack state from the previous run
  ip netns exec "$NS_A" ping -D -n -i 0.02 -W 1 "$DST" >"$out" 2>&1 & pid=$!; LAB_PIDS+=("$pid")
  sleep 0.1
  t0=$(date +%s.%N)
  natlab_node_up beta hb
  UP_T=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  deadline=$((SECONDS + LIMIT))
  until grep -q "bytes from" "$out"; do
    [ $SECONDS -ge $deadline ] && break
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; untrack_pid "$pid"
  t1=$(sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from.*/\1/p' "$out" | head -1)
  CONNECT_T=""
  [ -z "$t1" ] || CONNECT_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
  return 0
}

# ---- throughput and latency over the path the nodes are on now ------------------------------------------

# CPU of both nodes' processes (supervisor, services, Redis) over REST_SECONDS with no traffic, % of one core
REST_SECONDS=5
rest_cpu() {
  local ns p pids=() t0 t1 hz
  hz=$(getconf CLK_TCK)
  for ns in "$(lab_ns ha)" "$(lab_ns hb)"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      case $(cat "/proc/$p/comm" 2>/dev/null) in iperf3|ping|timeout|"") ;; *) pids+=("$p") ;; esac
    done
  done
  t0=$(cpu_ticks "${pids[@]}"); sleep $REST_SECONDS; t1=$(cpu_ticks "${pids[@]}")
  awk -v t=$((t1 - t0)) -v hz="$hz" -v s=$REST_SECONDS 'BEGIN {printf "%.1f", 100 * t / hz / s}'
}

declare -A R   # R[path,column]
measure() { # PATH
  local p=$1 tcp=() udp=() i srv lp
  ip netns exec "$(lab_ns hb)" iperf3 -s -B "$DST" >/dev/null 2>&1 & srv=$!; LAB_PIDS+=("$srv")
  lab_wait 10 "iperf3 server" bash -c "ip netns exec '$(lab_ns hb)' ss -Hltn 'sport = :5201' | grep -q ."
  wait_idle
  R[$p,idle]=$IDLE
  R[$p,rest]=$(rest_cpu)
  R[$p,ping]=$(ping_avg 100 0.01)
  for ((i = 0; i < REPEATS; i++)); do
    tcp+=("$(iperf)")
    udp+=("$(iperf -u -b 0 -l 1200)")
    log "$p: run $((i + 1)): TCP 1 stream $(r2 "${tcp[-1]}"), UDP blast received $(r2 "${udp[-1]}") Gbit/s"
  done
  R[$p,tcp]=$(median "${tcp[@]}") R[$p,udp]=$(median "${udp[@]}")
  ip netns exec "$NS_A" iperf3 -c "$DST" -t "$DUR" --connect-timeout 5000 >/dev/null 2>&1 & lp=$!; LAB_PIDS+=("$lp")
  sleep 1
  R[$p,pingload]=$(ping_avg $(( (DUR - 2) * 50 > 25 ? (DUR - 2) * 50 : 25 )) 0.02)
  wait $lp 2>/dev/null || true; untrack_pid $lp
  kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; untrack_pid $srv
  log "$p: ping idle $(r2 "${R[$p,ping]}") ms, under TCP $(r2 "${R[$p,pingload]}") ms"
}

# ---- the run ----------------------------------------------------------------------------------------------
start=$SECONDS
set_path() { # PATH: the network condition that leaves only that kind of path
  case $1 in
    direct) ;;
    relay) natlab_cut ra rb on ;;
    ice-tcp) natlab_block_udp ra on; natlab_block_udp rb on ;;
  esac
}
clear_path() {
  case $1 in
    direct) ;;
    relay) natlab_cut ra rb off ;;
    ice-tcp) natlab_block_udp ra off; natlab_block_udp rb off ;;
  esac
}
first=1
for p in $ALL_PATHS; do
  [[ " $paths " == *" $p "* ]] || continue
  log "---- $p"
  set_path "$p"
  times=() ups=()
  wait_idle
  R[$p,idle_c]=$IDLE
  if [ $first = 1 ]; then   # beta has never run: one start to have a peer to take down
    natlab_node_up beta hb
    wait_for "$LIMIT" connected || log "beta's first start did not connect within ${LIMIT}s"
    first=0
  fi
  for ((i = 0; i < RUNS; i++)); do
    connect_once
    times+=("$CONNECT_T") ups+=("$UP_T")
    wait_for "$LIMIT" connected || log "$p: alpha does not list beta as connected"
    log "$p: connect run $((i + 1)): first reply after $(r2 "$CONNECT_T") s (\`weft up\` returned after $UP_T s); alpha sees: $(path_of alpha); beta sees: $(path_of beta)"
  done
  R[$p,connect]=$(median "${times[@]}")
  R[$p,cmin]=$(printf '%s\n' "${times[@]}" | grep -v '^$' | sort -g | head -1)
  R[$p,cmax]=$(printf '%s\n' "${times[@]}" | grep -v '^$' | sort -g | tail -1)
  R[$p,up]=$(median "${ups[@]}")
  R[$p,cfail]=$(printf '%s\n' "${times[@]}" | grep -c '^$' || true)
  R[$p,seen_a]=$(path_of alpha) R[$p,seen_b]=$(path_of beta)
  R[$p,dp]=$(( $(lab_counter alpha dataplane direct_paths_opened) - $(lab_counter alpha dataplane direct_paths_closed) ))
  measure "$p"
  R[$p,after]=$(path_of alpha)
  # the state may go from connected to ready meanwhile; the kind of path must not change
  [ "${R[$p,after]#* }" = "${R[$p,seen_a]#* }" ] || log "$p: the path changed during the runs: now ${R[$p,after]}"
  clear_path "$p"
done

# ---- the table --------------------------------------------------------------------------------------------
echo
echo "weft over each kind of path: ${DUR}s iperf3 runs, median of $REPEATS; connect time median of $RUNS fresh \`weft up\`s;" \
     "overlay MTU 1400; $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, run took $((SECONDS - start)) s"
echo
echo "| path | alpha reports (beta reports) | data-plane direct paths | connect s, median (min–max) | \`weft up\` returned s | TCP 1 stream Gbit/s | UDP blast received Gbit/s | ping idle ms | ping under TCP ms | nodes' CPU at rest % | idle % (connect / throughput) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for p in $ALL_PATHS; do
  [[ " $paths " == *" $p "* ]] || continue
  c=$( [ -n "${R[$p,connect]}" ] && printf '%.2f (%.2f–%.2f)' "${R[$p,connect]}" "${R[$p,cmin]}" "${R[$p,cmax]}" || echo fail)
  [ "${R[$p,cfail]}" -gt 0 ] && c+=", ${R[$p,cfail]} of $RUNS no reply in ${LIMIT}s"
  printf '| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$p" "${R[$p,seen_a]}" "${R[$p,seen_b]}" "${R[$p,dp]}" "$c" "$(r2 "${R[$p,up]}")" \
    "$(r2 "${R[$p,tcp]}")" "$(r2 "${R[$p,udp]}")" \
    "$( [ -n "${R[$p,ping]}" ] && printf '%.3f' "${R[$p,ping]}" || echo fail)" "$(r2 "${R[$p,pingload]}")" \
    "${R[$p,rest]}" "${R[$p,idle_c]}" "${R[$p,idle]}"
done
