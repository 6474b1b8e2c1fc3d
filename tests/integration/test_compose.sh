#!/usr/bin/env bash
# test_compose.sh BIN_DIR — compose.yaml brings up a whole node in containers, and it joins a hub.
#
# Makes the base image and the weft image (docker/make-base-image.sh, docker/Containerfile), a hub home
# and a node home (BIN_DIR/weft hub key, BIN_DIR/weft init), starts podman's API service on a private
# socket, then `docker-compose --profile hub up -d` of compose.yaml under a project name of its own: the
# node (9 containers: netns, redis, device, router, crypto, dataplane, nat, discovery, api) and a hub
# container on the project's bridge. Passes when all 10 containers are running, weft0 has the node's
# overlay address, every service has bound its inbox and control sockets (api: its control socket) in the
# shared run volume, the node's API answers (/metrics: all seven services up), the node's discovery says
# it is registered with the hub (weft:hub in the node's Redis), the hub logged the node joining and the
# data plane (a container of its own, without /dev/net/tun) borrowed the TUN device from device across
# containers (device's tun_lends, dataplane's tun_borrows, the fd in weft-dataplane); then the down
# docs/operations-containers.md gives for podman (podman rm --depend netns, docker-compose down -v) must
# remove every container, the network and the volume. Whatever is left of the project (containers,
# network, volume), the API service (by PID) and the temporary homes are removed on every exit, failure
# included.
# All traffic stays on the project's podman bridge; the hub's port is published on 127.0.0.1 only.
#
# Needs root. First run on a machine: installs podman & co. (apt), debootstraps the base image and
# builds the weft image — a few minutes; later runs reuse both (the image rebuilds only what changed).
set -euo pipefail

