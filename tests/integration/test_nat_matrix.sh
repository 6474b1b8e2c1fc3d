#!/usr/bin/env bash
# test_nat_matrix.sh BIN_DIR — weft across every pair of NAT types (tests/lib/natlab.sh): node A behind a
# router of type X, node B behind another router of type Y, for all 25 (X, Y) with A the controlling
# (offering) side. Per cell: both nodes start, connect through ICE (the lab's STUN, and TURN with
# credentials from the hub), ping each other over the overlay with 0% loss, and `weft peers --json` on
# both sides shows the path expected:
#   - direct, to the peer's public address (its own address without NAT, its router's WAN address
#     behind one), for every pair except a symmetric NAT facing a port-restricted or symmetric one;
#   - for those three pairs: through the TURN relay (or direct, if port prediction ever works: accepted
#     and reported).
# Then three cases with both nodes behind the same router: one LAN (host candidates), client isolation
# behind a full-cone NAT (only hairpin through the router connects them), and client isolation behind a
# port-restricted NAT (no hairpin: the relay). Prints time-to-connect and the path of every cell.
#
# NATLAB_CELLS="full:port symmetric:symmetric" runs only those cells ("-": none; debugging);
# NATLAB_NO_HAIRPIN=1 skips the same-router cases.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_nat_matrix.sh BIN_DIR}"
# TURN credentials: by default ephemeral ones from the hub (TURN REST API, coturn instance 1, relay ports
# 49152-54999); NATLAB_HUB_TURN=0: the static user of instance 2 in each node's config (55000-60999)
export NATLAB_HUB_TURN=${NATLAB_HUB_TURN:-1}
if [ "$NATLAB_HUB_TURN" = 1 ]; then RELAY_PORTS="49152 54999" TURN_MODE="hub (ephemeral)"; else RELAY_PORTS="55000 60999" TURN_MODE="static user"; fi
natlab_hub
lab_log "TURN credentials: $TURN_MODE"

TYPES=(none full restricted port symmetric)
for t in "${TYPES[@]}"; do
  natlab_router "ra$t" "$t"
  natlab_router "rb$t" "$t"
  natlab_host "a$t" "ra$t"
  natlab_host "b$t" "rb$t"
done
natlab_host "c-full" rafull # the second host behind one router (same-router cases)
natlab_host "c-port" raport

# Two node homes, moved from host to host. A must have the lower id: it is then the ICE controlling side,
# the one that offers (services/nat: the lower id by memcmp controls).
natlab_node_init n1 10.100.0.1
natlab_node_init n2 10.100.0.2
node_id() { "$BIN/weft" id --home "$(lab_home "$1")" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
if [[ "$(node_id n1)" < "$(node_id n2)" ]]; then A=n1 B=n2; else A=n2 B=n1; fi
declare -A OVERLAY=([n1]=10.100.0.1 [n2]=10.100.0.2)
lab_log "node A ($A, ${OVERLAY[$A]}) has the lower id and offers; node B is $B (${OVERLAY[$B]})"

# path_of NODE PEER_OVERLAY: "state connection local_type remote_type local_addr remote_addr" of the path
path_of() {
  "$BIN/weft" peers --home "$(lab_home "$1")" --json | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["overlay_addr"] == sys.argv[1]:
        q = p["path"]
        print(q["state"], q["connection"] or "-", q["local_type"] or "-", q["remote_type"] or "-",
              q["local_addr"] or "-", q["remote_addr"] or "-")
        break
else:
    print("none - - - - -")' "$2"
}

ip_of() { echo "${1%:*}"; }

# own_type HOST SAME_LAN: the candidate type under which HOST's end of a path appears: host when it has a
# public address (or both are on one LAN), srflx behind a cone NAT (the mapping STUN found is the one the
# peer sees), prflx behind a symmetric NAT (the peer sees a mapping of its own, learned from the checks)
own_type() {
  if [ "$2" = 1 ]; then echo host; return; fi
  case "${NATLAB_ROUTER_TYPE[${NATLAB_HOST_ROUTER[$1]}]}" in
    none) echo host ;;
    symmetric) echo prflx ;;
    *) echo srflx ;;
  esac
}

RESULTS="$LAB_DIR/results.txt"
: >"$RESULTS"
failures=0
cell_fail() {
  lab_log "FAILED cell $1: $2"
  failures=$((failures + 1))
  CELL_OK=0
}

