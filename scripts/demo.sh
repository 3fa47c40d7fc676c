#!/usr/bin/env bash
# Sets everything up, makes a sample bg/fg pair from FFmpeg's test sources (first run only) and overlays them.
# The fg is a 30 fps crop of the 25 fps bg, tinted so that it shows in the result.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
sample=build/sample
mkdir -p "$sample"
if [ ! -f "$sample/bg.mp4" ] || [ ! -f "$sample/fg.mp4" ]; then
  ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=960x540:rate=25:duration=6 \
    -f lavfi -i sine=frequency=330:duration=6 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$sample/bg.mp4"
  ffmpeg -nostdin -v error -y -i "$sample/bg.mp4" -an \
    -vf "crop=480:270:240:135,fps=30,hue=h=90:s=1.5" -t 4 -c:v libx264 -pix_fmt yuv420p "$sample/fg.mp4"
fi
# vidkompy finds where (x 240, y 134: the crop filter rounds y 135 down to the chroma grid) and when (fg frame i
# shows bg frame ~i*25/30) fg sits in bg by itself.
build/vidkompy --bg "$sample/bg.mp4" --fg "$sample/fg.mp4" --blend -o "$sample/overlay.mp4" \
  --json "$sample/alignment.json" -v
echo "demo: wrote $(pwd)/$sample/overlay.mp4 (alignment report: $(pwd)/$sample/alignment.json)"
