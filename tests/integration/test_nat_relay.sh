#!/usr/bin/env bash
# test_nat_relay.sh BIN_DIR — relay fallback and return, with TURN credentials from the hub (TURN REST
# API, coturn use-auth-secret), in the NAT lab (tests/lib/natlab.sh): two nodes behind two
# port-restricted NATs; the hub has hub.turn_secret and a short hub.turn_ttl; the nodes have a STUN
# server but no TURN server of their own.
#   1. they connect directly; each got time-limited credentials from the hub, renewed before expiry;
#      neither the password nor the secret is in the node's Redis or logs;
#   2. the internet cuts the two NATs apart (natlab_cut): within 5 s traffic flows through the TURN relay
#      (measured with a continuous ping), and `weft peers` says relay, with the server;
#   3. the cut heals: within 5 s the path is direct again, without a gap in the ping;
#   4. the hub is frozen (SIGSTOP) past the credentials' lifetime: the data path keeps working and
#      `weft peers` says the hub's TURN credentials expired; thawed, fresh ones arrive and the message goes.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_nat_relay.sh BIN_DIR}"

TTL=12            # hub.turn_ttl: renewed when a third is left, i.e. about every 8 s
SWITCH_LIMIT=5    # seconds each way

natlab_router ra port
natlab_router rb port
natlab_host ha ra
natlab_host hb rb

# the hub, with the TURN REST secret of coturn instance 1 and a short hub.turn_ttl (natlab_hub's
# NATLAB_HUB_TURN=1 has the default TTL)
_natlab_ns hub
hub_ns=$NATLAB_NS
_natlab_uplink "$hub_ns" 2
hub_home="$LAB_DIR/hub"
HUB_KEY=$("$BIN/weft" hub key --home "$hub_home") || lab_fail "weft hub key failed"
cat >"$hub_home/weft.yaml" <<EOF
hub:
  turn_secret: "$NATLAB_TURN_SECRET"
  turn_servers:
    - "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT"
  turn_ttl: $TTL
EOF
chmod 600 "$hub_home/weft.yaml"   # it holds the TURN secret
HUB_ENDPOINT="tcp://$NATLAB_HUB_IP:7400"
LAB_HOMES+=("$hub_home")
ip netns exec "$hub_ns" "$BIN/weft" hub --home "$hub_home" --listen "$HUB_ENDPOINT" || lab_fail "weft hub failed to start"

node_init() {
  "$BIN/weft" init --home "$LAB_DIR/$1" --name "$1" --address "$2/16" --hub "$HUB_ENDPOINT" --hub-key "$HUB_KEY" \
    --stun "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT" >/dev/null || lab_fail "weft init $1 failed"
  LAB_HOMES+=("$LAB_DIR/$1")
}
node_init alpha 10.100.0.1
node_init beta 10.100.0.2
natlab_node_up alpha ha
natlab_node_up beta hb

# lab_path_field NODE FIELD: the path's FIELD of NODE's only peer
connected_via() { # NODE direct|relay
  local state
  state=$(lab_path_field "$1" state)
  [ "$state" = connected ] || [ "$state" = ready ] || return 1
  [ "$(lab_path_field "$1" connection)" = "$2" ]
}

lab_log "1. the nodes connect directly"
lab_wait 40 "alpha connected directly" connected_via alpha direct
lab_wait 20 "beta connected directly" connected_via beta direct
lab_exec ha ping -c 3 -W 2 10.100.0.2 >/dev/null || lab_fail "no ping over the direct path"
"$BIN/weft" peers --home "$(lab_home alpha)"
for n in alpha beta; do
  grep -q "TURN credentials from the hub" "$(lab_home $n)/log/nat.log" || lab_fail "$n's nat got no TURN credentials from the hub"
done
rtt=$(lab_path_field alpha rtt_ms)
[ "$rtt" -ge 0 ] 2>/dev/null || lab_fail "no RTT measured on the path (rtt_ms '$rtt')"
lab_log "RTT on the direct path: $rtt ms"

lab_log "2. the internet cuts the NATs apart; a ping runs every 0.1 s"
lab_exec ha ping -D -i 0.1 -W 1 10.100.0.2 >"$LAB_DIR/ping.txt" 2>&1 &
ping_pid=$!
LAB_PIDS+=($ping_pid)
sleep 2
t_cut=$(date +%s.%N)
natlab_cut ra rb on
lab_wait 20 "alpha on the relay" connected_via alpha relay
sleep 3
# outage: from the cut to the first reply that came after it
outage() { # FROM: seconds from FROM to the first reply after it, and the longest gap between replies after it
  python3 - "$LAB_DIR/ping.txt" "$1" <<'EOF'
import re, sys
t0 = float(sys.argv[2])
times = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)]
after = [t for t in times if t > t0 + 0.05]
if not after:
    print("none none")
    sys.exit()