# run_cell LABEL HOST_A HOST_B EXPECT: node A on HOST_A, node B on HOST_B; EXPECT is direct, relay,
# either, or hairpin-direct (both behind one isolating router: direct through its public address).
run_cell() {
  local label=$1 ha=$2 hb=$3 expect=$4
  CELL_OK=1
  natlab_reset
  rm -f "$(lab_home $A)/data/dump.rdb" "$(lab_home $B)/data/dump.rdb" # no path state from the last cell
  local start
  start=$(date +%s%N)
  natlab_node_up $A "$ha"
  natlab_node_up $B "$hb"
  local deadline=$((SECONDS + 45))
  until lab_peer_connected $A "${OVERLAY[$B]}" 2>/dev/null && lab_peer_connected $B "${OVERLAY[$A]}" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      cell_fail "$label" "no path within 45 s: A: $(path_of $A "${OVERLAY[$B]}") / B: $(path_of $B "${OVERLAY[$A]}")"
      break
    fi
    sleep 0.1
  done
  local t_path="-" t_ping="-" loss="-"
  if [ $CELL_OK = 1 ]; then
    t_path=$((($(date +%s%N) - start) / 1000000))
    # the first packet also carries the session handshake: wait for one reply, then count
    local pdeadline=$((SECONDS + 10))
    until lab_exec "$ha" ping -c 1 -W 1 "${OVERLAY[$B]}" >/dev/null 2>&1; do
      [ $SECONDS -ge $pdeadline ] && { cell_fail "$label" "no ping reply within 10 s of the path"; break; }
    done
  fi
  local first_conn="-" t_direct="-"
  if [ $CELL_OK = 1 ]; then
    t_ping=$((($(date +%s%N) - start) / 1000000))
    # ICE may first nominate the relay pair when early direct checks were filtered (the first check
    # reaches a restricted NAT before its host has sent anything to the peer's address); then weft-nat's
    # direct-only trial agent must move the path to direct (services/nat.md, relay fallback and return)
    first_conn=$(path_of $A "${OVERLAY[$B]}" | cut -d' ' -f2)
    if [ "$first_conn" = relay ] && [ "$expect" != relay ] && [ "$expect" != either ]; then
      local ddeadline=$((SECONDS + 20))
      until [ "$(path_of $A "${OVERLAY[$B]}" | cut -d' ' -f2)" = direct ] &&
        [ "$(path_of $B "${OVERLAY[$A]}" | cut -d' ' -f2)" = direct ]; do
        [ $SECONDS -ge $ddeadline ] && { cell_fail "$label" "relayed, and no direct trial took over within 20 s"; break; }
        sleep 0.1
      done
      t_direct=$((($(date +%s%N) - start) / 1000000))
      lab_log "$label: first over the relay, direct at $t_direct ms"
    fi
  fi
  if [ $CELL_OK = 1 ]; then
    local out1 out2
    out1=$(lab_exec "$ha" ping -c 20 -i 0.05 -W 2 "${OVERLAY[$B]}" 2>&1 || true)
    out2=$(lab_exec "$hb" ping -c 20 -i 0.05 -W 2 "${OVERLAY[$A]}" 2>&1 || true)
    loss="$(echo "$out1" | grep -o '[0-9.]*% packet loss' | cut -d% -f1)/$(echo "$out2" | grep -o '[0-9.]*% packet loss' | cut -d% -f1)"
    echo "$out1" | grep -q " 0% packet loss" || cell_fail "$label" "A -> B lost packets: $(echo "$out1" | tail -2 | tr '\n' ' ')"
    echo "$out2" | grep -q " 0% packet loss" || cell_fail "$label" "B -> A lost packets: $(echo "$out2" | tail -2 | tr '\n' ' ')"
  fi
  local pa pb
  pa=$(path_of $A "${OVERLAY[$B]}")
  pb=$(path_of $B "${OVERLAY[$A]}")
  local a_state a_conn a_lt a_rt a_la a_ra b_state b_conn b_lt b_rt b_la b_ra
  read -r a_state a_conn a_lt a_rt a_la a_ra <<<"$pa"
  read -r b_state b_conn b_lt b_rt b_la b_ra <<<"$pb"
  if [ $CELL_OK = 1 ]; then
    [ "$a_conn" = "$b_conn" ] || cell_fail "$label" "A says $a_conn, B says $b_conn"
    case "$expect" in
      direct | relay) [ "$a_conn" = "$expect" ] || cell_fail "$label" "path is $a_conn, want $expect" ;;
      hairpin-direct) [ "$a_conn" = direct ] || cell_fail "$label" "path is $a_conn, want direct through the hairpin" ;;
      either) [ "$a_conn" = direct ] || [ "$a_conn" = relay ] || cell_fail "$label" "path is $a_conn" ;;
    esac
    if [ "$a_conn" = direct ]; then
      # each side sends to the other's public address (or, on one LAN, its host address)
      local want_a want_b
      want_a=$(natlab_public_ip "$hb") want_b=$(natlab_public_ip "$ha")
      if [ "${NATLAB_HOST_ROUTER[$ha]}" = "${NATLAB_HOST_ROUTER[$hb]}" ] && [ "$expect" != hairpin-direct ]; then
        want_a=${NATLAB_HOST_IP[$hb]} want_b=${NATLAB_HOST_IP[$ha]}
      fi
      [ "$(ip_of "$a_ra")" = "$want_a" ] || cell_fail "$label" "A sends to $a_ra, want $want_a"
      [ "$(ip_of "$b_ra")" = "$want_b" ] || cell_fail "$label" "B sends to $b_ra, want $want_b"
      case "$a_lt$a_rt$b_lt$b_rt" in *relay*) cell_fail "$label" "a direct path with a relay candidate" ;; esac
    elif [ "$a_conn" = relay ]; then
      # the relay candidate is the TURN server's relayed address, on the side that allocated it
      local side ok_relay=0
      for side in "$a_lt $a_la" "$a_rt $a_ra" "$b_lt $b_la" "$b_rt $b_ra"; do
        set -- $side
        [ "$1" = relay ] || continue
        ok_relay=1
        [ "$(ip_of "$2")" = "$NATLAB_SERVER_IP" ] || cell_fail "$label" "relay candidate $2 is not the TURN server"
        # the relay port tells which coturn instance (so which credentials) allocated it
        local port=${2##*:} lo hi
        read -r lo hi <<<"$RELAY_PORTS"
        [ "$port" -ge "$lo" ] && [ "$port" -le "$hi" ] || cell_fail "$label" "relay $2 is not from the $TURN_MODE instance"
      done
      [ $ok_relay = 1 ] || cell_fail "$label" "a relay path without a relay candidate"
    fi
    # candidate types: each side appears to the other as its own type (see own_type); a relayed path has
    # "relay" on both sides' view of the end that allocated it
    local oa ob same=0
    [ "${NATLAB_HOST_ROUTER[$ha]}" = "${NATLAB_HOST_ROUTER[$hb]}" ] && [ "$expect" = direct ] && same=1
    oa=$(own_type "$ha" $same) ob=$(own_type "$hb" $same)
    local types="$a_lt/$a_rt $b_lt/$b_rt"
    case "$a_conn:$types" in
      "direct:$oa/$ob $ob/$oa" | "relay:relay/$ob $ob/relay" | "relay:$oa/relay relay/$oa") ;;
      *) cell_fail "$label" "candidate types A $a_lt/$a_rt B $b_lt/$b_rt, want A $oa/$ob B $ob/$oa (direct) or one end relay" ;;
    esac
  fi
  natlab_node_down $A
  natlab_node_down $B
  [ "$t_direct" != - ] && a_conn="relay>direct"
  printf '%-22s %-14s %8s %8s %-12s  A %-5s/%-5s -> %-21s  B %-5s/%-5s -> %-21s loss %s %s\n' "$label" "$expect" \
    "$t_path" "$t_ping" "$a_conn" "$a_lt" "$a_rt" "$a_ra" "$b_lt" "$b_rt" "$b_ra" "$loss" \
    "$([ $CELL_OK = 1 ] && echo ok || echo FAILED)" | tee -a "$RESULTS"
}

