#!/usr/bin/env bash
# compare.sh [--systems LIST] [BIN_DIR] [SECONDS] [REPEATS] — weft side by side with wireguard-go, tinc and
# nebula (Debian packages), back to back in one run, on one underlay (the lab's bridge, veths into two
# network namespaces per system), overlay MTU 1400 for every system. Order: underlay, weft (five processes),
# weft --colocate, wireguard-go, tinc, nebula, underlay again. Prints one table: every figure and its ratio
# to the best anchor of that column. Needs root. Everything it starts is removed, by PID, also on failure.
# docs/performance.md ("Side by side") says what each column means.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ALL_SYSTEMS="underlay weft weft-colocate wireguard-go tinc nebula"
ANCHORS="wireguard-go tinc nebula"

usage() {
  cat <<EOF
usage: bench/compare.sh [--systems LIST] [BIN_DIR] [SECONDS] [REPEATS]

Measures, back to back in one run and on the same underlay (two network namespaces on the lab's bridge,
overlay MTU 1400): the underlay, weft (five processes), weft --colocate, wireguard-go, tinc, nebula, and the
underlay again. Each: iperf3 TCP 1 and 4 streams (median of REPEATS), UDP blast -b 0 -l 1200 received rate
(median of REPEATS), the loss-free UDP rate (fixed-rate trials of up to 3 s, falling by 20 % until < 1 %
loss, at most 8), ping avg idle (100/s), ping avg under one TCP stream (50/s), CPU per Gbit/s of the
system's processes during the 1-stream runs, and idle RSS of one whole node (summed VmRSS: every process
counts every shared-library page it maps) with its PSS beside it (summed Pss from smaps_rollup: a page
shared by N processes counts 1/N in each, so the node's own cost). Prints a table with each figure and its
ratio to the best anchor (wireguard-go, tinc, nebula).

  BIN_DIR         weft's bin directory (default: build/bin); needed only when weft runs
  SECONDS         length of each iperf3 run (default 10)
  REPEATS         runs per throughput figure, the median is shown (default 3)
  --systems LIST  comma-separated subset of: ${ALL_SYSTEMS// /,}
                  (the underlay, when listed, runs first and last)
  --help          this text

Environment: COMPARE_IDLE_WAIT (default 60) bounds the wait, before each system, for the machine to be
at least COMPARE_IDLE_PCT (default 85) % idle (mpstat); the idle reached is printed in the table.
Needs root, iperf3, jq, mpstat (sysstat), and for the anchors: wireguard-go, wg, tincd, nebula, nebula-cert.
EOF
}

systems=$ALL_SYSTEMS
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --help|-h) usage; exit 0 ;;
    --systems) [ $# -ge 2 ] || { echo "compare.sh: --systems needs a list" >&2; exit 2; }
               systems=${2//,/ }; shift 2 ;;
    --systems=*) systems=${1#--systems=}; systems=${systems//,/ }; shift ;;
    -*) echo "compare.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -le 3 ] || { echo "compare.sh: too many arguments (try --help)" >&2; exit 2; }
bin=${args[0]:-$here/../build/bin}
DUR=${args[1]:-10}
REPEATS=${args[2]:-3}
IDLE_WAIT=${COMPARE_IDLE_WAIT:-60}
IDLE_PCT=${COMPARE_IDLE_PCT:-85}
LOSSFREE_SECONDS=$(( DUR < 3 ? DUR : 3 ))
for n in "$DUR" "$REPEATS" "$IDLE_WAIT" "$IDLE_PCT"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "compare.sh: '$n' is not a whole number (try --help)" >&2; exit 2; }
done
[ "$DUR" -ge 2 ] && [ "$REPEATS" -ge 1 ] || { echo "compare.sh: SECONDS must be >= 2 and REPEATS >= 1" >&2; exit 2; }
for s in $systems; do
  [[ " $ALL_SYSTEMS " == *" $s "* ]] || { echo "compare.sh: unknown system '$s' (known: $ALL_SYSTEMS)" >&2; exit 2; }
done
wants() { [[ " $systems " == *" $1 "* ]]; }

