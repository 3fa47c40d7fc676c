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
# Automatic alignment is not in this version yet: render from the known placement and frame map.
awk 'BEGIN {  # fg frame i (4 s at 30 fps) shows bg frame round(i * 25 / 30)
  printf "{\"spatial\": {\"x\": 240, \"y\": 135, \"scale\": 1.0}, \"temporal\": {\"map\": ["
  for (i = 0; i < 120; i++) { m = int((i * 25 + 15) / 30); if (m > 149) m = 149; printf "%s%d", (i ? ", " : ""), m }
  print "]}}"
}' > "$sample/alignment.json"
build/vidkompy --bg "$sample/bg.mp4" --fg "$sample/fg.mp4" --alignment "$sample/alignment.json" \
  --blend -o "$sample/overlay.mp4" -v
echo "demo: wrote $(pwd)/$sample/overlay.mp4"
