#!/usr/bin/env bash
# relay.sh [BIN_DIR] [RUNS] [SECONDS] — weft's mesh relay (issue 12): a member reached through another
# member against the same member reached directly, and how long the mesh takes to route around a cut and
# back. In the lab of tests/lib/netlab.sh (a hub and members alpha, beta, gamma, later delta, on one switch):
#   1. direct   alpha -> gamma with nothing cut: iperf3 TCP (median of RUNS), UDP blast (one run), ping
#               avg and p50 (100 at 100/s)
#   2. relayed  the same with alpha's underlay to gamma dropped by nftables (in alpha's namespace), once
#               `weft routes` on alpha shows gamma via beta with 2 hops; beta's forwarded_packets must grow
#   3. reconvergence, each a median of RUNS, with a ping alpha -> gamma at 100/s (ping -D) running:
#      a. cut -> relayed   the nftables cut is added: the largest gap between two replies
#      b. heal -> direct   the cut is deleted: time until `weft routes` on alpha shows gamma direct again
#                          (polled every 0.1 s), and the largest gap between two replies meanwhile
#      c. relay lost       delta joins (a second member that reaches both); alpha-gamma stays cut; the relay
#                          in use has its whole underlay dropped (nftables in its namespace, hub included):
#                          the largest gap until replies come through the other relay; then it is healed
#      and once, at the end, the relay in use is killed outright (kill -9 of every process of the node)
# Prints a markdown table with relayed/direct ratios. A benchmark, not a test: it fails only when the lab
# cannot be built. Needs root, iperf3, jq, mpstat (sysstat), nft, python3. Every process it starts is killed
# by PID and every namespace deleted (the lab does it), also on failure or Ctrl-C; traffic stays inside the
# lab's namespaces. docs/performance.md ("Mesh relay (bench/relay.sh)") says what each figure means.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() {
  cat <<EOF
usage: bench/relay.sh [BIN_DIR] [RUNS] [SECONDS]

  BIN_DIR   weft's bin directory (default: build/bin)
  RUNS      iperf3 runs per throughput figure and repetitions per reconvergence figure, the median is
            shown (default 5)
  SECONDS   length of each iperf3 run (default 5)

Environment: RELAY_LIMIT (default 30) seconds to wait for a route or a reply before a run counts as
failed; RELAY_IDLE_WAIT (default 15) bounds the wait, before each throughput phase, for the machine to be
RELAY_IDLE_PCT (default 85) % idle. A default run takes about 4 minutes. Needs root.
EOF
}
case ${1:-} in --help|-h) usage; exit 0 ;; -*) echo "relay.sh: unknown option $1 (try --help)" >&2; exit 2 ;; esac
[ $# -le 3 ] || { echo "relay.sh: too many arguments (try --help)" >&2; exit 2; }
bin=${1:-$here/../build/bin}
RUNS=${2:-5}
DUR=${3:-5}
LIMIT=${RELAY_LIMIT:-30}
IDLE_WAIT=${RELAY_IDLE_WAIT:-15}
IDLE_PCT=${RELAY_IDLE_PCT:-85}
for n in "$RUNS" "$DUR" "$LIMIT" "$IDLE_WAIT" "$IDLE_PCT"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "relay.sh: '$n' is not a whole number (try --help)" >&2; exit 2; }
done
[ "$RUNS" -ge 1 ] && [ "$DUR" -ge 1 ] && [ "$LIMIT" -ge 1 ] || { echo "relay.sh: RUNS, SECONDS and RELAY_LIMIT must be >= 1" >&2; exit 2; }
for c in ip iperf3 jq mpstat nft python3 timeout; do
  command -v "$c" >/dev/null || { echo "relay.sh: '$c' is missing (apt-get install -y iperf3 sysstat jq nftables)" >&2; exit 1; }
done

source "$here/../tests/lib/netlab.sh"
source "$here/bench_lib.sh"
lab_init "$bin"
log() { lab_log "$*"; }
start=$SECONDS

