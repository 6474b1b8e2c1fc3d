# natlab.sh — a NAT lab in network namespaces: an "internet", a STUN/TURN server with two addresses, a hub,
# routers that each build one kind of NAT with nftables, hosts behind them and weft nodes on those hosts.
# Source it after netlab.sh; everything it starts is recorded in LAB_NS / LAB_PIDS / LAB_HOMES and removed
# by lab_cleanup on EXIT. No traffic leaves the lab's namespaces.
#
#   natlab_init BIN_DIR                 the internet and coturn (sets NATLAB_* below)
#   natlab_hub                          `weft hub` on a public address (sets HUB_ENDPOINT, HUB_KEY); with
#                                       NATLAB_HUB_TURN=1 it hands out TURN REST credentials (and nodes
#                                       get no static TURN user)
#   natlab_router NAME TYPE             TYPE: none | full | restricted | port | symmetric
#   natlab_host NAME ROUTER             a host on the router's LAN, default route via the router
#   natlab_node HOST OVERLAY [args]     a weft node (home named HOST) on HOST with the lab's STUN and TURN
#   natlab_node_init NAME OVERLAY [args] / natlab_node_up NAME HOST / natlab_node_down NAME
#                                       the same in steps, so one node can be moved between hosts
#   natlab_reset                        conntrack -F and learned NAT mappings flushed in every router
#   natlab_block_udp ROUTER on|off      no UDP crosses that router's WAN (TCP to TURN and the hub still does)
#   natlab_cut ROUTER_A ROUTER_B on|off the internet drops traffic between the two routers' public addresses
#   natlab_isolate ROUTER on|off        LAN hosts reach each other only through the router (hairpin)
#   natlab_upnp ROUTER                  a real miniupnpd (UPnP IGD + NAT-PMP, nftables backend) on the LAN;
#                                       the router's WAN becomes 11.0.k.1 (miniupnpd refuses reserved space)
#   natlab_wan_ip ROUTER / natlab_public_ip HOST / natlab_lan_net ROUTER / natlab_turn_rest_creds [TTL]
#
# Addresses (198.18.0.0/15, RFC 2544 benchmarking space): link n of the internet is 198.18.n.0/24, the
# internet's end .1, the other end .2. Server: 198.18.1.2 and 198.18.1.3; hub: 198.18.2.2; router k (from
# 1): WAN 198.18.(10+k).2, LAN 10.0.k.0/24 behind NAT, or the public 198.19.k.0/24 for type none.
#
# NAT types (RFC 3489 names; RFC 4787 mapping / filtering):
#   none        a routed public LAN, no NAT, no filtering
#   full        full cone: endpoint-independent mapping and filtering (port-preserving snat; an nftables
#               map learned from outbound UDP, public port -> inside addr . port, consulted by a
#               prerouting dnat for new inbound flows)
#   restricted  address-restricted cone: as full, but new inbound flows pass only from remote addresses the
#               inside host sent to from that port (a learned set of public port . remote address)
#   port        port-restricted cone: masquerade (conntrack filters on remote address and port)
#   symmetric   masquerade fully-random: a new random public port for every destination
# full and restricted hairpin (two hosts behind the same router reach each other's public mapping);
# port and symmetric do not (MASQUERADE does not hairpin).

NATLAB_SERVER_IP=198.18.1.2       # coturn's primary address
NATLAB_SERVER_IP2=198.18.1.3      # its second address (RFC 5780 OTHER-ADDRESS)
NATLAB_TURN_PORT=3478             # instance 1: TURN REST API secret (ephemeral credentials); STUN too
NATLAB_TURN_ALT_PORT=3479         # instance 1's alternate port (RFC 5780)
NATLAB_TURN_STATIC_PORT=3480      # instance 2: a static long-term user; STUN too
NATLAB_TURN_STATIC_ALT_PORT=3481
NATLAB_TURN_REALM=weft.lab
NATLAB_HUB_IP=198.18.2.2
export NATLAB_SERVER_IP NATLAB_SERVER_IP2 NATLAB_TURN_PORT NATLAB_TURN_ALT_PORT NATLAB_TURN_STATIC_PORT \
  NATLAB_TURN_STATIC_ALT_PORT NATLAB_TURN_REALM NATLAB_HUB_IP

