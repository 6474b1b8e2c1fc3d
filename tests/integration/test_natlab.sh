#!/usr/bin/env bash
# test_natlab.sh BIN_DIR — the NAT lab (tests/lib/natlab.sh) checks itself with classifiers that know
# nothing of how it is built: from a host behind each of the five router types, `turnutils_natdiscovery`
# (RFC 5780 mapping and filtering behaviour) and the `stun` client (RFC 3489 type, port preservation,
# hairpin) must report the intended NAT. Then hairpin by hand (two hosts behind one router reach each
# other through the router's public address only where the type allows it), natlab_block_udp and
# natlab_cut do what they say, the TURN server allocates with both kinds of credentials, and a real
# miniupnpd answers UPnP IGD (`upnpc`) and NAT-PMP (`natpmpc`) with mappings that work from outside.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
source "$(dirname "$0")/../lib/natlab.sh"
natlab_init "${1:?usage: test_natlab.sh BIN_DIR}"
for tool in turnutils_natdiscovery stun upnpc natpmpc turnutils_uclient; do
  command -v $tool >/dev/null || lab_fail "$tool is not installed (scripts/install-deps.sh)"
done

TYPES=(none full restricted port symmetric)
for t in "${TYPES[@]}"; do
  natlab_router "r$t" "$t"
  natlab_host "h$t" "r$t"
  natlab_host "g$t" "r$t" # a second host for the hairpin check
done

lab_log "classifying each router from a host behind it (all five at once)"
jobs_started=()
for t in "${TYPES[@]}"; do
  lab_exec "h$t" timeout 30 turnutils_natdiscovery -m -f "$NATLAB_SERVER_IP" >"$LAB_DIR/natdiscovery-$t.txt" 2>&1 &
  jobs_started+=($!)
done
for t in "${TYPES[@]}"; do
  lab_exec "h$t" timeout 30 stun "$NATLAB_SERVER_IP" -v >"$LAB_DIR/stun-$t.txt" 2>&1 &
  jobs_started+=($!)
done
for j in "${jobs_started[@]}"; do wait "$j" || true; done

# expected: natdiscovery mapping, natdiscovery filtering, stun's "Primary:" verdict, stun's hairpin verdict
declare -A WANT_MAP=([none]="Endpoint Independent Mapping" [full]="Endpoint Independent Mapping"
  [restricted]="Endpoint Independent Mapping" [port]="Endpoint Independent Mapping"
  [symmetric]="Address and Port Dependent Mapping")
declare -A WANT_FILTER=([none]="Endpoint Independent Filtering" [full]="Endpoint Independent Filtering"
  [restricted]="Address Dependent Filtering" [port]="Address and Port Dependent Filtering"
  [symmetric]="Address and Port Dependent Filtering")
declare -A WANT_STUN=([none]="Open" [full]="Independent Mapping, Independent Filter"
  [restricted]="Independent Mapping, Address Dependent Filter" [port]="Independent Mapping, Port Dependent Filter"
  [symmetric]="Dependent Mapping")
declare -A WANT_STUN_HAIRPIN=([none]="" [full]="will hairpin" [restricted]="will hairpin" [port]="no hairpin"
  [symmetric]="no hairpin")

failures=0
table="$LAB_DIR/table.txt"
printf '%-10s | %-36s | %-38s | %s\n' "router" "natdiscovery mapping" "natdiscovery filtering" "stun (RFC 3489)" >"$table"
for t in "${TYPES[@]}"; do
  nd="$LAB_DIR/natdiscovery-$t.txt"
  map=$(grep -o 'NAT with [A-Za-z ]*Mapping' "$nd" | sed 's/NAT with //' | head -1 || true)
  filter=$(grep -o 'NAT with [A-Za-z ]*Filtering' "$nd" | sed 's/NAT with //' | head -1 || true)
  verdict=$(grep -o 'Primary: .*' "$LAB_DIR/stun-$t.txt" | sed 's/Primary: //; s/[[:space:]]*$//' | head -1 || true)
  printf '%-10s | %-36s | %-38s | %s\n' "$t" "${map:-?}" "${filter:-?}" "${verdict:-?}" >>"$table"
  ok=1
  [ "$map" = "${WANT_MAP[$t]}" ] || ok=0
  [ "$filter" = "${WANT_FILTER[$t]}" ] || ok=0
  case "$verdict" in "${WANT_STUN[$t]}"*) ;; *) ok=0 ;; esac
  [ -z "${WANT_STUN_HAIRPIN[$t]}" ] || case "$verdict" in *"${WANT_STUN_HAIRPIN[$t]}"*) ;; *) ok=0 ;; esac
  if [ $ok = 0 ]; then
    lab_log "router type $t classified wrongly: want ${WANT_MAP[$t]} / ${WANT_FILTER[$t]} / stun '${WANT_STUN[$t]}' ${WANT_STUN_HAIRPIN[$t]}"
    cat "$nd" "$LAB_DIR/stun-$t.txt" >&2
    failures=$((failures + 1))
  fi
