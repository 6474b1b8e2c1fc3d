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
for c in init up down status peers id hub; do
  expect 0 "usage: weft $c" "$W" "$c" --help
  expect 2 "usage|unrecognized|invalid" "$W" "$c" --no-such-option
done
for s in device router crypto nat discovery; do
  expect 0 "usage: .*weft-$s" "$BIN/weft-$s" --help
  expect 2 "unexpected argument" "$BIN/weft-$s" stray
done
expect 0 "usage: weft-node" "$BIN/weft-node" --help
expect 2 "unknown service 'toaster'" "$BIN/weft-node" --services device,toaster

H="$TMP/n1"
expect 2 "--address, --hub and --hub-key are required" "$W" init --home "$H"
expect 2 "not an IPv4 address" "$W" init --home "$H" --address 10.100.0.300/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY
expect 2 "bad prefix length" "$W" init --home "$H" --address 10.100.0.3/99 --hub tcp://10.99.0.1:7400 --hub-key $KEY
expect 2 "40-character key" "$W" init --home "$H" --address 10.100.0.3/16 --hub tcp://10.99.0.1:7400 --hub-key short
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

expect 1 "not answering" "$W" status --home "$H"
expect 1 "nothing is running" "$W" down --home "$H"
expect 1 "is the node up" "$W" peers --home "$H"
expect 1 "run .weft init. first" "$W" status --home "$TMP/never-initialised"

# a broken weft.yaml: a clear error with the line, and the services refuse it the same way
printf 'device:\n  mtu: 1400\n  colour: blue\n' >>"$H/weft.yaml"
expect 1 "weft.yaml:[0-9]+: unknown key 'device.colour'" "$W" status --home "$H"
expect 1 "unknown key 'device.colour'" "$BIN/weft-router" --home "$H"
# a key file others can read is refused
"$W" init --home "$H" --force --address 10.100.0.4/16 --hub tcp://10.99.0.1:7400 --hub-key $KEY >/dev/null
chmod 644 "$H/identity.key"
expect 1 "chmod 600" "$W" id --home "$H"
chmod 600 "$H/identity.key"
# WEFT_* overrides are checked like the file
WEFT_DEVICE_MTU=huge expect 1 "WEFT_DEVICE_MTU" "$W" status --home "$H"

# the hub's key: created once, then stable
K1=$("$W" hub key --home "$TMP/hub")
K2=$("$W" hub key --home "$TMP/hub")
[ ${#K1} -eq 40 ] && [ "$K1" = "$K2" ] || { echo "FAIL: weft hub key printed '$K1' then '$K2'"; failures=$((failures + 1)); }
[ "$(stat -c %a "$TMP/hub/hub.key")" = 600 ] || { echo "FAIL: hub.key is not mode 600"; failures=$((failures + 1)); }

if [ $failures -eq 0 ]; then echo "PASS"; else echo "$failures failures"; exit 1; fi