declare -A NATLAB_ROUTER_TYPE=()  # router -> NAT type
declare -A NATLAB_ROUTER_IDX=()   # router -> k
declare -A NATLAB_ROUTER_WAN=()   # router -> its public (WAN) address
declare -A NATLAB_ROUTER_NEXT=()  # router -> last host number used on its LAN
declare -A NATLAB_HOST_IP=()      # host -> its address
declare -A NATLAB_HOST_ROUTER=()  # host -> its router
declare -A NATLAB_NODE_HOST=()    # node name -> host it runs on now ("" when down)
NATLAB_ROUTERS=()
NATLAB_LINKS=0

natlab_wan_ip() { echo "${NATLAB_ROUTER_WAN[$1]}"; }
natlab_lan_net() {
  local k=${NATLAB_ROUTER_IDX[$1]}
  if [ "${NATLAB_ROUTER_TYPE[$1]}" = none ]; then echo "198.19.$k"; else echo "10.0.$k"; fi
}
# The address a peer sees for ROUTER's hosts: the WAN address behind a NAT, the host's own without one.
natlab_public_ip() {
  local host=$1 router=${NATLAB_HOST_ROUTER[$1]}
  if [ "${NATLAB_ROUTER_TYPE[$router]}" = none ]; then echo "${NATLAB_HOST_IP[$host]}"; else natlab_wan_ip "$router"; fi
}

# _natlab_uplink NS N: a veth from the internet to namespace NS, 198.18.N.1 <-> 198.18.N.2, default route
# in NS via the internet. The NS end is called "wan".
_natlab_uplink() {
  local ns=$1 n=$2
  NATLAB_LINKS=$((NATLAB_LINKS + 1))
  local a="${LAB_TAG}u${NATLAB_LINKS}a" b="${LAB_TAG}u${NATLAB_LINKS}b"
  ip link add "$a" type veth peer name "$b" || lab_fail "veth $a"
  ip link set "$a" netns "$NATLAB_INET"
  ip link set "$b" netns "$ns"
  ip -n "$NATLAB_INET" addr add "198.18.$n.1/24" dev "$a"
  ip -n "$NATLAB_INET" link set "$a" up
  ip -n "$ns" link set "$b" name wan
  ip -n "$ns" addr add "198.18.$n.2/24" dev wan
  ip -n "$ns" link set wan up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via "198.18.$n.1"
}

# _natlab_ns NAME: makes namespace ${LAB_TAG}-NAME, recorded for cleanup; sets NATLAB_NS to its name.
# (Not echoed: a $(...) subshell would lose the LAB_NS entry and leak the namespace.)
_natlab_ns() {
  local ns="${LAB_TAG}-$1"
  ip netns add "$ns" || lab_fail "ip netns add $ns"
  LAB_NS+=("$ns")
  NATLAB_NS=$ns
  # the host has br_netfilter loaded; bridged frames must not pass the ip hooks (breaks hairpin DNAT)
  ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
    net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
  # an IPv4 world: no IPv6 link-local addresses for ICE to pair across a LAN (or around a NAT)
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
}

# natlab_init BIN_DIR: lab_init, the internet namespace and both coturn instances.
natlab_init() {
  lab_init "$1"
  command -v turnserver >/dev/null || lab_fail "turnserver (coturn) is not installed"
  command -v conntrack >/dev/null || lab_fail "conntrack is not installed"
  _natlab_ns inet
  NATLAB_INET=$NATLAB_NS
  ip -n "$NATLAB_INET" link set lo up
  ip netns exec "$NATLAB_INET" sysctl -qw net.ipv4.ip_forward=1
  # natlab_cut: pairs of public prefixes the internet does not forward between
  ip netns exec "$NATLAB_INET" nft -f - <<'EOF' || lab_fail "internet nftables"
table ip natlab {
  set cut { type ipv4_addr . ipv4_addr; flags interval; }
  chain forward { type filter hook forward priority filter; policy accept;
    ip saddr . ip daddr @cut drop
  }
}
EOF
  _natlab_turn
}