done

# udp_send NS [SRC_IP:]SRC_PORT DEST_IP DEST_PORT: sends one datagram
udp_send() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
src = sys.argv[1].rpartition(":")
s.bind((src[0] or "0.0.0.0", int(src[2])))
s.sendto(b"natlab-probe", (sys.argv[2], int(sys.argv[3])))' "$2" "$3" "$4"
}
# udp_listen NS PORT FILE: waits up to 3 s for one datagram on PORT, writes its source "ip:port" to FILE
udp_listen() {
  ip netns exec "$1" timeout 3 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(3)
data, src = s.recvfrom(2048)
if data == b"natlab-probe":
    open(sys.argv[2], "w").write("%s:%d" % src)' "$2" "$3" 2>/dev/null || true
}
# udp_reaches SRC_NS [SRC_IP:]SRC_PORT DST_NS DST_PORT TO_IP TO_PORT: prints the source DST saw, or "-"
udp_reaches() {
  local out="$LAB_DIR/probe.$RANDOM"
  udp_listen "$3" "$4" "$out" &
  local listener=$!
  sleep 0.3
  udp_send "$1" "$2" "$5" "$6"
  wait $listener
  if [ -s "$out" ]; then cat "$out"; else echo "-"; fi
  rm -f "$out"
}

lab_log "hairpin: g<type> reaches h<type> through the router's public address"
hairpin_table="$LAB_DIR/hairpin.txt"
for t in full restricted port symmetric; do
  natlab_reset
  wan=$(natlab_wan_ip "r$t")
  # h opens its mapping (port 40001 -> the server); with port preservation it is wan:40001
  udp_send "$(lab_ns h$t)" 40001 "$NATLAB_SERVER_IP" 9
  seen=$(udp_reaches "$(lab_ns g$t)" 40002 "$(lab_ns h$t)" 40001 "$wan" 40001)
  printf '%-10s hairpin: %s\n' "$t" "$([ "$seen" = - ] && echo "no" || echo "yes, h sees g as $seen")" | tee -a "$hairpin_table"
  case "$t" in
    full | restricted) [ "$seen" = "$wan:40002" ] || { lab_log "$t should hairpin with g seen as $wan:40002"; failures=$((failures + 1)); } ;;
    *) [ "$seen" = - ] || { lab_log "$t must not hairpin (MASQUERADE)"; failures=$((failures + 1)); } ;;
  esac
done

lab_log "filtering by hand: h sends to the server's port 9; do datagrams from another port, another address come in?"
natlab_reset
filter_table="$LAB_DIR/filter.txt"
for t in "${TYPES[@]}"; do
  udp_send "$(lab_ns h$t)" 40003 "$NATLAB_SERVER_IP" 9
  ip="$(natlab_public_ip h$t)"
  same_addr=$(udp_reaches "$NATLAB_SRV" "$NATLAB_SERVER_IP:40004" "$(lab_ns h$t)" 40003 "$ip" 40003)
  other_addr=$(udp_reaches "$NATLAB_SRV" "$NATLAB_SERVER_IP2:40004" "$(lab_ns h$t)" 40003 "$ip" 40003)
  printf '%-10s from the same address, other port: %-20s from the other address: %s\n' "$t" "$same_addr" "$other_addr" | tee -a "$filter_table"
  case "$t" in none | full | restricted) want_same="$NATLAB_SERVER_IP:40004" ;; *) want_same=- ;; esac
  case "$t" in none | full) want_other="$NATLAB_SERVER_IP2:40004" ;; *) want_other=- ;; esac
  [ "$same_addr" = "$want_same" ] && [ "$other_addr" = "$want_other" ] ||
    { lab_log "$t: filtering is wrong, want '$want_same' and '$want_other'"; failures=$((failures + 1)); }
done

lab_log "natlab_block_udp and natlab_cut"
natlab_reset
natlab_block_udp rfull on
seen=$(udp_reaches "$(lab_ns hfull)" 40005 "$(lab_ns hnone)" 40005 "$(natlab_public_ip hnone)" 40005)
[ "$seen" = - ] || { lab_log "natlab_block_udp: UDP still crosses rfull"; failures=$((failures + 1)); }
lab_exec hfull timeout 5 bash -c "exec 3<>/dev/tcp/$NATLAB_SERVER_IP/$NATLAB_TURN_PORT" ||
  { lab_log "natlab_block_udp: TCP to the TURN server blocked too"; failures=$((failures + 1)); }
