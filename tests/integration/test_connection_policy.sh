#!/usr/bin/env bash
# test_connection_policy.sh BIN_DIR — connection.relay and connection.direct (weft.yaml / WEFT_*) are
# honoured by weft-nat, in the NAT lab (tests/lib/natlab.sh): two nodes behind two port-restricted NATs
# that can reach each other directly; the hub hands out TURN credentials (hub.turn_secret).
#   1. alpha with connection.relay: only (WEFT_CONNECTION_RELAY=only): the path is relayed although a
#      direct one exists (both sides say relay), and ping works over it;
#   2. both with connection.direct: false: relayed again;
#   3. the NATs cut apart and both with connection.relay: never: no path comes up, and `weft config
#      check` refuses direct: false together with relay: never;
#   4. the same cut with the default policy: the path comes up through the relay.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_connection_policy.sh BIN_DIR}"

natlab_router ra port
natlab_router rb port
natlab_host ha ra
natlab_host hb rb

mkdir -p "$LAB_DIR/hub"   # natlab_hub's home: its weft.yaml gives the hub the TURN REST secret
cat >"$LAB_DIR/hub/weft.yaml" <<EOF
hub:
  turn_secret: "$NATLAB_TURN_SECRET"
  turn_servers:
    - "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT"
EOF
chmod 600 "$LAB_DIR/hub/weft.yaml"   # it holds the TURN secret
natlab_hub

# init_pair N: fresh homes alphaN and betaN (a home's Redis would show the last run's path for a while),
# in their own open mesh pairN: the hub keeps an open mesh's address for the key that first held it
init_pair() {
  for n in alpha$1:10.100.0.1 beta$1:10.100.0.2; do
    "$BIN/weft" init --home "$LAB_DIR/${n%%:*}" --name "${n%%:*}" --mesh "pair$1" --address "${n#*:}/16" --hub "$HUB_ENDPOINT" \
      --hub-key "$HUB_KEY" --stun "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT" >/dev/null || lab_fail "weft init ${n%%:*}"
    LAB_HOMES+=("$LAB_DIR/${n%%:*}")
  done
}

connected_via() { # NODE direct|relay
  local state
  state=$(lab_path_field "$1" state)
  [ "$state" = connected ] || [ "$state" = ready ] || return 1
  [ "$(lab_path_field "$1" connection)" = "$2" ]
}
# NODE direct|relay within 5 s: nat writes the path hash on its 100 ms tick, so it can trail the first
# ping that crossed the path (a node's state there may still be "connecting" for that moment)
wait_via() {
  local deadline=$((SECONDS + 5))
  until connected_via "$1" "$2"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}
pair_down() { natlab_node_down "alpha$1"; natlab_node_down "beta$1"; }

lab_log "1. alpha with connection.relay: only: relayed although a direct path exists"
init_pair 1
WEFT_CONNECTION_RELAY=only natlab_node_up alpha1 ha
natlab_node_up beta1 hb
lab_wait 40 "a ping from alpha" lab_exec ha ping -c 1 -W 1 10.100.0.2
wait_via alpha1 relay || lab_fail "alpha's path is $(lab_path_field alpha1 connection), not relay"
lab_wait 10 "beta to see the relayed path" connected_via beta1 relay
"$BIN/weft" peers --home "$(lab_home alpha1)"
sleep 3
connected_via alpha1 relay || lab_fail "alpha's path left the relay: $(lab_path_field alpha1 connection)"
pair_down 1

lab_log "2. both with connection.direct: false: relayed"
init_pair 2
WEFT_CONNECTION_DIRECT=false natlab_node_up alpha2 ha
WEFT_CONNECTION_DIRECT=false natlab_node_up beta2 hb
lab_wait 40 "a ping from alpha" lab_exec ha ping -c 1 -W 1 10.100.0.2
wait_via alpha2 relay || lab_fail "alpha's path is $(lab_path_field alpha2 connection), not relay"
pair_down 2

lab_log "3. the NATs cut apart, both with connection.relay: never: no path"
init_pair 3
natlab_cut ra rb on
WEFT_CONNECTION_RELAY=never natlab_node_up alpha3 ha
WEFT_CONNECTION_RELAY=never natlab_node_up beta3 hb
knows_peer() { [ -n "$(lab_path_field "$1" state)" ]; }
lab_wait 20 "alpha to start a path to beta" knows_peer alpha3
deadline=$((SECONDS + 25))
while [ $SECONDS -lt $deadline ]; do
  connected_via alpha3 relay && lab_fail "alpha used a relay although connection.relay is never"
  connected_via alpha3 direct && lab_fail "alpha connected directly across the cut (the test is blind)"
  sleep 1
done
lab_exec ha ping -c 2 -W 1 10.100.0.2 >/dev/null 2>&1 && lab_fail "ping crossed the cut without a relay"
lab_log "no path after 25 s, as asked; alpha's path state: $(lab_path_field alpha3 state)"
pair_down 3

lab_log "4. the same cut with the default policy: connected through the relay (so 3 was not blind)"
init_pair 4
natlab_node_up alpha4 ha
natlab_node_up beta4 hb
lab_wait 40 "a ping from alpha across the cut" lab_exec ha ping -c 1 -W 1 10.100.0.2
wait_via alpha4 relay || lab_fail "alpha's path across the cut is $(lab_path_field alpha4 connection), not relay"
pair_down 4
natlab_cut ra rb off

printf 'connection:\n  direct: false\n  relay: never\n' >"$LAB_DIR/contradiction.yaml"
if "$BIN/weft" config check "$LAB_DIR/contradiction.yaml" >/dev/null 2>&1; then
  lab_fail "weft config check accepted direct: false with relay: never"
fi
lab_log "PASS"