declare -A UNDERLAY=([alpha]=10.99.0.2 [beta]=10.99.0.3 [gamma]=10.99.0.4 [delta]=10.99.0.5)
declare -A OVERLAY=([alpha]=10.100.0.1 [beta]=10.100.0.2 [gamma]=10.100.0.3 [delta]=10.100.0.4)
NS_A=$(lab_ns alpha) DST=${OVERLAY[gamma]}

# ---- helpers ------------------------------------------------------------------------------------------------
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

# "VIA HOPS" of alpha's route to OVERLAY from `weft routes --json` ("none 0" when there is none)
route_of() {
  "$BIN/weft" routes --home "$(lab_home alpha)" --json 2>/dev/null | python3 -c '
import json, sys
try:
    routes = json.load(sys.stdin)
except Exception:
    routes = []
for r in routes:
    if r["destination"].split("/")[0] == sys.argv[1]:
        print(r["via"], r["hops"]); sys.exit()
print("none 0")' "$1" || echo "none 0"
}
route_is() { [ "$(route_of "$1")" = "$2" ]; }          # route_is OVERLAY "beta 2"
route_via_other() { local r; r=$(route_of "$DST"); [ "${r%% *}" != "$1" ] && [ "${r%% *}" != direct ] && [ "${r%% *}" != none ]; }

# alpha drops everything to and from gamma's underlay addresses: its IPv4 address and its IPv6 link-local
# one (ICE gathers fe80:: host candidates too: with IPv4 alone cut, the pair moves to IPv6 within ~2 s)
GAMMA_V6=""
cut_alpha_gamma() { # on|off
  if [ "$1" = on ]; then
    [ -n "$GAMMA_V6" ] || GAMMA_V6=$(lab_exec gamma ip -6 -o addr show dev eth0 scope link | awk '{sub("/.*", "", $4); print $4; exit}')
    [ -n "$GAMMA_V6" ] || lab_fail "gamma has no IPv6 link-local address to cut"
    lab_exec alpha nft -f - <<NFT
table inet relaycut {
  chain in { type filter hook input priority 0; ip saddr ${UNDERLAY[gamma]} drop; ip6 saddr $GAMMA_V6 drop; }
  chain out { type filter hook output priority 0; ip daddr ${UNDERLAY[gamma]} drop; ip6 daddr $GAMMA_V6 drop; }
}
NFT
  else
    lab_exec alpha nft delete table inet relaycut
  fi
}
cut_node() { # NAME on|off: the node's whole underlay (eth0) is dropped, the hub included
  if [ "$2" = on ]; then
    lab_exec "$1" nft -f - <<'NFT'
table inet nodecut {
  chain in { type filter hook input priority 0; iifname "eth0" drop; }
  chain out { type filter hook output priority 0; oifname "eth0" drop; }
}
NFT
  else
    lab_exec "$1" nft delete table inet nodecut
  fi
}

# a ping alpha -> gamma at 100/s with ping -D timestamps into $LAB_DIR/gap.ping; ping_stop ends it
PING_PID=""
ping_start() {
  ip netns exec "$NS_A" ping -D -n -i 0.01 -W 1 "$DST" >"$LAB_DIR/gap.ping" 2>&1 & PING_PID=$!; LAB_PIDS+=("$PING_PID")
  sleep 0.5
}
ping_stop() { kill "$PING_PID" 2>/dev/null || true; wait "$PING_PID" 2>/dev/null || true; untrack_pid "$PING_PID"; PING_PID=""; }
# true when a reply arrived after time T
reply_after() { sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from.*/\1/p' "$LAB_DIR/gap.ping" | awk -v t="$1" '$1 > t {f = 1} END {exit !f}'; }
# the largest gap (s) between two consecutive replies from T0 - 0.2 s to T1; when no reply came after T0,
# the time from the last reply to T1 with a ">" in front
max_gap() { # T0 T1
  sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from.*/\1/p' "$LAB_DIR/gap.ping" | awk -v t0="$1" -v t1="$2" '
    $1 < t0 - 0.2 {last = $1; next}
    $1 <= t1 {if (last != "") {g = $1 - last; if (g > max) max = g}; last = $1; if ($1 > t0) after = 1}
    END {if (!after) printf ">%.2f", t1 - last; else printf "%.2f", max}'
}
# wait up to LIMIT for COMMAND, then for a reply after that moment; prints the moment (epoch) it held, "" if never
wait_route_then_reply() {
  local deadline=$((SECONDS + LIMIT)) t
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $deadline ] && return 0; sleep 0.1; done
  t=$(now)
  until reply_after "$t"; do [ $SECONDS -ge $deadline ] && return 0; sleep 0.05; done
  echo "$t"
}

