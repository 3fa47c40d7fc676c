#!/usr/bin/env bash
# Fuzzes the two parsers of untrusted input with libFuzzer (clang, ASan + UBSan): the --alignment report reader
# and probe/decode of arbitrary bytes as a video file. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 60).
# Seeds are generated here (tiny clips in several containers and codecs, reports of several shapes); every file
# under fuzz/regressions/<target>/ (past findings, fixed) is replayed first. A finding fails the run and is kept
# under build-fuzz/findings/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
b=build-fuzz

CC=clang CXX=clang++ cmake -S . -B $b -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIDKOMPY_FUZZ=ON \
  -DVIDKOMPY_SANITIZE="address;undefined" -DVIDKOMPY_TESTS=OFF -DVIDKOMPY_BENCH=OFF -DVIDKOMPY_CUDA=OFF >&2
cmake --build $b -j "$(nproc)" --target report_fuzz probe_fuzz >&2

# ---- seeds
seeds=$b/seeds
rm -rf $seeds && mkdir -p $seeds/report $seeds/probe
ff() { ffmpeg -nostdin -v error -y "$@"; }
src="testsrc2=size=32x24:rate=10:duration=0.5"
ff -f lavfi -i $src -c:v libx264 -pix_fmt yuv420p $seeds/probe/h264.mp4
ff -f lavfi -i $src -f lavfi -i sine=d=0.5 -c:v libx264 -bf 2 -c:a aac -shortest $seeds/probe/h264-aac.mov
ff -f lavfi -i $src -c:v libvpx-vp9 -b:v 50k $seeds/probe/vp9.webm
ff -f lavfi -i $src -c:v mpeg4 $seeds/probe/mpeg4.avi
ff -f lavfi -i $src -c:v libx265 -x265-params log-level=none $seeds/probe/hevc.mkv
ff -f lavfi -i $src -c:v mjpeg -pix_fmt yuvj444p $seeds/probe/mjpeg.mkv
ff -f lavfi -i $src -c:v rawvideo -pix_fmt gray $seeds/probe/gray.nut
ff -f lavfi -i $src -frames:v 1 $seeds/probe/still.png
ff -f lavfi -i $src -c:v libx264 -metadata:s:v rotate=90 $seeds/probe/rotated.mp4
printf '%s' '{"spatial":{"x":40,"y":60,"scale":1},"temporal":{"map":[2,3,4,5]}}' >$seeds/report/minimal.json
printf '%s' '{"spatial":{"x":40.5,"y":-3.25,"scale":0.6667,"confidence":0.99},"temporal":{"map":[0,0,1,2.0,3],"confidence":0.9},"bg":{"width":1920,"fps":"25/1"},"timings":{"decode":1.5}}' >$seeds/report/full.json
printf '%s' '{"spatial":{"x":1e308,"y":-1e308,"scale":0},"temporal":{"map":[-1,9007199254740993,1.5,"7",null]}}' >$seeds/report/hostile.json
printf '%s' '[[[[{"spatial":[]}]]]]' >$seeds/report/nested.json

# ---- fuzz
status=0
for t in report probe; do
  mkdir -p $b/corpus/$t $b/findings/$t fuzz/regressions/$t
  echo "fuzz: $t for ${secs}s" >&2
  ASAN_OPTIONS=detect_leaks=0 ./$b/${t}_fuzz -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix=$b/findings/$t/ $b/corpus/$t $seeds/$t fuzz/regressions/$t 2>$b/$t.log || status=1
  grep -E "stat::number_of_executed_units|ERROR|SUMMARY" $b/$t.log >&2 || true
done
exit $status
