#!/usr/bin/env bash
# test_deb.sh BIN_DIR — the Debian package the build makes (`cpack -G DEB`, packaging/cpack.cmake):
#  1. its contents: every program, both systemd units, bash completion, the man page; Depends on the
#     runtime libraries (from dpkg-shlibdeps), Recommends redis-server;
#  2. installed with dpkg -i into a fresh Debian 12 container (localhost/debian:bookworm plus systemd,
#     redis-server and the packages its Depends names, booted with systemd as PID 1): no library "not found";
#  3. there, under the real systemd: weft-hub.service, then a node as weft@t.service (home
#     /var/lib/weft/t, made with `weft init`) that registers with the hub on 127.0.0.1, its data plane
#     holding the TUN device it borrowed from device; its services log to the journal, one stream tagged
#     by service; `systemctl reload` (SIGHUP) keeps it running;
#  4. `weft --help`, `weft up` and `weft down` by hand from the package, the unit stopped.
# The container has CAP_SYS_ADMIN because systemd's sandboxing (ProtectSystem=, PrivateTmp=...) needs
# mount namespaces; on a real host systemd has it. Nothing leaves the container but apt's downloads from
# the Debian mirror apt uses here (as the compose test's image builds do); the node's hub is 127.0.0.1.
set -euo pipefail
BIN=$(cd "${1:?usage: test_deb.sh BIN_DIR}" && pwd)
BUILD=$(dirname "$BIN")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "test_deb: needs root (podman)" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

WORK=$(mktemp -d /tmp/weft-deb.XXXXXX)
NAME="weft-deb-$$"
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && podman container exists "$NAME" 2>/dev/null; then
    log "journal of the failed run:"
    podman exec "$NAME" journalctl --no-pager -n 60 -u weft@t -u weft-hub >&2 2>/dev/null || true
  fi
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  return $rc
}
trap cleanup EXIT

# --- 1. the package ---
start=$SECONDS
(cd "$BUILD" && cpack -G DEB -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1) || { tail -20 "$WORK/cpack.log"; fail "cpack -G DEB failed"; }
deb=$(ls "$WORK"/pkg/weft_*.deb)
log "built $(basename "$deb") ($(du -k "$deb" | cut -f1) kB) in $((SECONDS - start)) s"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
for f in /usr/bin/weft /usr/bin/weft-hub /usr/bin/weft-node /usr/lib/systemd/system/weft@.service \
         /usr/lib/systemd/system/weft-hub.service /usr/share/bash-completion/completions/weft \
         /usr/share/man/man1/weft.1.gz; do
  grep -qx "$f" <<<"$contents" || fail "the package has no $f"
done
for s in device router crypto dataplane nat discovery api; do
  grep -qx "/usr/bin/weft-$s" <<<"$contents" || fail "the package has no /usr/bin/weft-$s"
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libczmq4 libzmq5 libsodium23 libprotobuf-c1 libhiredis0.14 libnice10 libyaml-0-2 libmicrohttpd12; do
  grep -q "\b$lib\b" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
[ "$(dpkg-deb -f "$deb" Recommends)" = redis-server ] || fail "Recommends is not redis-server"
grep -q "ExecStart=/usr/bin/weft up --foreground --home /var/lib/weft/%i" \
  <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/weft@.service) ||
  fail "weft@.service does not run /usr/bin/weft up for /var/lib/weft/%i"

# --- 2. a fresh Debian container with systemd ---
source "$ROOT/docker/make-base-image.sh" >/dev/null 2>&1 || fail "no podman base image (docker/make-base-image.sh)"
# the image: the base, systemd, redis-server and exactly the packages the .deb's Depends names (a cached
# layer while Depends stay the same); dpkg -i then refuses the package if any dependency is unmet
deps=$(sed -E 's/\([^)]*\)//g; s/,/ /g' <<<"$depends")
image=localhost/weft-systemd:bookworm
mkdir -p "$WORK/image"
cat >"$WORK/image/Containerfile" <<IMG
FROM localhost/debian:bookworm
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd systemd-sysv \\
    redis-server $deps >/dev/null && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
CMD ["/sbin/init"]
IMG
start=$SECONDS
podman build -q -t "$image" "$WORK/image" >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; fail "podman build of $image failed"; }
log "image $image ready in $((SECONDS - start)) s"
podman run -d --name "$NAME" --systemd=always --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add NET_RAW \
  --device /dev/net/tun -v "$deb:/tmp/weft.deb:ro" "$image" >/dev/null || fail "cannot start the container"
inside() { podman exec "$NAME" "$@"; }
for i in $(seq 50); do
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case $state in running|degraded) break ;; esac
  sleep 0.2
