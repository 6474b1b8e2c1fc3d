#!/usr/bin/env bash
# test_api.sh BIN_DIR — the node HTTP API (weft-api, docs/api.md) on two connected nodes, one run as separate
# processes (alpha) and one co-located in weft-node (beta): every endpoint answers with the JSON shape
# docs/api.md documents, status and peers say what `weft status --json` / `weft peers --json` say, /metrics
# passes `promtool check metrics` and counts the peer as direct, unknown paths are 404, wrong methods 405,
# path traversal 400 (all with a JSON error body), /api/v1/network runs the NAT probe against a STUN server
# (coturn) or says none is configured, a service that stops answering shows as down in
# /metrics until it answers again, and a request trickled in is cut at the request deadline.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_api.sh BIN_DIR}"
command -v curl >/dev/null || lab_fail "curl is missing (scripts/install-deps.sh)"
command -v promtool >/dev/null || lab_fail "promtool is missing (scripts/install-deps.sh: prometheus)"
lab_switch
WEFT_HUB_STUN_PORT=0 lab_hub hub 10.99.0.1   # coturn takes 3478 beside it: the hub's own STUN server off
# a STUN server (coturn, STUN only) beside the hub (RFC 5780, which the hub's own does not do), for alpha's NAT probe on /api/v1/network
command -v turnserver >/dev/null || lab_fail "turnserver (coturn) is not installed"
lab_exec hub turnserver -n -S --no-tls --no-dtls --no-cli --simple-log --no-stdout-log -L 10.99.0.1 \
  --listening-port 3478 --log-file "$LAB_DIR/coturn.log" --pidfile "$LAB_DIR/coturn.pid" >/dev/null 2>&1 &
LAB_PIDS+=($!)
lab_wait 10 "coturn to listen" sh -c "ip netns exec $(lab_ns hub) ss -Hlun | grep -q '10.99.0.1:3478'"
lab_node alpha 10.99.0.2 10.100.0.1 --stun 10.99.0.1:3478
LAB_UP_ARGS=--colocate lab_node beta 10.99.0.3 10.100.0.2
lab_wait 30 "alpha to connect to beta" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to connect to alpha" lab_peer_connected beta 10.100.0.1
lab_exec alpha ping -c 3 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "alpha cannot ping beta"
session_up() {
  "$BIN/weft" peers --home "$(lab_home "$1")" --json |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[0]["session"]["state"] == "established" else 1)'
}
lab_wait 10 "alpha's session to show as established" session_up alpha
lab_wait 10 "beta's session to show as established" session_up beta

API=http://127.0.0.1:7401
# get NODE PATH [curl args]: the body; the status code goes to $LAB_DIR/code
get() {
  local node=$1 path=$2
  shift 2
  lab_exec "$node" curl -s -o "$LAB_DIR/body" -w '%{http_code}' --max-time 10 "$@" "$API$path" >"$LAB_DIR/code" || true
  cat "$LAB_DIR/body"
}
code() { cat "$LAB_DIR/code"; }
lab_wait 10 "alpha's API to answer" lab_exec alpha curl -sf --max-time 2 "$API/health"
lab_wait 10 "beta's API to answer" lab_exec beta curl -sf --max-time 2 "$API/health"

# check NAME PYTHON: runs PYTHON with `d` = the JSON of $LAB_DIR/body; fails the test with NAME if it raises
check() {
  python3 - "$LAB_DIR/body" "$1" "$2" <<'EOF' || lab_fail "$2"
import json, sys
body, code, name = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(body))
exec(code)
EOF
}

