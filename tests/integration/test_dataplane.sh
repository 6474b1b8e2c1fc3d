#!/usr/bin/env bash
# test_dataplane.sh BIN_DIR — the data plane (docs/architecture.md, "Data plane"): crypto makes the
# handshakes and hands the keys to weft-dataplane; once ICE has selected a direct UDP pair, nat hands it
# to the data plane too, which reads the TUN, seals, and sends and receives the peer's transport datagrams
# itself (no hop through nat or crypto). Checks, on a hub and three nodes in network namespaces:
#   - alpha's nat handed the pair over and its datagrams_out stays still while alpha pings beta: the
#     packets left through the data plane's socket (its direct_datagrams_out grew instead); the data plane
#     borrowed the TUN from device and read the pings itself (device's packets_in stays still), and
#     crypto saw none of them;
#   - under iperf3 load, kill -9 of alpha's crypto: the data plane keeps its keys, so traffic goes on with
#     no new handshake; kill -9 of the data plane, then of nat: each time pings answer again within 5 s;
#     never does another service of alpha restart;
#   - gamma runs with dataplane.gso and dataplane.gro forced off, delta with dataplane.direct off (every
#     datagram through nat): alpha reaches both, and delta's nat carries its datagrams.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_dataplane.sh BIN_DIR}"

lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2
WEFT_DATAPLANE_GSO=false WEFT_DATAPLANE_GRO=false lab_node gamma 10.99.0.4 10.100.0.3
WEFT_DATAPLANE_DIRECT=false lab_node delta 10.99.0.5 10.100.0.4

lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to connect to alpha" lab_peer_connected beta 10.100.0.1
lab_wait 30 "alpha to connect to gamma" lab_peer_connected alpha 10.100.0.3
lab_wait 30 "alpha to connect to delta" lab_peer_connected alpha 10.100.0.4
lab_wait 10 "alpha's nat to hand its direct pairs to the data plane" \
  bash -c "[ \$(\"$BIN/weft\" status --home $(lab_home alpha) --json | python3 -c 'import json,sys
