#!/usr/bin/env bash
# test_readme_nat.sh BIN_DIR — README's "Using it" (an open mesh), done as written, across NATs with only
# the hub: the hub runs on a public address of the NAT lab (tests/lib/natlab.sh), two members each sit
# behind their own port-restricted-cone NAT (nftables masquerade), and nobody configures a STUN or TURN
# server. The hub answers STUN itself (hub.stun_port, default 3478) and tells its members so in every
# PeerList; each node must log that it uses the hub's STUN server, its path to the other must use a
# server-reflexive candidate whose address is its NAT's public one (only the hub's STUN can have told it),
# and `ping` over the overlay must work. With host candidates only (no STUN) these two never connect.
# `weft network` and GET /api/v1/network probe the NAT with the hub's STUN server too.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_readme_nat.sh BIN_DIR}"
W="$BIN/weft"
start=$SECONDS

natlab_router ra port
natlab_router rb port
natlab_host ha ra
natlab_host hb rb

# "weft hub --home /var/lib/weft-hub --listen tcp://0.0.0.0:7400      # on a reachable host", with --open
# for an open mesh; "weft hub key --home /var/lib/weft-hub"
_natlab_ns hub
hub_ns=$NATLAB_NS
_natlab_uplink "$hub_ns" 2
hub_home="$LAB_DIR/hub"
LAB_HOMES+=("$hub_home")
unset WEFT_HUB_OPEN_MESHES   # the README's flag, not the lab's environment
ip netns exec "$hub_ns" "$W" hub --home "$hub_home" --listen tcp://0.0.0.0:7400 --open || lab_fail "weft hub failed to start"
KEY=$("$W" hub key --home "$hub_home") || lab_fail "weft hub key failed"
HUB=$NATLAB_HUB_IP
lab_wait 10 "the hub's STUN server" bash -c "ip netns exec $hub_ns ss -Hlun | grep -q '0.0.0.0:3478 '"

# "weft init --address 10.100.0.2/16 --hub tcp://HUB:7400 --hub-key KEY   # on each member", "weft up"
# (each with its own --home: README's "Several nodes can run on one machine")
declare -A ADDR=([alpha]=10.100.0.2 [beta]=10.100.0.3) HOST=([alpha]=ha [beta]=hb) ROUTER=([alpha]=ra [beta]=rb)
for n in alpha beta; do
  home="$LAB_DIR/$n"
  LAB_HOMES+=("$home")
  "$W" init --home "$home" --address "${ADDR[$n]}/16" --hub "tcp://$HUB:7400" --hub-key "$KEY" >/dev/null ||
    lab_fail "weft init $n failed"
  grep -qx "  stun_servers: \[\]" "$home/weft.yaml" && grep -qx "  turn_servers: \[\]" "$home/weft.yaml" ||
    lab_fail "$n: weft init wrote a STUN or TURN server of its own"
  lab_exec "${HOST[$n]}" "$W" up --home "$home" || lab_fail "weft up $n failed"
done

failures=0
fail() { lab_log "FAIL: $*"; failures=$((failures + 1)); }

for n in alpha beta; do
  lab_wait 15 "$n to take the hub's STUN server" grep -q "STUN server from the hub: $HUB:3478" "$LAB_DIR/$n/log/nat.log"
done

# "weft peers": each sees the other connected
other() { [ "$1" = alpha ] && echo beta || echo alpha; }
for n in alpha beta; do
  lab_wait 30 "$n to connect to $(other "$n")" lab_peer_connected "$n" "${ADDR[$(other "$n")]}"
done
for n in alpha beta; do
  lab_exec "${HOST[$n]}" "$W" peers --home "$LAB_DIR/$n" || fail "weft peers on $n exited $?"
done

# the path: a server-reflexive candidate with the NAT's public address, which only the hub's STUN knew
for n in alpha beta; do
  read -r state local_type local_addr < <("$W" peers --home "$LAB_DIR/$n" --json | python3 -c '
import json, sys
p = json.load(sys.stdin)[0]["path"]
print(p["state"], p["local_type"] or "-", p["local_addr"] or "-")')
  wan=$(natlab_wan_ip "${ROUTER[$n]}")
  lab_log "$n: path $state, local candidate $local_type $local_addr (its NAT's public address is $wan)"
  [ "$local_type" = srflx ] || fail "$n: the path's local candidate is '$local_type', not srflx"
  [ "${local_addr%:*}" = "$wan" ] || fail "$n: the srflx candidate $local_addr is not on the NAT's address $wan"
done
grep -q "STUN: answering Binding requests on UDP 0.0.0.0:3478" "$hub_home/log/hub.log" ||
  fail "the hub did not log its STUN server"
answered=$(redis-cli -s "$hub_home/run/redis.sock" HGET hub:stats stun_answered)
lab_log "the hub answered $answered STUN request(s)"
[ "${answered:-0}" -ge 2 ] || fail "the hub answered ${answered:-0} STUN requests (want one from each node at least)"

# "ping 10.100.0.3", and back
lab_exec ha ping -c 3 -i 0.2 -W 2 "${ADDR[beta]}" >/dev/null || fail "ping alpha -> beta over the overlay"
lab_exec hb ping -c 3 -i 0.2 -W 2 "${ADDR[alpha]}" >/dev/null || fail "ping beta -> alpha over the overlay"

# "weft network" and GET /api/v1/network with no STUN server configured: the hub's, at the port it told,
# and the NAT's public address (its type stays "unknown": the hub's STUN has one address, no RFC 5780)
wan=$(natlab_wan_ip ra)
out=$(lab_exec ha "$W" network --home "$LAB_DIR/alpha" --timeout 500) || fail "weft network on alpha exited $?"
printf '%s\n' "$out" | sed 's/^/  weft network: /'
grep -Eq "^public +$wan:[0-9]+$" <<<"$out" || fail "weft network on alpha: no public address on $wan"
grep -Eq "^server +$HUB:3478 " <<<"$out" && grep -Eq "^stun +the hub's STUN server" <<<"$out" &&
  grep -Eq "^nat type .*\(behind a NAT\)" <<<"$out" || fail "weft network on alpha does not name the hub's STUN server"
api=$(lab_exec ha curl -s --max-time 5 http://127.0.0.1:7401/api/v1/network) || fail "GET /api/v1/network on alpha"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["stun_servers"] == [sys.argv[2] + ":3478"] and d["stun_from_hub"] is True, d
p = d["probe"]
assert p["available"] and p["answered"] and p["result"]["behind_nat"], p
assert p["result"]["public_address"].startswith(sys.argv[3] + ":"), p
' "$api" "$HUB" "$wan" || fail "GET /api/v1/network on alpha does not probe the hub's STUN server: $api"

[ $failures -eq 0 ] || lab_fail "$failures check(s) failed"
lab_log "PASS: README's \"Using it\" across two NATs with only the hub, in $((SECONDS - start)) s"