BIN=$(cd "${1:?usage: test_compose.sh BIN_DIR}" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# the image this run's containers use: a tag of its own, so that a test_compose of another tree running at
# the same time (which retags localhost/weft:latest) cannot swap the image under this one; latest is
# tagged too, and keeps the layers cached after this run removes its own tag
IMAGE=localhost/weft:compose$$
WAIT=${WEFT_COMPOSE_WAIT:-120}     # seconds for the stack to come up and register

T0=$SECONDS
phase_start=$SECONDS
timings=()
phase() {   # phase NAME: records how long the phase that just ended took
    timings+=("$1 $((SECONDS - phase_start))s")
    phase_start=$SECONDS
}
say() { echo "test_compose: $*"; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (podman, TUN devices)"
for p in weft weft-hub; do
    [ -x "$BIN/$p" ] || fail "$BIN/$p is missing: build weft first"
done

# --- the machine, the base image, the weft image ---
# shellcheck source=../../docker/make-base-image.sh
. "$REPO/docker/make-base-image.sh" >/dev/null || fail "docker/make-base-image.sh failed"
[ -n "${CONTAINERS_CONF:-}" ] || fail "make-base-image.sh exported no CONTAINERS_CONF"
phase base-image

work=$(mktemp -d /tmp/weft-compose.XXXXXX)
proj=weftcompose$$
sock_dir=/run/weft-compose.$$
api_pid=""
compose_started=""

compose() {
    DOCKER_HOST=unix://$sock_dir/podman.sock COMPOSE_PROJECT_NAME=$proj \
    WEFT_IMAGE=$IMAGE WEFT_HOME=$work/node WEFT_HUB_HOME=$work/hub WEFT_HUB_PUBLISH=127.0.0.1: \
        timeout 180 docker-compose --ansi never -f "$REPO/compose.yaml" --project-directory "$REPO" \
        --profile hub "$@"
}
project_containers() {
    podman ps -a -q --filter "label=com.docker.compose.project=$proj" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ $rc -ne 0 ] && [ -n "$compose_started" ]; then
        say "--- what the containers said (failure) ---"
        podman ps -a --filter "label=com.docker.compose.project=$proj" \
            --format '{{.Names}} {{.Status}}' 2>/dev/null
        for c in $(podman ps -a --format '{{.Names}}' --filter "label=com.docker.compose.project=$proj"); do
            echo "== $c"
            timeout 20 podman logs --tail 15 "$c" 2>&1
        done
        for f in "$work"/hub/log/*.log; do
            [ -f "$f" ] && { echo "== $f"; tail -n 15 "$f"; }
        done
    fi
    if [ -n "$compose_started" ]; then
        local t=$SECONDS
        # the down docs/operations-containers.md gives for podman: docker-compose 1.29 removes containers in
        # parallel and podman will not remove `netns` while a container sharing its namespace exists, so
        # netns goes first with its dependents (podman orders those), then compose removes the rest
        podman rm -f -t 5 --depend "${proj}_netns_1" >"$work/down.log" 2>&1
        compose down -v --timeout 5 >>"$work/down.log" 2>&1 || { [ $rc -eq 0 ] && rc=1 && say "FAIL: down failed"; }
        if [ $rc -eq 0 ] && { [ -n "$(project_containers)" ] || podman network exists "${proj}_default" ||
                              podman volume exists "${proj}_run"; }; then
            say "FAIL: the documented down left part of project $proj"; cat "$work/down.log"; rc=1
        fi
        [ $rc -eq 0 ] && say "compose down: $((SECONDS - t)) s"
    fi
    # whatever is still there: containers (dependents first), the network, the run volume
    local ids
    ids=$(project_containers)
    if [ -n "$ids" ]; then
        for c in $(podman ps -a --format '{{.Names}}' --filter "label=com.docker.compose.project=$proj" |
                   grep -v '_netns_'); do
            podman rm -f -t 2 "$c" >/dev/null 2>&1
        done
        # shellcheck disable=SC2046  # one argument per container id
        podman rm -f -t 2 $(project_containers) >/dev/null 2>&1
    fi
    podman network exists "${proj}_default" 2>/dev/null && podman network rm -f "${proj}_default" >/dev/null 2>&1
    podman volume exists "${proj}_run" 2>/dev/null && podman volume rm -f "${proj}_run" >/dev/null 2>&1
    podman image exists "$IMAGE" 2>/dev/null && podman rmi "$IMAGE" >/dev/null 2>&1
    if [ -n "$api_pid" ]; then
        kill "$api_pid" 2>/dev/null
        wait "$api_pid" 2>/dev/null
    fi
    rm -rf "$sock_dir" "$work"
    [ $rc -eq 0 ] || say "timings so far: ${timings[*]:-none}; $((SECONDS - T0)) s in all"
    if [ -n "$(project_containers)" ] || podman network exists "${proj}_default" 2>/dev/null; then
        say "WARNING: could not remove everything of project $proj"
        rc=1
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building $IMAGE (podman build, docker/Containerfile)"
# the build stage gets a name of its own so that pruning the images earlier builds left behind keeps
# its compilers and -dev packages cached
if ! podman build -f "$REPO/docker/Containerfile" --target build -t localhost/weft-build:latest "$REPO" \
        >"$work/build.log" 2>&1 ||
   ! podman build -f "$REPO/docker/Containerfile" -t localhost/weft:latest -t "$IMAGE" "$REPO" \
        >>"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log"
    fail "podman build failed"
fi
# (only those older than 10 minutes: a build running beside this one may be about to use a newer one)
podman image prune -f --filter label=org.weft.stage --filter until=10m >/dev/null 2>&1 || true
phase weft-image

# --- the homes ---
key=$("$BIN/weft" hub key --home "$work/hub") || fail "weft hub key failed"
[[ $key =~ ^[0-9a-f]{64}$ ]] || fail "weft hub key printed '$key', not 64 hex characters"
# the node below is in a plain (open) mesh: its hub must admit those (docs/membership.md, "Hub admission")
printf 'hub:\n  open_meshes: true\n' >"$work/hub/weft.yaml"
"$BIN/weft" init --home "$work/node" --name compose-node --address 10.100.0.2/16 \
    --hub tcp://hub:7400 --hub-key "$key" >/dev/null || fail "weft init failed"

# --- podman's API, for docker-compose ---
mkdir -p "$sock_dir"
podman system service --time=0 "unix://$sock_dir/podman.sock" >"$work/podman-service.log" 2>&1 &
api_pid=$!
for _ in $(seq 100); do
    [ -S "$sock_dir/podman.sock" ] && break
    sleep 0.1
done
[ -S "$sock_dir/podman.sock" ] || fail "podman system service did not make its socket"
phase homes+api

# --- up ---
say "docker-compose up (project $proj)"
compose_started=1
compose up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "docker-compose up failed"; }
phase compose-up

services=(netns redis device router crypto dataplane nat discovery api hub)
names=()
for s in "${services[@]}"; do names+=("${proj}_${s}_1"); done
x() {   # x SERVICE CMD...: runs CMD in that service's container (podman exec may be slow under load)
    local c=${proj}_$1_1
    shift
    timeout 60 podman exec "$c" "$@"
}

deadline=$((SECONDS + WAIT))
running=0 registered="" joined="" sockets=0 addr=""
while [ $SECONDS -lt $deadline ]; do
    running=$(podman inspect -f '{{.State.Status}}' "${names[@]}" 2>/dev/null | grep -c '^running$' || true)
    if [ "$running" -eq ${#names[@]} ]; then
        [ -n "$addr" ] || addr=$(x device ip -4 -o addr show dev weft0 2>/dev/null | awk '{print $4}') || true
        sockets=$(x device sh -c 'n=0; for s in device router crypto dataplane nat discovery; do
                      [ -S /weft/run/$s.inbox ] && [ -S /weft/run/$s.control ] && n=$((n+1)); done
                      [ -S /weft/run/api.control ] && n=$((n+1)); echo $n' \
                  2>/dev/null) || sockets=0
        registered=$(x redis redis-cli -s /weft/run/redis.sock HGET weft:hub state 2>/dev/null) || registered=""
        grep -q "joined mesh default: compose-node" "$work"/hub/log/*.log 2>/dev/null && joined=1
        if [ "$addr" = 10.100.0.2/16 ] && [ "$sockets" = 7 ] && [ "$registered" = registered ] && [ -n "$joined" ]; then
            break
        fi
    fi
    sleep 2
done
phase ready
say "containers running: $running/${#names[@]}; weft0: ${addr:-none}; services with their sockets: $sockets/7;" \
    "node's hub state: ${registered:-none}; hub logged the join: ${joined:-no}"
[ "$running" -eq ${#names[@]} ] || fail "not every container is running after $WAIT s"
[ "$addr" = 10.100.0.2/16 ] || fail "weft0 in the node's namespace has '${addr}', not 10.100.0.2/16"
[ "$sockets" = 7 ] || fail "only $sockets of 7 services bound their sockets in /weft/run"
[ "$registered" = registered ] || fail "the node's discovery is '${registered}' with the hub, not registered"
[ -n "$joined" ] || fail "the hub's log shows no 'joined mesh default: compose-node'"

# every service shares the node's network namespace, and the hub is outside it
ns=$(x netns readlink /proc/1/ns/net)
for s in redis device router crypto dataplane nat discovery api; do
    [ "$(x "$s" readlink /proc/1/ns/net)" = "$ns" ] || fail "$s is not in the node's network namespace"
done
[ "$(x hub readlink /proc/1/ns/net)" != "$ns" ] || fail "the hub shares the node's network namespace"

# the node's API (weft-api in a container of its own) answers in the node's namespace and sees all seven
# services: /metrics, read from the device container (the image has bash, not curl)
metrics=$(x device bash -c 'exec 3<>/dev/tcp/127.0.0.1/7401 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 &&
                            cat <&3') || fail "the node's API does not answer on 127.0.0.1:7401 in its namespace"
grep -q '^weft_build_info{version="[^"]*"} 1$' <<<"$metrics" || fail "/metrics has no weft_build_info"
up=$(grep -c '^weft_up{service="[a-z]*"} 1$' <<<"$metrics" || true)
[ "$up" = 7 ] || fail "/metrics in the containers shows $up of 7 services up"

# the data plane works across containers: dataplane (its own container, no /dev/net/tun, no NET_ADMIN)
# borrowed the TUN device from device over their unix socket in the shared run volume, run/device.tun
# (docs/architecture.md): device counts the lend, dataplane the borrow, and weft-dataplane holds the fd
counter() {   # counter SERVICE NAME: that service's counter in $status (0 when absent)
    python3 -c 'import json, sys
s = [s for s in json.load(sys.stdin)["services"] if s["service"] == sys.argv[1]]
print(s[0]["counters"].get(sys.argv[2], 0) if s else 0)' "$1" "$2" <<<"$status"
}
borrows=0 lends=0
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
    status=$(x device weft status --home /weft --json) || status='{"services": []}'
    borrows=$(counter dataplane tun_borrows) || borrows=0
    lends=$(counter device tun_lends) || lends=0
    [ "$borrows" -ge 1 ] && [ "$lends" -ge 1 ] && break
    sleep 1
done
x dataplane test ! -e /dev/net/tun || fail "the dataplane container has /dev/net/tun of its own"
tun_fds=$(x dataplane sh -c 'ls -l /proc/$(pgrep -x weft-dataplane)/fd/' 2>/dev/null | grep -c ' -> /dev/net/tun$' || true)
say "TUN across containers: device's lends $lends, dataplane's borrows $borrows, TUN fds in weft-dataplane $tun_fds"
[ "$lends" -ge 1 ] || fail "device did not lend the TUN device (tun_lends $lends)"
[ "$borrows" -ge 1 ] || fail "dataplane did not borrow the TUN device from device across containers"
[ "$tun_fds" -ge 1 ] || fail "weft-dataplane in its container holds no /dev/net/tun fd"

say "weft status in the device container:"
x device weft status --home /weft || fail "weft status: not every service answers in the containers"
phase checks

trap - INT TERM
say "timings: ${timings[*]}; total before down $((SECONDS - T0)) s"
say "PASS"
