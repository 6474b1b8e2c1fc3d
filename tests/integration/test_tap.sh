#!/usr/bin/env bash
# test_tap.sh BIN_DIR — device.mode tap end to end: a hub and two nodes whose overlay device is a TAP
# (Ethernet) device, one of them with device.mac set. Each kernel ARPs for the other's overlay address,
# weft-device answers, and ping works both ways with 0% loss over the L2 device. With routing.broadcast
# (alpha only) a ping to the overlay's broadcast address reaches beta; beta's (default off) is dropped.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_tap.sh BIN_DIR}"

MAC=02:00:5e:10:00:01
lab_switch
lab_hub hub 10.99.0.1
WEFT_DEVICE_MODE=tap WEFT_DEVICE_MAC=$MAC WEFT_ROUTING_BROADCAST=true lab_node alpha 10.99.0.2 10.100.0.1
WEFT_DEVICE_MODE=tap lab_node beta 10.99.0.3 10.100.0.2

lab_log "the overlay devices are Ethernet devices, alpha's with the configured MAC"
lab_wait 15 "alpha's weft0" lab_exec alpha ip link show weft0
lab_wait 15 "beta's weft0" lab_exec beta ip link show weft0
link=$(lab_exec alpha ip -o link show weft0)
grep -q "link/ether $MAC" <<<"$link" || lab_fail "alpha's weft0 is not an Ethernet device with MAC $MAC: $link"
lab_exec beta ip -o link show weft0 | grep -q "link/ether" || lab_fail "beta's weft0 is not an Ethernet device"

lab_wait 30 "alpha to see beta connected" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to see alpha connected" lab_peer_connected beta 10.100.0.1

lab_log "ping -c 20 both ways over TAP"
out=$(lab_exec alpha ping -c 20 -i 0.05 -W 2 10.100.0.2) || { echo "$out"; lab_fail "alpha -> beta ping failed"; }
echo "$out" | tail -2
echo "$out" | grep -q " 0% packet loss" || lab_fail "alpha -> beta lost packets"
out=$(lab_exec beta ping -c 20 -i 0.05 -W 2 10.100.0.1) || { echo "$out"; lab_fail "beta -> alpha ping failed"; }
echo "$out" | grep -q " 0% packet loss" || lab_fail "beta -> alpha lost packets"

lab_log "the kernel resolved the peer with ARP, answered by weft-device"
neigh=$(lab_exec alpha ip neigh show dev weft0 10.100.0.2)
echo "$neigh"
grep -q "lladdr 02:77:0a:64:00:02" <<<"$neigh" || lab_fail "alpha's neighbour entry for beta is not weft's: $neigh"
"$BIN/weft" status --home "$(lab_home alpha)" --json | python3 -c '
import json, sys
status = json.load(sys.stdin)
device = [s for s in status["services"] if s.get("service") == "device"][0]
counters = device.get("counters", {})
assert counters.get("arp_replies", 0) >= 1, counters
assert device.get("detail", "").startswith("tap weft0"), device.get("detail")
' || lab_fail "weft status does not show the TAP device answering ARP"

lab_log "routing.broadcast: alpha's broadcast ping reaches beta; beta's goes nowhere"
for n in alpha beta; do lab_exec $n sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0; done
out=$(lab_exec alpha ping -b -c 3 -i 0.2 -W 2 10.100.255.255 2>&1) || true
echo "$out" | tail -2
grep -q "from 10.100.0.2" <<<"$out" || lab_fail "alpha's broadcast ping got no answer from beta: $out"
router_counter() { lab_counter "$1" router "$2"; }
[ "$(router_counter alpha broadcast_copies)" -ge 3 ] || lab_fail "alpha's router counted no broadcast copies"
before=$(router_counter beta drop_no_route)
out=$(lab_exec beta ping -b -c 2 -i 0.2 -W 1 10.100.255.255 2>&1) || true
grep -q "from 10.100.0.1" <<<"$out" && lab_fail "beta's broadcast crossed the mesh although routing.broadcast is off"
after=$(router_counter beta drop_no_route)
[ "$after" -ge $((before + 2)) ] || lab_fail "beta's router did not drop its broadcasts ($before -> $after)"

lab_log "routing.broadcast: a multicast datagram from alpha reaches a group member on beta"
lab_exec beta python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 5405))
group = struct.pack("4s4s", socket.inet_aton("239.1.2.3"), socket.inet_aton("10.100.0.2"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
s.settimeout(5)
print(s.recvfrom(100)[0].decode())' >"$LAB_DIR/mcast.out" 2>&1 & receiver=$!
LAB_PIDS+=($receiver)
sleep 1
lab_exec alpha python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.100.0.1"))
for _ in range(3):
    s.sendto(b"hello-group", ("239.1.2.3", 5405))
    time.sleep(0.2)'
wait $receiver || true
grep -q "hello-group" "$LAB_DIR/mcast.out" || lab_fail "the multicast datagram did not reach beta: $(cat "$LAB_DIR/mcast.out")"

lab_log "PASS"
