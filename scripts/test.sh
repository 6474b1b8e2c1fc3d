#!/usr/bin/env bash
# test.sh — the README's test command: installs what is missing, builds weft three times and runs
# every test:
#   build/       gcc, warnings as errors: unit + integration tests
#   build-asan/  gcc, AddressSanitizer + UBSan: unit tests (leak checks on) + integration tests but the
#                ones labelled slow
#   build-fuzz/  clang with libFuzzer: each fuzzer for WEFT_FUZZ_SECONDS (default 20) seconds: a smoke run
#                that keeps the whole command under CI's 60 minutes with 15 fuzzers; longer campaigns are run
#                by hand (WEFT_FUZZ_SECONDS=600 ctest -L fuzz) and their figures go in the issue notes
# Needs root: the integration tests make network namespaces and TUN devices.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
status=0
run() { echo "== $*"; "$@" || status=1; }

./scripts/build.sh build -DWEFT_WERROR=ON
run ctest --test-dir build --output-on-failure

./scripts/build.sh build-asan -DWEFT_WERROR=ON -DWEFT_SANITIZE=ON
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_OPTIONS=detect_leaks=1 run ctest --test-dir build-asan --output-on-failure -LE integration
# services are stopped by signal with libraries' global state still allocated: leak checks off here.
# Label slow runs once, above: the NAT matrix (~5 min; its code paths are all in the other NAT tests), the
# handshake flood (it asserts throughput kept under a flood, which AddressSanitizer's slowdown distorts),
# and what runs no sanitized binary: compose (its image is built from the sources), the .deb and packaging.
ASAN_OPTIONS=detect_leaks=0 run ctest --test-dir build-asan --output-on-failure -L integration -LE slow

if [ -f fuzz/CMakeLists.txt ]; then
  CC=clang ./scripts/build.sh build-fuzz -DWEFT_FUZZ_SECONDS="${WEFT_FUZZ_SECONDS:-20}"
  run ctest --test-dir build-fuzz --output-on-failure -L fuzz
fi
exit $status
