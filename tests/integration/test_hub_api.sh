#!/usr/bin/env bash
# test_hub_api.sh BIN_DIR — the hub's HTTP API (docs/api.md) in a hub namespace with a node registered:
# /health and /metrics (promtool, typed families named after hub:stats), every /api/v1/mesh call — reads and the event stream too — refused
# without a token (401) or with a wrong one (403), a warning in the log for an API listening off loopback,
# a network created, read, listed and deleted, a member added, read and removed, the Server-Sent Events
# stream receiving the join and the kick, malformed requests (bad JSON, unknown fields, wrong content type,
# oversized body, bad ids, path traversal, wrong methods) answered 4xx with a JSON error, and the
# per-address rate limit answering 429 with Retry-After to a flood while another address is still served
# and /health, outside that budget, still answers the flooding address. Last, a second node: the allow list
# of subnet routes of the open mesh set through the API reaches its PeerList within the sweep's second.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_hub_api.sh BIN_DIR}"
command -v curl >/dev/null || lab_fail "curl is missing (scripts/install-deps.sh)"
command -v promtool >/dev/null || lab_fail "promtool is missing (scripts/install-deps.sh: prometheus)"
lab_switch
# the API on every address of the hub's namespace, so the rate-limit check can come from two addresses
WEFT_HUB_HTTP_LISTEN='*:7402' WEFT_HUB_HTTP_RATE=10 lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
hub_home=$(lab_home hub)

