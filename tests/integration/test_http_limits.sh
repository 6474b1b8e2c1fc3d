#!/usr/bin/env bash
# test_http_limits.sh BIN_DIR — the hub's HTTP API under the attack of issue 8 §3: the hub holds 2000 open
# descriptors, so every socket it opens gets a number above FD_SETSIZE (1024) — the attack got there with
# 1100 connections to the hub's ZeroMQ port, which the hub now caps, so here the hub is started holding
# them (inherited /dev/null descriptors: what matters to select() is the number, not what it is) — while
# two other hosts each hold as many half-sent requests as the hub lets them (slowloris: a header line a
# second, never the blank line). /health must answer every time, from loopback and from a clean address
# (10 of 10 within 2 s), and the slow requests must be cut off at the request deadline
# (HTTP_REQUEST_DEADLINE_S in lib/http_server.h), not held for ever.
# Before the fix (select(), 64 connections, 32 per address, an idle timeout only) /health answered 0 of 10.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_http_limits.sh BIN_DIR}"
command -v curl >/dev/null || lab_fail "curl is missing (scripts/install-deps.sh)"
command -v ss >/dev/null || lab_fail "ss is missing (iproute2)"
DEADLINE_S=10                  # HTTP_REQUEST_DEADLINE_S in lib/http_server.h
ATTACK_S=40                    # how long the slowloris hosts run (they stop by themselves)
HOLD=${HTTP_LIMITS_HOLD:-2000} # descriptors the hub holds (0: slowloris alone)
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -gt $((HOLD + 500)) ] ||
  lab_fail "the hard limit of open files ($(ulimit -Hn)) is too low to hold $HOLD descriptors"

lab_switch
# lab_hub, with the hub started holding $HOLD descriptors (the supervisor and weft-hub inherit them)
lab_host hub 10.99.0.1/24
hub_home=$(lab_home hub)
"$BIN/weft" hub key --home "$hub_home" >/dev/null || lab_fail "weft hub key failed"
LAB_HOMES+=("$hub_home")
WEFT_HUB_HTTP_LISTEN='*:7402' lab_exec hub bash -c 'n=$1; shift; [ "$(ulimit -Sn)" = unlimited ] || [ "$(ulimit -Sn)" -gt $((n + 500)) ] ||
  ulimit -Sn $((n + 500)); for ((i = 0; i < n; i++)); do exec {fd}</dev/null; done; exec "$@"' _ "$HOLD" \
  "$BIN/weft" hub --home "$hub_home" --listen tcp://10.99.0.1:7400 || lab_fail "weft hub failed to start"
