#!/usr/bin/env bash
# test_bad_input.sh BIN_DIR — garbage on every socket: each service's inbox and control socket of a
# running node, and the hub's port (CURVE garbage, plain ZeroMQ, raw TCP bytes). Every process must
# survive (same pid, no restart), log what it dropped, keep answering `weft status`, and the mesh must
# still ping with 0% loss.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_bad_input.sh BIN_DIR}"
POKE="$BIN/weft-poke"
[ -x "$POKE" ] || lab_fail "no weft-poke in $BIN"

lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2
lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
home=$(lab_home alpha)
declare -A before
for svc in device router crypto dataplane nat discovery; do before[$svc]=$(lab_service_pid alpha $svc); done
hub_pid=$(lab_service_pid hub hub)

seed=1
for svc in device router crypto dataplane nat discovery; do
  seed=$((seed + 1))
  out=$("$POKE" --endpoint "ipc://$home/run/$svc.inbox" --type push --count 400 --seed $seed)
  lab_log "$svc inbox: $out"
  out=$("$POKE" --endpoint "ipc://$home/run/$svc.control" --type req --count 40 --seed $seed)
  lab_log "$svc control: $out"
  echo "$out" | grep -q "answered 40" || lab_fail "$svc control socket did not answer every garbage request"
done

lab_log "hub: CURVE garbage, plain ZeroMQ, raw TCP"
out=$(lab_exec alpha "$POKE" --endpoint "$HUB_ENDPOINT" --type dealer --curve-server-key "$HUB_KEY" --count 400 --seed 9)
lab_log "hub CURVE dealer: $out"
out=$(lab_exec alpha "$POKE" --endpoint "$HUB_ENDPOINT" --type dealer --count 50 --seed 10)
lab_log "hub plain dealer (no CURVE): $out"
lab_exec alpha python3 - <<'PY'
import os, random, socket
random.seed(11)
for i in range(30):
    s = socket.create_connection(("10.99.0.1", 7400), timeout=2)
    try:
        s.sendall(os.urandom(random.randint(1, 20000)))
        if i % 3 == 0:
            s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + os.urandom(100))  # a ZMTP greeting start, then junk
    except OSError:
        pass
    s.close()
PY
sleep 1

for svc in device router crypto dataplane nat discovery; do
  now=$(lab_service_pid alpha $svc)
  [ "$now" = "${before[$svc]}" ] || lab_fail "$svc was restarted (pid ${before[$svc]} -> $now): it crashed on bad input"
  kill -0 "$now" || lab_fail "$svc is gone"
done
[ "$(lab_service_pid hub hub)" = "$hub_pid" ] && kill -0 "$hub_pid" || lab_fail "the hub crashed on bad input"
"$BIN/weft" status --home "$home" >/dev/null || lab_fail "weft status: a service stopped answering"

for svc in device router crypto dataplane nat discovery; do
  n=$(grep -ciE "drop|bad|malformed|ignor|invalid|reject|unknown" "$home/log/$svc.log" || true)
  lab_log "$svc logged $n lines about bad input"
  [ "$n" -gt 0 ] || lab_fail "$svc logged nothing about the garbage it got"
done
n=$(grep -ciE "drop|bad|malformed|ignor|invalid|reject" "$(lab_home hub)/log/hub.log" || true)
lab_log "hub logged $n lines about bad input"
[ "$n" -gt 0 ] || lab_fail "the hub logged nothing about the garbage it got"

lab_wait 20 "alpha to be connected to beta again" lab_peer_connected alpha 10.100.0.2
out=$(lab_exec alpha ping -c 20 -i 0.05 -W 2 10.100.0.2) || true
echo "$out" | grep -q " 0% packet loss" || { echo "$out"; lab_fail "the mesh lost packets after the garbage"; }
lab_log "PASS"
