#!/usr/bin/env bash
# test_network_nat_types.sh BIN_DIR — `weft network --json` run from a host behind each of the NAT lab's
# five router types (tests/lib/natlab.sh: coturn with two public addresses and an alternate port) must
# name the NAT type the router builds, with the mapping and filtering behaviour that define it, the
# router's public address, and hairpinning where the NAT does it. The same probe with a dead and a lying
# server first in the list must fall over to coturn and still classify correctly. Prints a table.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/netlab.sh"
source "$HERE/../lib/natlab.sh"
natlab_init "${1:?usage: test_network_nat_types.sh BIN_DIR}"
W="$BIN/weft"
STUN="$NATLAB_SERVER_IP:$NATLAB_TURN_PORT"

declare -A WANT_TYPE=([none]=open [full]=full-cone [restricted]=restricted-cone [port]=port-restricted-cone
  [symmetric]=symmetric)
declare -A WANT_MAPPING=([none]=endpoint-independent [full]=endpoint-independent [restricted]=endpoint-independent
  [port]=endpoint-independent [symmetric]=address-and-port-dependent)
declare -A WANT_FILTERING=([none]=endpoint-independent [full]=endpoint-independent [restricted]=address-dependent
  [port]=address-and-port-dependent [symmetric]=address-and-port-dependent)
# natlab.sh: the map-based NATs hairpin, MASQUERADE does not; a public host is not tested
declare -A WANT_HAIRPIN=([none]=None [full]=True [restricted]=True [port]=False [symmetric]=False)
TYPES=(none full restricted port symmetric)

for t in "${TYPES[@]}"; do
  natlab_router "r$t" "$t"
  natlab_host "h$t" "r$t"
done

# a UDP port on the server that never answers, and one that answers a bare header (no address): both before coturn
ip netns exec "$NATLAB_SRV" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("'"$NATLAB_SERVER_IP"'", 3999))
while True:
    d, peer = s.recvfrom(2048)
    s.sendto(b"\x01\x01\x00\x00" + d[4:20], peer)   # a success response with no attributes
' &
LAB_PIDS+=($!)
lab_wait 5 "the lying server" bash -c "ip netns exec $NATLAB_SRV ss -Hlun | grep -q ':3999 '"

failures=0
fail() { lab_log "FAIL: $*"; failures=$((failures + 1)); }
check() {
  local json=$1 expr=$2 what=$3
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if ($expr) else 1)" "$json" ||
    fail "$what: expected $expr in: $json"
}

rows=()
for t in "${TYPES[@]}"; do
  natlab_reset
  start=$(date +%s%N)
  out=$(ip netns exec "${LAB_TAG}-h$t" "$W" network --stun "$STUN" --timeout 700 --json) || fail "$t: exit $?"
  took=$((($(date +%s%N) - start) / 1000000))
  echo "$out"
  public=$(natlab_public_ip "h$t")
  check "$out" "r['nat_type'] == '${WANT_TYPE[$t]}'" "$t"
  check "$out" "r['mapping'] == '${WANT_MAPPING[$t]}' and r['filtering'] == '${WANT_FILTERING[$t]}'" "$t"
  check "$out" "r['public_address'].split(':')[0] == '$public'" "$t"
  check "$out" "r['behind_nat'] == ('$t' != 'none') and r['server']['rfc5780'] is True" "$t"
  check "$out" "r['hairpin'] == ${WANT_HAIRPIN[$t]}" "$t"
  check "$out" "r['reachable'] == ('$t' in ('none', 'full'))" "$t"
  got=$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(r['nat_type'], r['mapping'], r['filtering'], r['hairpin'], sep='|')" "$out")
  rows+=("$t|$got|${took}")

  # failover: a dead port, then the liar, then coturn; the classification must not change
  natlab_reset
  out=$(ip netns exec "${LAB_TAG}-h$t" "$W" network --stun "$NATLAB_SERVER_IP:3998" --stun "$NATLAB_SERVER_IP:3999" \
    --stun "$STUN" --timeout 700 --json) || fail "$t with failover: exit $?"
  check "$out" "r['nat_type'] == '${WANT_TYPE[$t]}' and r['server']['server'] == '$STUN'" "$t with failover"
  check "$out" "'no answer' in r['servers'][0]['error'] and 'without a mapped address' in r['servers'][1]['error']" \
    "$t with failover"
done

printf '\n%-11s %-21s %-27s %-27s %-8s %s\n' ROUTER "NAT TYPE" MAPPING FILTERING HAIRPIN "PROBE MS"
for row in "${rows[@]}"; do
  IFS='|' read -r t type mapping filtering hairpin took <<<"$row"
  printf '%-11s %-21s %-27s %-27s %-8s %s\n' "$t" "$type" "$mapping" "$filtering" "$hairpin" "$took"
done
echo

[ $failures -eq 0 ] || lab_fail "$failures check(s) failed"
lab_log "PASS"
