#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages weft needs to build, test and run, if missing.
# Used by both quick-start commands (scripts/demo.sh and scripts/test.sh). Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang
  libzmq3-dev libczmq-dev libsodium-dev libnice-dev libglib2.0-dev
  libprotobuf-c-dev protobuf-c-compiler libhiredis-dev libyaml-dev libcmocka-dev
  redis-server iproute2 iputils-ping nftables tcpdump iperf3 procps psmisc python3
  coturn stun-client miniupnpd-nftables miniupnpc natpmpc libminiupnpc-dev libnatpmp-dev conntrack
  libmicrohttpd-dev prometheus libcjson-dev curl openssl libssl-dev help2man
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# redis-server's package starts a system instance; weft runs its own per node and does not need it
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
fi
