#!/usr/bin/env bash
# test_durability.sh BIN_DIR — what a Redis crash may lose (docs/state.md), in network namespaces:
#   1. the hub's Redis is killed with -9 right after a mesh create, a join, the last use of an invite and a
#      kick: after its restart the mesh, the member and its address, the used-up invite and the revocation
#      are all there (appendfsync always: on disk before the hub answers), and the used invite stays used.
#   2. a node's Redis is killed with -9: its routes, peers, verified members and revocations are there at
#      once (append-only file).
#   3. a node's Redis comes back empty (FLUSHALL, then kill -9): the owners notice the new run_id and write
#      routes, peers, weft:verified and weft:revoked again within 5 s.
#   4. a node's nat restarts while the hub is down: it resumes the path with the description it kept
#      (weft:remote:<id>), selecting the old pair at once, and traffic is back within 5 s.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_durability.sh BIN_DIR}"
W="$BIN/weft"
# on failure, also the logs of the mesh instances (the lab shows those of the homes it made)
show_instance_logs() {
  local f
  for f in "$LAB_DIR"/*/meshes/*/log/{nat,discovery,router,crypto,redis}.log; do
    [ -f "$f" ] && { echo "---- $f (last 15 lines)"; tail -n 15 "$f"; } >&2
  done
}
trap 'rc=$?; [ $rc -ne 0 ] && show_instance_logs; (exit $rc); lab_cleanup' EXIT

lab_switch
lab_hub hub 10.99.0.1
HUB=10.99.0.1:7400
HUBHOME=$(lab_home hub)
lab_wait 20 "the hub's redis" test -S "$HUBHOME/run/redis.sock"
hub_redis() { redis-cli -s "$HUBHOME/run/redis.sock" "$@"; }

A=$(lab_home alpha); B=$(lab_home beta); G=$(lab_home gamma)
lab_host alpha 10.99.0.2/24
lab_host beta 10.99.0.3/24
lab_host gamma 10.99.0.4/24

