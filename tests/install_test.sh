#!/usr/bin/env bash
# Installs the build into a temporary prefix and runs the installed binary on a generated pair: it must find its
# LibTorch plugin and bundled model under that prefix alone, align the pair exactly and render it.
# Usage: tests/install_test.sh BUILD_DIR   (run by ctest)
set -euo pipefail
build=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
for f in bin/vidkompy lib/vidkompy/libvidkompy_torch.so share/vidkompy/vidkompy-embedder.pt share/man/man1/vidkompy.1; do
  [ -f "$work/prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
cd "$work"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 50 -c:v libx264 -pix_fmt yuv420p bg.mp4
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 50 \
  -vf "trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS,crop=160:120:64:48" -c:v libx264 -pix_fmt yuv420p fg.mp4
"$work/prefix/bin/vidkompy" --bg bg.mp4 --fg fg.mp4 -o out.mp4 --json report.json -q
grep -q '"x_px": 64' report.json && grep -q '"y_px": 48' report.json || { echo "wrong placement" >&2; exit 1; }
map=$(tr -d ' \n' <report.json | grep -o '"map":\[[0-9,]*\]')
want='"map":['$(seq -s, 10 39)']'
[ "$map" = "$want" ] || { echo "wrong map: $map" >&2; exit 1; }
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 out.mp4)
[ "$frames" = 30 ] || { echo "output has $frames frames, not 30" >&2; exit 1; }
echo "installed binary aligned and rendered the pair"