API=http://127.0.0.1:7402
NETS=$API/api/v1/mesh/networks
lab_wait 10 "the hub's API to answer" lab_exec hub curl -sf --max-time 2 "$API/health"
TOKEN=$("$BIN/weft" hub token --home "$hub_home" 2>/dev/null) || lab_fail "weft hub token failed"
[ ${#TOKEN} -eq 64 ] || lab_fail "the token '$TOKEN' is not 64 characters"
[ "$(stat -c %a "$hub_home/api.token")" = 600 ] || lab_fail "api.token is not mode 600"
ALPHA_ID=$("$BIN/weft" id --home "$(lab_home alpha)" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# req METHOD URL [curl args]: the body; the status code goes to $LAB_DIR/code, headers to $LAB_DIR/headers
req() {
  local method=$1 url=$2
  shift 2
  lab_exec hub curl -s -X "$method" -o "$LAB_DIR/body" -D "$LAB_DIR/headers" -w '%{http_code}' --max-time 10 "$@" "$url" \
    >"$LAB_DIR/code" || true
  cat "$LAB_DIR/body"
}
code() { cat "$LAB_DIR/code"; }
header() { tr -d '\r' <"$LAB_DIR/headers" | sed -n "s/^$1: //Ip"; }
expect() { [ "$(code)" = "$1" ] || lab_fail "$2: answered $(code), not $1 ($(cat "$LAB_DIR/body"))"; }
check() {
  python3 - "$LAB_DIR/body" "$1" "$2" <<'EOF' || lab_fail "$2"
import json, sys
body, code, name = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(body))
exec(code)
EOF
}
json_error() { check "assert set(d) == {'error','detail'} and d['error'] == '$1' and d['detail'], d" "$2: not the JSON error $1"; }
AUTH=(-H "Authorization: Bearer $TOKEN")
JSON=(-H "Content-Type: application/json")

# health and metrics
req GET "$API/health" >/dev/null; expect 200 "/health"
check "assert d == {'status': 'ok', 'service': 'hub', 'redis': True}, d" "/health shape"
lab_wait 10 "alpha to be a live member in the hub's metrics" sh -c \
  "ip netns exec $(lab_ns hub) curl -s $API/metrics | grep -qxF 'weft_hub_members 1'"
redis-cli -s "$hub_home/run/redis.sock" HKEYS hub:stats >"$LAB_DIR/stat_names.txt"
req GET "$API/metrics" >"$LAB_DIR/metrics.txt"; expect 200 "/metrics"
promtool check metrics <"$LAB_DIR/metrics.txt" || lab_fail "the hub's /metrics does not pass promtool check metrics"
grep -qxF 'weft_hub_redis_up 1' "$LAB_DIR/metrics.txt" || lab_fail "/metrics: Redis not up"
grep -q '^weft_hub_registrations_total [1-9]' "$LAB_DIR/metrics.txt" || lab_fail "/metrics: no registrations"
# the naming rules promtool does not check (docs/api.md, the hub's /metrics): every family typed counter or
# gauge with a HELP, counters and only counters end in _total, no untyped weft_hub_stat, weft_build_info, and
# every stat of hub:stats under its weft_hub_ name, the levels (members, connections) as gauges
PYTHONPATH="$(dirname "$0")/../lib" python3 - "$LAB_DIR/metrics.txt" "$LAB_DIR/stat_names.txt" <<'EOF' || lab_fail "the hub's /metrics breaks the naming rules"
import sys
from prom_rules import read_checked
text, stats = open(sys.argv[1]).read(), open(sys.argv[2]).read().split()
types, samples = read_checked(text)
assert set(types.values()) <= {'counter', 'gauge'} and 'weft_hub_stat' not in types, 'an untyped family (weft_hub_stat)'
assert {'registrations', 'members', 'connections'} <= set(stats), stats
for stat in stats:
    gauge = stat in ('members', 'connections')
    key = 'weft_hub_%s%s' % (stat, '' if gauge else '_total')
    assert key in samples, ('hub:stats %s is not in /metrics' % stat, key)
    assert types[key] == ('gauge' if gauge else 'counter'), (key, types[key])
assert samples['weft_hub_members'] == 1 and samples['weft_hub_connections'] >= 1, samples
assert types['weft_hub_networks'] == 'gauge' and types['weft_hub_http_requests_total'] == 'counter'
EOF
! grep -q 'metrics: left out' "$hub_home/log/hub.log" || lab_fail "the hub's /metrics left a family or sample out"
lab_log "the hub's /metrics: $(grep -c '^# TYPE' "$LAB_DIR/metrics.txt") families, all typed, every hub:stats stat named"

# listening on every address is worth a warning
grep -q 'warn .*listens on \*:7402, not only on loopback' "$hub_home/log/hub.log" ||
  lab_fail "no warning in hub.log for an API listening off loopback"

# every call but /health and /metrics needs the token, reads too: they show rosters, keys and events
for path in "" /00112233445566778899aabbccddeeff /00112233445566778899aabbccddeeff/peers \
            /00112233445566778899aabbccddeeff/events "/00112233445566778899aabbccddeeff/peers/$ALPHA_ID"; do
  req GET "$NETS$path" >/dev/null; expect 401 "GET networks$path without a token"
  json_error unauthorized "GET networks$path without a token"
  req GET "$NETS$path" -H "Authorization: Bearer ${TOKEN%?}x" >/dev/null; expect 403 "GET networks$path with a wrong token"
done
net_body="{\"name\":\"lab\",\"cidr\":\"10.200.0.0/24\",\"admin_key\":\"$ALPHA_ID\"}"
req POST "$NETS" "${JSON[@]}" -d "$net_body" >/dev/null; expect 401 "POST without a token"
json_error unauthorized "POST without a token"
[ -n "$(header WWW-Authenticate)" ] || lab_fail "401 without WWW-Authenticate"
# the token with its last character changed (a token ending in 0 once made this POST a valid one)
wrong=${TOKEN%?}0; [ "$wrong" = "$TOKEN" ] && wrong=${TOKEN%?}1
req POST "$NETS" "${JSON[@]}" -H "Authorization: Bearer $wrong" -d "$net_body" >/dev/null
expect 403 "POST with a wrong token"; json_error forbidden "POST with a wrong token"
req POST "$NETS" "${JSON[@]}" -H "Authorization: Bearer nope" -d "$net_body" >/dev/null; expect 403 "POST with a short token"

# malformed requests
req POST "$NETS" "${AUTH[@]}" -H 'Content-Type: text/plain' -d "$net_body" >/dev/null; expect 415 "text/plain body"
json_error unsupported_media_type "text/plain body"
for bad in '{"name":' '[]' '"x"' '{"name":"lab","cidr":"10.200.0.0/24","admin_key":"'$ALPHA_ID'","x":1}' \
           '{"name":"lab","cidr":"10.200.0.0/33","admin_key":"'$ALPHA_ID'"}' '{"name":"l a b","cidr":"10.200.0.0/24","admin_key":"'$ALPHA_ID'"}' \
           '{"name":"lab","cidr":"10.200.0.0/24","admin_key":"zz"}' '{"name":"lab","name":"lab2","cidr":"10.200.0.0/24","admin_key":"'$ALPHA_ID'"}' \
           '{"name":"lab","cidr":"10.200.0.0/24","admin_key":"'$ALPHA_ID'","ttl_s":-1}' '{"name":"lab","cidr":"10.200.0.0/24","admin_key":"'$ALPHA_ID'"} x'; do
  req POST "$NETS" "${AUTH[@]}" "${JSON[@]}" -d "$bad" >/dev/null; expect 400 "body $bad"
  json_error bad_request "body $bad"
done
python3 -c 'print("{\"name\":\"" + "a" * 20000 + "\"}")' >"$LAB_DIR/big.json"
req POST "$NETS" "${AUTH[@]}" "${JSON[@]}" --data-binary @"$LAB_DIR/big.json" >/dev/null; expect 413 "a 20 kB body"
json_error body_too_large "a 20 kB body"
req GET "$API/api/v1/mesh/networks/../../../etc/passwd" --path-as-is >/dev/null; expect 400 "path traversal"
json_error bad_path "path traversal"
req GET "$NETS/not-an-id" "${AUTH[@]}" >/dev/null; expect 400 "a bad network id"; json_error bad_id "a bad network id"
req GET "$NETS/00112233445566778899aabbccddeeff" "${AUTH[@]}" >/dev/null; expect 404 "an unknown network"; json_error not_found "an unknown network"
req GET "$API/api/v1/nothing" >/dev/null; expect 404 "an unknown path"; json_error not_found "an unknown path"
req PUT "$NETS" "${AUTH[@]}" >/dev/null; expect 405 "PUT on networks"; json_error method_not_allowed "PUT on networks"
[ "$(header Allow)" = "GET, POST" ] || lab_fail "405 without 'Allow: GET, POST' (got '$(header Allow)')"
lab_exec hub curl -sf --max-time 2 "$API/health" >/dev/null || lab_fail "the hub API died on malformed requests"

# a network: create, read, list
req POST "$NETS" "${AUTH[@]}" "${JSON[@]}" -d "$net_body" >/dev/null; expect 201 "creating a network"
check "
assert set(d) == {'id','name','cidr','admin_key','psk','ttl_s','created_ms','expires'}, d
assert len(d['id']) == 32 and d['name'] == 'lab' and d['cidr'] == '10.200.0.0/24' and d['admin_key'] == '$ALPHA_ID', d
assert d['psk'] is False and d['ttl_s'] == 0 and d['expires'] == 0 and d['created_ms'] > 0, d
" "network shape"
NET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$LAB_DIR/body")
req GET "$NETS" "${AUTH[@]}" >/dev/null; expect 200 "listing networks"
check "assert isinstance(d, list) and [n['id'] for n in d] == ['$NET'], d" "network list"
req GET "$NETS/$NET" "${AUTH[@]}" >/dev/null; expect 200 "reading the network"
check "assert d['id'] == '$NET' and d['members'] == [], d" "network with members"

# the event stream sees the member join and be kicked
lab_exec hub curl -s -N --max-time 60 "${AUTH[@]}" "$NETS/$NET/events" >"$LAB_DIR/events.txt" 2>/dev/null &
LAB_PIDS+=($!)
lab_wait 5 "the event stream to open" grep -q '^: events of network' "$LAB_DIR/events.txt"
req POST "$NETS/$NET/peers" "${JSON[@]}" -d "{\"key\":\"$ALPHA_ID\",\"name\":\"alpha\"}" >/dev/null
expect 401 "adding a member without a token"
req POST "$NETS/$NET/peers" "${AUTH[@]}" "${JSON[@]}" -d "{\"key\":\"$ALPHA_ID\",\"name\":\"alpha\",\"address\":\"10.9.9.9\"}" >/dev/null
expect 400 "an address outside the cidr"
req POST "$NETS/$NET/peers" "${AUTH[@]}" "${JSON[@]}" -d "{\"key\":\"$ALPHA_ID\",\"name\":\"alpha\"}" >/dev/null
expect 201 "adding a member"
check "
assert set(d) == {'key','fingerprint','name','address','joined_ms','online'}, d
assert d['key'] == '$ALPHA_ID' and d['name'] == 'alpha' and d['address'].startswith('10.200.0.'), d
assert d['online'] is False, d
" "member shape"
lab_wait 5 "the join event" grep -q '^event: join$' "$LAB_DIR/events.txt"
python3 - "$LAB_DIR/events.txt" "$ALPHA_ID" "$NET" <<'EOF' || lab_fail "the join event's data"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
data = json.loads(lines[lines.index("event: join") + 1][len("data: "):])
assert data["event"] == "join" and data["member"] == sys.argv[2] and data["mesh"] == sys.argv[3], data
EOF
req GET "$NETS/$NET/peers" "${AUTH[@]}" >/dev/null; expect 200 "listing members"
check "assert [m['key'] for m in d] == ['$ALPHA_ID'], d" "member list"
req GET "$NETS/$NET/peers/$ALPHA_ID" "${AUTH[@]}" >/dev/null; expect 200 "reading a member"
check "assert d['key'] == '$ALPHA_ID', d" "member read"
req GET "$NETS/$NET/peers/xyz" "${AUTH[@]}" >/dev/null; expect 400 "a bad member key"; json_error bad_id "a bad member key"
req GET "$NETS/$NET/peers/$(printf '0%.0s' $(seq 64))" "${AUTH[@]}" >/dev/null; expect 404 "an unknown member"
req DELETE "$NETS/$NET/peers/$ALPHA_ID" -H "Authorization: Bearer wrong" >/dev/null; expect 403 "kicking with a wrong token"
req DELETE "$NETS/$NET/peers/$ALPHA_ID" "${AUTH[@]}" >/dev/null; expect 200 "kicking a member"
check "assert d == {'deleted': 'peer', 'id': '$ALPHA_ID'}, d" "kick answer"
lab_wait 5 "the kick event" grep -q '^event: kick$' "$LAB_DIR/events.txt"
req GET "$NETS/$NET/peers" "${AUTH[@]}" >/dev/null; check "assert d == [], d" "members after the kick"

req DELETE "$NETS/$NET" "${AUTH[@]}" >/dev/null; expect 200 "deleting the network"
req GET "$NETS/$NET" "${AUTH[@]}" >/dev/null; expect 404 "the deleted network"

# rate limit: a flood from the hub's own LAN address is refused with 429 + Retry-After, loopback still served
lab_exec hub python3 - "$TOKEN" <<'EOF' >"$LAB_DIR/flood.txt" || lab_fail "the flood found no 429"
import sys, urllib.request, urllib.error
codes, retry = {}, None
auth = {"Authorization": "Bearer " + sys.argv[1]}
for _ in range(100):
    try:
        r = urllib.request.Request("http://10.99.0.1:7402/api/v1/mesh/networks", headers=auth)
        with urllib.request.urlopen(r, timeout=5) as r:
            codes[r.status] = codes.get(r.status, 0) + 1
    except urllib.error.HTTPError as e:
        codes[e.code] = codes.get(e.code, 0) + 1
        if e.code == 429:
            retry = e.headers.get("Retry-After")
            assert e.headers.get("Content-Type") == "application/json"
print(codes, "Retry-After:", retry)
assert codes.get(429, 0) > 0 and codes.get(200, 0) >= 10 and retry and int(retry) >= 1, codes
EOF
lab_log "flood of 100 reads from one address: $(cat "$LAB_DIR/flood.txt")"
for i in $(seq 20); do  # the flooding address still sees the hub's health: /health is outside its budget
  lab_exec hub curl -sf --max-time 2 -o /dev/null http://10.99.0.1:7402/health || lab_fail "/health refused to the flooding address ($i)"
done
req GET "$NETS" "${AUTH[@]}" >/dev/null; expect 200 "a read from another address during the flood's penalty"
grep -q '^weft_hub_http_rejected_total{reason="rate_limited"} [1-9]' <(lab_exec hub curl -s "$API/metrics") ||
  lab_fail "/metrics does not count the rate-limited requests"

# subnet routes in an open mesh (no admin: the API's token sets the allow list), pushed to the members
lab_node beta 10.99.0.3 10.100.0.2
ROUTES=$API/api/v1/mesh/routes/default
B_PEERS="redis-cli -s $(lab_home beta)/run/redis.sock GET weft:peers"   # a packed PeerList: strings as they are
lab_wait 20 "alpha in beta's PeerList" bash -c "$B_PEERS | grep -aq 10.100.0.1"
req POST "$ROUTES" "${JSON[@]}" -d '{}' >/dev/null; expect 401 "routes without a token"
req POST "$ROUTES" "${AUTH[@]}" "${JSON[@]}" -d "{\"member\":\"$ALPHA_ID\",\"prefix\":\"192.168.50.0/24\"}" >/dev/null
expect 200 "allowing alpha 192.168.50.0/24"
check "assert d == {'mesh': 'default', 'member': '$ALPHA_ID', 'prefix': '192.168.50.0/24', 'allowed': True}, d" "route shape"
lab_wait 3 "alpha's allowed route in beta's PeerList (the sweep pushes it)" bash -c "$B_PEERS | grep -aq 192.168.50.0/24"
req GET "$ROUTES" "${AUTH[@]}" >/dev/null; expect 200 "the allow list"
check "assert d == {'mesh': 'default', 'routes': [{'member': '$ALPHA_ID', 'prefix': '192.168.50.0/24'}]}, d" "allow list"
req POST "$ROUTES" "${AUTH[@]}" "${JSON[@]}" -d "{\"member\":\"$ALPHA_ID\",\"prefix\":\"192.168.50.1/24\"}" >/dev/null
expect 400 "a prefix with host bits"; json_error bad_request "a prefix with host bits"
req POST "$ROUTES" "${AUTH[@]}" "${JSON[@]}" -d "{\"member\":\"${ALPHA_ID//[0-9]/0}\",\"prefix\":\"10.1.0.0/16\"}" >/dev/null
expect 404 "a key that never registered"; json_error not_found "a key that never registered"
req POST "$API/api/v1/mesh/routes/no%20mesh" "${AUTH[@]}" "${JSON[@]}" -d '{}' >/dev/null; expect 400 "a bad mesh name"
req DELETE "$ROUTES" "${AUTH[@]}" >/dev/null; expect 405 "DELETE on routes"
req POST "$ROUTES" "${AUTH[@]}" "${JSON[@]}" -d "{\"member\":\"$ALPHA_ID\",\"prefix\":\"192.168.50.0/24\",\"allow\":false}" >/dev/null
expect 200 "denying alpha 192.168.50.0/24"
lab_wait 3 "the route gone from beta's PeerList" bash -c "! $B_PEERS | grep -aq 192.168.50.0/24"
lab_log "PASS"