# check_metrics FILE NODE: the Prometheus naming rules promtool does not check (docs/api.md, /metrics): every
# family typed counter or gauge with a HELP, counters and only counters end in _total, no untyped catch-all,
# weft_build_info, every stat of $LAB_DIR/stats.json (scraped before) under its weft_<service>_ name, and the
# peer of $LAB_DIR/peers.json connected with an rtt and bytes, labelled by its node id.
check_metrics() {
  PYTHONPATH="$(dirname "$0")/../lib" python3 - "$1" "$LAB_DIR/stats.json" "$LAB_DIR/peers.json" <<'EOF' || lab_fail "$2 /metrics breaks the naming rules"
import json, sys
from prom_rules import read_checked
text, stats, peers = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
types, samples = read_checked(text)
assert not any(n.startswith('weft_service_stat') for n in types), 'the old untyped weft_service_stat is back'
for svc, s in stats['services'].items():
    for stat in s['counters']:
        if stat.startswith('drop_'):
            key = 'weft_%s_drops_total{reason="%s"}' % (svc, stat[5:])
        elif stat.startswith('handshakes_'):
            key = 'weft_%s_handshakes_total{result="%s"}' % (svc, stat[11:])
        else:
            stem = stat[6:] + '_bytes' if stat.startswith('bytes_') else stat
            key = 'weft_%s_%s' % (svc, stem)
            key = key if key in samples else key + '_total'
        assert key in samples, ('stat %s/%s is not in /metrics' % (svc, stat), key)
assert types['weft_router_routes'] == 'gauge' and types['weft_crypto_sessions'] == 'gauge'
assert samples['weft_crypto_handshakes_total{result="completed"}'] + samples.get('weft_crypto_handshakes_total{result="responded"}', 0) >= 1
p = peers[0]
labels = '{peer_id="%s",name="%s"}' % (p['id'], p['name'])
assert samples['weft_peer_connected' + labels] == 1, labels
assert samples['weft_peer_relayed' + labels] == 0, labels
assert 0 <= samples['weft_peer_rtt_seconds' + labels] < 2, samples['weft_peer_rtt_seconds' + labels]
assert samples['weft_peer_rx_bytes_total' + labels] > 0 and samples['weft_peer_tx_bytes_total' + labels] > 0
EOF
}

for node in alpha beta; do
  peer_overlay=$([ $node = alpha ] && echo 10.100.0.2 || echo 10.100.0.1)
  own_overlay=$([ $node = alpha ] && echo 10.100.0.1 || echo 10.100.0.2)

  get $node /health >/dev/null
  [ "$(code)" = 200 ] || lab_fail "$node /health answered $(code)"
  check "
assert set(d) == {'status', 'node', 'redis'}, d
assert d['status'] == 'ok' and d['redis'] is True and d['node'] == '$node', d
" "$node /health shape"

  get $node /api/v1/status >/dev/null
  [ "$(code)" = 200 ] || lab_fail "$node /api/v1/status answered $(code)"
  "$BIN/weft" status --home "$(lab_home $node)" --json >"$LAB_DIR/cli.json" || lab_fail "weft status $node failed"
  check "
keys = {'name','id','fingerprint','mesh','overlay_addr','overlay_prefix','hub','hub_state','hub_refused','running','supervisor_pid','services'}
assert keys <= set(d), keys - set(d)
assert d['name'] == '$node' and d['overlay_addr'] == '$own_overlay' and d['running'] is True
assert d['hub_state'] == 'registered', d['hub_state']
names = [s['service'] for s in d['services']]
assert names == ['device','router','crypto','dataplane','nat','discovery','api'], names
for s in d['services']:
    assert s['up'] is True, s
    assert {'service','up','restarts','last_error','pid','uptime_ms','detail','counters'} == set(s), s
    assert s['restarts'] == 0 and isinstance(s['last_error'], str), s
    assert all(isinstance(v, int) for v in s['counters'].values()), s
cli = json.load(open('$LAB_DIR/cli.json'))
for k in ('name','id','fingerprint','mesh','overlay_addr','hub','hub_state','supervisor_pid'):
    assert cli[k] == d[k], (k, cli[k], d[k])
assert [s['pid'] for s in cli['services']] == [s['pid'] for s in d['services']]
" "$node /api/v1/status shape, or it differs from weft status --json"

  get $node /api/v1/peers >/dev/null
  [ "$(code)" = 200 ] || lab_fail "$node /api/v1/peers answered $(code)"
  "$BIN/weft" peers --home "$(lab_home $node)" --json >"$LAB_DIR/cli.json" || lab_fail "weft peers $node failed"
  check "
assert isinstance(d, list) and len(d) == 1, d
p = d[0]
assert {'name','id','fingerprint','overlay_addr','path','session'} <= set(p), p
assert p['overlay_addr'] == '$peer_overlay' and len(p['id']) == 64
assert {'state','connection','local_type','remote_type','local_addr','remote_addr','rx_bytes','tx_bytes','rx_packets','tx_packets','restarts'} <= set(p['path']), p['path']
assert p['path']['connection'] == 'direct', p['path']
assert {'state','handshakes','rx_bytes','tx_bytes'} <= set(p['session']), p['session']
assert p['session']['state'] == 'established', p['session']
flags = open('/proc/cpuinfo').read().split()   # both nodes run on this CPU, crypto.cipher auto
assert p['session']['cipher'] == ('aes-256-gcm' if 'aes' in flags and 'pclmulqdq' in flags else 'chacha20-poly1305'), p['session']
cli = json.load(open('$LAB_DIR/cli.json'))
assert [(c['id'], c['name'], c['overlay_addr'], c['path']['state']) for c in cli] == [(c['id'], c['name'], c['overlay_addr'], c['path']['state']) for c in d]
" "$node /api/v1/peers shape, or it differs from weft peers --json"
  cp "$LAB_DIR/body" "$LAB_DIR/peers.json"

  get $node /api/v1/routes >/dev/null
  [ "$(code)" = 200 ] || lab_fail "$node /api/v1/routes answered $(code)"
  check "
