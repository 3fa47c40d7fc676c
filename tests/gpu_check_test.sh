#!/usr/bin/env bash
# Keeps the device check (gpu/, scripts/gpu_check.sh) building: configures and builds it in a temporary folder
# and runs it. With a device every check must pass; without one it must say so (exit 2, "no CUDA device").
# Usage: tests/gpu_check_test.sh SOURCE_DIR NVCC   (run by ctest in CUDA builds)
set -euo pipefail
src=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$src/gpu" -B "$work" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$2" \
  -DCMAKE_CUDA_ARCHITECTURES=80 >/dev/null
cmake --build "$work" >/dev/null
set +e
out=$("$work/cufft_check" 2>&1)
rc=$?
set -e
echo "$out"
if [ $rc -eq 2 ] && grep -q "no CUDA device" <<<"$out"; then exit 0; fi
exit $rc