_natlab_turn() {
  _natlab_ns srv
  NATLAB_SRV=$NATLAB_NS
  _natlab_uplink "$NATLAB_SRV" 1
  ip -n "$NATLAB_SRV" addr add "$NATLAB_SERVER_IP2/24" dev wan
  NATLAB_TURN_SECRET=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
  NATLAB_TURN_USER=weftlab
  NATLAB_TURN_PASS=$(head -c 12 /dev/urandom | base64 | tr '+/' 'xy')
  export NATLAB_TURN_SECRET NATLAB_TURN_USER NATLAB_TURN_PASS
  local common=(-n --listening-ip "$NATLAB_SERVER_IP" --listening-ip "$NATLAB_SERVER_IP2" --relay-ip "$NATLAB_SERVER_IP"
    --no-tls --no-dtls --no-cli --realm "$NATLAB_TURN_REALM" --simple-log --no-stdout-log --fingerprint)
  # instance 1: TURN REST API (ephemeral credentials from a shared secret)
  ip netns exec "$NATLAB_SRV" turnserver "${common[@]}" --listening-port $NATLAB_TURN_PORT \
    --alt-listening-port $NATLAB_TURN_ALT_PORT --min-port 49152 --max-port 54999 \
    --use-auth-secret --static-auth-secret "$NATLAB_TURN_SECRET" \
    --log-file "$LAB_DIR/turn-rest.log" --pidfile "$LAB_DIR/turn-rest.pid" >/dev/null 2>&1 &
  LAB_PIDS+=($!)
  # instance 2: one static long-term user
  ip netns exec "$NATLAB_SRV" turnserver "${common[@]}" --listening-port $NATLAB_TURN_STATIC_PORT \
    --alt-listening-port $NATLAB_TURN_STATIC_ALT_PORT --min-port 55000 --max-port 60999 \
    --lt-cred-mech --user "$NATLAB_TURN_USER:$NATLAB_TURN_PASS" \
    --log-file "$LAB_DIR/turn-static.log" --pidfile "$LAB_DIR/turn-static.pid" >/dev/null 2>&1 &
  LAB_PIDS+=($!)
  lab_wait 10 "coturn to listen" bash -c "ip netns exec $NATLAB_SRV ss -Hlun | grep -q ':$NATLAB_TURN_PORT ' &&
    ip netns exec $NATLAB_SRV ss -Hlun | grep -q ':$NATLAB_TURN_STATIC_PORT ' &&
    ip netns exec $NATLAB_SRV ss -Hltn | grep -q ':$NATLAB_TURN_STATIC_PORT '"
}

# natlab_turn_rest_creds [TTL]: prints "user pass" valid for TTL seconds (TURN REST API: the user is the
# expiry time, the password base64(HMAC-SHA1(secret, user))).
natlab_turn_rest_creds() {
  local user=$(($(date +%s) + ${1:-3600}))
  printf '%s %s\n' "$user" "$(printf %s "$user" | openssl dgst -sha1 -hmac "$NATLAB_TURN_SECRET" -binary | base64)"
}

# natlab_hub: `weft hub` on 198.18.2.2; sets HUB_ENDPOINT and HUB_KEY.
natlab_hub() {
  _natlab_ns hub
  local ns=$NATLAB_NS
  _natlab_uplink "$ns" 2
  local home="$LAB_DIR/hub"
  HUB_KEY=$("$BIN/weft" hub key --home "$home") || lab_fail "weft hub key failed"
  [[ $HUB_KEY =~ ^[0-9a-f]{64}$ ]] || lab_fail "hub key '$HUB_KEY' is not 64 hex characters"
  HUB_ENDPOINT="tcp://$NATLAB_HUB_IP:7400"
  LAB_HOMES+=("$home")
  if [ "${NATLAB_HUB_TURN:-0}" = 1 ]; then
    # the hub hands members short-lived credentials for coturn instance 1 (TURN REST API)
    cat >"$home/weft.yaml" <<EOF
hub:
  turn_secret: "$NATLAB_TURN_SECRET"
  turn_servers:
    - "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT"
EOF
    chmod 600 "$home/weft.yaml"
  fi
  ip netns exec "$ns" "$BIN/weft" hub --home "$home" --listen "$HUB_ENDPOINT" || lab_fail "weft hub failed to start"
}

