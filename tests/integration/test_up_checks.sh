#!/usr/bin/env bash
# test_up_checks.sh BIN_DIR — `weft up` tells the truth: what would keep a node from working makes it exit 1
# at once (under 3 s) naming the problem, instead of "started" and a service restarting in a loop:
#   - not root and no CAP_NET_ADMIN (weft run as nobody);
#   - the TUN device's name taken by another interface;
#   - api.listen taken by another program;
#   - the mesh's network overlapping a running node's route, or an address of the host;
#   - an empty or malformed hub key, or another hub's key (the hub closes the CURVE handshake);
#   - a service crash-looping under `up --wait` (a router whose inbox cannot be bound): its error shown, and
#     `weft status` shows it too;
#   - the hub refusing the node (its address is in use): `up --wait` says so, and so does `weft status`.
# And scripts can rely on it: `up` when up and `down` when down exit 0; `status` covers every mesh of a home.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_up_checks.sh BIN_DIR}"
W="$BIN/weft"
lab_switch
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_host c 10.99.0.3/24

# new_home NAME ADDRESS [weft init args]: a node home (not started)
new_home() {
  local home="$LAB_DIR/$1" address=$2
  shift 2
  "$W" init --home "$home" --name "$(basename "$home")" --address "$address" --hub "$HUB_ENDPOINT" \
    --hub-key "$HUB_KEY" "$@" >/dev/null 2>&1 || lab_fail "weft init $home failed"
  LAB_HOMES+=("$home")
}

# refused WHAT PATTERN COMMAND...: exit 1 in under 3 s, PATTERN in the output, no node left running
refused() {
  local what=$1 pattern=$2
  shift 2
  local t0 rc=0 out ms
  t0=$(date +%s%N)
  out=$("$@" 2>&1) || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ $rc -eq 1 ] || lab_fail "$what: exit $rc, want 1: $out"
  grep -qE -- "$pattern" <<<"$out" || lab_fail "$what: no '$pattern' in: $out"
  [ $ms -lt 3000 ] || lab_fail "$what: took $ms ms, want under 3000"
  lab_log "$what: exit 1 in $ms ms: $(grep -E -- "$pattern" <<<"$out" | head -1)"
}
not_running() { [ ! -f "$1/run/weft.pid" ] || ! kill -0 "$(cat "$1/run/weft.pid")" 2>/dev/null || lab_fail "$2 started a node"; }

# 1. not root: nobody's own home, in a directory nobody may enter
new_home nobody 10.100.0.20/16
chmod 711 "$LAB_DIR"
chown -R nobody "$LAB_DIR/nobody"
refused "non-root up" "needs root or CAP_NET_ADMIN" \
  lab_exec c setpriv --reuid=nobody --regid=nogroup --clear-groups "$W" up --home "$LAB_DIR/nobody" --wait 6
not_running "$LAB_DIR/nobody" "non-root up"

# 2. the TUN device's name is another interface's
new_home busytun 10.100.0.21/16
lab_exec c ip link add weft0 type bridge
refused "busy TUN name" "interface named weft0 already exists" lab_exec c "$W" up --home "$LAB_DIR/busytun"
not_running "$LAB_DIR/busytun" "busy TUN up"
lab_exec c ip link del weft0

# 3. api.listen is taken by another program
ip netns exec "$(lab_ns c)" python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 7401)); s.listen(); time.sleep(60)' &
listener=$!
LAB_PIDS+=("$listener")
lab_wait 20 "a listener on 7401" lab_exec c bash -c 'ss -ltn | grep -q 127.0.0.1:7401'
refused "busy API port" "api.listen 127.0.0.1:7401 is already taken" lab_exec c "$W" up --home "$LAB_DIR/busytun"
not_running "$LAB_DIR/busytun" "busy API port up"
kill "$listener"
wait "$listener" 2>/dev/null || true

# 4. the mesh's network overlaps a running node's (alpha's weft0 has 10.100.0.0/16), or an address here
new_home overlap 10.100.0.9/16
sed -i 's/name: "weft0"/name: "weft1"/' "$LAB_DIR/overlap/weft.yaml"
printf 'api:\n  listen: "127.0.0.1:7411"\n' >>"$LAB_DIR/overlap/weft.yaml"
refused "overlapping route" "overlaps the route to 10.100.0.0/16 on weft0" lab_exec alpha "$W" up --home "$LAB_DIR/overlap"
not_running "$LAB_DIR/overlap" "overlapping up"
new_home overaddr 10.102.0.1/16
lab_exec c ip addr add 10.102.3.3/32 dev lo
refused "overlapping address" "already has the address 10.102.3.3 \(on lo\)" lab_exec c "$W" up --home "$LAB_DIR/overaddr"
lab_exec c ip addr del 10.102.3.3/32 dev lo