need=(ip iperf3 jq mpstat timeout)
wants wireguard-go && need+=(wireguard-go wg)
wants tinc && need+=(tincd)
wants nebula && need+=(nebula nebula-cert)
for c in "${need[@]}"; do
  command -v "$c" >/dev/null || { echo "compare.sh: '$c' is missing (apt-get install -y nebula wireguard-go wireguard-tools tinc iperf3 sysstat jq)" >&2; exit 1; }
done

source "$here/../tests/lib/netlab.sh"
source "$here/bench_lib.sh"
if wants weft || wants weft-colocate; then
  lab_init "$bin"
else # the lab without weft: the same bookkeeping and cleanup as lab_init sets up
  [ "$(id -u)" -eq 0 ] || lab_fail "compare.sh needs root (network namespaces, TUN)"
  BIN=/nonexistent LAB_TAG="w$$" LAB_DIR=$(mktemp -d "/tmp/weft-lab.XXXXXX")
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
fi
export WEFT_DEVICE_MTU=1400
lab_switch
WG_SOCKS=()        # wireguard-go's UAPI sockets (/var/run/wireguard is not per namespace)
trap 'lab_cleanup; rm -f "${WG_SOCKS[@]}"' EXIT
CLK_TCK=$(getconf CLK_TCK)