# natlab_router NAME TYPE
natlab_router() {
  local name=$1 type=$2
  case "$type" in none | full | restricted | port | symmetric) ;; *) lab_fail "natlab_router: unknown NAT type '$type'" ;; esac
  local k=$((${#NATLAB_ROUTERS[@]} + 1))
  _natlab_ns "$name"
  local ns=$NATLAB_NS
  NATLAB_ROUTERS+=("$name")
  NATLAB_ROUTER_TYPE[$name]=$type
  NATLAB_ROUTER_IDX[$name]=$k
  NATLAB_ROUTER_NEXT[$name]=9
  NATLAB_ROUTER_WAN[$name]="198.18.$((10 + k)).2"
  _natlab_uplink "$ns" $((10 + k))
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$ns" link add br0 type bridge
  local lan wan
  lan=$(natlab_lan_net "$name")
  wan=$(natlab_wan_ip "$name")
  ip -n "$ns" addr add "$lan.1/24" dev br0
  ip -n "$ns" link set br0 up
  # the internet reaches a public LAN through its router
  [ "$type" = none ] && ip -n "$NATLAB_INET" route add "$lan.0/24" via "$wan"
  _natlab_nat_rules "$ns" "$type" "$wan" "$lan.0/24" | ip netns exec "$ns" nft -f - || lab_fail "nftables for $name ($type)"
}

# the nftables ruleset of one NAT type
_natlab_nat_rules() {
  local ns=$1 type=$2 wan=$3 lan=$4
  echo "table ip natlab {"
  if [ "$type" != none ]; then
    # nothing on the router itself answers UDP from the internet (a real NAT drops, no ICMP unreachable)
    echo "  chain input { type filter hook input priority filter; policy accept; iifname \"wan\" meta l4proto udp drop; }"
  fi
  case "$type" in
    port) echo "  chain post { type nat hook postrouting priority srcnat; policy accept; oifname \"wan\" masquerade; }" ;;
    symmetric) echo "  chain post { type nat hook postrouting priority srcnat; policy accept; oifname \"wan\" masquerade fully-random; }" ;;
    full | restricted)
      cat <<EOF
  map learned { type inet_service : ipv4_addr . inet_service; flags dynamic, timeout; timeout 5m; size 65535; }
  set permitted { type inet_service . ipv4_addr; flags dynamic, timeout; timeout 5m; size 65535; }
  chain learn { type filter hook forward priority filter; policy accept;
    iifname "br0" oifname "wan" meta l4proto udp update @learned { udp sport : ip saddr . udp sport }
    iifname "br0" oifname "wan" meta l4proto udp update @permitted { udp sport . ip daddr }
  }
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    iifname "br0" ip daddr $wan meta l4proto udp dnat ip to udp dport map @learned
EOF
      if [ "$type" = full ]; then
        echo "    iifname \"wan\" ip daddr $wan meta l4proto udp dnat ip to udp dport map @learned"
      else
        echo "    iifname \"wan\" ip daddr $wan meta l4proto udp udp dport . ip saddr @permitted dnat ip to udp dport map @learned"
      fi
      cat <<EOF
  }
  chain post { type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" snat ip to $wan
    oifname "br0" ip saddr $lan ct status dnat snat ip to $wan
  }
EOF
      ;;
  esac
  echo "}"
}

# natlab_host NAME ROUTER: a namespace ${LAB_TAG}-NAME on ROUTER's LAN.
natlab_host() {
  local name=$1 router=$2
  [ -n "${NATLAB_ROUTER_TYPE[$router]:-}" ] || lab_fail "natlab_host: no router '$router'"
  local rns="${LAB_TAG}-$router" n=$((NATLAB_ROUTER_NEXT[$router] + 1))
  NATLAB_ROUTER_NEXT[$router]=$n
  local lan ip
  lan=$(natlab_lan_net "$router")
  ip="$lan.$n"
  _natlab_ns "$name"
  local ns=$NATLAB_NS
  NATLAB_LINKS=$((NATLAB_LINKS + 1))
  local a="${LAB_TAG}h${NATLAB_LINKS}a" b="${LAB_TAG}h${NATLAB_LINKS}b"
  ip link add "$a" type veth peer name "$b" || lab_fail "veth $a"
  ip link set "$a" netns "$ns"
  ip link set "$b" netns "$rns"
  ip -n "$ns" link set "$a" name eth0
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via "$lan.1"
  ip -n "$rns" link set "$b" master br0 up
  NATLAB_HOST_IP[$name]=$ip
  NATLAB_HOST_ROUTER[$name]=$router
}

