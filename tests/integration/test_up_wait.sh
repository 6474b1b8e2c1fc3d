#!/usr/bin/env bash
# test_up_wait.sh BIN_DIR — `weft up --wait SECONDS` shows progress and waits for the first peer:
#   - beta starts while alpha runs: it prints the hub's state, the member count and alpha's path as it
#     connects, and exits 0;
#   - gamma, alone in its mesh, exits 1 after its --wait with what it saw, and its node keeps running;
#   - a bad --wait value is a usage error (exit 2) and starts nothing.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_up_wait.sh BIN_DIR}"
W="$BIN/weft"
lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1

node_init() {  # NAME IP OVERLAY [weft init args]
  local name=$1 ip=$2 overlay=$3
  shift 3
  lab_host "$name" "$ip/24"
  "$W" init --home "$(lab_home "$name")" --name "$name" --address "$overlay/16" --hub "$HUB_ENDPOINT" \
    --hub-key "$HUB_KEY" "$@" >/dev/null || lab_fail "weft init $name failed"
  LAB_HOMES+=("$(lab_home "$name")")
}

node_init beta 10.99.0.3 10.100.0.2
out=$(lab_exec beta "$W" up --home "$(lab_home beta)" --wait 30 2>&1) || lab_fail "weft up --wait failed: $out"
echo "$out"
grep -q "registered" <<<"$out" || lab_fail "no hub state in the progress"
grep -q "1 other member in the mesh" <<<"$out" || lab_fail "no member count in the progress"
grep -q "peer alpha (10.100.0.1): connected, direct" <<<"$out" || lab_fail "alpha's path not shown"
lab_exec beta ping -c 3 -i 0.2 -W 2 10.100.0.1 >/dev/null || lab_fail "beta cannot ping alpha after --wait"

node_init gamma 10.99.0.4 10.100.0.3 --mesh elsewhere
rc=0
out=$(lab_exec gamma "$W" up --home "$(lab_home gamma)" --wait 3 2>&1) || rc=$?
echo "$out"
[ $rc -eq 1 ] || lab_fail "gamma alone: exit $rc, want 1"
grep -q "no peer reachable within 3 s" <<<"$out" || lab_fail "gamma alone: no clear message"
"$W" status --home "$(lab_home gamma)" >/dev/null || lab_fail "gamma's node did not keep running"

node_init delta 10.99.0.5 10.100.0.4
rc=0
"$W" up --home "$(lab_home delta)" --wait soon 2>/dev/null || rc=$?
[ $rc -eq 2 ] || lab_fail "--wait soon: exit $rc, want 2"
[ ! -f "$(lab_home delta)/run/weft.pid" ] || lab_fail "--wait soon started the node"
lab_log "PASS"
