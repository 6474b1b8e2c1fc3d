#!/usr/bin/env bash
# test_network.sh BIN_DIR — `weft network` against real STUN servers, in a namespace of its own (its
# loopback holds 127.0.0.1-3): a coturn on 127.0.0.1 + 127.0.0.2 with an alternate port (RFC 5780) must
# report open / no NAT with endpoint-independent filtering; a coturn with one address can only report the
# mapped address; lying servers (garbage, wrong transaction ids, a bad FINGERPRINT), a dead server and a
# name that is not host:port placed first are skipped with a clear reason each, and the probe falls over to
# the working server; with no working server it exits 1 saying why; usage errors exit 2; the servers
# come from weft.yaml or WEFT_STUN_SERVERS when --stun is not given.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/netlab.sh"
lab_init "${1:?usage: test_network.sh BIN_DIR}"
W="$BIN/weft"
command -v turnserver >/dev/null || lab_fail "turnserver (coturn) is not installed"

NS="${LAB_TAG}-net"
ip netns add "$NS" && LAB_NS+=("$NS")
ip -n "$NS" link set lo up
ip -n "$NS" addr add 127.0.0.2/8 dev lo
ip -n "$NS" addr add 127.0.0.3/8 dev lo
in_ns() { ip netns exec "$NS" "$@"; }

# coturn: -n ignores /etc/turnserver.conf (Debian's says no-rfc5780); STUN only, no auth needed for Binding
coturn() {
  local name=$1
  shift
  in_ns turnserver -n -S --no-tls --no-dtls --no-cli --simple-log --no-stdout-log \
    --log-file "$LAB_DIR/$name.log" --pidfile "$LAB_DIR/$name.pid" "$@" >/dev/null 2>&1 &
  LAB_PIDS+=($!)
}
coturn turn5780 -L 127.0.0.1 -L 127.0.0.2 --listening-port 3478 --alt-listening-port 3479
coturn turnsingle -L 127.0.0.3 --listening-port 5478
lab_wait 10 "coturn to listen" bash -c "ip netns exec $NS ss -Hlun | grep -q '127.0.0.2:3479' &&
  ip netns exec $NS ss -Hlun | grep -q '127.0.0.3:5478'"

# Lying servers: answer every request, but never correctly.
cat >"$LAB_DIR/liar.py" <<'EOF'
import os, socket, struct, sys, zlib
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
def response(txid, fingerprint_ok=True):
    cookie = 0x2112A442
    xport = 40000 ^ (cookie >> 16)
    xaddr = struct.unpack("!I", socket.inet_aton("192.0.2.1"))[0] ^ cookie
    attrs = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, xport, xaddr)
    head = struct.pack("!HHI", 0x0101, len(attrs) + 8, cookie) + txid
    crc = (zlib.crc32(head + attrs) & 0xffffffff) ^ 0x5354554E
    if not fingerprint_ok:
        crc ^= 1
    return head + attrs + struct.pack("!HHI", 0x8028, 4, crc)
while True:
    data, peer = s.recvfrom(2048)
    if mode == "garbage":
        s.sendto(os.urandom(48), peer)
        s.sendto(b"HTTP/1.1 400 Bad Request\r\n\r\n", peer)
    elif mode == "wrongtxid":
        s.sendto(response(os.urandom(12)), peer)
    elif mode == "badfingerprint":
        s.sendto(response(data[8:20], fingerprint_ok=False), peer)
EOF
for spec in garbage:4000 wrongtxid:4001 badfingerprint:4002; do
  in_ns python3 "$LAB_DIR/liar.py" "${spec%%:*}" "${spec##*:}" &
  LAB_PIDS+=($!)
done
lab_wait 5 "the lying servers" bash -c "[ \$(ip netns exec $NS ss -Hlun | grep -c '127.0.0.1:400[012]') -eq 3 ]"

failures=0
fail() { lab_log "FAIL: $*"; failures=$((failures + 1)); }
# check JSON PYTHON_EXPRESSION: the expression over `r` (the parsed JSON) must be true
check() {
  local json=$1 expr=$2
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($expr) else 1)" "$json" ||
    fail "expected $expr in: $json"
}

lab_log "1. coturn with RFC 5780 on loopback: open, no NAT"
out=$(in_ns "$W" network --stun 127.0.0.1:3478 --json) || fail "weft network exited $?"
echo "$out"
check "$out" "r['nat_type'] == 'open' and r['behind_nat'] is False and r['reachable'] is True"
check "$out" "r['mapping'] == 'endpoint-independent' and r['filtering'] == 'endpoint-independent'"
check "$out" "r['public_address'].startswith('127.0.0.1:') and r['public_address'] == r['local_endpoint']"
check "$out" "r['server']['rfc5780'] is True and r['server']['alternate'] == '127.0.0.2:3479'"
check "$out" "'Coturn' in r['server']['software'] and r['hairpin'] is None and '127.0.0.2' in r['local_addresses']"
check "$out" "r['note'] == '' and r['servers'][0]['answered'] is True and r['servers'][0]['rtt_ms'] >= 0"
human=$(in_ns "$W" network --stun 127.0.0.1:3478) || fail "weft network (human) exited $?"
echo "$human"
grep -qE '^nat type +open' <<<"$human" || fail "human output does not say 'nat type open'"
grep -qE '^filtering +endpoint-independent' <<<"$human" || fail "human output lacks the filtering line"