# ---- per-system bookkeeping: what a system adds to the lab's arrays is removed when it is done -----------
sys_mark() { M_NS=${#LAB_NS[@]}; M_HOMES=${#LAB_HOMES[@]}; M_PIDS=${#LAB_PIDS[@]}; }
sys_teardown() {
  local h p ns
  for h in "${LAB_HOMES[@]:M_HOMES}"; do
    [ -f "$h/run/weft.pid" ] && "$BIN/weft" down --home "$h" >/dev/null 2>&1 || true
  done
  for p in "${LAB_PIDS[@]:M_PIDS}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${LAB_PIDS[@]:M_PIDS}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "${LAB_NS[@]:M_NS}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  LAB_NS=("${LAB_NS[@]:0:M_NS}") LAB_HOMES=("${LAB_HOMES[@]:0:M_HOMES}") LAB_PIDS=("${LAB_PIDS[@]:0:M_PIDS}")
  rm -f "${WG_SOCKS[@]}"
}

pings_once() { ip netns exec "$1" ping -c 1 -W 1 "$2"; }

# the MTU of the device that holds address $2 in namespace $1
mtu_of() {
  local dev
  dev=$(ip -n "$1" -o addr show | awk -v a="$2" '{split($4, x, "/")} x[1] == a {print $2; exit}')
  [ -n "$dev" ] && ip -n "$1" -o link show dev "$dev" | sed -n 's/.* mtu \([0-9]*\).*/\1/p'
}

# ---- the systems: each sets NS_A, NS_B (namespaces), SRC, DST (addresses in them) -----------------------
# Underlay addresses: 10.99.0.2 (a) and 10.99.0.3 (b) on the lab's bridge; overlays: weft 10.100.0.1/.2,
# anchors 10.77.0.1/.2. One system runs at a time; the next reuses the addresses.
up_underlay() {
  lab_host ula 10.99.0.2/24; lab_host ulb 10.99.0.3/24
  NS_A=$(lab_ns ula) NS_B=$(lab_ns ulb) SRC=10.99.0.2 DST=10.99.0.3
}

up_weft() { # $1: name prefix, $2: weft up arguments
  local p=$1
  LAB_UP_ARGS=$2 lab_hub "${p}hub" 10.99.0.1
  LAB_UP_ARGS=$2 lab_node "${p}alpha" 10.99.0.2 10.100.0.1
  LAB_UP_ARGS=$2 lab_node "${p}beta" 10.99.0.3 10.100.0.2
  lab_wait 60 "${p}alpha to connect to ${p}beta" lab_peer_connected "${p}alpha" 10.100.0.2
  lab_wait 60 "${p}beta to connect to ${p}alpha" lab_peer_connected "${p}beta" 10.100.0.1
  NS_A=$(lab_ns "${p}alpha") NS_B=$(lab_ns "${p}beta") SRC=10.100.0.1 DST=10.100.0.2
}

up_wireguard_go() {
  lab_host wga 10.99.0.2/24; lab_host wgb 10.99.0.3/24
  local d=$LAB_DIR/wg i side
  mkdir -p "$d"
  for side in a b; do (umask 077; wg genkey >"$d/$side.key"); wg pubkey <"$d/$side.key" >"$d/$side.pub"; done
  for side in a b; do
    local ifc="wg$$$side" ns; ns=$(lab_ns "wg$side")
    WG_SOCKS+=("/var/run/wireguard/$ifc.sock")
    LOG_LEVEL=error ip netns exec "$ns" wireguard-go -f "$ifc" >"$d/$side.log" 2>&1 & LAB_PIDS+=($!)
  done
  for side in a b; do
    local ifc="wg$$$side" ns peer ip peer_ip
    ns=$(lab_ns "wg$side")
    if [ $side = a ]; then peer=b ip=10.77.0.1 peer_ip=10.99.0.3; else peer=a ip=10.77.0.2 peer_ip=10.99.0.2; fi
    wait_for 10 test -S "/var/run/wireguard/$ifc.sock" || lab_fail "wireguard-go $ifc did not start: $(cat "$d/$side.log")"
    ip netns exec "$ns" wg set "$ifc" private-key "$d/$side.key" listen-port 51820 \
      peer "$(cat "$d/$peer.pub")" endpoint "$peer_ip:51820" allowed-ips "10.77.0.0/24" || lab_fail "wg set $ifc failed"
    ip -n "$ns" addr add "$ip/24" dev "$ifc"
    ip -n "$ns" link set "$ifc" mtu 1400 up
  done
  NS_A=$(lab_ns wga) NS_B=$(lab_ns wgb) SRC=10.77.0.1 DST=10.77.0.2
}

up_tinc() {
  lab_host tia 10.99.0.2/24; lab_host tib 10.99.0.3/24
  local side d ns
  for side in a b; do
    d=$LAB_DIR/tinc/$side
    mkdir -p "$d/hosts"
    printf 'Name = %s\nMode = router\nInterface = ti%s%s\n' "$side" "$$" "$side" >"$d/tinc.conf"
    [ $side = a ] && echo "ConnectTo = b" >>"$d/tinc.conf"
    local n=1; [ $side = b ] && n=2
    printf 'Address = 10.99.0.%d\nSubnet = 10.77.0.%d/32\n' $((n + 1)) $n >"$d/hosts/$side"
    printf '#!/bin/sh\nip addr add 10.77.0.%d/24 dev "$INTERFACE"\nip link set "$INTERFACE" mtu 1400 up\n' $n >"$d/tinc-up"
    chmod +x "$d/tinc-up"
    tincd -c "$d" -K 2048 </dev/null >"$d/keygen.log" 2>&1 || lab_fail "tincd -K failed: $(cat "$d/keygen.log")"
  done
  cp "$LAB_DIR/tinc/a/hosts/a" "$LAB_DIR/tinc/b/hosts/a"
  cp "$LAB_DIR/tinc/b/hosts/b" "$LAB_DIR/tinc/a/hosts/b"
  for side in b a; do
    d=$LAB_DIR/tinc/$side ns=$(lab_ns "ti$side")
    ip netns exec "$ns" tincd -c "$d" -D --pidfile="$d/tinc.pid" >"$d/tinc.log" 2>&1 & LAB_PIDS+=($!)
  done
  NS_A=$(lab_ns tia) NS_B=$(lab_ns tib) SRC=10.77.0.1 DST=10.77.0.2
}

up_nebula() {
  lab_host nba 10.99.0.2/24; lab_host nbb 10.99.0.3/24
  local d=$LAB_DIR/nebula side n peer
  mkdir -p "$d"
  (cd "$d" && nebula-cert ca -name compare-ca && \
     nebula-cert sign -name a -ip 10.77.0.1/24 && nebula-cert sign -name b -ip 10.77.0.2/24) >"$d/cert.log" 2>&1 ||
    lab_fail "nebula-cert failed: $(cat "$d/cert.log")"
  for side in a b; do
    if [ $side = a ]; then n=1 peer=2; else n=2 peer=1; fi
    cat >"$d/$side.yaml" <<EOF
pki: {ca: $d/ca.crt, cert: $d/$side.crt, key: $d/$side.key}
static_host_map: {"10.77.0.$peer": ["10.99.0.$((peer + 1)):4242"]}
lighthouse: {am_lighthouse: false, hosts: []}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun: {dev: nb$$$side, mtu: 1400}
cipher: aes
logging: {level: warning}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
EOF
    ip netns exec "$(lab_ns "nb$side")" nebula -config "$d/$side.yaml" >"$d/$side.log" 2>&1 & LAB_PIDS+=($!)
  done
  NS_A=$(lab_ns nba) NS_B=$(lab_ns nbb) SRC=10.77.0.1 DST=10.77.0.2
}

# ---- measurements -----------------------------------------------------------------------------------------
log() { lab_log "$*"; }

# the system's processes in the namespaces given (not the benchmark's iperf3/ping/timeout)
sys_pids() {
  local ns p
  for ns in "$@"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      case $(cat "/proc/$p/comm" 2>/dev/null) in iperf3|ping|timeout|"") ;; *) echo "$p" ;; esac
    done
  done
}

