#!/usr/bin/env bash
# membership.sh [BIN_DIR] [JOINS] — how long the membership flows take, in network namespaces on one bridge:
# `weft mesh create`, `weft mesh invite`, JOINS sequential `weft mesh join` (each a fresh node identity,
# one invite with JOINS uses; CLI start to certificate written), and from `weft mesh kick` to the kicked
# member's last ping reply and to the first refused ping. Prints the figures. Needs root. Everything it
# starts is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/bin}
joins=${2:-20}
source "$here/../tests/lib/netlab.sh"
lab_init "$bin"
W="$BIN/weft"
lab_switch
lab_hub hub 10.99.0.1
lab_wait 20 "the hub's redis" test -S "$(lab_home hub)/run/redis.sock"
lab_host alpha 10.99.0.2/24
lab_host beta 10.99.0.3/24
lab_host crowd 10.99.0.4/24
A=$(lab_home alpha); B=$(lab_home beta)
now() { date +%s.%N; }
ms() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')"; }

t=$(now)
lab_exec alpha "$W" mesh create --home "$A" --name bench --hub 10.99.0.1:7400 --hub-key "$HUB_KEY" --psk >/dev/null
echo "weft mesh create: $(ms "$t" "$(now)") ms"
LAB_HOMES+=("$A/meshes/bench")
lab_exec alpha "$W" up --home "$A"
lab_wait 20 "alpha registered" bash -c "'$W' status --home '$A' --json | grep -q registered"
t=$(now)
code=$(lab_exec alpha "$W" mesh invite --home "$A" --uses "$((joins + 1))")
echo "weft mesh invite: $(ms "$t" "$(now)") ms"

times=()
for i in $(seq 1 "$joins"); do
  t=$(now)
  out=$(lab_exec crowd "$W" mesh join "$code" --home "$LAB_DIR/crowd/n$i" 2>&1) || lab_fail "join $i failed: $out"
  times+=("$(ms "$t" "$(now)")")
done
printf '%s\n' "${times[@]}" | sort -n | python3 -c '
import sys
v = [int(x) for x in sys.stdin]
print(f"weft mesh join x{len(v)}: min {v[0]} ms, median {v[len(v)//2]} ms, max {v[-1]} ms")'

lab_exec beta "$W" mesh join "$code" --home "$B" --node-name beta >/dev/null 2>&1 || lab_fail "beta could not join"
LAB_HOMES+=("$B/meshes/bench")
lab_exec beta "$W" up --home "$B"
lab_wait 40 "beta to ping alpha" lab_exec beta ping -c 1 -W 1 10.100.0.1
beta_id=$("$W" id --home "$B" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
lab_exec beta ping -D -i 0.05 -W 1 10.100.0.1 >"$LAB_DIR/ping.txt" 2>&1 & pinger=$!
LAB_PIDS+=($pinger)
sleep 1
t=$(now)
lab_exec alpha "$W" mesh kick "$beta_id" --home "$A" >/dev/null
echo "weft mesh kick (command): $(ms "$t" "$(now)") ms"
sleep 3
kill "$pinger" 2>/dev/null || true
last=$(grep -o '^\[[0-9.]*\] [0-9]* bytes from' "$LAB_DIR/ping.txt" | tail -1 | tr -d '[]' | cut -d' ' -f1)
echo "kick -> the kicked member's last ping reply: $(ms "$t" "$last") ms (pings every 50 ms; <= 0 means none after the kick)"
