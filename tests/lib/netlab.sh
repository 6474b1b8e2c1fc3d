# netlab.sh — a small lab of network namespaces for weft's integration tests, demo and benchmarks.
# Source it, then: lab_init BIN_DIR; lab_switch; lab_host NAME IP; lab_hub; lab_node NAME IP OVERLAY ...
# Everything it starts is recorded (namespaces, homes, PIDs) and removed by lab_cleanup, which runs on EXIT.
#
# Addresses: the underlay is 10.99.<lab>.0/24 inside the lab's own namespaces; the overlay 10.100.0.0/16.
# No traffic leaves the namespaces the lab made.

LAB_NS=()          # namespaces to delete
LAB_HOMES=()       # weft homes whose `weft down` we run
LAB_PIDS=()        # other processes to kill
LAB_TAG=""

lab_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
lab_fail() { lab_log "FAIL: $*"; exit 1; }

lab_init() {
  BIN=$(cd "${1:?lab_init BIN_DIR}" && pwd)
  [ -x "$BIN/weft" ] || lab_fail "no weft binary in $BIN"
  [ "$(id -u)" -eq 0 ] || lab_fail "the lab needs root (network namespaces, TUN)"
  LAB_TAG="w$$"
  # the lab's hubs admit open (plain-name) meshes, as `weft init --address` nodes need; a hub admits
  # managed meshes only unless told (docs/membership.md, "Hub admission"). A test may unset it.
  export WEFT_HUB_OPEN_MESHES=${WEFT_HUB_OPEN_MESHES:-true}
  LAB_DIR=$(mktemp -d "/tmp/weft-lab.XXXXXX")
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
}