assert isinstance(d, list) and d, d
for r in d:
    assert set(r) == {'destination','peer','peer_name','via','via_id','hops','metric','latency_ms','age_s','origin','state','why'}, r
assert any(r['destination'] == '$peer_overlay/32' and len(r['peer']) == 64 and r['via'] == 'direct' for r in d), d
" "$node /api/v1/routes shape"

  get $node /api/v1/network >/dev/null
  [ "$(code)" = 200 ] || lab_fail "$node /api/v1/network answered $(code)"
  check "
assert set(d) == {'local_addresses','stun_servers','stun_from_hub','turn_servers','probe'}, d
assert any(a['address'].startswith('10.99.0.') and a['family'] == 'ipv4' for a in d['local_addresses']), d
for a in d['local_addresses']:
    assert set(a) == {'interface','family','address','loopback'}, a
p = d['probe']
if '$node' == 'alpha':   # a STUN server: the probe ran; the lab has no NAT, so alpha sees its own address
    assert set(p) == {'available','answered','cached','age_ms','result'} and p['available'] and p['answered'], p
    r = p['result']
    assert r['public_address'].startswith('10.99.0.2:') and r['behind_nat'] is False, r
    assert r['server']['server'] == '10.99.0.1:3478', r
else:                    # none configured, and this lab's hub runs none (coturn has 3478): says so, no result
    assert d['stun_servers'] == [] and d['stun_from_hub'] is False, d
    assert p == {'available': False, 'reason': 'nat.stun_servers is empty and the hub runs no STUN server '
                 '(its hub.stun_port is 0)'}, p
" "$node /api/v1/network shape"

  get $node /api/v1/stats >/dev/null
  [ "$(code)" = 200 ] || lab_fail "$node /api/v1/stats answered $(code)"
  check "
assert set(d) == {'services'}, d
assert list(d['services']) == ['device','router','crypto','dataplane','nat','discovery','api'], list(d['services'])
for name, s in d['services'].items():
    assert set(s) == {'up','uptime_ms','counters'} and s['up'] is True, (name, s)
assert d['services']['crypto']['counters'].get('handshakes_completed', 0) + d['services']['crypto']['counters'].get('handshakes_responded', 0) >= 1, d['services']['crypto']
assert d['services']['api']['counters']['http_requests'] >= 1
" "$node /api/v1/stats shape"
  cp "$LAB_DIR/body" "$LAB_DIR/stats.json"

  get $node /metrics >"$LAB_DIR/metrics.txt"
  [ "$(code)" = 200 ] || lab_fail "$node /metrics answered $(code)"
  promtool check metrics <"$LAB_DIR/metrics.txt" || lab_fail "$node /metrics does not pass promtool check metrics"
  for line in 'weft_up{service="device"} 1' 'weft_up{service="api"} 1' 'weft_peers{connection="direct"} 1' \
              'weft_peers{connection="relay"} 0' 'weft_redis_up 1' 'weft_crypto_sessions 1' \
              'weft_nat_peers_connected 1'; do
    grep -qxF "$line" "$LAB_DIR/metrics.txt" || lab_fail "$node /metrics lacks '$line'"
  done
  check_metrics "$LAB_DIR/metrics.txt" "$node"

  # errors: JSON bodies with error and detail
  for probe in "/nope 404" "/api/v1/peers/x 404" "/api/v2/status 404"; do
    set -- $probe
    get $node "$1" >/dev/null
    [ "$(code)" = "$2" ] || lab_fail "$node $1 answered $(code), not $2"
    check "assert set(d) == {'error','detail'} and d['error'] == 'not_found', d" "$node $1: not a JSON error"
  done
  get $node /api/v1/status -X POST -d x >/dev/null
  [ "$(code)" = 405 ] || lab_fail "$node POST /api/v1/status answered $(code), not 405"
  check "assert d['error'] == 'method_not_allowed', d" "$node POST /api/v1/status: not a JSON error"
  allow=$(lab_exec $node curl -s -o /dev/null -D - -X DELETE "$API/api/v1/peers" | tr -d '\r' | sed -n 's/^Allow: //p')
  [ "$allow" = "GET, HEAD" ] || lab_fail "$node: 405 without 'Allow: GET, HEAD' (got '$allow')"
  get $node /api/v1/../../etc/passwd --path-as-is >/dev/null
  [ "$(code)" = 400 ] || lab_fail "$node: path traversal answered $(code), not 400"
  check "assert d['error'] == 'bad_path', d" "$node: path traversal not a JSON error"
  head -c 200000 /dev/urandom >"$LAB_DIR/junk"
  get $node /api/v1/status -X POST -H 'Content-Type: application/json' --data-binary @"$LAB_DIR/junk" >/dev/null
  [ "$(code)" = 405 ] || lab_fail "$node: a 200 kB garbage body answered $(code), not 405"
  lab_exec $node curl -sf --max-time 2 "$API/health" >/dev/null || lab_fail "$node: the API died on a garbage body"
  lab_log "$node: every endpoint answers as documented"
