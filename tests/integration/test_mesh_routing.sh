#!/usr/bin/env bash
# test_mesh_routing.sh BIN_DIR — mesh routing through a member (docs/routing.md). A hub and four members
# on one switch; alpha's underlay to gamma is cut with nftables before gamma starts, and so is delta's
# (delta has routing.max_hops 1):
#   - alpha pings gamma through beta within 10 s of gamma's `weft up`; `weft routes` says via beta, 2 hops;
#     beta forwards (its data plane's forwarded_packets grows) and neither its weft0 nor its underlay
#     shows the traffic in the clear (a capture of weft0 holds no alpha<->gamma packet, the underlay no
#     ping payload);
#   - delta (max_hops 1) never relays: no route to gamma, no ping;
#   - the cut healed: alpha goes direct within 10 s with no ping gap of 1 s or more;
#   - beta restarted with connection.relay_via_peers false and the cut back: alpha has no route to gamma;
#   - no forwarded datagram ever ran out of TTL (no loop).
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_mesh_routing.sh BIN_DIR}"


# route_of NODE OVERLAY: "VIA_NAME HOPS" of NODE's route to OVERLAY ("none" when it has none)
route_of() {
  "$BIN/weft" routes --home "$(lab_home "$1")" --json 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
routes = doc["routes"] if isinstance(doc, dict) else doc
for r in routes:
    if r["destination"] == sys.argv[1] + "/32":
        print(r["via"], r["hops"]); sys.exit(0)
print("none")' "$2"
}
route_is() { [ "$(route_of "$1" "$2")" = "$3" ]; }

lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_no_ipv6 alpha
lab_cut alpha 10.99.0.4
WEFT_ROUTING_MAX_HOPS=1 lab_node delta 10.99.0.5 10.100.0.4
lab_no_ipv6 delta
lab_cut delta 10.99.0.4
lab_node beta 10.99.0.3 10.100.0.2
lab_node gamma 10.99.0.4 10.100.0.3
up=$SECONDS

lab_log "alpha -> gamma through beta"
until lab_exec alpha ping -c 1 -W 1 10.100.0.3 >/dev/null 2>&1; do
  [ $((SECONDS - up)) -ge 10 ] && { "$BIN/weft" routes --home "$(lab_home alpha)"; lab_fail "alpha could not ping gamma within 10 s of weft up"; }
done
lab_log "alpha pinged gamma $((SECONDS - up)) s after gamma's weft up"
"$BIN/weft" routes --home "$(lab_home alpha)"
route_is alpha 10.100.0.3 "beta 2" || lab_fail "alpha's route to gamma is '$(route_of alpha 10.100.0.3)', not via beta with 2 hops"
"$BIN/weft" peers --home "$(lab_home alpha)" | grep -E '^gamma .*via beta' ||
  lab_fail "weft peers on alpha does not say gamma is reached via beta"

lab_log "captures on beta: weft0 must not see alpha<->gamma, the underlay must not see the payload"
pattern=5eedfeedbeefc0de
lab_exec beta tcpdump -i weft0 -U -w "$LAB_DIR/beta-weft0.pcap" 2>/dev/null & LAB_PIDS+=($!)
lab_exec beta tcpdump -i eth0 -U -w "$LAB_DIR/beta-eth0.pcap" udp 2>/dev/null & LAB_PIDS+=($!)
sleep 1
forwarded_before=$(lab_counter beta dataplane forwarded_packets)
out=$(lab_exec alpha ping -c 20 -i 0.05 -W 2 -p "$pattern" 10.100.0.3) || { echo "$out"; lab_fail "alpha -> gamma ping through beta failed"; }
grep -q " 0% packet loss" <<<"$out" || { echo "$out"; lab_fail "alpha -> gamma through beta lost packets"; }
lab_exec gamma ping -c 5 -i 0.05 -W 2 10.100.0.1 >/dev/null || lab_fail "gamma -> alpha through beta failed"
sleep 0.5
kill "${LAB_PIDS[-1]}" "${LAB_PIDS[-2]}"; sleep 0.3
forwarded=$(( $(lab_counter beta dataplane forwarded_packets) - forwarded_before ))
lab_log "beta forwarded $forwarded datagrams for the 25 pings"
[ "$forwarded" -ge 50 ] || lab_fail "beta's data plane forwarded $forwarded datagrams, not the pings' 50"
tcpdump -nr "$LAB_DIR/beta-weft0.pcap" 2>/dev/null | grep -E '10\.100\.0\.(1|3) > 10\.100\.0\.(1|3)' &&
  lab_fail "beta's weft0 saw alpha<->gamma packets"