lab_cleanup() {
  local rc=$?
  set +e
  for h in "${LAB_HOMES[@]}"; do
    [ -f "$h/run/weft.pid" ] && "$BIN/weft" down --home "$h" >/dev/null 2>&1
  done
  for p in "${LAB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${LAB_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  # anything still running in a lab namespace (a service whose supervisor was killed) goes too
  for ns in "${LAB_NS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ $rc -ne 0 ] && [ -n "${LAB_DIR:-}" ]; then
    lab_log "logs of the failed run:"
    for f in "$LAB_DIR"/*/log/*.log; do
      [ -f "$f" ] || continue
      echo "---- $f (last 30 lines)" >&2
      tail -n 30 "$f" >&2
    done
  fi
  [ -n "${LAB_DIR:-}" ] && [ -z "${LAB_KEEP:-}" ] && rm -rf "$LAB_DIR"
  return $rc
}

# A namespace with a bridge all hosts plug into: the lab's "LAN".
lab_switch() {
  LAB_SW="${LAB_TAG}-sw"
  ip netns add "$LAB_SW" && LAB_NS+=("$LAB_SW")
  ip -n "$LAB_SW" link add br0 type bridge
  ip -n "$LAB_SW" link set br0 up
  ip -n "$LAB_SW" link set lo up
  # bridged frames must not go through the host's iptables (br_netfilter is loaded here)
  ip netns exec "$LAB_SW" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
}

# lab_host NAME IP/PREFIX: a namespace plugged into the switch. Its namespace name is ${LAB_TAG}-NAME.
lab_host() {
  local name=$1 ip=$2 ns="${LAB_TAG}-$1"
  ip netns add "$ns" && LAB_NS+=("$ns")
  ip link add "${LAB_TAG}${name}a" type veth peer name "${LAB_TAG}${name}b"
  ip link set "${LAB_TAG}${name}a" netns "$ns"
  ip link set "${LAB_TAG}${name}b" netns "$LAB_SW"
  ip -n "$ns" link set "${LAB_TAG}${name}a" name eth0
  ip -n "$ns" addr add "$ip" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "$LAB_SW" link set "${LAB_TAG}${name}b" master br0 up
}

lab_ns() { echo "${LAB_TAG}-$1"; }
lab_exec() { local ns; ns=$(lab_ns "$1"); shift; ip netns exec "$ns" "$@"; }

# lab_hub NAME IP: a host running `weft hub`; sets HUB_ENDPOINT and HUB_KEY.
lab_hub() {
  local name=$1 ip=$2
  lab_host "$name" "$ip/24"
  local home="$LAB_DIR/$name"
  HUB_KEY=$("$BIN/weft" hub key --home "$home") || lab_fail "weft hub key failed"
  [[ $HUB_KEY =~ ^[0-9a-f]{64}$ ]] || lab_fail "hub key '$HUB_KEY' is not 64 hex characters"
  HUB_ENDPOINT="tcp://$ip:7400"
  LAB_HOMES+=("$home")
  lab_exec "$name" "$BIN/weft" hub --home "$home" --listen "$HUB_ENDPOINT" || lab_fail "weft hub failed to start"
}

# lab_node NAME IP OVERLAY [extra weft init args]: a host running a weft node.
lab_node() {
  local name=$1 ip=$2 overlay=$3
  shift 3
  lab_host "$name" "$ip/24"
  local home="$LAB_DIR/$name"
  "$BIN/weft" init --home "$home" --name "$name" --address "$overlay/16" --hub "$HUB_ENDPOINT" \
    --hub-key "$HUB_KEY" "$@" >/dev/null || lab_fail "weft init $name failed"
  LAB_HOMES+=("$home")
  lab_exec "$name" "$BIN/weft" up --home "$home" ${LAB_UP_ARGS:-} || lab_fail "weft up $name failed"
}

lab_home() { echo "$LAB_DIR/$1"; }

# lab_wait SECONDS DESCRIPTION COMMAND...: retries COMMAND every 0.2 s until it succeeds.
lab_wait() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && lab_fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}

# True when node NAME's peer list shows PEER_OVERLAY with a connected path and an established session.
lab_peer_connected() {
  local name=$1 overlay=$2
  "$BIN/weft" peers --home "$(lab_home "$name")" --json | python3 -c '
import json, sys
peers = json.load(sys.stdin)
ok = any(p["overlay_addr"] == sys.argv[1] and p["path"]["state"] in ("connected", "ready") for p in peers)
sys.exit(0 if ok else 1)' "$overlay"
}

# lab_cut NAME IP: drops every packet between NAME's namespace and the underlay address IP (nftables table
# weft_test_cut; lab_heal NAME deletes it). lab_no_ipv6 NAME first, or ICE finds the link-local address.
lab_cut() {
  lab_exec "$1" nft -f - <<EOF
table inet weft_test_cut {
  chain in { type filter hook input priority 0; ip saddr $2 drop; }
  chain out { type filter hook output priority 0; ip daddr $2 drop; }
}
EOF
}
lab_heal() { lab_exec "$1" nft delete table inet weft_test_cut; }
lab_no_ipv6() { lab_exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; }

# lab_ping_gap FILE: the largest gap in seconds between two replies of a `ping -D` written to FILE (99 with
# fewer than two replies)
lab_ping_gap() {
  python3 -c '
import re, sys
t = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\].*icmp_seq=", open(sys.argv[1]).read(), re.M)]
print("%.3f" % max(b - a for a, b in zip(t, t[1:])) if len(t) > 1 else 99)' "$1"
}

# pid of service SVC of node NAME, from the supervisor's pid file
lab_service_pid() { cat "$(lab_home "$1")/run/$2.pid" 2>/dev/null; }

# lab_counter NAME SERVICE COUNTER: one counter of a service of node NAME (0 when absent or not answering)
lab_counter() {
  "$BIN/weft" status --home "$(lab_home "$1")" --json 2>/dev/null | python3 -c '
import json, sys
try:
    services = json.load(sys.stdin)["services"]
except Exception:
    services = []
for s in services:
    if s["service"] == sys.argv[1]:
        print(s.get("counters", {}).get(sys.argv[2], 0)); sys.exit(0)
print(0)' "$2" "$3"
}

# lab_path_field NAME FIELD: FIELD of the path to node NAME's first peer, from `weft peers --json` ("" if none)
lab_path_field() {
  "$BIN/weft" peers --home "$(lab_home "$1")" --json 2>/dev/null | python3 -c '
import json, sys
peers = json.load(sys.stdin)
print(peers[0]["path"][sys.argv[1]] if peers else "")' "$2"
}
