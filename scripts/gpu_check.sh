#!/usr/bin/env bash
# The device check of issue #7, for a lent GPU machine (CUDA, CMake and PyTorch there, no FFmpeg development
# files): builds gpu/ (the cuFFT plugin and cufft_check; with PyTorch's CUDA LibTorch also the LibTorch plugin
# and embed_check) and runs the checks: cuFFT surfaces against a direct DFT, the 1080p correlation time, CUDA
# embeddings against the CPU's and their frames per second. A few minutes in all.
# Usage: scripts/gpu_check.sh [BUILD_DIR]   (default build-gpu)
set -euo pipefail
b=${1:-build-gpu}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
cmake -S gpu -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
  ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} >&2
cmake --build "$b" -j "$(nproc)" >&2
rc=0
"$b/cufft_check" || rc=$?
if [ -x "$b/embed_check" ]; then "$b/embed_check" || rc=$?; fi
exit $rc
