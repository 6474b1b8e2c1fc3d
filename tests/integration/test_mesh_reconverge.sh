#!/usr/bin/env bash
# test_mesh_reconverge.sh BIN_DIR — five members in a partial mesh, and a subnet behind one of them
# (docs/routing.md). alpha's and epsilon's underlay to gamma are cut, so beta and delta can both relay:
#   - subnets: gamma advertises 192.168.50.0/24 (a LAN namespace with a host that runs no weft) and
#     192.168.60.0/24; the hub's admin allows only the first. alpha (routing.accept_routes) pings the LAN
#     host, through a relay; epsilon (accept_routes false) cannot and its `weft routes` names the refusal;
#     alpha's names the prefix the admin did not allow;
#   - the relay alpha uses for gamma is killed (every process of its namespace, kill -9): alpha pings gamma
#     through the other within 10 s;
#   - no loop (no forwarded datagram runs out of TTL anywhere), and no count to infinity: within 10 s of
#     the death no member keeps a route to the dead one, and no route ever has more than 3 hops.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_mesh_reconverge.sh BIN_DIR}"

# routes_json NODE: NODE's routes as JSON (an empty list when it does not answer)
routes_json() { "$BIN/weft" routes --home "$(lab_home "$1")" --json 2>/dev/null || echo '[]'; }
# route_field NODE DESTINATION FIELD: one field of NODE's route to DESTINATION ("none" without a route)
route_field() {
  routes_json "$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["destination"] == sys.argv[1]:
        print(r[sys.argv[2]]); sys.exit(0)
print("none")' "$2" "$3"
}
route_field_is() { [ "$(route_field "$1" "$2" "$3")" = "$4" ]; }

lab_switch
lab_hub hub 10.99.0.1
WEFT_ROUTING_ACCEPT_ROUTES=true lab_node alpha 10.99.0.2 10.100.0.1
lab_no_ipv6 alpha; lab_cut alpha 10.99.0.4
lab_node epsilon 10.99.0.6 10.100.0.5
lab_no_ipv6 epsilon; lab_cut epsilon 10.99.0.4
lab_node beta 10.99.0.3 10.100.0.2
lab_node delta 10.99.0.5 10.100.0.4
LAB_UP_ARGS="--advertise-routes 192.168.50.0/24,192.168.60.0/24" lab_node gamma 10.99.0.4 10.100.0.3

# gamma's LAN: a host without weft, whose way back to the mesh is gamma
lanhost=$(lab_ns lan)
ip netns add "$lanhost" && LAB_NS+=("$lanhost")
ip link add "${LAB_TAG}lana" type veth peer name "${LAB_TAG}lanb"
ip link set "${LAB_TAG}lana" netns "$lanhost"
ip link set "${LAB_TAG}lanb" netns "$(lab_ns gamma)"
ip -n "$lanhost" addr add 192.168.50.5/24 dev "${LAB_TAG}lana"
ip -n "$lanhost" link set "${LAB_TAG}lana" up
ip -n "$lanhost" link set lo up
ip -n "$lanhost" route add default via 192.168.50.1
ip -n "$(lab_ns gamma)" addr add 192.168.50.1/24 dev "${LAB_TAG}lanb"
ip -n "$(lab_ns gamma)" link set "${LAB_TAG}lanb" up