# the loss-free UDP rate: fixed-rate trials (1200-byte datagrams, LOSSFREE_SECONDS each) from the blast's
# received rate down by 20 % a step, at most 8; the received rate of the first trial with < 1 % loss
lossfree() { # START_GBIT
  local rate out loss got i
  rate=$(awk -v g="$1" 'BEGIN {printf "%d", g * 1e9}')
  for ((i = 0; i < 8 && rate > 0; i++)); do
    out=$(timeout $((LOSSFREE_SECONDS + 30)) ip netns exec "$NS_A" iperf3 -c "$DST" -u -b "$rate" -l 1200 \
            -t "$LOSSFREE_SECONDS" --connect-timeout 5000 -J 2>/dev/null |
          jq -r '.end.sum_received | "\(.lost_percent) \(.bits_per_second / 1e9)"' 2>/dev/null) || out=""
    read -r loss got <<<"$out"
    if [ -n "$got" ] && awk -v l="$loss" 'BEGIN {exit !(l < 1)}'; then echo "$got"; return; fi
    rate=$((rate * 8 / 10))
  done
}

declare -A R   # R[system,column]
measure() { # $1: label
  local sys=$1 tcp1=() tcp4=() udp=() cpu=() i t0 t1 w0 w1 g pids srv lp
  pids=$(sys_pids "$NS_A" "$NS_B")
  R[$sys,mtu]=$(mtu_of "$NS_A" "$SRC")
  ip netns exec "$NS_B" iperf3 -s -B "$DST" >/dev/null 2>&1 & srv=$!; LAB_PIDS+=($srv)
  wait_for 10 sh -c "ip netns exec '$NS_B' ss -Hltn 'sport = :5201' | grep -q ." || log "iperf3 server in $NS_B is not listening"
  wait_idle
  R[$sys,idle]=$IDLE
  log "$sys: idle ${IDLE}%, overlay MTU ${R[$sys,mtu]}, processes: $(for p in $pids; do printf '%s:%s ' "$(cat /proc/$p/comm 2>/dev/null)" "$p"; done)"
  R[$sys,ping]=$(ping_avg 100 0.01)
  for ((i = 0; i < REPEATS; i++)); do
    t0=$(cpu_ticks $pids) w0=$(date +%s.%N)
    g=$(iperf)
    t1=$(cpu_ticks $pids) w1=$(date +%s.%N)
    tcp1+=("$g")
    [ -n "$pids" ] && [ -n "$g" ] &&
      cpu+=("$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v w0="$w0" -v w1="$w1" -v g="$g" 'BEGIN {printf "%.1f", 100 * t / hz / (w1 - w0) / g}')")
    tcp4+=("$(iperf -P 4)")
    udp+=("$(iperf -u -b 0 -l 1200)")
    log "$sys: run $((i + 1)): TCP 1 stream $(r2 "$g"), 4 streams $(r2 "${tcp4[-1]}"), UDP $(r2 "${udp[-1]}") Gbit/s; CPU ${cpu[*]: -1} %/Gbit/s"
  done
  R[$sys,tcp1]=$(median "${tcp1[@]}") R[$sys,tcp4]=$(median "${tcp4[@]}") R[$sys,udp]=$(median "${udp[@]}")
  [ -n "${R[$sys,udp]}" ] && R[$sys,lossfree]=$(lossfree "${R[$sys,udp]}")
  log "$sys: loss-free UDP $(r2 "${R[$sys,lossfree]:-}") Gbit/s"
  R[$sys,cpu]=$( [ ${#cpu[@]} -gt 0 ] && median "${cpu[@]}" || true)
  # ping under one TCP stream (50/s, from 1 s after the stream starts)
  ip netns exec "$NS_A" iperf3 -c "$DST" -t "$DUR" --connect-timeout 5000 >/dev/null 2>&1 & lp=$!; LAB_PIDS+=($lp)
  sleep 1
  R[$sys,pingload]=$(ping_avg $(( (DUR - 2) * 50 > 25 ? (DUR - 2) * 50 : 25 )) 0.02)
  wait $lp 2>/dev/null || true
  untrack_pid $lp
  kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; untrack_pid $srv
  sleep 2   # idle again: RSS after carrying traffic
  [ -n "$pids" ] && R[$sys,rss]=$(rss_mb $(sys_pids "$NS_A"))
  [ -n "$pids" ] && R[$sys,pss]=$(pss_mb $(sys_pids "$NS_A"))
  return 0
}

# ---- the run ----------------------------------------------------------------------------------------------
order=()
for s in $ALL_SYSTEMS; do wants "$s" && order+=("$s"); done
wants underlay && order+=("underlay (end)")
start=$SECONDS
for sys in "${order[@]}"; do
  log "---- $sys"
  sys_mark
  case $sys in
    underlay*) up_underlay ;;
    weft) up_weft "" "" ;;
    weft-colocate) up_weft c --colocate ;;
    wireguard-go) up_wireguard_go ;;
    tinc) up_tinc ;;
    nebula) up_nebula ;;
  esac
  wait_for 30 pings_once "$NS_A" "$DST" || lab_fail "$sys: no ping from $SRC to $DST within 30 s"
  [ "$sys" = tinc ] && sleep 3   # tinc's path MTU discovery
  measure "$sys"
  sys_teardown
