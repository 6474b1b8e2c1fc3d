#!/usr/bin/env bash
# test_colocated.sh BIN_DIR — the same services as threads of one process (weft up --colocate,
# inboxes over inproc://) mesh with a node whose services are separate processes: ping both ways
# with 0% loss, every service answers `weft status`, and a kill -9 of the whole node process is
# restarted and pings again within 10 s.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_colocated.sh BIN_DIR}"
lab_switch
lab_hub hub 10.99.0.1
LAB_UP_ARGS=--colocate lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2
lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to connect to alpha" lab_peer_connected beta 10.100.0.1

"$BIN/weft" status --home "$(lab_home alpha)" || lab_fail "a co-located service does not answer"
pids=$("$BIN/weft" status --home "$(lab_home alpha)" --json |
  python3 -c 'import json,sys; print(" ".join(sorted({str(s["pid"]) for s in json.load(sys.stdin)["services"]})))')
[ "$pids" = "$(lab_service_pid alpha node)" ] || lab_fail "services report pids '$pids', not the one weft-node process"

for target in "alpha 10.100.0.2" "beta 10.100.0.1"; do
  set -- $target
  out=$(lab_exec "$1" ping -c 20 -i 0.05 -W 2 "$2") || true
  echo "$out" | tail -1
  echo "$out" | grep -q " 0% packet loss" || { echo "$out"; lab_fail "$1 -> $2 lost packets"; }
done

old=$(lab_service_pid alpha node)
start=$SECONDS
kill -9 "$old"
deadline=$((start + 10))
until lab_exec alpha ping -c 1 -W 1 10.100.0.2 >/dev/null 2>&1; do
  [ $SECONDS -ge $deadline ] && lab_fail "no ping within 10 s of killing weft-node"
done
[ "$(lab_service_pid alpha node)" != "$old" ] || lab_fail "weft-node was not restarted"
lab_log "kill -9 weft-node: restarted, ping works again $((SECONDS - start)) s after the kill"
lab_log "PASS"
