#!/usr/bin/env bash
# bench/nat_prediction.sh BIN_DIR [TRIALS] [LIMIT_S] (PAIRS="seq:port ..." picks pairs) — how often, and how fast, two weft nodes behind hard
# NATs get a direct path, with and without weft-nat's port prediction (nat.port_prediction).
#
# A NAT lab (tests/lib/natlab.sh) with a STUN server and no TURN relay (a relay would connect every pair).
# Routers:
#   seq, seq2   symmetric NAT with sequential ports: snat to the WAN address with the port from an nftables
#               `numgen inc` counter, so every new flow gets the next public port (step 1)
#   rand        symmetric NAT with random ports (masquerade fully-random)
#   port        port-restricted cone NAT (masquerade)
# Pairs: seq vs port, rand vs port, seq vs seq2, each with prediction on and off. A trial: UDP conntrack
# entries flushed in every router, both nodes `weft up`, then the time until both see the path connected
# (or LIMIT_S seconds: a failure); then both `weft down`. Prints one line per pair and setting: successes,
# trials, median and worst time to connect. Needs root; all traffic stays in the lab's namespaces.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tests/lib/netlab.sh"
source "$here/../tests/lib/natlab.sh"
natlab_init "${1:?usage: nat_prediction.sh BIN_DIR [TRIALS] [LIMIT_S]}"
TRIALS=${2:-5}
LIMIT=${3:-20}

natlab_hub
# sequential symmetric NAT: the natlab symmetric router with its masquerade replaced by snat to the port an
# nftables `numgen inc` counter picks from a map (0 -> 40000 ... 999 -> 40999): each new UDP flow gets the
# next port. (The counter straight as the port, `snat to ADDR:numgen inc ...`, comes out byte-swapped
# with nftables 1.0.6: steps of 256.)
make_sequential() {
  local ns wan elems
  ns=$(lab_ns "$1")
  wan=$(natlab_wan_ip "$1")
  elems=$(seq 0 999 | awk '{ printf "%s%d : %d", (NR > 1 ? ", " : ""), $1, 40000 + $1 }')
  ip netns exec "$ns" nft flush chain ip natlab post
  ip netns exec "$ns" nft add rule ip natlab post oifname wan meta l4proto udp \
    snat ip to "$wan" : numgen inc mod 1000 map "{ $elems }"
  ip netns exec "$ns" nft add rule ip natlab post oifname wan masquerade   # TCP (the hub)
}
natlab_router seq symmetric
make_sequential seq
natlab_router rand symmetric
natlab_router port port
natlab_router seq2 symmetric
make_sequential seq2
for r in seq rand port seq2; do natlab_host "h$r" "$r"; done

# node NAME: behind router NAME, STUN only (the server's primary address; it gives OTHER-ADDRESS)
overlay_n=0
for r in seq rand port seq2; do
  overlay_n=$((overlay_n + 1))
  home="$LAB_DIR/n$r"
  "$BIN/weft" init --home "$home" --name "n$r" --address "10.100.0.$overlay_n/16" --hub "$HUB_ENDPOINT" \
    --hub-key "$HUB_KEY" --stun "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT" >/dev/null || lab_fail "weft init n$r"
  LAB_HOMES+=("$home")
done
overlay_of() { case $1 in seq) echo 10.100.0.1 ;; rand) echo 10.100.0.2 ;; port) echo 10.100.0.3 ;; seq2) echo 10.100.0.4 ;; esac; }

set_prediction() {   # set_prediction NODE true|false
  local yaml="$LAB_DIR/n$1/weft.yaml"
  sed -i '/^  port_prediction:/d' "$yaml"
  sed -i "s/^nat:\$/nat:\n  port_prediction: $2/" "$yaml"
}

flush_udp() {
  local r
  for r in seq rand port seq2; do ip netns exec "$(lab_ns "$r")" conntrack -D -p udp >/dev/null 2>&1 || true; done
}

both_connected() { lab_peer_connected "n$1" "$(overlay_of "$2")" && lab_peer_connected "n$2" "$(overlay_of "$1")"; }

# trial A B: prints the seconds to connect, or "fail"
trial() {
  local a=$1 b=$2
  flush_udp
  ip netns exec "$(lab_ns "h$a")" "$BIN/weft" up --home "$LAB_DIR/n$a" >/dev/null 2>&1 || lab_fail "weft up n$a"
  ip netns exec "$(lab_ns "h$b")" "$BIN/weft" up --home "$LAB_DIR/n$b" >/dev/null 2>&1 || lab_fail "weft up n$b"
  local start result=fail
  start=$(date +%s.%N)
  while awk -v s="$start" -v now="$(date +%s.%N)" -v l="$LIMIT" 'BEGIN { exit !(now - s < l) }'; do
    if both_connected "$a" "$b" 2>/dev/null; then
      result=$(awk -v s="$start" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - s }')
      break
    fi
    sleep 0.2
  done
  "$BIN/weft" down --home "$LAB_DIR/n$a" >/dev/null 2>&1 || true
  "$BIN/weft" down --home "$LAB_DIR/n$b" >/dev/null 2>&1 || true
  echo "$result"
}

summary() {   # summary LABEL TIMES...
  local label=$1
  shift
  printf '%s\n' "$@" | awk -v label="$label" -v n="$TRIALS" -v limit="$LIMIT" '
    $1 != "fail" { t[++ok] = $1 }
    END {
      for (i = 1; i <= ok; i++) for (j = i + 1; j <= ok; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
      med = ok ? t[int((ok + 1) / 2)] : "-"
      worst = ok ? t[ok] : "-"
      printf "%-34s %2d/%-2d connected (%3.0f%%)   median %4s s   worst %4s s   (limit %d s)\n", label, ok, n, 100 * ok / n, med, worst, limit
    }'
}

lab_log "$TRIALS trials per pair and setting, ${LIMIT} s limit each; no TURN relay"
results=()
for pair in ${PAIRS:-"seq:port" "rand:port" "seq:seq2"}; do
  pair=${pair/:/ }
  set -- $pair
  for prediction in true false; do
    set_prediction "$1" "$prediction"
    set_prediction "$2" "$prediction"
    times=()
    for i in $(seq "$TRIALS"); do
      times+=("$(trial "$1" "$2")")
      lab_log "$1 vs $2, prediction $prediction, trial $i: ${times[-1]}"
    done
    results+=("$(summary "$1 vs $2, prediction $prediction" "${times[@]}")")
  done
done
grep -h "port prediction:" "$LAB_DIR"/n*/log/nat.log | sed 's/^[^ ]* [^ ]*  //' | sort | uniq -c | sort -rn | head -8 >&2 || true
printf '%s\n' "${results[@]}"
