#!/usr/bin/env bash
# test_nat_servers.sh BIN_DIR — weft-nat's STUN/TURN server lists and bad servers, in the NAT lab
# (tests/lib/natlab.sh): two nodes behind two port-restricted NATs whose configured lists start with bad
# entries:
#   nat.stun_servers: a server that answers garbage, an address nobody answers on, then the lab's server;
#   nat.turn_servers: the lab's TURN REST server with credentials that expired a minute ago (a hub whose
#                     clock is behind), the static-user server with a wrong password, then with the right
#                     one over UDP, then over TCP.
#   1. they connect (no crash), `weft peers` and nat's log name the bad STUN servers and the refused
#      TURN entry (with the server's reason, 401) and which ones are used instead;
#   2. one NAT drops all UDP (natlab_block_udp): the path dies, and the nodes connect again through TURN
#      over TCP; traffic flows;
#   3. UDP comes back: the path goes direct again.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_nat_servers.sh BIN_DIR}"

natlab_router ra port
natlab_router rb port
natlab_host ha ra
natlab_host hb rb
natlab_hub

LIAR_PORT=3999
DEAD_STUN=198.18.1.9:3478       # on the server's link, but no host has it: no answer at all
# a "STUN server" that answers every request with garbage (a well-formed UDP reply that is not STUN)
ip netns exec "${LAB_TAG}-srv" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"\x01\x01\x00\x08not-stun-at-all", peer)' "$NATLAB_SERVER_IP" $LIAR_PORT &
LAB_PIDS+=($!)

STATIC="$NATLAB_SERVER_IP:$NATLAB_TURN_STATIC_PORT"
REST="$NATLAB_SERVER_IP:$NATLAB_TURN_PORT"
# TURN REST credentials that expired a minute ago (as from a hub whose clock is behind coturn's)
read -r EXPIRED_USER EXPIRED_PASS < <(natlab_turn_rest_creds -60)
node_init() {
  "$BIN/weft" init --home "$LAB_DIR/$1" --name "$1" --address "$2/16" --hub "$HUB_ENDPOINT" --hub-key "$HUB_KEY" \
    --stun "$NATLAB_SERVER_IP:$LIAR_PORT" --stun "$DEAD_STUN" --stun "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT" \
    --turn "turn://$EXPIRED_USER:$EXPIRED_PASS@$REST" \
    --turn "turn://$NATLAB_TURN_USER:wrong-password@$STATIC" \
    --turn "turn://$NATLAB_TURN_USER:$NATLAB_TURN_PASS@$STATIC" \
    --turn "turn://$NATLAB_TURN_USER:$NATLAB_TURN_PASS@$STATIC?transport=tcp" >/dev/null ||
    lab_fail "weft init $1 failed"
  LAB_HOMES+=("$LAB_DIR/$1")
}
node_init alpha 10.100.0.1
node_init beta 10.100.0.2
natlab_node_up alpha ha
natlab_node_up beta hb
up_at=$SECONDS

connected() {
  local state
  state=$(lab_path_field "$1" state)
  [ "$state" = connected ] || [ "$state" = ready ]
}
connected_via() { connected "$1" && [ "$(lab_path_field "$1" connection)" = "$2" ]; }

lab_log "1. bad servers first in both lists: the nodes still connect"
lab_wait 60 "alpha connected" connected alpha
lab_wait 20 "beta connected" connected beta
lab_log "connected $((SECONDS - up_at)) s after both nodes were up, past the bad entries"
lab_exec ha ping -c 3 -W 2 10.100.0.2 >/dev/null || lab_fail "no ping"
"$BIN/weft" peers --home "$(lab_home alpha)"
for n in alpha beta; do
  log="$(lab_home $n)/log/nat.log"
  pidfile="$(lab_home $n)/run/nat.pid"
  grep -q "killed by signal" "$(lab_home $n)/log/weft.log" && lab_fail "a service of $n crashed"
  err=$(lab_path_field $n last_error)
  grep -q "STUN server $NATLAB_SERVER_IP:$LIAR_PORT answered with something that is not STUN" <<<"$err" ||
    lab_fail "$n: weft peers does not name the lying STUN server: '$err'"
  grep -q "STUN server $DEAD_STUN unreachable" <<<"$err" || lab_fail "$n: weft peers does not name the dead STUN server: '$err'"
  grep -q "using $NATLAB_SERVER_IP:$NATLAB_TURN_PORT" <<<"$err" || lab_fail "$n: weft peers does not say which STUN server is used: '$err'"
  # each refused entry is asked why (libnice does not say): coturn's 401 for both
  says_expired() { grep -q "TURN server #1 $REST (user $EXPIRED_USER) refused: 401 wrong or expired credentials" "$1"; }
  lab_wait 15 "$n's nat log to say TURN entry #1 (expired credentials) refused with 401" says_expired "$log"
  says_401() { lab_path_field $1 last_error | grep -q "TURN server #2 $STATIC (user $NATLAB_TURN_USER) refused: 401 wrong or expired credentials"; }
  lab_wait 15 "$n's weft peers to say the TURN entry #2 (wrong password) refused with 401" says_401 $n
  lab_path_field $n last_error | grep -q "using #3 $STATIC" || lab_fail "$n: weft peers does not say TURN #3 is used: '$(lab_path_field $n last_error)'"
done
grep -q "user $NATLAB_TURN_USER credentials are incorrect" "$LAB_DIR"/turn-static*.log || lab_fail "coturn did not refuse the wrong password (test is blind)"
grep -q "$EXPIRED_USER" "$LAB_DIR"/turn-rest*.log || lab_fail "coturn saw no request with the expired credentials (test is blind)"

lab_log "2. alpha's NAT drops all UDP: the nodes must meet again over TCP (TURN over TCP)"
# traffic keeps flowing meanwhile (an idle path is only found dead at its next keepalive probe)
lab_exec ha ping -i 0.2 -W 1 10.100.0.2 >/dev/null 2>&1 &
LAB_PIDS+=($!)
natlab_block_udp ra on
start=$SECONDS
tcp_relay() { connected alpha && [ "$(lab_path_field alpha local_type)" = relay ] && [ "$(lab_path_field alpha server)" = "$STATIC/tcp" ]; }
lab_wait 90 "alpha connected through TURN over TCP" tcp_relay
lab_exec ha ping -c 5 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "no ping over TURN/TCP"
lab_log "connected again over TURN/TCP $((SECONDS - start)) s after UDP was blocked"
"$BIN/weft" peers --home "$(lab_home alpha)"
ip netns exec "${LAB_TAG}-srv" ss -Htn state established "( sport = :$NATLAB_TURN_STATIC_PORT )" | grep -q . ||
  lab_fail "no TCP connection to the TURN server (test is blind)"

lab_log "3. UDP back: a direct path again"
natlab_block_udp ra off
lab_wait 30 "alpha direct again" connected_via alpha direct
lab_exec ha ping -c 5 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "no ping after UDP came back"
for n in alpha beta; do
  grep -q "killed by signal" "$(lab_home $n)/log/weft.log" && lab_fail "a service of $n crashed"
done
[ -n "${NAT_TEST_DUMP:-}" ] && cp "$(lab_home alpha)/log/nat.log" "$NAT_TEST_DUMP.alpha" && cp "$(lab_home beta)/log/nat.log" "$NAT_TEST_DUMP.beta"
lab_log "PASS"