# ping avg and p50 (ms) of COUNT pings at 100/s from alpha to gamma: "AVG P50", "" on failure
ping_stats() {
  ip netns exec "$NS_A" ping -n -c "$1" -i 0.01 -w $(( $1 / 100 + 10 )) "$DST" 2>/dev/null |
    sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -g |
    awk '{v[NR] = $1; s += $1} END {if (NR == 0) exit; m = int((NR + 1) / 2); printf "%.3f %.3f %d\n", s / NR, (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2, NR}'
}

declare -A R
throughput() { # PHASE: iperf3 RUNS times and pings, into R[PHASE,...]
  local p=$1 runs=() i
  wait_idle; R[$p,idle]=$IDLE
  read -r R[$p,ping] R[$p,p50] R[$p,pings] <<<"$(ping_stats 100)" || true
  for ((i = 0; i < RUNS; i++)); do
    runs+=("$(iperf)")
    log "$p: iperf3 run $((i + 1)): $(r2 "${runs[-1]}") Gbit/s; route to gamma: $(route_of "$DST")"
  done
  R[$p,tcp]=$(median "${runs[@]}")
  R[$p,udp]=$(iperf -u -b 0 -l 1200)
  log "$p: UDP blast received $(r2 "${R[$p,udp]}") Gbit/s (one run)"
  log "$p: TCP median $(r2 "${R[$p,tcp]}") Gbit/s, ping avg ${R[$p,ping]:-fail} ms p50 ${R[$p,p50]:-fail} ms (${R[$p,pings]:-0} of 100 answered)"
}

counters() { # two dataplane counters of each node NAME...: "NAME forwarded_packets N drop_forward_ttl N; ..."
  local n
  for n in "$@"; do printf '%s forwarded_packets %s drop_forward_ttl %s; ' "$n" "$(lab_counter "$n" dataplane forwarded_packets)" "$(lab_counter "$n" dataplane drop_forward_ttl)"; done
}

# ---- the lab ------------------------------------------------------------------------------------------------
lab_switch
lab_hub hub 10.99.0.1
for n in alpha beta gamma; do lab_node "$n" "${UNDERLAY[$n]}" "${OVERLAY[$n]}"; done
lab_wait "$LIMIT" "alpha's route to gamma direct" route_is "$DST" "direct 1"
lab_wait "$LIMIT" "alpha's route to beta direct" route_is "${OVERLAY[beta]}" "direct 1"
lab_wait "$LIMIT" "a ping alpha -> gamma" lab_exec alpha ping -c1 -W1 "$DST"
log "lab up after $((SECONDS - start)) s"
lab_exec gamma iperf3 -s -B "$DST" >/dev/null 2>&1 & LAB_PIDS+=($!)
lab_wait 10 "iperf3 server" bash -c "ip netns exec '$(lab_ns gamma)' ss -Hltn 'sport = :5201' | grep -q ."

# ---- 1. direct ----------------------------------------------------------------------------------------------
log "---- direct"
R[direct,route]=$(route_of "$DST")
throughput direct
R[direct,after]=$(route_of "$DST")

# ---- 2. through beta ----------------------------------------------------------------------------------------
log "---- relayed through beta"
cut_alpha_gamma on
t=$(now)
wait_for "$LIMIT" route_is "$DST" "beta 2" || log "alpha's route to gamma is $(route_of "$DST") ${LIMIT}s after the cut, not via beta"
R[relayed,wait]=$(since "$t")
wait_for "$LIMIT" lab_exec alpha ping -c1 -W1 "$DST" || log "no ping alpha -> gamma through beta"
R[relayed,route]=$(route_of "$DST")
fwd0=$(lab_counter beta dataplane forwarded_packets)
throughput relayed
R[relayed,fwd]=$(( $(lab_counter beta dataplane forwarded_packets) - fwd0 ))
R[relayed,after]=$(route_of "$DST")
log "relayed: beta forwarded ${R[relayed,fwd]} packets during the phase; route before ${R[relayed,route]}, after ${R[relayed,after]}"
cut_alpha_gamma off