lab_log "the hub's admin allows gamma 192.168.50.0/24 (not 192.168.60.0/24)"
lab_wait 10 "the hub's API to answer" lab_exec hub curl -sf --max-time 2 http://127.0.0.1:7402/health
TOKEN=$("$BIN/weft" hub token --home "$(lab_home hub)")
GAMMA_ID=$("$BIN/weft" id --home "$(lab_home gamma)" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
lab_wait 10 "gamma to be registered" lab_exec hub curl -sf --max-time 2 -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" -d "{\"member\":\"$GAMMA_ID\",\"prefix\":\"192.168.50.0/24\"}" \
  http://127.0.0.1:7402/api/v1/mesh/routes/default

lab_log "alpha reaches gamma's LAN host through a relay"
lab_wait 15 "alpha to ping the LAN host 192.168.50.5" lab_exec alpha ping -c 1 -W 1 192.168.50.5
routes_json alpha | python3 -m json.tool >"$LAB_DIR/alpha-routes.json"
"$BIN/weft" routes --home "$(lab_home alpha)"
route_field_is alpha 192.168.50.0/24 state active || lab_fail "alpha's 192.168.50.0/24 is not active"
route_field_is alpha 192.168.50.0/24 hops 2 || lab_fail "alpha's 192.168.50.0/24 is not 2 hops through a relay"
route_field_is alpha 192.168.60.0/24 state refused || lab_fail "alpha does not show 192.168.60.0/24 refused"
route_field alpha 192.168.60.0/24 why | grep -q "not allowed" || lab_fail "alpha's refusal of 192.168.60.0/24 does not say the admin did not allow it"
lab_exec alpha ip route show 192.168.60.0/24 | grep -q . && lab_fail "alpha has a kernel route for the refused 192.168.60.0/24"
ip netns exec "$lanhost" ping -c 1 -W 1 10.100.0.1 >/dev/null || lab_fail "the LAN host cannot ping alpha back"

lab_log "epsilon (routing.accept_routes false) does not use the subnet, and says why"
lab_wait 10 "epsilon to learn gamma's subnet" route_field_is epsilon 192.168.50.0/24 state refused
route_field epsilon 192.168.50.0/24 why | grep -q "accept_routes" || lab_fail "epsilon's refusal does not name routing.accept_routes"
! lab_exec epsilon ping -c 2 -W 1 192.168.50.5 >/dev/null 2>&1 || lab_fail "epsilon reached the LAN host without accept_routes"

lab_log "kill the relay alpha uses for gamma"
relay=$(route_field alpha 10.100.0.3/32 via)
case "$relay" in beta|delta) ;; *) lab_fail "alpha's route to gamma goes via '$relay', not beta or delta" ;; esac
other=beta; [ "$relay" = beta ] && other=delta
ip netns exec "$(lab_ns alpha)" ping -D -i 0.01 -W 1 -w 40 10.100.0.3 >"$LAB_DIR/kill.ping" 2>&1 &
ping_pid=$!; LAB_PIDS+=($ping_pid)   # ip netns exec execs ping: this is ping's pid
sleep 1
for p in $(ip netns pids "$(lab_ns $relay)"); do kill -9 "$p" 2>/dev/null || true; done
killed=$SECONDS
until route_field_is alpha 10.100.0.3/32 via "$other"; do
  [ $((SECONDS - killed)) -ge 10 ] && { "$BIN/weft" routes --home "$(lab_home alpha)"; lab_fail "alpha's route to gamma not via $other within 10 s of killing $relay"; }
  sleep 0.1
done
lab_log "alpha routes gamma via $other $((SECONDS - killed)) s after $relay died"
sleep 1
replies_before=$(grep -c "icmp_seq=" "$LAB_DIR/kill.ping" || true)
sleep 1
[ "$(grep -c "icmp_seq=" "$LAB_DIR/kill.ping")" -gt "$replies_before" ] || lab_fail "alpha's pings to gamma are not answered through $other"
gap=$(lab_ping_gap "$LAB_DIR/kill.ping")
lab_log "largest gap in alpha's pings to gamma: $gap s"
python3 -c "import sys; sys.exit(0 if float('$gap') < 10 else 1)" || lab_fail "ping gap of $gap s after the relay died"

lab_log "no count to infinity: every route to $relay gone within 10 s, no route longer than 3 hops"
relay_addr=$(case $relay in beta) echo 10.100.0.2;; delta) echo 10.100.0.4;; esac)
deadline=$((killed + 10))
for node in alpha $other gamma epsilon; do
  until route_field_is $node "$relay_addr/32" via none; do
    [ $SECONDS -ge $deadline ] && lab_fail "$node still has a route to the dead $relay: $(route_field $node "$relay_addr/32" via), $(route_field $node "$relay_addr/32" hops) hops"
    sleep 0.2
  done
  longest=$(routes_json $node | python3 -c 'import json,sys; print(max([r["hops"] for r in json.load(sys.stdin)] or [0]))')
  [ "$longest" -le 3 ] || lab_fail "$node has a route of $longest hops (count to infinity?)"
done
kill -INT $ping_pid 2>/dev/null || true
for node in alpha $other gamma epsilon; do
  ttl=$(lab_counter $node dataplane drop_forward_ttl)
  [ "$ttl" -eq 0 ] || lab_fail "$node dropped $ttl forwarded datagrams for TTL: a loop"
done
lab_log "PASS"
