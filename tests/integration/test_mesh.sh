#!/usr/bin/env bash
# test_mesh.sh BIN_DIR — the walking skeleton end to end: a hub and two nodes in network namespaces
# on one bridge. They find each other through the hub and ping each other's overlay address with 0%
# loss; a capture of the underlay holds no plaintext; every service of each node is killed with -9 in
# turn and the mesh pings again within 10 s.
set -euo pipefail
# (grep -q <<<"$out", not echo | grep -q: with pipefail, grep -q quitting early can fail the echo)
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_mesh.sh BIN_DIR}"

lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2

lab_log "waiting for the nodes to find and connect to each other"
lab_wait 30 "alpha to see beta connected" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to see alpha connected" lab_peer_connected beta 10.100.0.1
"$BIN/weft" peers --home "$(lab_home alpha)"
# the path is on the underlay, never through the overlay itself (that would loop packets into weft0)
"$BIN/weft" peers --home "$(lab_home alpha)" --json | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    for end in ("local_addr", "remote_addr"):
        if p["path"][end].startswith("10.100."):
            sys.exit("path %s %s is inside the overlay" % (end, p["path"][end]))' || lab_fail "ICE chose a path through the overlay"

lab_log "ping -c 20 both ways"
out=$(lab_exec alpha ping -c 20 -i 0.05 -W 2 10.100.0.2) || { echo "$out"; lab_fail "alpha -> beta ping failed"; }
echo "$out" | tail -2
grep -q " 0% packet loss" <<<"$out" || lab_fail "alpha -> beta lost packets"
out=$(lab_exec beta ping -c 20 -i 0.05 -W 2 10.100.0.1) || { echo "$out"; lab_fail "beta -> alpha ping failed"; }
grep -q " 0% packet loss" <<<"$out" || lab_fail "beta -> alpha lost packets"

lab_log "weft peers: one short line per member within 100 columns; --wide still shows the pair"
short=$("$BIN/weft" peers --home "$(lab_home alpha)")
echo "$short"
awk 'length > 100 { exit 1 }' <<<"$short" || lab_fail "weft peers is wider than 100 columns"
grep -Eq '^NAME +ADDRESS +PATH +RTT +IN +OUT +HANDSHAKE$' <<<"$short" || lab_fail "weft peers: no header"
# after the pings: a direct UDP path, a measured rtt in ms (0.xx ms on this bridge), bytes both ways
# in binary units and a handshake seconds ago
grep -Eq '^beta +10\.100\.0\.2 +direct udp +[0-9]+(\.[0-9]+)? ms +[0-9.]+ (B|KiB|MiB) +[0-9.]+ (B|KiB|MiB) +[0-9]+s ago$' \
  <<<"$short" || lab_fail "weft peers: beta's line is not name, address, direct udp, rtt, in, out, handshake"
"$BIN/weft" peers --home "$(lab_home alpha)" --json >"$LAB_DIR/peers.json"
wide=$("$BIN/weft" peers --home "$(lab_home alpha)" --wide)
read -r local_addr remote_addr < <(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))[0]
assert p["path"]["transport"] == "udp" and p["path"]["rtt_us"] > 0 and p["session"]["last_handshake_ms"] > 0, p
print(p["path"]["local_addr"], p["path"]["remote_addr"])' "$LAB_DIR/peers.json") || lab_fail "weft peers --json lacks transport, rtt_us or last_handshake_ms"
grep -F "$local_addr" <<<"$wide" | grep -qF "$remote_addr" || { echo "$wide"; lab_fail "weft peers --wide does not show the pair"; }
! grep -q "via server" <<<"$wide" || lab_fail "weft peers --wide says 'via server' on a direct path"
grep -Eq '^beta: session encrypted with (aes-256-gcm|chacha20-poly1305)$' <<<"$wide" ||
  { echo "$wide"; lab_fail "weft peers --wide does not say the session's transport cipher"; }

