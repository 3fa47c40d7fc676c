#!/usr/bin/env bash
# The render-farm recipe from the README, on one machine: a saved alignment, two segments rendered by GNU
# parallel with --frames, joined losslessly with ffmpeg's concat demuxer, audio muxed once at the end. The
# joined video must equal a single-run render frame for frame (lossless, --crf 0, so equality is exact).
# Usage: tests/segments_test.sh path/to/vidkompy   (run by ctest)
set -euo pipefail
bin=$(realpath "$1")
command -v parallel >/dev/null || { echo "GNU parallel is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
ff() { ffmpeg -nostdin -v error -y "$@"; }
ff -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 60 -c:v libx264 -pix_fmt yuv420p bg.mp4
ff -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:duration=1.6 -frames:v 50 \
  -vf "trim=start_frame=10:end_frame=50,setpts=PTS-STARTPTS,crop=160:120:64:48" -c:v libx264 -pix_fmt yuv420p \
  -c:a aac -shortest fg.mp4
"$bin" --bg bg.mp4 --fg fg.mp4 --align-only --json align.json -q
n=$(grep -c . <(tr -d ' \n' <align.json | grep -o '"map":\[[0-9,]*\]' | tr ',' '\n'))
[ "$n" = 40 ] || { echo "expected 40 fg frames in the map, got $n" >&2; exit 1; }

# One run, lossless, for reference.
"$bin" --bg bg.mp4 --fg fg.mp4 --alignment align.json --crf 0 --preset ultrafast -o single.mp4 -q

# The recipe: segments in parallel (here 2 jobs on one machine), joined, then fg's audio muxed once.
parallel -j2 "$bin" --bg bg.mp4 --fg fg.mp4 --alignment align.json --crf 0 --preset ultrafast -q \
  --frames {1} -o seg{#}.mp4 ::: 0:17 17:40
printf "file 'seg1.mp4'\nfile 'seg2.mp4'\n" >list.txt
ff -f concat -safe 0 -i list.txt -c copy joined_video.mp4
ff -i joined_video.mp4 -i fg.mp4 -map 0:v -map 1:a? -c copy joined.mp4

frames() { ffmpeg -nostdin -v error -i "$1" -map 0:v -f framemd5 - | grep -v '^#' | awk -F, '{print $NF}'; }
a=$(frames single.mp4) b=$(frames joined.mp4)
[ "$(wc -l <<<"$a")" = 40 ] || { echo "single run has $(wc -l <<<"$a") frames" >&2; exit 1; }
[ "$a" = "$b" ] || { echo "joined segments differ from the single run" >&2; diff <(echo "$a") <(echo "$b") | head >&2; exit 1; }
ffprobe -v error -select_streams a -show_entries stream=codec_name -of csv=p=0 joined.mp4 | grep -q aac ||
  { echo "joined output has no audio" >&2; exit 1; }
echo "2 segments joined: 40 frames equal to the single run, audio muxed once"