lab_log "2. coturn with one address: mapped address only, and a note saying why"
out=$(in_ns "$W" network --stun 127.0.0.3:5478 --json) || fail "weft network exited $?"
check "$out" "r['nat_type'] == 'open' and r['behind_nat'] is False and r['mapping'] == 'endpoint-independent'"
check "$out" "r['filtering'] == 'unknown' and 'alternate address' in r['note'] and r['server']['rfc5780'] is False"

lab_log "3. a name, a dead server and three liars first: each skipped with its reason, then the working one"
start=$(date +%s%N)
out=$(in_ns "$W" network --timeout 400 --stun nonsense --stun 127.0.0.1:3999 --stun 127.0.0.1:4000 \
  --stun 127.0.0.1:4001 --stun 127.0.0.1:4002 --stun 127.0.0.1:3478 --json) || fail "failover run exited $?"
took=$((($(date +%s%N) - start) / 1000000))
echo "$out"
lab_log "failover over 4 silent or lying servers took ${took} ms (--timeout 400)"
check "$out" "r['nat_type'] == 'open' and r['server']['server'] == '127.0.0.1:3478' and len(r['servers']) == 6"
check "$out" "'host:port' in r['servers'][0]['error']"
check "$out" "'no answer' in r['servers'][1]['error']"
check "$out" "'invalid datagram' in r['servers'][2]['error']"
check "$out" "'wrong transaction id' in r['servers'][3]['error']"
check "$out" "'FINGERPRINT' in r['servers'][4]['error']"
check "$out" "[s['answered'] for s in r['servers']] == [False] * 5 + [True]"
[ "$took" -lt 5000 ] || fail "failover took ${took} ms, want < 5000 with --timeout 400"
human=$(in_ns "$W" network --timeout 300 --stun 127.0.0.1:4001 --stun 127.0.0.1:3478) || fail "exited $?"
grep -q "skipped     127.0.0.1:4001: .*wrong transaction id" <<<"$human" ||
  fail "human output does not name the skipped liar: $human"

lab_log "4. no server answers: exit 1, a reason per server, JSON says udp-blocked"
set +e
err=$(in_ns "$W" network --timeout 300 --stun 127.0.0.1:3999 --stun 127.0.0.1:4000 2>&1 >/dev/null)
rc=$?
out=$(in_ns "$W" network --timeout 300 --stun 127.0.0.1:3999 --json 2>/dev/null)
rc_json=$?
set -e
[ $rc -eq 1 ] || fail "no answering server: exit $rc, want 1"
grep -q "no STUN server answered" <<<"$err" || fail "no clear error: $err"
grep -q "127.0.0.1:3999: no answer" <<<"$err" || fail "the dead server's reason is missing: $err"
grep -q "127.0.0.1:4000: .*invalid datagram" <<<"$err" || fail "the liar's reason is missing: $err"
[ $rc_json -eq 1 ] || fail "--json with no answering server: exit $rc_json, want 1"
check "$out" "r['nat_type'] == 'udp-blocked' and r['server'] is None and r['reachable'] is False"

lab_log "5. servers from weft.yaml, and from WEFT_STUN_SERVERS"
home="$LAB_DIR/node"
mkdir -p "$home"
printf 'nat:\n  stun_servers:\n    - "127.0.0.1:3999"\n    - "127.0.0.1:3478"\n' >"$home/weft.yaml"
out=$(in_ns "$W" network --home "$home" --timeout 300 --json) || fail "weft network --home exited $?"
check "$out" "r['server']['server'] == '127.0.0.1:3478' and r['servers'][0]['server'] == '127.0.0.1:3999'"
out=$(WEFT_STUN_SERVERS=127.0.0.3:5478 in_ns "$W" network --home "$LAB_DIR/empty" --json) ||
  fail "weft network with WEFT_STUN_SERVERS exited $?"
check "$out" "r['server']['server'] == '127.0.0.3:5478'"
set +e
err=$(in_ns "$W" network --home "$LAB_DIR/empty" 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "no STUN server" <<<"$err" || fail "no servers configured: exit $rc, '$err'"

lab_log "6. usage"
expect_rc() {
  local want=$1
  shift
  local rc=0
  "$@" >/dev/null 2>&1 || rc=$?
  [ $rc -eq "$want" ] || fail "'$*' exited $rc, want $want"
}
expect_rc 0 "$W" network --help
expect_rc 2 "$W" network --timeout 0 --stun 127.0.0.1:3478
expect_rc 2 "$W" network --timeout abc
expect_rc 2 "$W" network extra
expect_rc 2 "$W" network --bogus
"$W" --help | grep -q "network" || fail "weft --help does not list network"

# coturn and the liars are still alive: nothing crashed them, and nothing crashed us
for p in "${LAB_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || fail "process $p died during the test"; done

[ $failures -eq 0 ] || lab_fail "$failures check(s) failed"
lab_log "PASS"
