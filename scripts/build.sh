#!/usr/bin/env bash
# build.sh BUILD_DIR [cmake options...] — configures and builds weft into BUILD_DIR.
set -euo pipefail
dir=${1:?usage: build.sh BUILD_DIR [cmake options]}
shift
cmake -S "$(dirname "$0")/.." -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
