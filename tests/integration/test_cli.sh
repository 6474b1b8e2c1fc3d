#!/usr/bin/env bash
# test_cli.sh BIN_DIR — the CLI's contract: --help on every command (exit 0), usage errors exit 2 with a
# message, failures exit 1 with a message that says what to do, and bad input never crashes or leaves
# half-written state. Needs no namespaces.
set -uo pipefail
BIN=$(cd "${1:?usage: test_cli.sh BIN_DIR}" && pwd)
W="$BIN/weft"
TMP=$(mktemp -d /tmp/weft-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failures=0
KEY=0123456789012345678901234567890123456789

# expect CODE PATTERN COMMAND...: exit status CODE and PATTERN somewhere in stdout+stderr
expect() {
  local code=$1 pattern=$2
  shift 2
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -ne "$code" ] || ! grep -qiE -- "$pattern" <<<"$out"; then
    echo "FAIL: '$*' exited $rc (want $code), output did not match '$pattern':"
    echo "$out" | head -5
    failures=$((failures + 1))
  fi
  if [ $rc -ge 128 ]; then
    echo "FAIL: '$*' died with signal $((rc - 128))"
    failures=$((failures + 1))
  fi
}

expect 0 "usage: weft COMMAND" "$W" --help
expect 2 "usage: weft COMMAND" "$W"
expect 2 "unknown command 'frobnicate'" "$W" frobnicate
# every command `weft --help` lists, and every subcommand their helps list (under "commands:" or
# "subcommands:"): --help exits 0 with a usage line, an unknown option exits 2 with a hint
names_under() { awk -v h="$1:" '$0 == h { f = 1; next } f && /^$/ { exit } f && /^  [a-z]/ { print $1 }'; }
commands=$("$W" --help | names_under commands)
for c in init up down status peers id hub config; do
  grep -qx "$c" <<<"$commands" || { echo "FAIL: weft --help does not list '$c'"; failures=$((failures + 1)); }
done
for c in $commands; do
  expect 0 "usage: weft $c" "$W" "$c" --help
  expect 2 "usage|unrecognized|invalid|unknown" "$W" "$c" --no-such-option
  help=$("$W" "$c" --help)
  for sub in $( (names_under subcommands <<<"$help"; names_under commands <<<"$help") ); do
    expect 0 "usage: weft $c $sub" "$W" "$c" "$sub" --help
    expect 2 "usage|unrecognized|invalid|unknown" "$W" "$c" "$sub" --no-such-option
  done
done
expect 2 "unexpected argument 'stray'" "$W" down --home "$TMP/none" stray
for s in device router crypto dataplane nat discovery; do
  expect 0 "usage: .*weft-$s" "$BIN/weft-$s" --help
  expect 2 "unexpected argument" "$BIN/weft-$s" stray
done
expect 0 "usage: weft-node" "$BIN/weft-node" --help
expect 2 "unknown service 'toaster'" "$BIN/weft-node" --services device,toaster

H="$TMP/n1"
expect 2 "--address, --hub and --hub-key are required" "$W" init --home "$H"
expect 2 "not an IPv4 address" "$W" init --home "$H" --address 10.100.0.300/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY
expect 2 "bad prefix length" "$W" init --home "$H" --address 10.100.0.3/99 --hub tcp://10.99.0.1:7400 --hub-key $KEY
expect 2 "64 hex characters" "$W" init --home "$H" --address 10.100.0.3/16 --hub tcp://10.99.0.1:7400 --hub-key short
expect 2 "64 hex characters" "$W" init --home "$H" --address 10.100.0.3/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY --network-key abc
expect 2 "must not contain quotes" "$W" init --home "$H" --name 'a"b' --address 10.100.0.3/16 --hub tcp://x:1 --hub-key $KEY
expect 2 "576..9000" "$W" init --home "$H" --address 10.100.0.3/16 --hub tcp://x:1 --hub-key $KEY --mtu 20
[ ! -e "$H/identity.key" ] || { echo "FAIL: a refused init left an identity behind"; failures=$((failures + 1)); }