expect_of() {
  case "$1:$2" in
    symmetric:port | port:symmetric | symmetric:symmetric) echo either ;;
    *) echo direct ;;
  esac
}

printf '%-22s %-14s %8s %8s %-12s  %s\n' "A:B" "expect" "path ms" "ping ms" "path" "A local/remote -> sends to, B likewise" | tee -a "$RESULTS"
cells=${NATLAB_CELLS:-}
if [ "$cells" = - ]; then
  cells=""
elif [ -z "$cells" ]; then
  for x in "${TYPES[@]}"; do for y in "${TYPES[@]}"; do cells+="$x:$y "; done; done
fi
matrix_start=$SECONDS
for cell in $cells; do
  x=${cell%:*} y=${cell#*:}
  run_cell "$x:$y" "a$x" "b$y" "$(expect_of "$x" "$y")"
done
lab_log "matrix: $((SECONDS - matrix_start)) s for $(echo $cells | wc -w) cells"

if [ -z "${NATLAB_NO_HAIRPIN:-}" ]; then
  run_cell "same LAN (full)" afull c-full direct
  natlab_isolate rafull on
  run_cell "hairpin (full)" afull c-full hairpin-direct
  natlab_isolate rafull off
  natlab_isolate raport on
  run_cell "no hairpin (port)" aport c-port relay
  natlab_isolate raport off
fi

echo
cat "$RESULTS"
[ $failures -eq 0 ] || lab_fail "$failures failures (see above)"
lab_log "every NAT pair connects as expected"