up() {
  local home; home=$(lab_home "$1")
  for d in "$home"/meshes/*/; do LAB_HOMES+=("${d%/}"); done
  lab_exec "$1" "$W" up --home "$home" || lab_fail "weft up $1 failed"
}
node_hex() { "$W" id --home "$(lab_home "$1")" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
mesh_id_of() { "$W" mesh list --home "$(lab_home "$1")" --json | python3 -c '
import json, sys
print([m["id"] for m in json.load(sys.stdin) if m["name"] == sys.argv[1]][0])' "$2"; }
ping_ok() { lab_exec "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }

# kill9_redis HOME: kill -9 the redis-server of a node instance or hub, wait until its supervisor has
# started a new one that answers. Prints the seconds that took.
kill9_redis() {
  local home=$1 pid new t0
  pid=$(cat "$home/run/redis.pid")
  t0=$(date +%s.%N)
  kill -9 "$pid"
  local deadline=$((SECONDS + 10))
  while :; do
    new=$(cat "$home/run/redis.pid" 2>/dev/null || true)
    if [ -n "$new" ] && [ "$new" != "$pid" ] && redis-cli -s "$home/run/redis.sock" PING 2>/dev/null | grep -q PONG; then
      break
    fi
    [ $SECONDS -ge $deadline ] && lab_fail "redis in $home did not come back within 10 s"
    sleep 0.05
  done
  python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')"
}

lab_log "1. the hub's Redis, killed with -9 right after each write the hub acknowledged"
lab_exec alpha "$W" mesh create --home "$A" --name office --hub "$HUB" --hub-key "$HUB_KEY" --psk \
  --node-name alpha >/dev/null || lab_fail "mesh create failed"
OFFICE=$(mesh_id_of alpha office)
lab_log "hub redis back $(kill9_redis "$HUBHOME") s after kill -9 (right after mesh create)"
[ "$(hub_redis EXISTS "hub:net:$OFFICE")" = 1 ] || lab_fail "the mesh created just before the kill is gone"
up alpha
lab_wait 20 "alpha registered" bash -c "'$W' status --home '$A' --json | grep -q registered"

code=$(lab_exec alpha "$W" mesh invite --home "$A" --uses 2) || lab_fail "mesh invite failed"
lab_exec beta "$W" mesh join "$code" --home "$B" --node-name beta >/dev/null || lab_fail "beta could not join"
BETA=$(node_hex beta)
lab_log "hub redis back $(kill9_redis "$HUBHOME") s after kill -9 (right after beta's join)"
[ "$(hub_redis SISMEMBER "hub:net:$OFFICE:roster" "$BETA")" = 1 ] || lab_fail "beta's join is gone from the roster"
[ "$(hub_redis HGET "hub:net:$OFFICE:addrs" 10.100.0.2)" = "$BETA" ] || lab_fail "beta's address allocation is gone"
uses=$(for k in $(hub_redis --scan --pattern 'hub:invite:*'); do hub_redis HGET "$k" uses; done)
[ "$uses" = 1 ] || lab_fail "the invite's use count is '$uses' after the kill (want 1 left)"

lab_exec gamma "$W" mesh join "$code" --home "$G" --node-name gamma >/dev/null || lab_fail "gamma could not join"
GAMMA=$(node_hex gamma)
lab_log "hub redis back $(kill9_redis "$HUBHOME") s after kill -9 (right after the invite's last use)"
[ "$(hub_redis SISMEMBER "hub:net:$OFFICE:roster" "$GAMMA")" = 1 ] || lab_fail "gamma's join is gone"
rc=0; out=$(lab_exec gamma "$W" mesh join "$code" --home "$LAB_DIR/again" --node-name again 2>&1) || rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -qi "used up" || lab_fail "the used-up invite worked again after the kill: $out"

up beta
up gamma
lab_wait 40 "alpha to ping beta" ping_ok alpha 10.100.0.2
lab_wait 40 "alpha to ping gamma" ping_ok alpha 10.100.0.3
lab_exec alpha "$W" mesh kick "$GAMMA" --home "$A" --mesh office >/dev/null || lab_fail "kick failed"
lab_log "hub redis back $(kill9_redis "$HUBHOME") s after kill -9 (right after the kick)"
[ "$(hub_redis HEXISTS "hub:net:$OFFICE:revoked" "$GAMMA")" = 1 ] || lab_fail "the revocation is gone from the hub"
[ "$(hub_redis SISMEMBER "hub:net:$OFFICE:roster" "$GAMMA")" = 0 ] || lab_fail "gamma is back on the roster"
lab_log "create, join, last invite use and kick all survived kill -9 of the hub's Redis"

AI="$A/meshes/office"
node_redis() { redis-cli -s "$AI/run/redis.sock" "$@"; }
lab_wait 20 "alpha to keep gamma's revocation" bash -c "[ \"\$(redis-cli -s '$AI/run/redis.sock' SISMEMBER weft:revoked $GAMMA)\" = 1 ]"
lab_wait 20 "alpha's route to beta" bash -c "[ \"\$(redis-cli -s '$AI/run/redis.sock' HGET weft:route:10.100.0.2 peer)\" = $BETA ]"
"$W" verify beta --home "$A" --yes >/dev/null 2>&1 || lab_fail "weft verify beta failed"
[ "$(node_redis SISMEMBER weft:verified "$BETA")" = 1 ] || lab_fail "verify did not mark beta"

# node_state_back: alpha's Redis holds the route to beta, the peer list, beta verified, gamma revoked
node_state_back() {
  [ "$(node_redis HGET weft:route:10.100.0.2 peer)" = "$BETA" ] &&
    [ "$(node_redis SISMEMBER weft:routes 10.100.0.2)" = 1 ] &&
    [ "$(node_redis EXISTS weft:peers)" = 1 ] &&
    [ "$(node_redis SISMEMBER weft:verified "$BETA")" = 1 ] &&
    [ "$(node_redis SISMEMBER weft:revoked "$GAMMA")" = 1 ]
}

lab_log "2. alpha's Redis killed with -9"
back=$(kill9_redis "$AI")
node_state_back || lab_fail "alpha's routes, peers, verified or revoked are missing right after the restart"
lab_log "alpha's redis back in $back s with routes, peers, verified and revoked all there"

lab_log "3. alpha's Redis comes back empty"
node_redis FLUSHALL >/dev/null
back=$(kill9_redis "$AI")
t0=$(date +%s.%N)
lab_wait 5 "alpha's owners to rewrite their keys" node_state_back
lab_log "alpha's redis back empty in $back s; routes, peers, verified, revoked rewritten $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s later"
ping_ok alpha 10.100.0.2 || lab_fail "alpha no longer reaches beta"

lab_log "4. alpha's nat restarts while the hub is down"
"$W" down --home "$HUBHOME" >/dev/null || lab_fail "weft down of the hub failed"
sleep 1
[ -n "$(node_redis --scan --pattern 'weft:remote:*')" ] || lab_fail "alpha kept no remote candidates"
since=$(($(wc -l <"$AI/log/nat.log") + 1))   # the restarted nat's lines start here
kill -9 "$(lab_service_pid alpha/meshes/office nat)"
t0=$(date +%s.%N)
lab_wait 5 "alpha to reach beta again with the hub down" ping_ok alpha 10.100.0.2
lab_log "alpha reaches beta $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s after kill -9 of its nat, hub down"
lab_wait 5 "alpha's restarted nat to log the resumed path" bash -c "tail -n +$since '$AI/log/nat.log' | grep -q 'resumed in'"
tail -n "+$since" "$AI/log/nat.log" | grep -q "selected the resumed pair" ||
  lab_fail "alpha's restarted nat did not select the resumed pair at once"
lab_log "alpha's $(tail -n "+$since" "$AI/log/nat.log" | grep -o "nat: peer .*resumed in [0-9]* ms.*")"