natlab_block_udp rfull off
natlab_reset
seen=$(udp_reaches "$(lab_ns hfull)" 40006 "$(lab_ns hnone)" 40006 "$(natlab_public_ip hnone)" 40006)
[ "$seen" = "$(natlab_wan_ip rfull):40006" ] || { lab_log "after natlab_block_udp off, UDP does not cross rfull ($seen)"; failures=$((failures + 1)); }
natlab_cut rfull rnone on
natlab_reset
seen=$(udp_reaches "$(lab_ns hfull)" 40007 "$(lab_ns hnone)" 40007 "$(natlab_public_ip hnone)" 40007)
[ "$seen" = - ] || { lab_log "natlab_cut: rfull still reaches rnone"; failures=$((failures + 1)); }
seen=$(udp_reaches "$(lab_ns hfull)" 40008 "$NATLAB_SRV" 40008 "$NATLAB_SERVER_IP" 40008)
[ "$seen" = "$(natlab_wan_ip rfull):40008" ] || { lab_log "natlab_cut: rfull lost the server ($seen)"; failures=$((failures + 1)); }
natlab_cut rfull rnone off
seen=$(udp_reaches "$(lab_ns hfull)" 40009 "$(lab_ns hnone)" 40009 "$(natlab_public_ip hnone)" 40009)
[ "$seen" = "$(natlab_wan_ip rfull):40009" ] || { lab_log "after natlab_cut off, rfull does not reach rnone ($seen)"; failures=$((failures + 1)); }

lab_log "TURN: allocations with the static user (port $NATLAB_TURN_STATIC_PORT) and REST credentials (port $NATLAB_TURN_PORT)"
turn_alloc() { # NS PORT USER PASS [-t]
  lab_exec "$1" timeout 20 turnutils_uclient -y -n 1 -m 1 -l 100 -p "$2" -u "$3" -w "$4" ${5:-} "$NATLAB_SERVER_IP" 2>&1 |
    grep -q 'Total lost packets 0 (0.000000%)'
}
read -r rest_user rest_pass < <(natlab_turn_rest_creds 600)
for t in port symmetric; do
  turn_alloc "h$t" $NATLAB_TURN_STATIC_PORT "$NATLAB_TURN_USER" "$NATLAB_TURN_PASS" ||
    { lab_log "TURN static user from behind $t failed"; failures=$((failures + 1)); }
  turn_alloc "h$t" $NATLAB_TURN_PORT "$rest_user" "$rest_pass" ||
    { lab_log "TURN REST credentials from behind $t failed"; failures=$((failures + 1)); }
done
turn_alloc hport $NATLAB_TURN_STATIC_PORT "$NATLAB_TURN_USER" "$NATLAB_TURN_PASS" -t ||
  { lab_log "TURN over TCP failed"; failures=$((failures + 1)); }
if turn_alloc hport $NATLAB_TURN_STATIC_PORT "$NATLAB_TURN_USER" wrong-password; then
  lab_log "TURN accepted a wrong password (the check is blind)"; failures=$((failures + 1))
fi

lab_log "miniupnpd on the port-restricted router: UPnP IGD and NAT-PMP"
natlab_upnp rport
natlab_reset
gw="$(natlab_lan_net rport).1"
hip=${NATLAB_HOST_IP[hport]}
wan=$(natlab_wan_ip rport)
upnp_status=$(lab_exec hport timeout 15 upnpc -s 2>&1 || true)
echo "$upnp_status" | grep -q "ExternalIPAddress = $wan" || { echo "$upnp_status" >&2; lab_log "upnpc -s did not report $wan"; failures=$((failures + 1)); }
lab_exec hport timeout 15 upnpc -a "$hip" 40100 40100 UDP >"$LAB_DIR/upnpc-a.txt" 2>&1 || true
grep -q "external $wan:40100 UDP is redirected to internal $hip:40100" "$LAB_DIR/upnpc-a.txt" ||
  { cat "$LAB_DIR/upnpc-a.txt" >&2; lab_log "upnpc -a failed"; failures=$((failures + 1)); }
seen=$(udp_reaches "$NATLAB_SRV" 40101 "$(lab_ns hport)" 40100 "$wan" 40100)
[ "$seen" = "$NATLAB_SERVER_IP:40101" ] || { lab_log "the UPnP mapping does not let the server in ($seen)"; failures=$((failures + 1)); }
pmp=$(lab_exec hport timeout 15 natpmpc -g "$gw" 2>&1 || true)
echo "$pmp" | grep -q "Public IP address : $wan" || { echo "$pmp" >&2; lab_log "natpmpc did not report $wan"; failures=$((failures + 1)); }
pmp=$(lab_exec hport timeout 15 natpmpc -g "$gw" -a 40200 40200 udp 120 2>&1 || true)
echo "$pmp" | grep -q "Mapped public port 40200 protocol UDP to local port 40200" ||
  { echo "$pmp" >&2; lab_log "natpmpc -a failed"; failures=$((failures + 1)); }
seen=$(udp_reaches "$NATLAB_SRV" 40201 "$(lab_ns hport)" 40200 "$wan" 40200)
[ "$seen" = "$NATLAB_SERVER_IP:40201" ] || { lab_log "the NAT-PMP mapping does not let the server in ($seen)"; failures=$((failures + 1)); }

echo
cat "$table"
echo
cat "$hairpin_table"
echo
cat "$filter_table"
[ $failures -eq 0 ] || lab_fail "$failures lab checks failed"
lab_log "the NAT lab is what it claims to be"
