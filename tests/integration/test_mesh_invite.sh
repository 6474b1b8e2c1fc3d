#!/usr/bin/env bash
# test_mesh_invite.sh BIN_DIR — meshes with an admin, end to end with the real CLI, hub and nodes in
# network namespaces (docs/membership.md):
#   1. alpha creates mesh "office" (with a psk) and invites; beta and gamma join with one 2-use code and
#      all three ping each other.
#   2. bad invites - tampered, truncated, garbage, expired, reused, a wrong hub key (mesh create) - each
#      fail with a clear message, write no instance and leave the hub's roster as it was.
#   3. 20 concurrent `weft mesh join` with one single-use code: exactly one member.
#   4. two meshes on one node: beta creates "lab" (10.101.0.0/16), alpha joins it too; alpha runs both
#      (weft0 and weft1) and pings in both.
#   5. alpha kicks gamma: gamma is cut off within 5 s (measured from the kick), the others keep pinging.
#   6. a room (--ttl 15) disappears from the hub by itself; its code then fails clearly; a room on a
#      network another mesh of the node uses is refused.
#   7. with the admin down, a join says no admin is online and its use is given back.
#   8. a member leaves for good (roster and instance gone); the admin cannot without --force.
#   9. an invite naming a hub key the (re-keyed) hub no longer has fails clearly, changing nothing.
# Also: weft verify shows the same SAS on both sides and marks the member verified in weft peers; the hub
# key pasted unquoted into bash works (64 hex) and the old Z85 form is still accepted; --json on create,
# invite, join, kick and verify; 5b. `weft mesh members` lists offline and kicked members, and kick by name
# and by fingerprint works for members that were never online; 5c. `weft mesh routes allow|deny|list`: the
# admin's allow list of subnet routes reaches the members' PeerLists, bad requests are refused with why.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_mesh_invite.sh BIN_DIR}"
W="$BIN/weft"

lab_switch
lab_hub hub 10.99.0.1
HUB=10.99.0.1:7400
lab_wait 20 "the hub's redis" test -S "$(lab_home hub)/run/redis.sock"
hub_redis() { redis-cli -s "$(lab_home hub)/run/redis.sock" "$@"; }

A=$(lab_home alpha); B=$(lab_home beta); G=$(lab_home gamma)
lab_host alpha 10.99.0.2/24
lab_host beta 10.99.0.3/24
lab_host gamma 10.99.0.4/24
lab_host crowd 10.99.0.5/24