done
case $state in running|degraded) ;; *) fail "systemd in the container did not come up: '$state'" ;; esac
inside dpkg -i /tmp/weft.deb >"$WORK/dpkg.log" 2>&1 || { tail -20 "$WORK/dpkg.log"; fail "dpkg -i of the package failed"; }
missing=$(inside bash -c 'ldd /usr/bin/weft /usr/bin/weft-* | grep "not found"' || true)
[ -z "$missing" ] || fail "libraries missing after installing the package: $missing"
inside weft --help | grep -q "^  up " || fail "weft --help from the package does not list 'up'"
inside test -f /usr/share/bash-completion/completions/weft || fail "no bash completion installed"

# --- 3. the units, under systemd ---
verify=$(inside systemd-analyze verify --man=no weft-hub.service weft@t.service 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
inside systemctl start weft-hub || fail "systemctl start weft-hub failed"
key=""
for i in $(seq 50); do
  key=$(inside weft hub key --home /var/lib/weft-hub 2>/dev/null) && [ -n "$key" ] && break
  sleep 0.2
done
[ -n "$key" ] || fail "no hub key from /var/lib/weft-hub"
inside bash -c "printf 'hub:\n  open_meshes: true\n' >> /var/lib/weft-hub/weft.yaml && systemctl restart weft-hub" ||
  fail "cannot make the hub admit open meshes"
inside weft init --home /var/lib/weft/t --name t --address 10.100.0.2/16 --hub tcp://127.0.0.1:7400 \
  --hub-key "$key" >"$WORK/init.log" 2>&1 || fail "weft init into /var/lib/weft/t failed: $(cat "$WORK/init.log")"
inside systemctl start weft@t || fail "systemctl start weft@t failed"
registered=0
for i in $(seq 75); do
  inside weft status --home /var/lib/weft/t >"$WORK/status" 2>&1 || true
  grep -q "^hub .*(registered)" "$WORK/status" && registered=1 && break
  sleep 0.2
done
inside systemctl is-active --quiet weft@t || fail "weft@t is not active: $(inside systemctl status weft@t --no-pager 2>&1 | tail -5)"
inside weft status --home /var/lib/weft/t >/dev/null || fail "weft@t's services do not all answer: $(cat "$WORK/status")"
[ $registered = 1 ] || fail "the node under systemd did not register with the hub: $(cat "$WORK/status")"
inside test -e /sys/class/net/weft0 || fail "no weft0 device in the container"
# the data plane works inside the unit's sandbox: weft-dataplane borrowed the TUN fd from weft-device over
# run/device.tun (SCM_RIGHTS on AF_UNIX)
borrows=0
for i in $(seq 25); do
  borrows=$(inside weft status --home /var/lib/weft/t --json | python3 -c 'import json, sys
print(sum(s["counters"].get("tun_borrows", 0) for s in json.load(sys.stdin)["services"] if s["service"] == "dataplane"))') ||
    borrows=0
  [ "$borrows" -ge 1 ] && break
  sleep 0.2
done
[ "$borrows" -ge 1 ] || fail "under systemd, weft-dataplane did not borrow the TUN device (tun_borrows $borrows)"
journal=$(inside journalctl --no-pager -o cat -u weft@t)
for s in supervisor device router crypto dataplane nat discovery api; do
  grep -q "^$s: " <<<"$journal" || fail "no '$s: ' line in weft@t's journal: $(head -20 <<<"$journal")"
done
grep -q "^<[0-7]>" <<<"$journal" && fail "journald kept the <priority> prefixes as text"
inside journalctl --no-pager -o cat -u weft@t -p info | grep -q "^device: " || fail "journald has no info-priority lines of device"
for s in device router crypto dataplane nat discovery api; do
  inside test ! -e "/var/lib/weft/t/log/$s.log" || fail "under systemd, $s still writes /var/lib/weft/t/log/$s.log"
done
pid=$(inside systemctl show -p MainPID --value weft@t)
inside systemctl reload weft@t || fail "systemctl reload weft@t failed"
sleep 1
[ "$(inside systemctl show -p MainPID --value weft@t)" = "$pid" ] && inside systemctl is-active --quiet weft@t ||
  fail "systemctl reload (SIGHUP) stopped or restarted weft@t"
inside weft status --home /var/lib/weft/t >/dev/null || fail "weft@t's services do not answer after the reload"
log "under systemd: weft-hub and weft@t active, the node registered, journal lines tagged by service, reload keeps it"

# --- 4. by hand, from the package ---
inside systemctl stop weft@t || fail "systemctl stop weft@t failed"
inside weft up --home /var/lib/weft/t >"$WORK/up.log" 2>&1 || fail "weft up from the package failed: $(cat "$WORK/up.log")"
inside weft status --home /var/lib/weft/t >/dev/null || fail "weft up from the package: services do not answer"
for s in device dataplane; do
  inside test -s "/var/lib/weft/t/log/$s.log" || fail "weft up (not under systemd) wrote no log/$s.log"
done
inside weft down --home /var/lib/weft/t >/dev/null || fail "weft down failed"
log "weft up / weft down by hand from the package: fine"
log "PASS"
