#!/usr/bin/env bash
# test_handshake_flood.sh BIN_DIR — handshake floods against a node's ICE port must not hurt its
# established traffic (docs/protocol.md, "Handshake flood protection"). Runs bench/handshake_flood.sh: a
# host on the same switch sends alpha 20000 initiations a second for each phase, first forged from beta's
# path address (random 116-byte ones and 148-byte ones with a valid mac1), then replayed copies of the
# genuine initiations captured on the switch. Before mac1/cookies/rate limits, every one cost alpha's
# crypto a Diffie-Hellman: 95-98 % CPU, iperf3 from ~600 to 14-26 Mbit/s, 2-4 % ping loss (spoofed) and
# 42 % ping loss at ~1.2 s RTT (replayed). Now, while flooding, iperf3 keeps >= 80 % of its reference
# (below: the baseline, or the same flood aimed at a closed port if that is lower) and ping loss is < 1 %,
# and alpha's counters show the floods were seen and dropped before any DH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: test_handshake_flood.sh BIN_DIR}" && pwd)
out=$(mktemp /tmp/weft-flood.XXXXXX)
trap 'rm -f "$out"' EXIT
"$here/../../bench/handshake_flood.sh" "$bin" 5 | tee "$out"

field() { sed -n "s/^phase=$1 .*$2=\([^ ]*\).*/\1/p" "$out"; }
# a counter summed over both nodes (the replay flood hits whichever node answered the first handshake)
counter() { sed -n "s/^counter [a-z]* $1=\(.*\)/\1/p" "$out" | awk '{s += $1} END {print s + 0}'; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# The reference is the lowest of: the baseline before and after the floods (other work on the machine
# moves iperf3's figure), and the control phase, the same floods aimed at a closed port on alpha. On this
# 2-core lab the flooder and the kernel's delivery of 20000 datagrams a second take CPU from both nodes
# and iperf3 whoever the target is; the control phase measures that, so what is compared is what weft's
# handling of the flood costs. Each phase's figure is the median of three iperf3 runs: in CI one 5 s run once
# fell to 70 Mbit/s against a reference of 300 where three runs here give 258-391 against 281-336.
# The old code lost 95 % of the throughput (14-26 of ~600 Mbit/s).
base=$(python3 -c 'import sys; print(min(int(x) for x in sys.argv[1:]))' "$(field baseline mbit)" "$(field after mbit)" "$(field control mbit)")
[ -n "$base" ] && [ "$base" -gt 0 ] || fail "no baseline throughput"
for phase in spoofed replay; do
  mbit=$(field $phase mbit)
  loss=$(field $phase loss_pct)
  [ -n "$mbit" ] || fail "no figures for the $phase flood"
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.8 * float(sys.argv[2]) else 1)' "$mbit" "$base" ||
    fail "$phase flood: iperf3 $mbit Mbit/s, less than 80 % of the reference $base Mbit/s"
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)' "$loss" ||
    fail "$phase flood: ping loss $loss % (must be < 1 %)"
done

# the floods reached the nodes and were dropped by the cheap checks (else the test is blind): the wrong-sized
# ones by the kernel filter on the path's socket (or, before nat put it there, by nat); handshakes beyond 50
# a second on one peer's path where they arrive (the data plane's direct path, or nat's agent: the data
# plane's loop must not spend itself on them); what was let through in crypto before any DH
[ $(( $(counter udp_drops) + $(counter nat_drop_not_weft) )) -ge 10000 ] ||
  fail "the random 116-byte flood was dropped neither by the port's kernel filter (lib/udp_guard.h) nor by nat (lib/datagram.h)"
[ $(( $(counter nat_drop_handshake_flood) + $(counter direct_drop_handshake_flood) )) -ge 10000 ] ||
  fail "the handshake floods were not cut to 50 a second per path (by the data plane's direct path, or nat's agent)"
[ "$(counter drop_handshake_mac2)" -ge 100 ] || fail "the mac1-valid initiations nat let through were not met with 'cookie required'"
[ "$(counter cookie_replies_out)" -ge 1 ] || fail "no cookie replies for the mac1-valid flood"
[ "$(counter cookie_replies_limited)" -ge 1 ] || fail "the cookie replies to the flood were not rate limited"
# beta, whose path the flood was forged on, could read the replies meant for the forged initiations
[ "$(counter cookie_replies_in)" -ge 1 ] || fail "beta could not use the cookie replies sent on its path"
replays=$(( $(counter drop_handshake_repeat) + $(counter drop_handshake_rate_limit) + $(counter drop_handshake_mac2) ))
[ "$(counter drop_handshake_repeat)" -ge 1 ] || fail "the replayed initiations were not recognised as repeats"
# DHs done for initiations: bounded by the rate limits, a tiny share of the ~400000 sent
dh=$(( $(counter drop_auth) + $(counter drop_handshake_replay) + $(counter handshakes_responded) ))
[ "$dh" -le 2000 ] || fail "$dh initiations reached the Diffie-Hellman"
echo "PASS: established traffic kept its throughput and pings through both floods ($dh DHs, $replays cheap drops of replays and cookie-less initiations)"