# natlab_node_init NAME OVERLAY [weft init args]: a node home $LAB_DIR/NAME using the lab's hub and STUN
# (instance 1). TURN: the static user of instance 2 in nat.turn_servers; with NATLAB_HUB_TURN=1 none of
# its own, it gets ephemeral credentials for instance 1 from the hub. Not started.
natlab_node_init() {
  local name=$1 overlay=$2
  shift 2
  local home="$LAB_DIR/$name" turn=()
  [ "${NATLAB_HUB_TURN:-0}" = 1 ] ||
    turn=(--turn "turn://$NATLAB_TURN_USER:$NATLAB_TURN_PASS@$NATLAB_SERVER_IP:$NATLAB_TURN_STATIC_PORT")
  "$BIN/weft" init --home "$home" --name "$name" --address "$overlay/16" --hub "$HUB_ENDPOINT" --hub-key "$HUB_KEY" \
    --stun "$NATLAB_SERVER_IP:$NATLAB_TURN_PORT" "${turn[@]}" "$@" >/dev/null || lab_fail "weft init $name failed"
  LAB_HOMES+=("$home")
  NATLAB_NODE_HOST[$name]=""
}

# natlab_node_up NAME HOST: `weft up` of node NAME inside HOST's namespace.
natlab_node_up() {
  local name=$1 host=$2
  ip netns exec "${LAB_TAG}-$host" "$BIN/weft" up --home "$LAB_DIR/$name" ${LAB_UP_ARGS:-} ||
    lab_fail "weft up $name on $host failed"
  NATLAB_NODE_HOST[$name]=$host
}

# natlab_node_down NAME: `weft down` (the node leaves the mesh at the hub).
natlab_node_down() {
  "$BIN/weft" down --home "$LAB_DIR/$1" >/dev/null 2>&1 || lab_log "weft down $1 failed"
  NATLAB_NODE_HOST[$1]=""
}

# natlab_node HOST OVERLAY [weft init args]: a node named HOST running on HOST.
natlab_node() {
  local host=$1 overlay=$2
  shift 2
  natlab_node_init "$host" "$overlay" "$@"
  natlab_node_up "$host" "$host"
}

# natlab_reset: forget every NAT mapping: conntrack flushed and the learned maps emptied in every router.
natlab_reset() {
  local r ns
  for r in "${NATLAB_ROUTERS[@]}"; do
    ns="${LAB_TAG}-$r"
    case "${NATLAB_ROUTER_TYPE[$r]}" in
      full | restricted) ip netns exec "$ns" nft flush map ip natlab learned
        ip netns exec "$ns" nft flush set ip natlab permitted ;;
    esac
    ip netns exec "$ns" conntrack -F >/dev/null 2>&1
  done
  ip netns exec "$NATLAB_INET" conntrack -F >/dev/null 2>&1
  return 0
}

# natlab_block_udp ROUTER on|off: drop every UDP packet forwarded between the router's LAN and the
# internet. TCP still passes, so TURN over TCP (and ICE-TCP, and the hub) keep working; UDP between two
# hosts on the same LAN (bridged) is untouched.
natlab_block_udp() {
  local ns="${LAB_TAG}-$1"
  case "$2" in
    on) ip netns exec "$ns" nft -f - <<'EOF' || lab_fail "natlab_block_udp $1 on"
table ip natlab_block {
  chain forward { type filter hook forward priority filter - 10; policy accept;
    iifname "wan" meta l4proto udp drop
    oifname "wan" meta l4proto udp drop
  }
}
EOF
      ;;
    off) ip netns exec "$ns" nft delete table ip natlab_block 2>/dev/null || true ;;
    *) lab_fail "natlab_block_udp ROUTER on|off" ;;
  esac
}

# natlab_isolate ROUTER on|off: client isolation on the router's LAN bridge: hosts cannot reach each other
# directly (bridged), only through the router, so two hosts behind one NAT meet only by hairpin.
natlab_isolate() {
  local ns="${LAB_TAG}-$1" lan
  lan="$(natlab_lan_net "$1").0/24"
  case "$2" in
    on) ip netns exec "$ns" nft -f - <<EOF || lab_fail "natlab_isolate $1 on"
table bridge natlab_isolate {
  chain forward { type filter hook forward priority filter; policy accept; ip saddr $lan ip daddr $lan drop; }
}
EOF
      ;;
    off) ip netns exec "$ns" nft delete table bridge natlab_isolate 2>/dev/null || true ;;
    *) lab_fail "natlab_isolate ROUTER on|off" ;;
  esac
}

