#!/usr/bin/env bash
# test_tun_lend.sh BIN_DIR — weft-device lends its TUN fd on <home>/run/device.tun (issue 11, data plane
# stage 2), tested on device's side alone: crypto does not borrow it here (dataplane.tun: false), the test
# tool weft-tun-borrow does, as crypto would. One node:
#   - the borrower gets the fd and a tag saying what it is, and reads the ICMP packet the kernel writes
#     into the TUN for a ping to an overlay address nobody has; device's counters show it is not reading
#   - a second borrower is refused while the first holds the fd
#   - when the borrower exits, device takes the TUN back and reads it again
#   - device killed with -9 while a borrower holds the fd: the interface lives on (the borrower's fd keeps
#     it), and the restarted device attaches a second queue (multi-queue TUN) instead of failing with
#     EBUSY, and reads again; a new borrower is then lent the new device's fd
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_tun_lend.sh BIN_DIR}"

lab_switch
lab_hub hub 10.99.0.1
WEFT_DATAPLANE_TUN=false lab_node alpha 10.99.0.2 10.100.0.1
HOME_A=$(lab_home alpha)
SOCK=$HOME_A/run/device.tun
counter() { lab_counter alpha device "$1"; }
detail() { "$BIN/weft" status --home "$HOME_A" --json | python3 -c '
import json, sys
print([s for s in json.load(sys.stdin)["services"] if s.get("service") == "device"][0].get("detail", ""))'; }
# ping_nobody N: N pings to overlay addresses no member has (each a flow of its own); the kernel writes
# them into the TUN all the same
ping_nobody() { for i in $(seq 1 "$1"); do lab_exec alpha ping -c 1 -W 0.2 "10.100.0.$((100 + i))" >/dev/null 2>&1 || true; done; }
borrowed() { grep -q "^tag: " "$1"; }
# counter_is NAME VALUE / counter_above NAME VALUE / restarted OLD_PID: for lab_wait, which retries a command
counter_is() { [ "$(counter "$1")" = "$2" ]; }
counter_above() { [ "$(counter "$1")" -gt "$2" ]; }
restarted() { local pid; pid=$(lab_service_pid alpha device); [ -n "$pid" ] && [ "$pid" != "$1" ]; }
# pings one more overlay address nobody has (a new flow each call), then: has device read anything?
flow=0
new_flow_read() { flow=$((flow + 1)); ping_one "10.100.1.$flow"; counter_above packets_in 0; }
ping_one() { lab_exec alpha ping -c 1 -W 0.2 "$1" >/dev/null 2>&1 || true; }

lab_wait 15 "alpha's weft0" lab_exec alpha ip link show weft0
lab_wait 10 "the lending socket" test -S "$SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || lab_fail "the lending socket is not mode 0600: $(stat -c %a "$SOCK")"

lab_log "a borrower gets the TUN fd and reads a packet from it; device stops reading"
lab_exec alpha "$BIN/weft-tun-borrow" "$SOCK" --read 3 --hold 4 --timeout 10 >"$LAB_DIR/b1.out" 2>&1 & b1=$!
LAB_PIDS+=("$b1")
lab_wait 10 "the borrower to get the fd" borrowed "$LAB_DIR/b1.out"
grep -qx "tag: tun weft0 vnet_hdr=10 offload=csum,tso4,tso6 mtu=1400" "$LAB_DIR/b1.out" ||
  lab_fail "unexpected tag: $(cat "$LAB_DIR/b1.out")"
[ "$(counter tun_lends)" = 1 ] && [ "$(counter tun_takebacks)" = 0 ] || lab_fail "device does not count the lend"
detail | grep -q "tun lent to the data plane" || lab_fail "device's status does not say the TUN is lent: $(detail)"
before=$(counter packets_in)
lab_exec alpha ping -c 2 -i 0.2 -W 0.5 10.100.0.77 >/dev/null 2>&1 || true
lab_wait 5 "the borrower to read the ping" grep -q "^packet: 84 bytes proto 1 10.100.0.1 -> 10.100.0.77" "$LAB_DIR/b1.out"
ping_nobody 4
[ "$(counter packets_in)" = "$before" ] || lab_fail "device read the TUN while it was lent ($before -> $(counter packets_in))"

lab_log "a second borrower is refused while the first holds the fd"
if out=$("$BIN/weft-tun-borrow" "$SOCK" --read 0 --timeout 3 2>&1); then lab_fail "a second borrower got the fd: $out"; fi
grep -q "refused: the TUN is lent to another client" <<<"$out" || lab_fail "the second borrower was not told why: $out"
[ "$(counter tun_lend_refused)" = 1 ] || lab_fail "the refusal is not counted"

lab_log "the borrower exits: device takes the TUN back and reads it"
wait "$b1" || lab_fail "the borrower failed: $(cat "$LAB_DIR/b1.out")"
lab_wait 5 "device to take the TUN back" counter_is tun_takebacks 1
before=$(counter packets_in)
ping_nobody 3
lab_wait 5 "device to read the TUN again" counter_above packets_in "$before"
detail | grep -q "tun lent" && lab_fail "device's status still says the TUN is lent: $(detail)"

lab_log "kill -9 device while a borrower holds the fd: the restarted device attaches a queue and reads"
lab_exec alpha "$BIN/weft-tun-borrow" "$SOCK" --read 0 --hold 30 >"$LAB_DIR/b2.out" 2>&1 & b2=$!
LAB_PIDS+=("$b2")
lab_wait 10 "the second lend" borrowed "$LAB_DIR/b2.out"
old_pid=$(lab_service_pid alpha device)
kill -9 "$old_pid"
lab_wait 15 "device to restart" restarted "$old_pid"
lab_wait 15 "the restarted device to answer" eval 'detail | grep -q "^tun weft0"'
[ "$(counter tun_lends)" = 0 ] || lab_fail "the restarted device counts a lend it did not make"
kill -0 "$b2" 2>/dev/null || lab_fail "the borrower died with device"
lab_exec alpha ip -o addr show dev weft0 | grep -q "10.100.0.1/16" || lab_fail "weft0 lost its address"
# two queues now: the kernel spreads flows over both by hash, so new flows soon reach device's queue
lab_wait 15 "the restarted device to read its queue" new_flow_read
lab_exec alpha "$BIN/weft-tun-borrow" "$SOCK" --read 0 --hold 1 >"$LAB_DIR/b3.out" 2>&1 ||
  lab_fail "refused after the restart while the old device's borrower lives: $(cat "$LAB_DIR/b3.out")"
lab_wait 5 "the new device to take its TUN back" counter_is tun_takebacks 1
kill "$b2"

lab_log "PASS"