# up NAME [MESH]: start a node's meshes (all, or one), remembering the instance homes for the cleanup
up() {
  local home; home=$(lab_home "$1")
  for d in "$home"/meshes/*/; do LAB_HOMES+=("${d%/}"); done
  lab_exec "$1" "$W" up --home "$home" ${2:+--mesh "$2"} || lab_fail "weft up $1 ${2:-} failed"
}
node_hex() { "$W" id --home "$(lab_home "$1")" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
mesh_id_of() { "$W" mesh list --home "$(lab_home "$1")" --json | python3 -c '
import json, sys
print([m["id"] for m in json.load(sys.stdin) if m["name"] == sys.argv[1]][0])' "$2"; }
ping_ok() { lab_exec "$1" ping -c 3 -i 0.2 -W 2 "$2" >/dev/null 2>&1; }

lab_log "1. alpha creates mesh office and is its admin (the hub key pasted unquoted, as the README shows it)"
[[ $HUB_KEY =~ ^[0-9a-f]{64}$ ]] || lab_fail "weft hub key printed '$HUB_KEY', not 64 hex characters"
out=$(lab_exec alpha bash -c "$W mesh create --home $A --name office --hub $HUB --hub-key $HUB_KEY --psk \
      --node-name alpha --json") || lab_fail "mesh create failed: $out"
echo "$out"
# (grep, not python: python starts in about a second on a busy machine)
for f in '"mesh":"office"' '"address":"10.100.0.1/16"' '"role":"admin"' '"id":"[0-9a-f]{32}"' '"network_key":true'; do
  grep -Eq "$f" <<<"$out" || lab_fail "mesh create --json has no $f: $out"
done
grep -q "public_key: \"$HUB_KEY\"" "$A/meshes/office/weft.yaml" || lab_fail "the hub key was not written in hex"
[ -f "$A/meshes/office/weft.yaml" ] && [ -f "$A/meshes/office/member.cert" ] || lab_fail "no instance written"
grep -q 'address: "10.100.0.1/16"' "$A/meshes/office/weft.yaml" || lab_fail "admin did not get 10.100.0.1"
OFFICE=$(mesh_id_of alpha office)
up alpha
lab_wait 20 "alpha registered" bash -c "'$W' status --home '$A' --json | grep -q registered"

code=$(lab_exec alpha "$W" mesh invite --home "$A" --uses 2) || lab_fail "mesh invite failed"
# what people paste: weft1- and lower-case base32, nothing a shell would read (the hub key: 64 hex, above)
[[ "$code" =~ ^weft1-[a-z2-7]+$ ]] || lab_fail "invite code '$code' is not weft1- and base32 (shell-safe)"
lab_log "invite: ${code:0:40}... (${#code} chars)"
t0=$(date +%s.%N)
lab_exec beta "$W" mesh join "$code" --home "$B" --node-name beta || lab_fail "beta could not join"
lab_log "beta's weft mesh join took $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s (CLI start to certificate written)"
lab_exec gamma "$W" mesh join "$code" --home "$G" --node-name gamma || lab_fail "gamma could not join"
grep -q 'address: "10.100.0.2/16"' "$B/meshes/office/weft.yaml" || lab_fail "beta's address is not 10.100.0.2"
grep -q 'address: "10.100.0.3/16"' "$G/meshes/office/weft.yaml" || lab_fail "gamma's address is not 10.100.0.3"
psk=$(grep network_key "$A/meshes/office/weft.yaml")
[ -n "$psk" ] && [ "$psk" = "$(grep network_key "$B/meshes/office/weft.yaml")" ] || lab_fail "beta did not get the psk"
[ "$(hub_redis SCARD "hub:net:$OFFICE:roster")" = 3 ] || lab_fail "the hub's roster is not 3 members"
# the hub never holds the psk
hub_redis --scan | while read -r k; do hub_redis DUMP "$k"; done | grep -q "${psk:20:20}" && lab_fail "psk on the hub"
up beta
up gamma
for pair in "alpha 10.100.0.2" "alpha 10.100.0.3" "beta 10.100.0.3" "gamma 10.100.0.1"; do
  set -- $pair
  lab_wait 40 "$1 to ping $2" ping_ok "$1" "$2"
done
lab_log "alpha, beta and gamma ping each other in office"

lab_log "weft verify: both sides show the same digits; alpha marks beta verified"
lab_wait 20 "beta in alpha's member list" bash -c "'$W' peers --home '$A' --json | grep -q '\"beta\"'"
lab_wait 20 "alpha in beta's member list" bash -c "'$W' peers --home '$B' --json | grep -q '\"alpha\"'"
sas_a=$("$W" verify beta --home "$A" --yes 2>/dev/null) || lab_fail "weft verify beta on alpha failed"
sas_b=$("$W" verify alpha --home "$B" </dev/null 2>/dev/null) || lab_fail "weft verify alpha on beta failed"
[[ "$sas_a" =~ ^[0-9]{3}\ [0-9]{3}$ ]] && [ "$sas_a" = "$sas_b" ] || lab_fail "SAS differ or malformed: '$sas_a' '$sas_b'"
sas_g=$("$W" verify gamma --home "$A" </dev/null 2>/dev/null)
[ "$sas_g" != "$sas_a" ] || lab_fail "the SAS with gamma equals the one with beta"
"$W" peers --home "$A" --json | python3 -c '
import json, sys
v = {p["name"]: p["verified"] for p in json.load(sys.stdin)}
sys.exit(0 if v.get("beta") is True and v.get("gamma") is False else 1)' || lab_fail "weft peers does not show beta (only) verified"
"$W" peers --home "$A" | grep -q "beta: verified" || lab_fail "weft peers' table does not say beta is verified"
out=$("$W" verify beta --home "$A" --yes --json 2>/dev/null) || lab_fail "weft verify --json failed"
grep -q "\"sas\":\"$sas_a\"" <<<"$out" && grep -q '"verified":true' <<<"$out" || lab_fail "weft verify --json: $out"
lab_log "SAS $sas_a on both sides; beta verified on alpha"

lab_log "2. bad invites fail clearly and change nothing"
code1=$(lab_exec alpha "$W" mesh invite --home "$A") || lab_fail "invite failed"
roster_before=$(hub_redis SCARD "hub:net:$OFFICE:roster")
# bad_join NAME CODE EXPECTED_MESSAGE_PART: a join from crowd member NAME must fail with that message
bad_join() {
  local home="$LAB_DIR/crowd/$1" out rc=0
  out=$(lab_exec crowd "$W" mesh join "$2" --home "$home" 2>&1) || rc=$?
  [ $rc -eq 1 ] || lab_fail "$1: exit $rc (want 1): $out"
  echo "$out" | grep -qi -- "$3" || lab_fail "$1: message '$out' does not say '$3'"
  [ ! -d "$home/meshes/office" ] || lab_fail "$1: an instance was written"
  [ "$(hub_redis SCARD "hub:net:$OFFICE:roster")" = "$roster_before" ] || lab_fail "$1: the roster changed"
  lab_log "$1: $(echo "$out" | tail -1)"
}
mkdir -p "$LAB_DIR/crowd"
mid=$(( ${#code1} / 2 ))
c=${code1:$mid:1}; [ "$c" = a ] && r=b || r=a
bad_join tampered "${code1:0:$mid}$r${code1:$((mid + 1))}" "typo"
bad_join truncated "${code1:0:$(( ${#code1} - 7 ))}" "code"
bad_join garbage "hello-this-is-not-a-code" "invite"
short=$(lab_exec alpha "$W" mesh invite --home "$A" --seconds 2) || lab_fail "short invite failed"
sleep 3
bad_join expired "$short" "expired"
out=$(lab_exec crowd "$W" mesh join "$code1" --home "$LAB_DIR/crowd/first" --node-name upper --json 2>/dev/null) ||
  lab_fail "a fresh code did not work"
grep -q '"role":"member"' <<<"$out" && grep -q '"address":"10.100.0.' <<<"$out" || lab_fail "mesh join --json: $out"
roster_before=$(hub_redis SCARD "hub:net:$OFFICE:roster")
bad_join reused "$code1" "used up"
rc=0
out=$(lab_exec alpha "$W" mesh create --home "$LAB_DIR/crowd/wrongkey" --name other --hub "$HUB" \
      --hub-key "0000000000000000000000000000000000000000" 2>&1) || rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "hub key" || lab_fail "wrong hub key: exit $rc: $out"
[ ! -d "$LAB_DIR/crowd/wrongkey/meshes/other" ] || lab_fail "wrong hub key: an instance was written"
lab_log "wrong hub key: $out"

lab_log "3. 20 concurrent joins with one single-use code"
out=$(lab_exec alpha "$W" mesh invite --home "$A" --json) || lab_fail "invite failed"
single=$(sed -n 's/.*"code":"\(weft1-[^"]*\)".*/\1/p' <<<"$out")
[ -n "$single" ] && grep -q '"uses":1' <<<"$out" || lab_fail "mesh invite --json: $out"
roster_before=$(hub_redis SCARD "hub:net:$OFFICE:roster")
pids=()
for i in $(seq 1 20); do
  lab_exec crowd "$W" mesh join "$single" --home "$LAB_DIR/crowd/c$i" >"$LAB_DIR/crowd/c$i.out" 2>&1 &
  pids+=($!)
done
ok=0
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)) || true; done
written=$(ls -d "$LAB_DIR"/crowd/c*/meshes/office 2>/dev/null | wc -l)
roster_after=$(hub_redis SCARD "hub:net:$OFFICE:roster")
lab_log "20 concurrent joins: $ok succeeded, $written instances written, roster $roster_before -> $roster_after"
[ $ok -eq 1 ] && [ "$written" -eq 1 ] && [ "$roster_after" -eq $((roster_before + 1)) ] || {
  cat "$LAB_DIR"/crowd/c*.out; lab_fail "want exactly one member from a single-use code"; }
