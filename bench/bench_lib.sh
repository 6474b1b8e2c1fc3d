# bench_lib.sh — what every side-by-side benchmark measures the same way (sourced by bench/compare.sh and
# bench/paths.sh after tests/lib/netlab.sh): iperf3 and ping from namespace NS_A to address DST, medians,
# CPU ticks and memory of a set of PIDs, waiting for an idle machine. A bench sets NS_A, DST, DUR (iperf3
# seconds), IDLE_WAIT and IDLE_PCT, and defines log().

# the lab tracks PIDs to kill at exit; forget one that was already stopped
untrack_pid() { local i; for i in "${!LAB_PIDS[@]}"; do [ "${LAB_PIDS[$i]}" = "$1" ] && unset "LAB_PIDS[$i]"; done; LAB_PIDS=("${LAB_PIDS[@]}"); }

# bounded wait for a command; returns 1 on timeout instead of failing the run
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.2; done
}

r2() { [ -n "$1" ] && printf '%.2f' "$1" || echo fail; }
median() { printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {if (NR == 0) exit; m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2}'; }

# waits until mpstat shows at least IDLE_PCT % idle, at most IDLE_WAIT s; the idle reached goes in IDLE
wait_idle() {
  local deadline=$((SECONDS + IDLE_WAIT)) idle
  while :; do
    idle=$(LC_ALL=C mpstat 1 1 | awk '/^Average/ {print $NF}')
    [ "${idle%.*}" -ge "$IDLE_PCT" ] && break
    if [ $SECONDS -ge $deadline ]; then log "machine still busy (${idle}% idle after ${IDLE_WAIT}s), measuring anyway"; break; fi
  done
  IDLE=$idle
}

# iperf3 from NS_A to DST; prints the received rate in Gbit/s, nothing on failure
iperf() { iperf_t "$DUR" "$@"; }
iperf_t() { # SECONDS ARGS...
  local t=$1; shift
  timeout $((t + 30)) ip netns exec "$NS_A" iperf3 -c "$DST" -t "$t" --connect-timeout 5000 -J "$@" 2>/dev/null |
    jq -r 'if .end.sum_received.bits_per_second then .end.sum_received.bits_per_second / 1e9 else empty end' 2>/dev/null || true
}
ping_avg() { # COUNT INTERVAL: avg RTT in ms, nothing on failure
  local count=$1 interval=$2 deadline
  deadline=$(awk -v c="$count" -v i="$interval" 'BEGIN {printf "%d", c * i + 5}')
  ip netns exec "$NS_A" ping -q -c "$count" -i "$interval" -w "$deadline" "$DST" 2>/dev/null |
    awk -F/ '/^rtt/ {print $5}' || true
}

# user+system CPU ticks of the given pids (all their threads)
cpu_ticks() {
  local t=0 p v
  for p in "$@"; do
    v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || v=0
    t=$((t + ${v:-0}))
  done
  echo $t
}
# summed field FIELD (kB) of /proc/PID/FILE over the given pids, in MB: mem_sum FILE FIELD PIDS...
mem_sum() {
  local file=$1 field=$2 p kb=0 v
  shift 2
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/$file" 2>/dev/null) || v=0
    kb=$((kb + ${v:-0}))
  done
  awk -v k=$kb 'BEGIN {printf "%.1f", k / 1024}'
}
rss_mb() { mem_sum status VmRSS "$@"; }
# summed proportional set size (smaps_rollup Pss), MB: shared pages divided among their users
pss_mb() { mem_sum smaps_rollup Pss "$@"; }
