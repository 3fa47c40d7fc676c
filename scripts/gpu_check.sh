#!/usr/bin/env bash
# The device check of issue #7, for a lent GPU machine (CUDA and CMake there, no FFmpeg development files):
# builds gpu/ (the cuFFT plugin and cufft_check, neither needs FFmpeg or LibTorch) and runs the check, which
# compares cuFFT's surfaces with a direct DFT and times a 1080p correlation. A minute or two in all.
# Usage: scripts/gpu_check.sh [BUILD_DIR]   (default build-gpu)
set -euo pipefail
b=${1:-build-gpu}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
cmake -S gpu -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc >&2
cmake --build "$b" -j "$(nproc)" >&2
"$b/cufft_check"