done

# ---- the table --------------------------------------------------------------------------------------------
cols="tcp1 tcp4 udp lossfree ping pingload cpu rss pss"
declare -A HIGHER=([tcp1]=1 [tcp4]=1 [udp]=1 [lossfree]=1 [ping]=0 [pingload]=0 [cpu]=0 [rss]=0 [pss]=0)
declare -A FMT=([tcp1]=%.2f [tcp4]=%.2f [udp]=%.2f [lossfree]=%.2f [ping]=%.3f [pingload]=%.2f [cpu]=%.0f [rss]=%.1f [pss]=%.1f)
declare -A BEST
for c in $cols; do
  b=""
  for a in $ANCHORS; do
    v=${R[$a,$c]:-}
    [ -n "$v" ] || continue
    if [ -z "$b" ] || awk -v v="$v" -v b="$b" -v h="${HIGHER[$c]}" 'BEGIN {exit !(h ? v > b : v < b)}'; then b=$v; fi
  done
  BEST[$c]=$b
done
cell() { # system column
  local v=${R[$1,$2]:-} b=${BEST[$2]}
  if [ -z "$v" ]; then
    case $1 in underlay*) [ "$2" = cpu ] || [ "$2" = rss ] || [ "$2" = pss ] && { echo "-"; return; } ;; esac
    echo "fail"; return
  fi
  printf "${FMT[$2]}" "$v"
  [ -n "$b" ] && awk -v v="$v" -v b="$b" 'BEGIN {if (b > 0) printf " (%.2fx)", v / b}'
  echo
}
echo
echo "weft side by side: ${DUR}s iperf3 runs, median of $REPEATS, overlay MTU 1400, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, run took $((SECONDS - start)) s"
echo "(ratio) = figure / best anchor's figure in that column (best of: $ANCHORS); TCP/UDP higher is better, ping/CPU/RSS/PSS lower"
echo
echo "| system | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP blast received Gbit/s | UDP loss-free Gbit/s | ping idle ms | ping under TCP ms | CPU %/Gbit/s | node RSS idle MB | node PSS idle MB | MTU | idle % at start |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for sys in "${order[@]}"; do
  row="| $sys"
  for c in $cols; do row+=" | $(cell "$sys" "$c")"; done
  row+=" | ${R[$sys,mtu]:-?} | ${R[$sys,idle]:-?} |"
  echo "$row"
done