count_pattern() { python3 -c 'import sys; print(open(sys.argv[1],"rb").read().count(bytes.fromhex(sys.argv[2])))' "$1" "$2"; }
underlay_size=$(stat -c %s "$LAB_DIR/beta-eth0.pcap")
[ "$underlay_size" -gt 5000 ] || lab_fail "beta's underlay capture is nearly empty (test is blind)"
[ "$(count_pattern "$LAB_DIR/beta-eth0.pcap" $pattern)" -eq 0 ] || lab_fail "ping payload seen in the clear on beta's underlay"

lab_log "alpha's router killed: the data plane keeps relaying; the restarted router resumes from Redis"
ip netns exec "$(lab_ns alpha)" ping -i 0.02 -c 150 -W 1 10.100.0.3 >"$LAB_DIR/router.ping" 2>&1 &
ping_pid=$!; LAB_PIDS+=($ping_pid)
sleep 0.5
old=$(lab_service_pid alpha router)
kill -9 "$old"
lab_wait 10 "alpha's router to be restarted" bash -c "p=\$(cat $(lab_home alpha)/run/router.pid); [ -n \"\$p\" ] && [ \"\$p\" != $old ] && kill -0 \$p"
# the new router connects to Redis and reloads after it started (slower under a sanitizer)
lab_wait 10 "the restarted router to load its saved routes" grep -q "saved routes" "$(lab_home alpha)/log/router.log"
lab_wait 10 "alpha's route to gamma via beta after the router restart" route_is alpha 10.100.0.3 "beta 2"
wait $ping_pid || true
grep -q " 0% packet loss" "$LAB_DIR/router.ping" || { tail -3 "$LAB_DIR/router.ping"; lab_fail "pings to gamma lost while alpha's router restarted"; }

lab_log "delta has routing.max_hops 1: no route to gamma, no ping"
lab_exec delta ping -c 1 -W 1 10.100.0.2 >/dev/null || lab_fail "delta cannot even reach beta directly"
route_is delta 10.100.0.3 "none" || lab_fail "delta (max_hops 1) has a route to gamma: $(route_of delta 10.100.0.3)"
! lab_exec delta ping -c 2 -W 1 10.100.0.3 >/dev/null 2>&1 || lab_fail "delta (max_hops 1) reached gamma"

lab_log "heal alpha-gamma: direct within 10 s, no ping gap of 1 s"
ip netns exec "$(lab_ns alpha)" ping -D -i 0.01 -W 1 -w 30 10.100.0.3 >"$LAB_DIR/heal.ping" 2>&1 &
ping_pid=$!; LAB_PIDS+=($ping_pid)   # ip netns exec execs ping: this is ping's pid
sleep 1
lab_heal alpha
healed=$SECONDS
until route_is alpha 10.100.0.3 "direct 1"; do
  [ $((SECONDS - healed)) -ge 10 ] && { "$BIN/weft" routes --home "$(lab_home alpha)"; lab_fail "alpha not direct to gamma within 10 s of the heal"; }
  sleep 0.1
done
lab_log "alpha direct to gamma $((SECONDS - healed)) s after the heal"
sleep 1
kill -INT $ping_pid; wait $ping_pid 2>/dev/null || true
gap=$(lab_ping_gap "$LAB_DIR/heal.ping")
lab_log "largest gap between ping replies during the heal: $gap s"
python3 -c "import sys; sys.exit(0 if float('$gap') < 1.0 else 1)" || lab_fail "ping gap of $gap s when going direct"

lab_log "beta with connection.relay_via_peers false is never a hop"
"$BIN/weft" down --home "$(lab_home beta)" >/dev/null
lab_exec beta env WEFT_CONNECTION_RELAY_VIA_PEERS=false "$BIN/weft" up --home "$(lab_home beta)" ${LAB_UP_ARGS:-} ||
  lab_fail "weft up beta failed"
lab_cut alpha 10.99.0.4
lab_wait 15 "alpha to reach beta again" lab_exec alpha ping -c 1 -W 1 10.100.0.2
lab_wait 15 "alpha's route to gamma to go" route_is alpha 10.100.0.3 "none"
sleep 3   # beta announces every time anything changes: nothing must bring the route back
route_is alpha 10.100.0.3 "none" || lab_fail "alpha has a route to gamma through a beta that does not relay: $(route_of alpha 10.100.0.3)"
! lab_exec alpha ping -c 2 -W 1 10.100.0.3 >/dev/null 2>&1 || lab_fail "alpha reached gamma through a beta that does not relay"

for node in alpha beta gamma delta; do
  ttl=$(lab_counter $node dataplane drop_forward_ttl)
  [ "$ttl" -eq 0 ] || lab_fail "$node dropped $ttl forwarded datagrams for TTL: a loop"
done
lab_log "PASS"
