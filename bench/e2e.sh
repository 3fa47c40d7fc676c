#!/usr/bin/env bash
# End-to-end benchmark: vidkompy against the plain ffmpeg overlay a user would run if the placement and the time
# offset were already known. Generates a 1920x1080 bg (20 s, 25 fps) and a 1280x720 fg (15 s, 30 fps, cut from
# the same footage at (320, 180), starting 3 s in), then times, median of RUNS (default 3):
#   (a) vidkompy --preset veryfast --crf 20           (align and render)
#   (b) vidkompy --alignment report.json, same flags    (render only)
#   (c) ffmpeg: the same composite with the known placement and offset, same encoder settings and frame count
# and prints a Markdown table (wall seconds, ratios to (c), max RSS) and vidkompy's per-stage times.
# Usage: bench/e2e.sh [path/to/vidkompy]   (env: RUNS, WORK = folder for the generated files, kept; PAIR_ONLY=1:
# only make the pair, as scripts/device_run.sh does)
set -euo pipefail
bin=$(realpath "${1:-build/vidkompy}")
runs=${RUNS:-3}
work=${WORK:-/tmp/vidkompy-e2e}
mkdir -p "$work"
cd "$work"
x=320 y=180 offset=3 fg_frames=450

if [ ! -s bg.mp4 ] || [ ! -s fg.mp4 ]; then
  echo "generating the pair in $work ..." >&2
  # testsrc2 draws its moving pattern as a function of time, so the two rates show the same moments.
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=1920x1080:r=25" -t 20 -c:v libx264 -preset veryfast -crf 18 \
    -pix_fmt yuv420p bg.mp4
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=1920x1080:r=30" -ss $offset -t 15 \
    -vf "crop=1280:720:$x:$y" -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p fg.mp4
fi
[ -z "${PAIR_ONLY:-}" ] || exit 0

# Runs a command RUNS times; prints "median_wall max_rss_mb".
measure() {
  local walls=() rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o time.txt "$@" >/dev/null 2>run.log
    read -r wall kb <time.txt
    walls+=("$wall")
    rss=$(( kb > rss ? kb : rss ))
  done
  printf '%s\n' "${walls[@]}" | sort -g | awk -v rss="$rss" '{a[NR]=$1} END {printf "%.2f %.0f\n", a[int((NR+1)/2)], rss/1024}'
}

read -r a_wall a_rss < <(measure "$bin" --bg bg.mp4 --fg fg.mp4 -o out_a.mp4 --preset veryfast --crf 20 \
  --json report.json -q)
"$bin" --bg bg.mp4 --fg fg.mp4 -o out_a.mp4 --preset veryfast --crf 20 -v 2>stages.txt >/dev/null
read -r b_wall b_rss < <(measure "$bin" --bg bg.mp4 --fg fg.mp4 -o out_b.mp4 --preset veryfast --crf 20 \
  --alignment report.json -q)
read -r c_wall c_rss < <(measure ffmpeg -nostdin -v error -y -ss $offset -i bg.mp4 -i fg.mp4 -filter_complex \
  "[0:v]fps=30[b];[b][1:v]overlay=x=$x:y=$y:eof_action=endall" -frames:v $fg_frames -an \
  -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p out_c.mp4)

echo "| run | wall s | vs ffmpeg | max RSS MB |"
echo "|---|---|---|---|"
echo "| (a) vidkompy, align + render | $a_wall | $(echo "$a_wall / $c_wall" | bc -l | xargs printf '%.2f')x | $a_rss |"
echo "| (b) vidkompy --alignment, render only | $b_wall | $(echo "$b_wall / $c_wall" | bc -l | xargs printf '%.2f')x | $b_rss |"
echo "| (c) ffmpeg overlay, known placement | $c_wall | 1.00x | $c_rss |"
echo
echo "vidkompy stages, one run of (a):"
echo '```'
sed -n '/^stage /,$p' stages.txt
echo '```'
python3 - <<EOF
import json
r = json.load(open("report.json"))
s, m = r["spatial"], r["temporal"]["map"]
# bg frame j shows time j/25, fg frame i time $offset + i/30: the nearest bg frame (either one on a tie).
exact = sum(abs(j - ($offset + i / 30) * 25) <= 0.5 + 1e-9 for i, j in enumerate(m)) / len(m)
print(f"placement found: x {s['x']:.2f} y {s['y']:.2f} scale {s['scale']:.4f} (truth $x, $y, 1); "
      f"map on the nearest bg frame on {100 * exact:.1f}% of {len(m)} fg frames")
EOF