expect 0 "initialised" "$W" init --home "$H" --name n1 --address 10.100.0.3/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY
[ "$(stat -c %a "$H/identity.key")" = 600 ] || { echo "FAIL: identity.key is not mode 600"; failures=$((failures + 1)); }
id_before=$("$W" id --home "$H")
expect 1 "exists; use --force" "$W" init --home "$H" --address 10.100.0.3/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY
expect 0 "initialised" "$W" init --home "$H" --force --name n1 --address 10.100.0.4/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY
[ "$("$W" id --home "$H")" = "$id_before" ] || { echo "FAIL: init --force replaced the identity"; failures=$((failures + 1)); }
expect 0 '"fingerprint":"[0-9a-f]{4}-' "$W" id --home "$H" --json
# an old Z85 hub key may hold "${" and "$": still accepted, never expanded (a real CI failure), and written
# in the shell-safe hex form
DKEY='0123456789a${bcdefghijklmnopqrstuvwxyz$$'
DHEX=$(python3 -c 'import sys
A = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
out = b""
for i in range(0, 40, 5):
    v = 0
    for c in sys.argv[1][i:i + 5]:
        v = v * 85 + A.index(c)
    out += v.to_bytes(4, "big")
print(out.hex())' "$DKEY")
expect 0 "initialised" "$W" init --home "$H" --force --address 10.100.0.4/16 --hub tcp://10.99.0.1:7400 --hub-key "$DKEY"
grep -q "public_key: \"$DHEX\"" "$H/weft.yaml" ||
  { echo "FAIL: the Z85 hub key with \${ was not written as its hex form $DHEX"; failures=$((failures + 1)); }

expect 1 "not answering" "$W" status --home "$H"
expect 0 "not running" "$W" down --home "$H"   # already down: no failure
expect 1 "is the node up" "$W" peers --home "$H"
expect 1 "is the node up" "$W" routes --home "$H"
expect 1 "run .weft init. first" "$W" status --home "$TMP/never-initialised"

# a broken weft.yaml: a clear error with the line, and the services refuse it the same way
printf 'device:\n  colour: blue\n' >>"$H/weft.yaml"
expect 1 "weft.yaml:[0-9]+: unknown key 'device.colour'" "$W" status --home "$H"
expect 1 "unknown key 'device.colour'" "$BIN/weft-router" --home "$H"
# a key file others can read is refused
"$W" init --home "$H" --force --address 10.100.0.4/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY >/dev/null
chmod 644 "$H/identity.key"
expect 1 "chmod 600" "$W" id --home "$H"
chmod 600 "$H/identity.key"
# WEFT_* overrides are checked like the file
WEFT_DEVICE_MTU=huge expect 1 "WEFT_DEVICE_MTU" "$W" status --home "$H"
# crypto hands the transport keys to the data plane's inbox: it refuses one that could cross a network
WEFT_ENDPOINTS_DATAPLANE=tcp://127.0.0.1:7499 expect 1 "must be an ipc:// or inproc:// endpoint" "$BIN/weft-crypto" --home "$H"

# weft config check: ok and a summary, or the error with file:line; exit 0 / 1 / 2
json_ok() { python3 -c 'import json, sys; json.load(sys.stdin)'; }
SRC=$(cd "$(dirname "$0")/../.." && pwd)
expect 0 "^ok: .*weft.example.yaml" "$W" config check "$SRC/docs/weft.example.yaml"
expect 0 "^ok: .*/n1/weft.yaml" "$W" config check --home "$H"    # what weft init wrote
"$W" config check --json "$SRC/docs/weft.example.yaml" | json_ok || { echo "FAIL: config check --json is not JSON"; failures=$((failures + 1)); }
expect 0 '"ok":true' "$W" config check --json "$SRC/docs/weft.example.yaml"
expect 1 "run .weft init. first" "$W" config check --home "$TMP/never-initialised"
expect 1 "No such file" "$W" config check "$TMP/missing.yaml"
expect 2 "one FILE at most" "$W" config check a.yaml b.yaml
expect 2 "usage: weft config" "$W" config
expect 2 "unknown subcommand 'frob'" "$W" config frob
C="$TMP/check.yaml"
printf 'node:\n  name: a\n\ndevice:\n  mtu: 1400\n  colour: blue\n' >"$C"
expect 1 "check.yaml:6: unknown key 'device.colour'" "$W" config check "$C"
expect 1 '"line":6' "$W" config check --json "$C"
{ "$W" config check --json "$C" || true; } | json_ok || { echo "FAIL: a failed config check --json is not JSON"; failures=$((failures + 1)); }
printf 'device:\n  mtu: [1400\n' >"$C"
expect 1 "check.yaml:[0-9]+: " "$W" config check "$C"
printf 'hub:\n  endpoint: tcp://${WEFT_TEST_HUB_HOST}:7400\n' >"$C"
(unset WEFT_TEST_HUB_HOST; expect 1 "check.yaml:2: 'hub.endpoint': environment variable WEFT_TEST_HUB_HOST is not set" "$W" config check "$C")
WEFT_TEST_HUB_HOST=10.0.0.9 expect 0 "hub +tcp://10.0.0.9:7400" "$W" config check "$C"
printf 'device:\n  mtu: ${WEFT_TEST_MTU:-1280}\n' >"$C"
expect 0 "mtu 1280" "$W" config check "$C"
WEFT_TEST_MTU=20 expect 1 "576..9000" "$W" config check "$C"
WEFT_DEVICE_MTU=9999 expect 1 "environment WEFT_DEVICE_MTU" "$W" config check "$C"
printf 'device:\n  mode: tap\n  mac: 02:00:5e:10:00:01\n' >"$C"
expect 0 "device +tap weft0" "$W" config check "$C"
printf 'device:\n  mode: tun\n  mac: 02:00:5e:10:00:01\n' >"$C"
expect 1 "check.yaml:3: 'device.mac' is only used with device.mode tap" "$W" config check "$C"
printf 'device:\n  mode: tab\n' >"$C"
expect 1 "check.yaml:2: 'device.mode': 'tab' is not one of tun\|tap" "$W" config check "$C"
printf 'connection:\n  direct: false\n  relay: never\n' >"$C"
expect 1 "check.yaml:3: connection.direct is false and connection.relay is never" "$W" config check "$C"
# a node in several meshes (<home>/meshes/NAME/weft.yaml): --mesh picks one
M="$TMP/multi"
mkdir -p "$M/meshes/lab" "$M/meshes/work"
"$W" init --home "$M/meshes/lab" --address 10.100.0.5/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY >/dev/null
printf 'log:\n  level: loud\n' >"$M/meshes/work/weft.yaml"
expect 2 "choose one with --mesh" "$W" config check --home "$M"
expect 0 "^ok: .*/meshes/lab/weft.yaml" "$W" config check --home "$M" --mesh lab
expect 1 "meshes/work/weft.yaml:2: 'log.level': 'loud' is not one of" "$W" config check --home "$M" --mesh work
expect 1 "not in a mesh named 'other'" "$W" config check --home "$M" --mesh other
expect 2 "not both" "$W" config check --home "$M" --mesh lab "$C"
# secrets are never printed
printf 'mesh:\n  network_key: %s\nnat:\n  turn_servers: ["turn://user:hunter2@10.0.0.2:3478"]\n' "$(printf 'ab%.0s' {1..32})" >"$C"
# a file holding secrets that other users can read is refused, with the fix
chmod 644 "$C"
expect 1 "holds a secret \(mesh.network_key\) but other users can read or change it \(mode 644\): run chmod 600" "$W" config check "$C"
chmod 600 "$C"
out=$("$W" config check --json "$C")
if grep -q "hunter2\|abababab" <<<"$out" || ! grep -q '"mesh.network_key":"(set)"' <<<"$out"; then
  echo "FAIL: config check --json shows a secret: $out"; failures=$((failures + 1))
fi
# the services refuse what config check refuses, the same way
WEFT_DEVICE_MODE=tab expect 1 "WEFT_DEVICE_MODE: 'tab' is not one of" "$BIN/weft-device" --home "$H"

# --json on every read command gives JSON (where the command can answer without a running node)
"$W" id --home "$H" --json | json_ok || { echo "FAIL: weft id --json is not JSON"; failures=$((failures + 1)); }
if grep -qx mesh <<<"$commands"; then
  "$W" mesh list --home "$H" --json | json_ok || { echo "FAIL: weft mesh list --json is not JSON"; failures=$((failures + 1)); }
fi
for c in status peers routes id network; do
  grep -qx "$c" <<<"$commands" || continue
  "$W" "$c" --help | grep -q -- "--json" || { echo "FAIL: weft $c has no --json"; failures=$((failures + 1)); }
done

# the hub's key: created once, then stable
K1=$("$W" hub key --home "$TMP/hub")
K2=$("$W" hub key --home "$TMP/hub")
[[ $K1 =~ ^[0-9a-f]{64}$ ]] && [ "$K1" = "$K2" ] || { echo "FAIL: weft hub key printed '$K1' then '$K2'"; failures=$((failures + 1)); }
[ "$(stat -c %a "$TMP/hub/hub.key")" = 600 ] || { echo "FAIL: hub.key is not mode 600"; failures=$((failures + 1)); }

# a hub with a broken weft.yaml does not start
printf 'hub:\n  colour: blue\n' >"$TMP/hub/weft.yaml"
expect 1 "weft.yaml:2: unknown key 'hub.colour'" "$W" hub --home "$TMP/hub"
[ ! -e "$TMP/hub/run/weft.pid" ] || { echo "FAIL: weft hub started with a broken weft.yaml"; "$W" down --home "$TMP/hub"; failures=$((failures + 1)); }

if [ $failures -eq 0 ]; then echo "PASS"; else echo "$failures failures"; exit 1; fi