print([s for s in json.load(sys.stdin)[\"services\"] if s[\"service\"] == \"dataplane\"][0][\"counters\"].get(\"direct_paths_opened\", 0))') -ge 3 ]"

lab_log "alpha pings beta: the datagrams leave through the data plane's socket, not through nat; it reads the TUN, not device"
lab_wait 10 "alpha's data plane to borrow the TUN from device" bash -c "[ \$(\"$BIN/weft\" status --home $(lab_home alpha) --json | python3 -c 'import json,sys
print([s for s in json.load(sys.stdin)[\"services\"] if s[\"service\"] == \"dataplane\"][0][\"counters\"].get(\"tun_borrows\", 0))') -ge 1 ]"
[ "$(lab_counter alpha device tun_lends)" -ge 1 ] || lab_fail "device does not count the TUN as lent"
nat_out0=$(lab_counter alpha nat datagrams_out)
direct_out0=$(lab_counter alpha dataplane direct_datagrams_out)
device_in0=$(lab_counter alpha device packets_in)
tun_in0=$(lab_counter alpha dataplane tun_packets_in)
crypto_in0=$(lab_counter alpha crypto datagrams_in)
out=$(lab_exec alpha ping -c 20 -i 0.05 -W 2 10.100.0.2) || { echo "$out"; lab_fail "alpha -> beta ping failed"; }
grep -q " 0% packet loss" <<<"$out" || lab_fail "alpha -> beta lost packets: $out"
nat_out1=$(lab_counter alpha nat datagrams_out)
direct_out1=$(lab_counter alpha dataplane direct_datagrams_out)
lab_log "nat datagrams_out $nat_out0 -> $nat_out1, dataplane direct_datagrams_out $direct_out0 -> $direct_out1"
[ $((direct_out1 - direct_out0)) -ge 20 ] || lab_fail "the data plane sent fewer than 20 datagrams on its direct path"
[ $((nat_out1 - nat_out0)) -le 2 ] || lab_fail "alpha's nat still carried the pings ($((nat_out1 - nat_out0)) datagrams)"
[ "$(lab_counter alpha device packets_in)" = "$device_in0" ] || lab_fail "device still read packets from the TUN"
[ $(( $(lab_counter alpha dataplane tun_packets_in) - tun_in0 )) -ge 20 ] || lab_fail "the data plane did not read the pings from the TUN"
[ "$(lab_counter beta dataplane direct_datagrams_in)" -ge 20 ] || lab_fail "beta's data plane did not receive on its direct path"
[ $(( $(lab_counter alpha crypto datagrams_in) - crypto_in0 )) -le 2 ] || lab_fail "crypto still saw the pings' datagrams"

lab_log "gamma (GSO and GRO forced off) and delta (dataplane.direct off) are reached"
for target in 10.100.0.3 10.100.0.4; do
  out=$(lab_exec alpha ping -c 10 -i 0.05 -W 2 "$target") || { echo "$out"; lab_fail "alpha -> $target ping failed"; }
  grep -q " 0% packet loss" <<<"$out" || lab_fail "alpha -> $target lost packets: $out"
done
[ "$(lab_counter delta dataplane direct_paths_opened)" -eq 0 ] || lab_fail "delta opened a direct path with dataplane.direct off"
[ "$(lab_counter delta nat datagrams_out)" -ge 10 ] || lab_fail "delta's datagrams did not go through its nat"
[ "$(lab_counter gamma dataplane direct_datagrams_out)" -ge 10 ] || lab_fail "gamma (GSO off) did not send on its direct path"
lab_exec gamma iperf3 -s -B 10.100.0.3 >/dev/null 2>&1 &
LAB_PIDS+=($!)
sleep 0.5
mbit=$(lab_exec alpha iperf3 -c 10.100.0.3 -t 2 -J | python3 -c 'import json,sys
print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))')
lab_log "iperf3 alpha -> gamma (gamma without GSO/GRO): $mbit Mbit/s"
[ "$mbit" -gt 10 ] || lab_fail "alpha -> gamma iperf3 got $mbit Mbit/s"

# kill_under_load SERVICE: kill -9 alpha's SERVICE while iperf3 runs alpha -> beta; pings must answer
# again within 5 s and no other service of alpha may have restarted
pids_except() {
  local s
  for s in device router crypto dataplane nat discovery api; do [ "$s" = "$1" ] || printf '%s=%s ' "$s" "$(lab_service_pid alpha $s)"; done
}
kill_under_load() {
  local svc=$1 old others t0 t1
  lab_exec alpha timeout 25 iperf3 -c 10.100.0.2 -t 15 >/dev/null 2>&1 &
  local iperf=$!
  LAB_PIDS+=($iperf)
  sleep 3
  old=$(lab_service_pid alpha "$svc")
  others=$(pids_except "$svc")
  t0=$(date +%s.%N)
  kill -9 "$old"
  local deadline=$((SECONDS + 5))
  until lab_exec alpha ping -c 1 -W 0.5 10.100.0.2 >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || lab_fail "no ping within 5 s of kill -9 $svc under load"
  done
  t1=$(date +%s.%N)
  lab_log "kill -9 alpha's $svc under iperf3 load: ping answered $(python3 -c "print(f'{$t1 - $t0:.2f}')") s later"
  [ "$(pids_except "$svc")" = "$others" ] || lab_fail "another service restarted after kill -9 $svc: $others -> $(pids_except "$svc")"
  lab_wait 10 "alpha's $svc to be restarted" bash -c "[ -n \"\$(cat $(lab_home alpha)/run/$svc.pid 2>/dev/null)\" ] && [ \"\$(cat $(lab_home alpha)/run/$svc.pid)\" != $old ]"
  wait "$iperf" || true
}
lab_exec beta iperf3 -s -B 10.100.0.2 >/dev/null 2>&1 &
LAB_PIDS+=($!)
sleep 0.5
# crypto: the data plane keeps the keys, so no keypair is handed over while crypto restarts and the
# datagrams keep flowing on the direct path
keys0=$(lab_counter alpha dataplane keypairs_in)
direct0=$(lab_counter alpha dataplane direct_datagrams_out)
kill_under_load crypto
[ "$(lab_counter alpha dataplane keypairs_in)" = "$keys0" ] || lab_fail "a new handshake was needed after kill -9 crypto: the data plane lost its keys"
[ $(( $(lab_counter alpha dataplane direct_datagrams_out) - direct0 )) -ge 1000 ] || lab_fail "traffic stopped while crypto restarted"
lab_wait 10 "the restarted crypto to learn the running session from the data plane" \
  bash -c "\"$BIN/weft\" status --home $(lab_home alpha) --json | grep -q '\"detail\": *\"[1-9][0-9]* sessions established'"
# the data plane: the keys and the sockets are handed over again (a new handshake, nat's paths)
kill_under_load dataplane
lab_wait 10 "the data plane to take the direct path again" bash -c "[ \$(\"$BIN/weft\" status --home $(lab_home alpha) --json | python3 -c 'import json,sys
print([s for s in json.load(sys.stdin)[\"services\"] if s[\"service\"] == \"dataplane\"][0][\"counters\"].get(\"direct_paths_opened\", 0))') -ge 1 ]"
kill_under_load nat
lab_wait 15 "alpha to connect to beta again" lab_peer_connected alpha 10.100.0.2
out=$(lab_exec alpha ping -c 10 -i 0.05 -W 2 10.100.0.2) || { echo "$out"; lab_fail "alpha -> beta ping failed after the kills"; }
lab_log "PASS"