done

# a service that does not answer (stopped with SIGSTOP) shows as down in /metrics and /api/v1/stats, and
# the other endpoints still answer; after SIGCONT it is up again
router=$(lab_service_pid alpha router)
kill -STOP "$router"
get alpha /metrics >"$LAB_DIR/metrics.txt"
kill -CONT "$router"
grep -qxF 'weft_up{service="router"} 0' "$LAB_DIR/metrics.txt" || lab_fail "a stopped router is not down in /metrics"
grep -qxF 'weft_up{service="device"} 1' "$LAB_DIR/metrics.txt" || lab_fail "device is not up in /metrics"
promtool check metrics <"$LAB_DIR/metrics.txt" || lab_fail "/metrics with a service down does not pass promtool"
lab_wait 10 "router to be up again in /metrics" sh -c \
  "ip netns exec $(lab_ns alpha) curl -s $API/metrics | grep -qxF 'weft_up{service=\"router\"} 1'"
lab_log "a stopped router shows as down in /metrics, and up again after SIGCONT"

# a slow request does not hold up the others (one thread per connection): 20 parallel clients
start=$(date +%s%N)
clients=()
for i in $(seq 1 20); do lab_exec alpha curl -sf --max-time 10 -o /dev/null "$API/api/v1/status" & clients+=($!); done
for c in "${clients[@]}"; do wait "$c" || lab_fail "a parallel /api/v1/status request failed"; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
lab_log "20 parallel /api/v1/status requests answered in $ms ms"
lab_exec alpha curl -sf --max-time 2 "$API/health" >/dev/null || lab_fail "the API died under parallel requests"

# a request trickled in a header line a second is cut at the deadline (HTTP_REQUEST_DEADLINE_S, 10 s),
# and /health answers meanwhile
lab_exec alpha python3 - <<'EOF' >"$LAB_DIR/slow.txt" &
import socket, time
s = socket.create_connection(("127.0.0.1", 7401), timeout=5)
s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: alpha\r\n")
start = time.monotonic()
s.settimeout(1)
while time.monotonic() - start < 20:
    try:
        if s.recv(1) == b"":
            break
    except socket.timeout:
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            break
    except OSError:
        break
print(round(time.monotonic() - start, 1))
EOF
slow=$!
sleep 2
lab_exec alpha curl -sf --max-time 2 "$API/health" >/dev/null || lab_fail "/health beside a slow request"
wait $slow || lab_fail "the slow client failed"
lab_log "a request trickled in was cut after $(cat "$LAB_DIR/slow.txt") s"
python3 -c 'import sys; sys.exit(0 if 9 <= float(sys.argv[1]) <= 13 else 1)' "$(cat "$LAB_DIR/slow.txt")" ||
  lab_fail "the slow request was not cut at the 10 s deadline"

# on loopback (the default) weft-api does not warn about its address (test_hub_api.sh sees the warning)
api_log="$(lab_home alpha)/log/api.log"
grep -q 'HTTP API listening on http://127.0.0.1:7401' "$api_log" || lab_fail "no start line in $api_log"
! grep -q 'not only on loopback' "$api_log" || lab_fail "weft-api warns about a loopback address"
lab_log "PASS"