grep -l "used up" "$LAB_DIR"/crowd/c*.out | wc -l | grep -qx 19 || lab_fail "the 19 others were not told 'used up'"

lab_log "4. two meshes on one node: beta creates lab, alpha joins it as well"
# with the hub key in the old 40-character Z85 form: still accepted, written as hex
z85() {
  local a='0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#' out='' i v k
  for ((i = 0; i < 64; i += 8)); do
    v=$((16#${1:i:8}))
    for k in 52200625 614125 7225 85 1; do out+=${a:$((v / k % 85)):1}; done
  done
  echo "$out"
}
HUB_KEY_Z85=$(z85 "$HUB_KEY")
[ ${#HUB_KEY_Z85} -eq 40 ] || lab_fail "could not make the Z85 form of $HUB_KEY"
lab_exec beta "$W" mesh create --home "$B" --name lab --cidr 10.101.0.0/16 --hub "$HUB" --hub-key "$HUB_KEY_Z85" \
  --node-name beta >/dev/null || lab_fail "beta could not create lab with the Z85 hub key $HUB_KEY_Z85"
grep -q "public_key: \"$HUB_KEY\"" "$B/meshes/lab/weft.yaml" || lab_fail "the Z85 hub key was not written as hex"
up beta lab
lab_wait 20 "beta's lab registered" bash -c "'$W' status --home '$B' --mesh lab --json | grep -q registered"
labcode=$(lab_exec beta "$W" mesh invite --home "$B" --mesh lab) || lab_fail "lab invite failed"
lab_exec alpha "$W" mesh join "$labcode" --home "$A" --node-name alpha >/dev/null || lab_fail "alpha could not join lab"
grep -q 'name: "weft1"' "$A/meshes/lab/weft.yaml" || lab_fail "alpha's second mesh does not get weft1"
# its API port skips 7402, the hub API's default (a node that also runs a hub would clash)
grep -q '127.0.0.1:7403' "$A/meshes/lab/weft.yaml" || lab_fail "alpha's second mesh's API is not on 7403: $(grep -A1 '^api' "$A/meshes/lab/weft.yaml")"
lab_exec alpha "$W" down --home "$A" >/dev/null || lab_fail "weft down (every mesh) failed"
up alpha   # both meshes
lab_wait 20 "weft0 with office's address" bash -c "ip netns exec $(lab_ns alpha) ip -br addr show weft0 | grep -q 10.100.0.1"
lab_wait 20 "weft1 with lab's address" bash -c "ip netns exec $(lab_ns alpha) ip -br addr show weft1 | grep -q 10.101.0.2"
lab_wait 40 "alpha to ping beta in office" ping_ok alpha 10.100.0.2
lab_wait 40 "alpha to ping beta in lab" ping_ok alpha 10.101.0.1
lab_wait 40 "beta to ping alpha in lab" ping_ok beta 10.101.0.2
"$W" mesh list --home "$A"
rc=0; "$W" peers --home "$A" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || lab_fail "weft peers without --mesh on a node in two meshes: exit $rc, want 2"
"$W" peers --home "$A" --mesh lab | grep -q beta || lab_fail "weft peers --mesh lab does not list beta"
lab_log "alpha pings beta in office (weft0) and in lab (weft1)"

lab_log "a member taken off lab's roster by another process (as the hub's HTTP API does) is dropped by the next sweep (asserted: 4 s)"
LAB=$(mesh_id_of beta lab)
ALPHA=$(node_hex alpha)
lab_wait 10 "alpha in beta's lab member list" bash -c "'$W' peers --home '$B' --mesh lab --json | grep -q '\"alpha\"'"
hub_redis SREM "hub:net:$LAB:roster" "$ALPHA" >/dev/null
t0=$SECONDS
lab_wait 4 "beta's lab member list without alpha" bash -c "! '$W' peers --home '$B' --mesh lab --json | grep -q '\"alpha\"'"
lab_log "alpha left beta's lab member list $((SECONDS - t0)) s after leaving the roster"

lab_log "5. alpha kicks gamma"
lab_wait 40 "gamma to ping beta" ping_ok gamma 10.100.0.2
GAMMA=$(node_hex gamma)
lab_exec gamma ping -D -i 0.1 -W 1 10.100.0.2 >"$LAB_DIR/gamma-ping.txt" 2>&1 & gping=$!
LAB_PIDS+=($gping)
sleep 1
kick_at=$(date +%s.%N)
lab_exec alpha "$W" mesh kick "$GAMMA" --home "$A" --mesh office || lab_fail "kick failed"
sleep 7
kill "$gping" 2>/dev/null || true
last=$(grep -o '^\[[0-9.]*\] [0-9]* bytes from' "$LAB_DIR/gamma-ping.txt" | tail -1 | tr -d '[]' | cut -d' ' -f1)
[ -n "$last" ] || lab_fail "gamma's ping never got a reply (test is blind)"
cutoff=$(python3 -c "print(f'{max(0.0, $last - $kick_at):.2f}')")
lab_log "gamma's last reply from beta came $cutoff s after the kick"
python3 -c "import sys; sys.exit(0 if $last - $kick_at <= 5 else 1)" || lab_fail "gamma was not cut off within 5 s"
ping_ok gamma 10.100.0.1 && lab_fail "gamma still reaches alpha after the kick"
ping_ok alpha 10.100.0.2 || lab_fail "alpha no longer reaches beta after kicking gamma"
[ "$(hub_redis HEXISTS "hub:net:$OFFICE:revoked" "$GAMMA")" = 1 ] || lab_fail "the hub did not keep the revocation"
[ "$(hub_redis SISMEMBER "hub:net:$OFFICE:roster" "$GAMMA")" = 0 ] || lab_fail "gamma is still on the roster"
for n in alpha beta; do
  [ "$(redis-cli -s "$(lab_home $n)/meshes/office/run/redis.sock" SISMEMBER weft:revoked "$GAMMA")" = 1 ] \
    || lab_fail "$n's crypto did not keep gamma's revocation"
done

lab_log "5b. weft mesh members: the roster with offline and kicked members; offline members kicked by name and fingerprint"
WINNER=$(ls -d "$LAB_DIR"/crowd/c*/meshes/office | head -1); WINNER=${WINNER%/meshes/office}
fp_of() { "$W" id --home "$1" --json | grep -o '"fingerprint":"[0-9a-f-]*"' | cut -d'"' -f4; }
WINNER_FP=$(fp_of "$WINNER"); UPPER_FP=$(fp_of "$LAB_DIR/crowd/first")
t0=$EPOCHREALTIME
lab_exec alpha "$W" mesh members --home "$A" --mesh office
roster=$(lab_exec alpha "$W" mesh members --home "$A" --mesh office --json) || lab_fail "weft mesh members failed"
# one object per member, fields in a fixed order, no nesting: each regex stays inside one member
for want in '"name":"alpha"[^}]*"online":true[^}]*"admin":true,"self":true' \
            '"name":"beta"[^}]*"online":true,"last_seen_ms":[1-9][^}]*"verified":true' \
            '"name":"upper"[^}]*"address":"10\.100\.0\.[0-9]+","online":false,"last_seen_ms":0,[^}]*"revoked":false' \
            "\"name\":\"gamma\",[^}]*\"id\":\"$GAMMA\",\"address\":\"\",\"online\":false,\"last_seen_ms\":[1-9][^}]*\"revoked\":true" \
            "\"fingerprint\":\"$WINNER_FP\"[^}]*\"online\":false[^}]*\"revoked\":false"; do
  grep -Eq "$want" <<<"$roster" || lab_fail "the roster has no member like $want: $roster"
done
[ "$(grep -o '"fingerprint"' <<<"$roster" | wc -l)" = 5 ] || lab_fail "the roster does not have 5 entries: $roster"
out=$(lab_exec alpha "$W" mesh kick upper --home "$A" --mesh office --json) || lab_fail "kick of offline upper by name failed"
grep -q "\"fingerprint\":\"$UPPER_FP\"" <<<"$out" || lab_fail "mesh kick --json: $out (want $UPPER_FP)"
lab_exec alpha "$W" mesh kick "$WINNER_FP" --home "$A" --mesh office >/dev/null || lab_fail "kick by fingerprint failed"
roster=$(lab_exec alpha "$W" mesh members --home "$A" --mesh office --json) || lab_fail "weft mesh members failed"
for fp in "$UPPER_FP" "$WINNER_FP"; do   # one object per member, no nesting: the regex stays in it
  grep -Eq "\"fingerprint\":\"$fp\"[^}]*\"revoked\":true" <<<"$roster" || lab_fail "$fp is not revoked: $roster"
done
rc=0; out=$(lab_exec alpha "$W" mesh kick nobody --home "$A" --mesh office 2>&1) || rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "no member 'nobody' in mesh office" || lab_fail "kick nobody: exit $rc: $out"
lab_log "roster, two offline kicks and a refused one in $(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $t0 }") s"

lab_log "5c. weft mesh routes: the admin's allow list of subnet routes reaches every member's PeerList"
t0=$EPOCHREALTIME
A_PEERS="redis-cli -s $A/meshes/office/run/redis.sock GET weft:peers"   # a packed PeerList: strings as they are
lab_exec alpha "$W" mesh routes allow beta 192.168.50.0/24 --home "$A" --mesh office >/dev/null || lab_fail "routes allow failed"
out=$(lab_exec alpha "$W" mesh routes allow beta 10.20.0.0/16 --home "$A" --mesh office --json) || lab_fail "routes allow --json failed"
grep -q '"prefix":"10.20.0.0/16","allowed":true' <<<"$out" || lab_fail "routes allow --json: $out"
[ "$(hub_redis SCARD "hub:routes:$OFFICE")" = 2 ] || lab_fail "the hub does not keep 2 allowances: $(hub_redis SMEMBERS "hub:routes:$OFFICE")"
lab_wait 5 "beta's allowed routes in alpha's PeerList" bash -c "$A_PEERS | grep -aq 192.168.50.0/24"
out=$(lab_exec beta "$W" mesh routes list --home "$B" --mesh office --json) || lab_fail "routes list (a member) failed"
grep -q '"name":"beta",[^}]*"prefixes":\["10.20.0.0/16","192.168.50.0/24"\]' <<<"$out" || lab_fail "routes list: $out"
# refused, with the reason: host bits, a member asking, a key not on the roster, a deny of what was never allowed
rc=0; out=$(lab_exec alpha "$W" mesh routes allow beta 192.168.50.1/24 --home "$A" --mesh office 2>&1) || rc=$?
[ $rc -eq 2 ] && grep -q "no host bits" <<<"$out" || lab_fail "a prefix with host bits: exit $rc: $out"
rc=0; out=$(lab_exec beta "$W" mesh routes allow beta 192.168.60.0/24 --home "$B" --mesh office 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "only the admin" <<<"$out" || lab_fail "a member allowed a route: exit $rc: $out"
rc=0; out=$(lab_exec alpha "$W" mesh routes allow "$GAMMA" 192.168.60.0/24 --home "$A" --mesh office 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "no such member" <<<"$out" || lab_fail "a route for kicked gamma: exit $rc: $out"
rc=0; out=$(lab_exec alpha "$W" mesh routes deny beta 172.16.0.0/12 --home "$A" --mesh office 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "was not allowed" <<<"$out" || lab_fail "deny of a prefix never allowed: exit $rc: $out"
lab_exec alpha "$W" mesh routes deny beta 192.168.50.0/24 --home "$A" --mesh office >/dev/null || lab_fail "routes deny failed"
lab_wait 5 "192.168.50.0/24 gone from alpha's PeerList" bash -c "! $A_PEERS | grep -aq 192.168.50.0/24"
$A_PEERS | grep -aq 10.20.0.0/16 || lab_fail "the deny took 10.20.0.0/16 along"
lab_log "allow list: two allowed, four refused, one denied in $(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $t0 }") s"

lab_log "6. a room expires by itself"
rc=0; out=$(lab_exec alpha "$W" room open party --ttl 15 --home "$A" --hub "$HUB" --hub-key "$HUB_KEY" 2>&1) || rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "collide" && [ ! -d "$A/meshes/party" ] \
  || lab_fail "a room on office's network was not refused: exit $rc: $out"
room=$(lab_exec alpha "$W" room open party --ttl 15 --uses 3 --cidr 10.102.0.0/16 --home "$A" --hub "$HUB" \
       --hub-key "$HUB_KEY") \
  || lab_fail "room open failed"
ROOM=$(mesh_id_of alpha party)
[ "$(hub_redis EXISTS "hub:net:$ROOM")" = 1 ] || lab_fail "the room is not on the hub"
"$W" mesh list --home "$A" --json | python3 -c '
import json, sys
party = [m for m in json.load(sys.stdin) if m["name"] == "party"][0]
sys.exit(0 if party["expires"] > 0 else 1)' || lab_fail "weft mesh list --json has no expiry for the room"
ttl=$(hub_redis TTL "hub:net:$ROOM")
[ "$ttl" -gt 0 ] && [ "$ttl" -le 15 ] || lab_fail "the room's key has TTL $ttl, want 1..15"
lab_wait 25 "the room to expire on the hub" bash -c "[ -z \"\$(redis-cli -s '$(lab_home hub)/run/redis.sock' --scan --pattern 'hub:net:$ROOM*')\" ]"
"$W" mesh list --home "$A" | grep "^party " | grep -q " expired " || lab_fail "weft mesh list does not show the room expired"
rc=0
out=$(lab_exec crowd "$W" mesh join "$room" --home "$LAB_DIR/crowd/late" 2>&1) || rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q expired || lab_fail "joining an expired room: exit $rc: $out"
lab_log "room party gone from the hub after its TTL; joining it says: $(echo "$out" | tail -1)"

lab_log "7. no admin online: a clear error, the use is given back"
late=$(lab_exec alpha "$W" mesh invite --home "$A" --mesh office) || lab_fail "invite failed"
lab_exec alpha "$W" down --home "$A" --mesh office >/dev/null || lab_fail "weft down --mesh office failed"
roster_before=$(hub_redis SCARD "hub:net:$OFFICE:roster")
bad_join noadmin "$late" "no admin of mesh office is online"
up alpha office
lab_wait 20 "alpha registered again" bash -c "'$W' status --home '$A' --mesh office --json | grep -q registered"
lab_exec crowd "$W" mesh join "$late" --home "$LAB_DIR/crowd/noadmin" >/dev/null \
  || lab_fail "the single-use code did not work once the admin was back (its use was not given back)"

lab_log "8. leave: a member leaves for good, the admin cannot without --force"
# (crowd/noadmin, joined in 7: crowd/first was kicked in 5b)
first_hex=$("$W" id --home "$LAB_DIR/crowd/noadmin" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[ "$(hub_redis SISMEMBER "hub:net:$OFFICE:roster" "$first_hex")" = 1 ] || lab_fail "crowd/noadmin is not on the roster"
lab_exec crowd "$W" mesh leave office --home "$LAB_DIR/crowd/noadmin" || lab_fail "mesh leave failed"
[ ! -d "$LAB_DIR/crowd/noadmin/meshes/office" ] || lab_fail "mesh leave left the instance"
[ "$(hub_redis SISMEMBER "hub:net:$OFFICE:roster" "$first_hex")" = 0 ] || lab_fail "the leaver is still on the roster"
rc=0; out=$(lab_exec alpha "$W" mesh leave office --home "$A" 2>&1) || rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "admin" || lab_fail "the admin left without --force: exit $rc: $out"
[ -d "$A/meshes/office" ] || lab_fail "the admin's refused leave removed the instance"

lab_log "9. an invite that names a hub key the hub no longer has (the hub was re-keyed)"
stale=$(lab_exec alpha "$W" mesh invite --home "$A" --mesh office) || lab_fail "invite failed"
"$W" down --home "$(lab_home hub)" >/dev/null || lab_fail "could not stop the hub"
rm -f "$(lab_home hub)"/hub.key*
lab_exec hub "$W" hub --home "$(lab_home hub)" --listen "$HUB_ENDPOINT" || lab_fail "the hub did not start again"
lab_wait 20 "the hub's redis" test -S "$(lab_home hub)/run/redis.sock"
[ "$("$W" hub key --home "$(lab_home hub)")" != "$HUB_KEY" ] || lab_fail "the hub kept its key (test is blind)"
lab_wait 20 "the hub's roster back in Redis" bash -c "[ \"\$(redis-cli -s '$(lab_home hub)/run/redis.sock' SCARD hub:net:$OFFICE:roster)\" -gt 0 ]"
roster_before=$(hub_redis SCARD "hub:net:$OFFICE:roster")
bad_join stale "$stale" "hub key"
lab_log "PASS"