# ---- 3a/3b. cut -> relayed, heal -> direct ------------------------------------------------------------------
log "---- reconvergence: cut and heal alpha-gamma, $RUNS times"
cutgaps=() healt=() healgaps=()
for ((i = 0; i < RUNS; i++)); do
  wait_for "$LIMIT" route_is "$DST" "direct 1" || log "run $((i + 1)): alpha's route to gamma is $(route_of "$DST"), not direct, before the cut"
  ping_start
  t0=$(now); cut_alpha_gamma on
  t1=$(wait_route_then_reply route_is "$DST" "beta 2")
  sleep 0.3
  cutgaps+=("$(max_gap "$t0" "$(now)")")
  [ -n "$t1" ] || log "run $((i + 1)): no reply through beta within ${LIMIT}s of the cut (route $(route_of "$DST"))"
  t0=$(now); cut_alpha_gamma off
  t1=""; deadline=$((SECONDS + LIMIT))
  until route_is "$DST" "direct 1"; do [ $SECONDS -ge $deadline ] && break; sleep 0.1; done
  route_is "$DST" "direct 1" && t1=$(now)
  healt+=("$( [ -n "$t1" ] && awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}' || echo "")")
  sleep 1
  healgaps+=("$(max_gap "$t0" "$(now)")")
  ping_stop
  log "run $((i + 1)): cut -> relayed gap ${cutgaps[-1]} s; heal -> direct route after $(r2 "${healt[-1]}") s, gap ${healgaps[-1]} s"
done

# ---- 3c. the relay in use is lost ---------------------------------------------------------------------------
log "---- reconvergence: the relay in use is lost, $RUNS times (delta joins)"
lab_node delta "${UNDERLAY[delta]}" "${OVERLAY[delta]}"
for n in beta delta; do lab_wait "$LIMIT" "alpha's route to $n direct" route_is "${OVERLAY[$n]}" "direct 1"; done
lab_wait "$LIMIT" "alpha's route to gamma direct" route_is "$DST" "direct 1"
cut_alpha_gamma on
wait_for "$LIMIT" route_via_other none || log "alpha's route to gamma is $(route_of "$DST") ${LIMIT}s after the cut, through neither beta nor delta"
lostgaps=() lostvia=()
for ((i = 0; i < RUNS; i++)); do
  relay=$(route_of "$DST"); relay=${relay%% *}
  case $relay in beta|delta) ;; *) log "run $((i + 1)): alpha's route to gamma is via '$relay'"; lostgaps+=(""); continue ;; esac
  ping_start
  t0=$(now); cut_node "$relay" on
  t1=$(wait_route_then_reply route_via_other "$relay")
  sleep 0.3
  lostgaps+=("$(max_gap "$t0" "$(now)")") lostvia+=("$relay->$(route_of "$DST" | cut -d' ' -f1)")
  ping_stop
  [ -n "$t1" ] || log "run $((i + 1)): no reply through another relay within ${LIMIT}s (route $(route_of "$DST"))"
  log "run $((i + 1)): $relay cut off: gap ${lostgaps[-1]} s, route now $(route_of "$DST")"
  cut_node "$relay" off
  wait_for "$LIMIT" route_is "${OVERLAY[$relay]}" "direct 1" || log "run $((i + 1)): alpha's route to $relay is $(route_of "${OVERLAY[$relay]}") ${LIMIT}s after its heal"
  wait_for "$LIMIT" lab_peer_connected gamma "${OVERLAY[$relay]}" || log "run $((i + 1)): gamma does not list $relay as connected ${LIMIT}s after its heal"
done