# the public prefixes of ROUTER: its WAN address, and its LAN when it has no NAT
_natlab_public_prefixes() {
  natlab_wan_ip "$1"
  [ "${NATLAB_ROUTER_TYPE[$1]}" = none ] && echo "$(natlab_lan_net "$1").0/24"
  return 0
}

# natlab_cut ROUTER_A ROUTER_B on|off: the internet drops everything between the two routers' public
# addresses (both ways); both still reach the server and the hub, so only a relay connects them.
natlab_cut() {
  local a=$1 b=$2 op
  case "$3" in on) op=add ;; off) op=delete ;; *) lab_fail "natlab_cut A B on|off" ;; esac
  local pa pb elems=()
  for pa in $(_natlab_public_prefixes "$a"); do
    for pb in $(_natlab_public_prefixes "$b"); do
      elems+=("$pa . $pb" "$pb . $pa")
    done
  done
  local IFS=,
  ip netns exec "$NATLAB_INET" nft "$op" element ip natlab cut "{ ${elems[*]} }" || lab_fail "natlab_cut $a $b $3"
}

# natlab_upnp ROUTER: miniupnpd (nftables backend) on the router's LAN, UPnP IGD and NAT-PMP on, mappings
# allowed for every LAN host to its own address. Its log is $LAB_DIR/miniupnpd-ROUTER.log.
natlab_upnp() {
  local r=$1 ns="${LAB_TAG}-$1"
  command -v miniupnpd >/dev/null || lab_fail "miniupnpd is not installed"
  local type=${NATLAB_ROUTER_TYPE[$r]:-} k=${NATLAB_ROUTER_IDX[$r]:-}
  case "$type" in none | "") lab_fail "natlab_upnp: $r is not a NAT router" ;; esac
  local lan conf="$LAB_DIR/miniupnpd-$r.conf" old_wan pub="11.0.$k.1" link=$((10 + k))
  lan=$(natlab_lan_net "$r")
  # miniupnpd refuses to map ports when its WAN address is in reserved space (198.18.0.0/15 is), so this
  # router's WAN becomes 11.0.k.1/32 (the US DoD's 11/8: not announced on the internet; and nothing
  # leaves the lab anyway), its only address, with an on-link route to the internet's end of the link
  old_wan=$(natlab_wan_ip "$r")
  ip -n "$ns" addr flush dev wan
  ip -n "$ns" addr add "$pub/32" dev wan
  ip -n "$ns" route add "198.18.$link.1" dev wan
  ip -n "$ns" route add default via "198.18.$link.1" dev wan
  local inet_dev
  inet_dev=$(ip -n "$NATLAB_INET" -o addr show to "198.18.$link.1/32" | awk '{print $2}')
  ip -n "$NATLAB_INET" route add "$pub/32" dev "$inet_dev"
  NATLAB_ROUTER_WAN[$r]=$pub
  ip netns exec "$ns" nft delete table ip natlab
  _natlab_nat_rules "$ns" "$type" "$pub" "$lan.0/24" | ip netns exec "$ns" nft -f - || lab_fail "nftables for $r ($type)"
  ip netns exec "$ns" conntrack -F >/dev/null 2>&1 || true
  lab_log "natlab_upnp: $r's WAN address is now $pub (was $old_wan)"
  # the tables and chains miniupnpd fills (what /etc/miniupnpd/nft_init.sh would make)
  ip netns exec "$ns" nft -f - <<'EOF' || lab_fail "miniupnpd nftables on $r"
table inet filter {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
EOF
  cat >"$conf" <<EOF
ext_ifname=wan
listening_ip=br0
http_port=0
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
notify_interval=60
clean_ruleset_interval=600
uuid=$(cat /proc/sys/kernel/random/uuid)
allow 1024-65535 $lan.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
  ip netns exec "$ns" miniupnpd -d -f "$conf" -P "$LAB_DIR/miniupnpd-$r.pid" >"$LAB_DIR/miniupnpd-$r.log" 2>&1 &
  LAB_PIDS+=($!)
  lab_wait 10 "miniupnpd on $r to listen" bash -c "ip netns exec $ns ss -Hlun | grep -q ':5351 '"
}