lab_host slow1 10.99.0.11/24
lab_host slow2 10.99.0.12/24
lab_host mon 10.99.0.13/24
listening() { lab_exec hub ss -Hltn 'sport = :7402' | grep -q .; }
lab_wait 10 "the hub's API to listen" listening
HUB_PID=$(lab_exec hub ss -Hltnp 'sport = :7402' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$HUB_PID" ] || lab_fail "no process listens on the hub's API port"
fds() { ls /proc/"$HUB_PID"/fd 2>/dev/null | wc -l; }
lab_log "the hub (pid $HUB_PID) holds $(fds) descriptors, limit $(awk '/open files/ {print $4}' /proc/"$HUB_PID"/limits)"
[ "$(fds)" -ge "$HOLD" ] || lab_fail "the hub holds fewer than $HOLD descriptors"

# slowloris.py HOST PORT MAX SECONDS: holds up to MAX half-sent requests, one more header line a second on
# each, and reopens what the server closes. Prints a JSON summary: most open at once (as the client sees
# it: this counts connections still in the listen backlog), how many the server cut after taking them, how
# long the longest of those had lived, and the age of the oldest still open.
cat >"$LAB_DIR/slowloris.py" <<'EOF'
import json, socket, sys, time
host, port, most, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
start = time.monotonic()
end = start + seconds
conns = {}          # socket -> opened at
cut = []            # lifetimes of connections the server closed after they had been accepted
peak = 0
next_open = 0.0
def try_open():
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect((host, port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: hub\r\nUser-Agent: slow\r\n")
    except OSError:
        s.close()
        return False
    s.setblocking(False)
    conns[s] = time.monotonic()
    return True
while time.monotonic() < end:
    now = time.monotonic()
    if now >= next_open:
        for _ in range(50):             # open a batch, up to MAX at once
            if len(conns) >= most or not try_open():
                break
        next_open = now + 1
    time.sleep(0.5)
    for s, opened in list(conns.items()):
        alive = True
        try:
            if s.recv(4096) == b"":
                alive = False
        except BlockingIOError:
            pass
        except OSError:
            alive = False
        if alive:
            try:
                s.send(b"X-Slow: %d\r\n" % int(time.monotonic() - start))
            except BlockingIOError:
                pass
            except OSError:
                alive = False
        if not alive:
            life = time.monotonic() - opened
            if life > 1.5:              # was accepted and then cut (not refused at once)
                cut.append(round(life, 1))
            del conns[s]
            s.close()
    peak = max(peak, len(conns))
print(json.dumps({"peak": peak, "open_at_end": len(conns),
                  "oldest_open_s": round(max([time.monotonic() - o for o in conns.values()] or [0]), 1),
                  "cut": len(cut), "longest_cut_s": max(cut or [0])}))
EOF

lab_exec slow1 python3 "$LAB_DIR/slowloris.py" 10.99.0.1 7402 600 $ATTACK_S >"$LAB_DIR/slow1.json" &
SLOW1=$!
LAB_PIDS+=($SLOW1)
lab_exec slow2 python3 "$LAB_DIR/slowloris.py" 10.99.0.1 7402 600 $ATTACK_S >"$LAB_DIR/slow2.json" &
SLOW2=$!
LAB_PIDS+=($SLOW2)
sleep 4   # the slowloris hosts fill what they can

# 10 probes of /health, alternately from the hub's loopback and from a clean host, each given 2 s
ok=0
for i in $(seq 10); do
  if [ $((i % 2)) -eq 0 ]; then where=hub url=http://127.0.0.1:7402/health; else where=mon url=http://10.99.0.1:7402/health; fi
  code=$(lab_exec $where curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
  [ "$code" = 200 ] && ok=$((ok + 1))
  lab_log "probe $i from $where: ${code:-none} (hub fds $(fds), API connections $(lab_exec hub ss -Htn state established 'sport = :7402' | wc -l))"
  sleep 1.5
done
wait $SLOW1 $SLOW2 || lab_fail "a slowloris host failed"
lab_log "slowloris 1: $(cat "$LAB_DIR/slow1.json")"
lab_log "slowloris 2: $(cat "$LAB_DIR/slow2.json")"
lab_log "/health answered $ok of 10 within 2 s under $(fds) hub fds and two slowloris hosts"
[ "$ok" -eq 10 ] || lab_fail "/health answered only $ok of 10"

# the slow requests were cut after the request deadline, and none was held longer
for f in slow1 slow2; do
  python3 - "$LAB_DIR/$f.json" "$DEADLINE_S" <<'EOF' || lab_fail "$f: slow requests were not cut off at the deadline ($(cat "$LAB_DIR/$f.json"))"
import json, sys
d, deadline = json.load(open(sys.argv[1])), float(sys.argv[2])
assert d["cut"] >= 16, d                                   # the hub took requests from it and cut them,
assert d["longest_cut_s"] <= deadline + 3, d               # no later than the deadline,
assert d["oldest_open_s"] <= deadline + 3, d               # and holds none longer
EOF
done
lab_exec hub curl -sf --max-time 2 http://127.0.0.1:7402/health >/dev/null || lab_fail "/health after the attack"
lab_exec hub curl -s --max-time 2 http://127.0.0.1:7402/metrics >"$LAB_DIR/metrics.txt"
lab_log "$(grep -E 'reason="(connection_limit|request_deadline)"' "$LAB_DIR/metrics.txt" | tr '\n' ' ')"
grep -q '^weft_hub_http_rejected_total{reason="request_deadline"} [1-9]' "$LAB_DIR/metrics.txt" ||
  lab_fail "/metrics does not count the connections cut at the deadline"
grep -q '^weft_hub_http_rejected_total{reason="connection_limit"} [1-9]' "$LAB_DIR/metrics.txt" ||
  lab_fail "/metrics does not count the connections refused by the limits"
lab_log "PASS"