R[counters]=$(counters alpha beta gamma delta)
log "counters before the kill: ${R[counters]}"

# once: the relay in use killed outright (every process in its namespace, kill -9)
relay=$(route_of "$DST"); relay=${relay%% *}
R[kill]=fail R[killvia]=""
if [ "$relay" = beta ] || [ "$relay" = delta ]; then
  ping_start
  pids=$(ip netns pids "$(lab_ns "$relay")")
  t0=$(now); kill -9 $pids 2>/dev/null || true
  t1=$(wait_route_then_reply route_via_other "$relay")
  sleep 0.3
  R[kill]=$(max_gap "$t0" "$(now)") R[killvia]="$relay->$(route_of "$DST" | cut -d' ' -f1)"
  ping_stop
  log "kill -9 of $relay ($(echo $pids | wc -w) processes): gap ${R[kill]} s, route now $(route_of "$DST")"
fi

# ---- the table ----------------------------------------------------------------------------------------------
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}' || echo "-"; }
fmt_runs() { local s="" v; for v in "$@"; do s+="${v:-fail} "; done; echo "${s% }"; }
med_gap() { # median of the gaps, a ">" figure (no reply) counted as its value; "fail" when none
  local v=() x; for x in "$@"; do [ -n "$x" ] && v+=("${x#>}"); done
  [ ${#v[@]} -gt 0 ] && printf '%.2f' "$(median "${v[@]}")" || echo fail
}
echo
echo "weft mesh relay: alpha -> gamma direct and through beta; ${DUR}s iperf3 runs, median of $RUNS;" \
     "reconvergence median of $RUNS; $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, run took $((SECONDS - start)) s"
echo
mbit() { [ -n "$1" ] && awk -v g="$1" 'BEGIN {printf "%.1f", g * 1000}' || echo fail; }
echo "| path | alpha's route to gamma (via hops) | TCP 1 stream Mbit/s | UDP blast received Mbit/s (1 run) | ping avg ms | ping p50 ms | idle % |"
echo "|---|---|---|---|---|---|---|"
for p in direct relayed; do
  printf '| %s | %s (after: %s) | %s | %s | %s | %s | %s |\n' "$p" "${R[$p,route]}" "${R[$p,after]}" "$(mbit "${R[$p,tcp]}")" \
    "$(mbit "${R[$p,udp]}")" "${R[$p,ping]:-fail}" "${R[$p,p50]:-fail}" "${R[$p,idle]}"
done
printf '| relayed / direct | | %s | %s | %s | %s | |\n' "$(ratio "${R[relayed,tcp]}" "${R[direct,tcp]}")" \
  "$(ratio "${R[relayed,udp]}" "${R[direct,udp]}")" \
  "$(ratio "${R[relayed,ping]}" "${R[direct,ping]}")" "$(ratio "${R[relayed,p50]}" "${R[direct,p50]}")"
echo
echo "beta forwarded ${R[relayed,fwd]} packets during the relayed phase; the route went via beta ${R[relayed,wait]} s after the cut."
echo
echo "| reconvergence (ping at 100/s) | median s | runs s |"
echo "|---|---|---|"
printf '| cut -> relayed: largest ping gap | %s | %s |\n' "$(med_gap "${cutgaps[@]}")" "$(fmt_runs "${cutgaps[@]}")"
printf '| heal -> direct: route direct after | %s | %s |\n' "$(med_gap "${healt[@]}")" "$(fmt_runs "${healt[@]}")"
printf '| heal -> direct: largest ping gap | %s | %s |\n' "$(med_gap "${healgaps[@]}")" "$(fmt_runs "${healgaps[@]}")"
printf '| relay lost (underlay cut): largest ping gap | %s | %s (%s) |\n' "$(med_gap "${lostgaps[@]}")" "$(fmt_runs "${lostgaps[@]}")" "${lostvia[*]}"
printf '| relay killed (kill -9, once): largest ping gap | %s | %s |\n' "${R[kill]#>}" "${R[kill]} (${R[killvia]})"
echo
echo "dataplane counters before the kill (a routing loop would show in drop_forward_ttl): ${R[counters]}"
