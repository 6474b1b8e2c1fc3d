#!/usr/bin/env bash
# test_inject.sh BIN_DIR — a host with no keys on the underlay tries to put packets into the overlay.
# It sends alpha's ICE port a bare IPv4/UDP packet (inner source alpha's overlay address, destination a
# socket on beta), once with the outer source forged as beta's path address and once from its own address
# after replaying STUN checks captured between beta and alpha. Before datagram directions were explicit,
# alpha's crypto took such a datagram for outbound plaintext (first byte 0x45), sealed it in the
# alpha<->beta session and beta delivered it: 3 of 3 each way. Now nat drops it (counted in
# drop_not_weft) and nothing reaches beta's socket; a genuine packet over the overlay still does.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_inject.sh BIN_DIR}"
ATTACK="python3 $(cd "$(dirname "$0")/../tools" && pwd)/wire_attack.py"

lab_switch
# the capture an attacker on the path would have: everything on the switch from before the nodes start
lab_exec_sw() { ip netns exec "$LAB_SW" "$@"; }
lab_exec_sw tcpdump -i br0 -U -w "$LAB_DIR/switch.pcap" udp 2>/dev/null & LAB_PIDS+=($!)
lab_hub hub 10.99.0.1
lab_node alpha 10.99.0.2 10.100.0.1
lab_node beta 10.99.0.3 10.100.0.2
lab_host mallory 10.99.0.66/24

lab_wait 30 "alpha to see beta connected" lab_peer_connected alpha 10.100.0.2
lab_wait 30 "beta to see alpha connected" lab_peer_connected beta 10.100.0.1
lab_exec alpha ping -c 3 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "no overlay ping before the attack"

# alpha's end of the path (the ICE port the attacker aims at) and beta's (the source it forges)
alpha_port=$(lab_path_field alpha local_addr)
beta_port=$(lab_path_field alpha remote_addr)
lab_log "alpha's path: $alpha_port <-> $beta_port"
case "$alpha_port" in 10.99.0.2:*) ;; *) lab_fail "alpha's path is not on the underlay: $alpha_port" ;; esac

# beta's victim socket: prints every datagram it receives on the overlay port 9999
lab_exec beta python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.100.0.2", 9999))
s.settimeout(60)
while True:
    try:
        data, src = s.recvfrom(2048)
    except socket.timeout:
        break
    print(src[0], data.decode(errors="replace"), flush=True)' >"$LAB_DIR/beta-received.txt" 2>&1 &
LAB_PIDS+=($!)
sleep 0.5

drops_before=$(lab_counter alpha nat drop_not_weft)

lab_log "attack 1: bare IPv4 datagrams with the outer source forged as beta's path address"
lab_exec mallory $ATTACK inject --dst "$alpha_port" --spoof-src "$beta_port" \
  --inner-src 10.100.0.1 --inner-dst 10.100.0.2 --inner-port 9999 --count 3 --payload "INJECTED spoofed"

lab_log "attack 2: from mallory's own address, after replaying STUN checks captured from beta"
mapfile -t checks < <($ATTACK stun-requests "$LAB_DIR/switch.pcap" 10.99.0.3 "$alpha_port" --max 3)
lab_log "captured ${#checks[@]} STUN checks from beta to alpha"
[ "${#checks[@]}" -ge 1 ] || lab_fail "the capture holds no STUN check from beta to $alpha_port (test is blind)"
lab_exec mallory $ATTACK inject --dst "$alpha_port" --replay "${checks[@]}" \
  --inner-src 10.100.0.1 --inner-dst 10.100.0.2 --inner-port 9999 --count 3 --payload "INJECTED replayed"

lab_log "control: a genuine packet from alpha over the overlay"
lab_exec alpha python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"GENUINE from alpha", ("10.100.0.2", 9999))'
lab_wait 5 "the genuine packet at beta" grep -q GENUINE "$LAB_DIR/beta-received.txt"
sleep 1

drops=$(( $(lab_counter alpha nat drop_not_weft) - drops_before ))
injected=$(grep -c INJECTED "$LAB_DIR/beta-received.txt" || true)
lab_log "beta received $injected injected datagrams; alpha's nat dropped $drops datagrams that are not weft's"
cat "$LAB_DIR/beta-received.txt"
[ "$injected" -eq 0 ] || lab_fail "a host without keys put $injected packets into the overlay"
# the forged datagrams must have reached alpha's nat (else the test proves nothing)
[ "$drops" -ge 3 ] || lab_fail "alpha's nat saw only $drops of the injected datagrams (test is blind)"
lab_exec alpha ping -c 5 -i 0.1 -W 2 10.100.0.2 | grep -q " 0% packet loss" || lab_fail "the overlay broke after the attack"
lab_log "PASS: nothing injected reached beta; $drops datagrams dropped at alpha's nat"
