#!/usr/bin/env bash
# test.sh — the README's test command: installs what is missing, builds weft twice (warnings as errors;
# then AddressSanitizer + UBSan) and runs every test, unit and integration, in both builds. Needs root:
# the integration tests make network namespaces and TUN devices.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build -DWEFT_WERROR=ON
./scripts/build.sh build-asan -DWEFT_WERROR=ON -DWEFT_SANITIZE=ON
status=0
echo "== tests (release build) =="
(cd build && ctest --output-on-failure) || status=1
echo "== tests (AddressSanitizer + UBSan build) =="
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure) || status=1
exit $status
