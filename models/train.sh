#!/bin/sh
# Installs the training dependencies (Debian's PyTorch and photographs, no pip) and trains an embedder.
# Arguments go to train_embedder.py, e.g. `models/train.sh --out embedder.pt` (500 steps, 5-7 minutes on 2 cores).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! /usr/bin/python3 -c 'import torch, torchvision, numpy' 2>/dev/null || ! [ -d /usr/share/wallpapers/Path ]; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends python3-torch python3-torchvision python3-numpy ffmpeg plasma-workspace-wallpapers
fi
# glibc otherwise maps and unmaps every large activation: 3.5-4x slower training on CPU.
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296:glibc.malloc.hugetlb=1
exec /usr/bin/python3 -W ignore "$here/train_embedder.py" "$@"