# 5. the hub's key: empty, or not a key
new_home nokey 10.100.0.22/16
sed -i 's/public_key: .*/public_key: ""/' "$LAB_DIR/nokey/weft.yaml"
refused "empty hub key" "hub.public_key in .* is empty" lab_exec c "$W" up --home "$LAB_DIR/nokey"
sed -i 's/public_key: .*/public_key: "not-a-key"/' "$LAB_DIR/nokey/weft.yaml"
refused "malformed hub key" "hub.public_key" lab_exec c "$W" up --home "$LAB_DIR/nokey"
not_running "$LAB_DIR/nokey" "bad hub key up"
sed -i "s/public_key: .*/public_key: \"$(python3 -c 'import os; print(os.urandom(32).hex())')\"/" "$LAB_DIR/nokey/weft.yaml"
refused "another hub's key" "closes every CURVE handshake: hub.public_key" lab_exec c "$W" up --home "$LAB_DIR/nokey"
not_running "$LAB_DIR/nokey" "wrong hub key up"

# 6. a service that crash-loops fails `up --wait` at once with its error; `status` shows it
new_home crash 10.100.0.23/16
export WEFT_ENDPOINTS_ROUTER=ipc:///nonexistent-dir/router.inbox
refused "crash loop under --wait" "router keeps failing .*cannot bind" \
  lab_exec c "$W" up --home "$LAB_DIR/crash" --wait 20
out=$(lab_exec c "$W" status --home "$LAB_DIR/crash" 2>&1) && lab_fail "status of a crash-looping node: exit 0"
grep -qE "router +restarted [0-9]+ times; last error: .*cannot bind" <<<"$out" || lab_fail "status shows no router error: $out"
json=$(lab_exec c "$W" status --home "$LAB_DIR/crash" --json) || true
python3 -c '
import json, sys
s = {x["service"]: x for x in json.load(sys.stdin)["services"]}
sys.exit(0 if s["router"]["restarts"] >= 2 and "cannot bind" in s["router"]["last_error"] else 1)' <<<"$json" ||
  lab_fail "status --json shows no router error: $json"
unset WEFT_ENDPOINTS_ROUTER
lab_exec c "$W" down --home "$LAB_DIR/crash" >/dev/null

# 7. idempotent: up when up and down when down exit 0 with one line
out=$(lab_exec c "$W" up --home "$LAB_DIR/crash" 2>&1) || lab_fail "up: $out"
out=$(lab_exec c "$W" up --home "$LAB_DIR/crash" --json 2>&1) || lab_fail "up when up: exit $?: $out"
grep -q "already running" <<<"$out" || lab_fail "up when up: $out"
grep -q '"already_running":true' <<<"$out" || lab_fail "up --json when up: $out"
lab_exec c "$W" down --home "$LAB_DIR/crash" >/dev/null || lab_fail "down failed"
out=$(lab_exec c "$W" down --home "$LAB_DIR/crash" 2>&1) || lab_fail "down when down: exit $?: $out"
grep -q "not running" <<<"$out" || lab_fail "down when down: $out"

# 8. the hub refuses a node whose address alpha has: `up --wait` says so at once, and so does status
new_home twin 10.100.0.1/16
refused "address in use at the hub" "refuses this node: address 10.100.0.1 in use" \
  lab_exec c "$W" up --home "$LAB_DIR/twin" --wait 20
out=$(lab_exec c "$W" status --home "$LAB_DIR/twin" 2>&1) || true
grep -q "refused: address 10.100.0.1 in use" <<<"$out" || lab_fail "status does not show the refusal: $out"
lab_exec c "$W" down --home "$LAB_DIR/twin" >/dev/null

# 9. status on a home with two meshes shows both (not "choose one", exit 2)
for m in m1 m2; do
  mkdir -p "$LAB_DIR/multi/meshes"
  "$W" init --home "$LAB_DIR/multi/meshes/$m" --mesh "$m" --address 10.10$((${m#m} + 4)).0.1/16 --hub "$HUB_ENDPOINT" \
    --hub-key "$HUB_KEY" >/dev/null 2>&1 || lab_fail "init $m"
done
rc=0
out=$("$W" status --home "$LAB_DIR/multi" 2>&1) || rc=$?
[ $rc -eq 1 ] || lab_fail "status of two stopped meshes: exit $rc, want 1 (not running)"
grep -q "== mesh m1 ==" <<<"$out" && grep -q "== mesh m2 ==" <<<"$out" || lab_fail "status did not cover both: $out"
json=$("$W" status --home "$LAB_DIR/multi" --json 2>/dev/null) || true
python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if [m["mesh"] for m in d] == ["m1", "m2"] else 1)' <<<"$json" ||
  lab_fail "status --json is not an array of both meshes: $json"
lab_log "PASS"