gaps = [b - a for a, b in zip(after, after[1:])]
print("%.2f %.2f" % (after[0] - t0, max(gaps) if gaps else 0))
EOF
}
read -r down _ < <(outage "$t_cut")
[ "$down" != none ] || lab_fail "no ping reply after the cut"
"$BIN/weft" peers --home "$(lab_home alpha)"
server=$(lab_path_field alpha server)
lab_log "direct -> relay: traffic flowed again $down s after the cut (server $server)"
python3 -c "import sys; sys.exit(0 if float('$down') < $SWITCH_LIMIT else 1)" ||
  lab_fail "traffic took $down s to move to the relay (limit $SWITCH_LIMIT s)"
# the relay is the hub's server, reached with the hub's credentials (alpha's or beta's relay candidate)
lt=$(lab_path_field alpha local_type)
[ "$lt" != relay ] || [ "$server" = "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT" ] ||
  lab_fail "alpha relays through '$server', want $NATLAB_SERVER_IP:$NATLAB_TURN_PORT"

lab_log "3. the cut heals: back to a direct path"
t_back=$(date +%s.%N)
natlab_cut ra rb off
start=$SECONDS
lab_wait 20 "alpha direct again" connected_via alpha direct
t_direct=$(date +%s.%N)
sleep 2
kill "$ping_pid" 2>/dev/null || true
read -r _ gap < <(outage "$t_back")
back=$(python3 -c "print('%.2f' % ($t_direct - $t_back))")
lab_log "relay -> direct: direct again $back s after the cut healed; longest ping gap meanwhile $gap s"
python3 -c "import sys; sys.exit(0 if float('$back') < $SWITCH_LIMIT else 1)" ||
  lab_fail "the path took $back s to go direct again (limit $SWITCH_LIMIT s)"
python3 -c "import sys; sys.exit(0 if float('$gap') < 1.0 else 1)" ||
  lab_fail "the ping stopped for $gap s while going back to direct (the relay must carry it until then)"
lab_exec ha ping -c 5 -i 0.1 -W 2 10.100.0.2 >/dev/null || lab_fail "no ping over the direct path again"
# the dead path is noticed by one side or both (the other may get the new OFFER first); both promote
nat_counters() { "$BIN/weft" status --home "$(lab_home "$1")" --json; }
python3 - <(nat_counters alpha) <(nat_counters beta) <<'EOF' || lab_fail "nat's counters do not show the switches"
import json, sys
c = [[x for x in json.load(open(f))["services"] if x["service"] == "nat"][0]["counters"] for f in sys.argv[1:]]
for n in c:
    assert n["peers_direct"] == 1 and n["peers_relay"] == 0 and n["trials_promoted"] >= 1, n
assert sum(n["paths_died"] for n in c) >= 1, c
print("nat counters (alpha, beta): paths_died %s, trials %s, trials_promoted %s, probes_sent %s" % tuple(
    [n[k] for n in c] for k in ("paths_died", "trials", "trials_promoted", "probes_sent")))
EOF

lab_log "credentials: renewed before expiry; never in Redis or the logs"
users=$(grep -o "TURN credentials from the hub: .* user [0-9]*:[0-9a-f]*" "$(lab_home alpha)/log/nat.log" | awk '{print $NF}' | sort -u)
[ "$(echo "$users" | wc -l)" -ge 2 ] || lab_fail "alpha's credentials were not renewed (users seen: $users)"
last_user=$(echo "$users" | tail -1)
password=$(printf %s "$last_user" | openssl dgst -sha1 -hmac "$NATLAB_TURN_SECRET" -binary | base64)
for n in alpha beta; do
  sock="$(lab_home $n)/run/redis.sock"
  dir=$(redis-cli -s "$sock" CONFIG GET dir | tail -1)
  file=$(redis-cli -s "$sock" CONFIG GET dbfilename | tail -1)
  redis-cli -s "$sock" SAVE >/dev/null
  [ -s "$dir/$file" ] || lab_fail "no Redis dump for $n (test is blind)"
  grep -q "weft:path" "$dir/$file" || lab_fail "$n's Redis dump has no weft:path (test is blind)"
  if grep -rqF -e "$password" -e "$NATLAB_TURN_SECRET" "$dir/$file" "$(lab_home $n)/log" "$(lab_home $n)/weft.yaml"; then
    lab_fail "a TURN password or the hub's secret is in $n's Redis, logs or config"
  fi
done

lab_log "4. the hub frozen past the credentials' lifetime"
hub_pids=$(ip netns pids "$hub_ns")
kill -STOP $hub_pids
has_expired_msg() { lab_path_field alpha last_error | grep -q "TURN credentials from the hub expired"; }
lab_wait $((TTL + 10)) "weft peers to say the hub's TURN credentials expired" has_expired_msg
lab_exec ha ping -c 5 -i 0.1 -W 2 10.100.0.2 >/dev/null || lab_fail "the data path broke while the hub was frozen"
"$BIN/weft" peers --home "$(lab_home alpha)"
kill -CONT $hub_pids
no_expired_msg() { ! has_expired_msg; }
lab_wait 30 "fresh credentials after the hub came back" no_expired_msg
lab_log "PASS"
