#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite with ctest, then the same suite again on a
# second build with AddressSanitizer + UndefinedBehaviorSanitizer (any report fails a test), then each fuzz
# target for 60 s (scripts/fuzz.sh). About 20 minutes on 2 cores; `ctest --test-dir build` alone takes ~3.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "$@"
ctest --test-dir build --output-on-failure -j "$(nproc)"

echo "test: sanitizer build (build-asan)" >&2
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIDKOMPY_SANITIZE="address;undefined" \
  -DVIDKOMPY_BENCH=OFF "$@" >&2
cmake --build build-asan -j "$(nproc)" >&2
ctest --test-dir build-asan --output-on-failure -j "$(nproc)"

scripts/fuzz.sh 60