lab_log "capture: the ping payload pattern must be on the TUN device and nowhere on the underlay"
pattern=5eedfeedbeefc0de
lab_exec alpha tcpdump -i eth0 -U -w "$LAB_DIR/underlay.pcap" udp 2>/dev/null & LAB_PIDS+=($!)
lab_exec alpha tcpdump -i weft0 -U -w "$LAB_DIR/overlay.pcap" 2>/dev/null & LAB_PIDS+=($!)
sleep 1
lab_exec alpha ping -c 5 -i 0.1 -p "$pattern" 10.100.0.2 >/dev/null || lab_fail "patterned ping failed"
sleep 0.5
kill "${LAB_PIDS[-1]}" "${LAB_PIDS[-2]}"; sleep 0.3
count_pattern() { python3 -c 'import sys; print(open(sys.argv[1],"rb").read().count(bytes.fromhex(sys.argv[2])))' "$1" "$2"; }
in_overlay=$(count_pattern "$LAB_DIR/overlay.pcap" $pattern)
in_underlay=$(count_pattern "$LAB_DIR/underlay.pcap" $pattern)
underlay_size=$(stat -c %s "$LAB_DIR/underlay.pcap")
lab_log "pattern seen $in_overlay times on weft0, $in_underlay times in $underlay_size bytes of underlay UDP"
[ "$in_overlay" -gt 0 ] || lab_fail "the capture did not see the ping on weft0 (test is blind)"
[ "$underlay_size" -gt 1000 ] || lab_fail "the underlay capture is nearly empty (test is blind)"
[ "$in_underlay" -eq 0 ] || lab_fail "plaintext ping payload seen on the underlay"

# ping_within SECONDS NODE TARGET: one reply within the time
ping_within() {
  local node=$2 target=$3 deadline=$((SECONDS + $1))
  until lab_exec "$node" ping -c 1 -W 1 "$target" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
  done
  return 0
}

for node in alpha beta; do
  for svc in device router crypto dataplane nat discovery redis; do
    old=$(lab_service_pid "$node" "$svc")
    [ -n "$old" ] || lab_fail "no pid for $node/$svc"
    start=$SECONDS
    kill -9 "$old"
    lab_wait 10 "$node/$svc to be restarted" bash -c "p=\$(cat $(lab_home $node)/run/$svc.pid); [ -n \"\$p\" ] && [ \"\$p\" != $old ] && kill -0 \$p"
    # both directions must answer within 10 s of the kill
    if ping_within $((start + 10 - SECONDS)) alpha 10.100.0.2 && ping_within $((start + 10 - SECONDS)) beta 10.100.0.1; then
      lab_log "kill -9 $node/$svc (pid $old): restarted, ping works again $((SECONDS - start)) s after the kill"
    else
      lab_fail "after kill -9 $node/$svc, ping did not work again within 10 s"
    fi
  done
done

lab_log "kill -9 the hub: the data path does not need it; it is restarted and members register again"
hub_old=$(lab_service_pid hub hub)
kill -9 "$hub_old"
out=$(lab_exec alpha ping -c 10 -i 0.1 -W 2 10.100.0.2) || true
grep -q " 0% packet loss" <<<"$out" || { echo "$out"; lab_fail "the overlay lost packets while the hub was down"; }
lab_wait 10 "the hub to be restarted" bash -c "p=\$(cat $(lab_home hub)/run/hub.pid); [ -n \"\$p\" ] && [ \"\$p\" != $hub_old ] && kill -0 \$p"
hub_registered() { lab_exec "$1" "$BIN/weft" status --home "$(lab_home "$1")" --json | grep -q '"hub_state":"registered"'; }
# ICE signalling through the restarted hub: restart one side's nat, which must offer or ask again
old=$(lab_service_pid alpha nat)
kill -9 "$old"
start=$SECONDS
until lab_exec alpha ping -c 1 -W 1 10.100.0.2 >/dev/null 2>&1; do
  [ $SECONDS -ge $((start + 20)) ] && lab_fail "no ping within 20 s of restarting nat after the hub restart"
done
lab_log "after the hub restart, a restarted nat connected again in $((SECONDS - start)) s"
lab_wait 20 "alpha to register with the restarted hub" hub_registered alpha
lab_wait 20 "beta to register with the restarted hub" hub_registered beta

lab_log "final: ping -c 20 with 0% loss"
out=$(lab_exec alpha ping -c 20 -i 0.05 -W 2 10.100.0.2) || true
grep -q " 0% packet loss" <<<"$out" || { echo "$out"; lab_fail "final ping lost packets"; }
lab_log "PASS"
