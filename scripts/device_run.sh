#!/usr/bin/env bash
# The whole device check of issue #7, on a lent GPU machine (CUDA and PyTorch, no FFmpeg): builds gpu/ there
# (scripts/gpu_check.sh: cuFFT and CUDA-embedding checks), unpacks the bundle of scripts/device_bundle.sh as
# /work/main/build (the tests' compiled-in paths) with the LibTorch plugin built against PyTorch's CUDA LibTorch,
# then times bench/e2e.sh's pair with --gpu auto, on and off, compares their reports and outputs, runs the GPU
# benchmarks and the test suite (with a device present every test takes the GPU paths). Logs go to OUT.
# Usage (repository root): scripts/device_run.sh OUT
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath "${1:?OUT}")
mkdir -p "$out"
cd "$root"
say() { echo "== $(date +%T) $*"; }
say machine
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "cores $(nproc); $(grep PRETTY_NAME /etc/os-release); $(ldd --version | head -1)"
ldconfig -p | grep -E "libcuda\.so|nvcuvid|nvidia-encode" || echo "no NVDEC/NVENC driver libraries in ldconfig"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cxx11 abi', torch._C._GLIBCXX_USE_CXX11_ABI)"

say "gpu_check (builds gpu/)"
timeout 300 scripts/gpu_check.sh build-gpu >"$out/gpu_check.log" 2>&1
echo "gpu_check rc=$?"
grep -v -E "^\[|^--|^-- " "$out/gpu_check.log" | tail -25

say "bundle"
if [ "$root" != /work/main ]; then mkdir -p /work && { [ -e /work/main ] || ln -s "$root" /work/main; }; fi
ls -ld /work/main
mkdir -p /tmp/vk build && tar -C /tmp/vk -xJf .dev/bundle.tar.xz && cp -a /tmp/vk/build/. build/
cp build-gpu/libvidkompy_torch.so build/ || echo "no CUDA LibTorch plugin: the product cannot run here"
cufft=$(dirname "$( (ls /usr/local/cuda/lib64/libcufft.so.12 || find / -name libcufft.so.12 -print -quit) 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=/tmp/vk/lib:$cufft:/usr/local/cuda/lib64 PATH=/tmp/vk/bin:$PATH
echo "libcufft from $cufft"
build/vidkompy --version
ffmpeg -hide_banner -encoders 2>/dev/null | grep nvenc

say "e2e pair"
w=/tmp/e2e
WORK=$w PAIR_ONLY=1 bench/e2e.sh
cd $w
vk=/work/main/build/vidkompy
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>>err.txt; local rc=$?; e=$(date +%s.%N); python3 -c "print(f'{$e-$s:.2f}')"; return $rc; }
for run in 1 2; do
  for g in auto on off; do
    echo "align+render --gpu $g (run $run): $(t $vk --bg bg.mp4 --fg fg.mp4 -o a_$g.mp4 --preset veryfast --crf 20 --gpu $g --json rep_$g.json -q) s"
  done
done
for g in auto on off; do
  echo "render only --gpu $g: $(t $vk --bg bg.mp4 --fg fg.mp4 -o b_$g.mp4 --preset veryfast --crf 20 --gpu $g --alignment rep_off.json -q) s"
  echo "align only --gpu $g: $(t $vk --bg bg.mp4 --fg fg.mp4 --gpu $g --align-only --json al_$g.json -q) s"
done
echo "ffmpeg overlay, libx264: $(t ffmpeg -nostdin -v error -y -ss 3 -i bg.mp4 -i fg.mp4 -filter_complex \
  "[0:v]fps=30[b];[b][1:v]overlay=x=320:y=180:eof_action=endall" -frames:v 450 -an -c:v libx264 -preset veryfast -crf 20 \
  -pix_fmt yuv420p c.mp4) s"
echo "ffmpeg overlay, nvenc: $(t ffmpeg -nostdin -v error -y -ss 3 -i bg.mp4 -i fg.mp4 -filter_complex \
  "[0:v]fps=30[b];[b][1:v]overlay=x=320:y=180:eof_action=endall" -frames:v 450 -an -c:v h264_nvenc -preset p4 -cq 20 \
  -pix_fmt yuv420p cn.mp4) s"
tail -5 err.txt
for g in auto on off; do $vk --bg bg.mp4 --fg fg.mp4 -o v_$g.mp4 --preset veryfast --crf 20 --gpu $g -v 2>"$out/stages_$g.txt" >/dev/null; done
for g in auto on off; do echo "-- $g"; grep -i -E "nvdec|nvenc|cuda|cufft|gpu|device" "$out/stages_$g.txt" | head -6; sed -n '/^stage/,$p' "$out/stages_$g.txt" | tr '\n' ' '; echo; done
python3 - <<'PY'
import json
b = json.load(open("rep_off.json"))
for g in ("auto", "on"):
  a = json.load(open(f"rep_{g}.json"))
  for k in ("x", "y", "scale", "confidence"): print(f"spatial {k}: {g}", a["spatial"][k], "off", b["spatial"][k])
  ma, mb = a["temporal"]["map"], b["temporal"]["map"]
  print(f"temporal maps {g} / off:", len(ma), len(mb), "frames differ:", sum(p != q for p, q in zip(ma, mb)),
        "truth (bg = 3 s + i/30 s at 25 fps) exact:", sum(m == round((3 + i / 30) * 25) for i, m in enumerate(ma)))
PY
for g in auto on off; do echo "PSNR a_$g vs c (ffmpeg): $(ffmpeg -nostdin -i a_$g.mp4 -i c.mp4 -lavfi psnr -f null - 2>&1 | grep -o 'average:[0-9.inf]*')"; done
cp rep_*.json "$out/"
cd /work/main

say benchmarks
timeout 90 build/vidkompy_bench --benchmark_filter='PhaseCorrelate|CoarseBatch|Embed' 2>&1 | tail -12

say "test suite (GPU paths taken wherever a device helps)"
(cd build && timeout 220 ctest -j16 -E "^Install\.|Gpu\.DeviceCheck|SegmentsJoin" --output-on-failure >"$out/ctest.log" 2>&1)
echo "ctest rc=$?"; grep -E "tests passed|Failed|\*\*\*|Total Test" "$out/ctest.log" | tail -15
say done
