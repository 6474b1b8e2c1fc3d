#!/usr/bin/env bash
# test_logs.sh BIN_DIR — logs as a service needs them (docs/install.md, "Logs"):
#  - logrotate: every log file of a running node and hub is renamed, SIGHUP goes to the supervisors;
#    nothing stops or restarts (same pids, ping still works) and each process writes on in a new file of
#    the old name (the services' "stopped" lines of `weft down`, and redis-server's, land in the new files,
#    none in the old);
#  - under systemd ($JOURNAL_STREAM names stderr): one stream for the whole node, every line with a
#    syslog priority and its service's tag ("<6>device: ..."; redis-server's own lines untagged), and no
#    per-service files.
set -euo pipefail
source "$(dirname "$0")/../lib/netlab.sh"
lab_init "${1:?usage: test_logs.sh BIN_DIR}"
lab_switch
lab_hub hub 10.99.0.1
lab_node a 10.99.0.2 10.100.0.1

# node b runs in the foreground as weft@.service runs it, its stderr standing in for the journal's stream
lab_host b 10.99.0.3/24
hb=$(lab_home b)
"$BIN/weft" init --home "$hb" --name b --address 10.100.0.2/16 --hub "$HUB_ENDPOINT" --hub-key "$HUB_KEY" >/dev/null
journal="$LAB_DIR/journal-b"
: >"$journal"
LAB_HOMES+=("$hb")
lab_exec b env JOURNAL_STREAM="$(stat -c %d:%i "$journal")" "$BIN/weft" up --home "$hb" --foreground \
  >>"$journal" 2>&1 &
LAB_PIDS+=($!)
lab_wait 30 "a to connect to b" lab_peer_connected a 10.100.0.2

ha=$(lab_home a)
hh="$LAB_DIR/hub"
pids_of() { for f in "$1"/run/*.pid; do echo "$(basename "$f" .pid)=$(cat "$f")"; done | sort; }
before_a=$(pids_of "$ha")
before_hub=$(pids_of "$hh")
services="device router crypto dataplane nat discovery api"

# --- logrotate: rename, SIGHUP ---
for home in "$ha" "$hh"; do
  for f in "$home"/log/*.log; do mv "$f" "$f.1"; done
  kill -HUP "$(cat "$home/run/weft.pid")"
done
lab_wait 5 "a's supervisor to write to a new weft.log" grep -q "log files reopened" "$ha/log/weft.log"
lab_wait 5 "the hub's supervisor to write to a new weft.log" grep -q "log files reopened" "$hh/log/weft.log"
sleep 1
[ "$(pids_of "$ha")" = "$before_a" ] || lab_fail "SIGHUP stopped or restarted part of node a: $(pids_of "$ha")"
[ "$(pids_of "$hh")" = "$before_hub" ] || lab_fail "SIGHUP stopped or restarted part of the hub: $(pids_of "$hh")"
lab_exec a ping -c 3 -i 0.2 -W 2 10.100.0.2 >/dev/null || lab_fail "a cannot ping b after the SIGHUP"
"$BIN/weft" status --home "$ha" >/dev/null || lab_fail "a's services do not answer after the SIGHUP"
lab_log "SIGHUP: node a and the hub still up, same pids; supervisors write to new files"

"$BIN/weft" down --home "$ha" >/dev/null
for s in $services; do
  grep -q ": stopped" "$ha/log/$s.log" 2>/dev/null || lab_fail "$s did not write to its new log file after SIGHUP"
  ! grep -q ": stopped" "$ha/log/$s.log.1" || lab_fail "$s wrote on to its rotated log file"
done
# redis-server writes its own file (--logfile), opened by name for each line: its shutdown lines too
grep -q "ready to exit" "$ha/log/redis.log" 2>/dev/null || lab_fail "redis-server did not write to its new log file"
! grep -q "ready to exit" "$ha/log/redis.log.1" || lab_fail "redis-server wrote on to its rotated log file"
lab_log "every service of a and its redis-server wrote their last lines to a new file of the old name"

# --- journal: one stream, tagged, with priorities ---
for s in supervisor $services; do
  grep -Eq "^<6>$s: " "$journal" || lab_fail "no '<6>$s: ' line in b's journal stream: $(head -20 "$journal")"
done
# redis-server's own lines ("PID:C date # text") are the only untagged ones: journald files them as info
bad=$(grep -Ev '^<[0-7]>[a-z-]+: |^[0-9]+:[CMSX] ' "$journal" | head -3 || true)
[ -z "$bad" ] || lab_fail "lines without a priority and tag in b's journal stream: $bad"
for s in $services; do
  [ ! -e "$hb/log/$s.log" ] || lab_fail "under the journal, $s still wrote $hb/log/$s.log"
done
kill -HUP "$(cat "$hb/run/weft.pid")"
sleep 1
"$BIN/weft" status --home "$hb" >/dev/null || lab_fail "b's services do not answer after its SIGHUP"
lab_log "journal: one stream of <priority>service: lines, no per-service files; SIGHUP harmless"
lab_log "PASS"
