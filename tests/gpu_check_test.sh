#!/usr/bin/env bash
# Keeps the device checks (gpu/, scripts/gpu_check.sh) building: configures and builds them in a temporary
# folder and runs them. With a device every check must pass; without one each must say so (exit 2, "no CUDA
# device").
# Usage: tests/gpu_check_test.sh SOURCE_DIR NVCC   (run by ctest in CUDA builds)
set -euo pipefail
src=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$src/gpu" -B "$work" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$2" \
  -DCMAKE_CUDA_ARCHITECTURES=80 >/dev/null
cmake --build "$work" >/dev/null
status=0
for check in cufft_check embed_check; do
  [ -x "$work/$check" ] || continue
  set +e
  out=$("$work/$check" 2>&1)
  rc=$?
  set -e
  echo "$out"
  if [ $rc -eq 2 ] && grep -q "no CUDA device" <<<"$out"; then continue; fi
  [ $rc -eq 0 ] || status=$rc
done
exit $status
