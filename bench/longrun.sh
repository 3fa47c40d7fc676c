#!/usr/bin/env bash
# Long-run check: a MINUTES-long pair (default 30; bg SIZE, default 854x480, 25 fps; fg a crop of 3/4 its size,
# 30 fps) aligned and rendered in one run, with the process's resident memory sampled every 2 s. Prints the RSS
# at each minute mark, the maximum, time per fg frame, and the alignment against the truth.
# Not a test (it takes a quarter of an hour on 2 cores); the figures go into the README's Reliability section.
# Usage: bench/longrun.sh [path/to/vidkompy]   (env: MINUTES, SIZE, WORK = folder for the generated files, kept)
set -euo pipefail
bin=$(realpath "${1:-build/vidkompy}")
minutes=${MINUTES:-30}
size=${SIZE:-854x480}
w=${size%x*} h=${size#*x}
fw=$((w * 3 / 8 * 2)) fh=$((h * 3 / 8 * 2)) fx=$((w / 16 * 2)) fy=$((h / 16 * 2))
work=${WORK:-/tmp/vidkompy-longrun-$minutes-$size}
mkdir -p "$work"
cd "$work"
secs=$((minutes * 60))

if [ ! -s bg.mp4 ] || [ ! -s fg.mp4 ]; then
  echo "generating a $minutes-minute pair in $work ..." >&2
  # testsrc2's animation repeats every 12 s, which would make a long pair ambiguous: a white box also crawls
  # across the picture (0.2 px/s, 2.4 px per repeat), so no two moments of the run look alike.
  box="drawbox=x='150+t*0.2':y=150:w=80:h=80:color=white:t=fill"
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=${size}:r=25" -t $secs -vf "$box" -c:v libx264 \
    -preset ultrafast -crf 20 -pix_fmt yuv420p bg.mp4
  # fg: a crop of 3/4 the size at (w/8, h/8), 30 fps, starting 3 s in and ending 3 s before bg does.
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=${size}:r=30" -ss 3 -t $((secs - 6)) \
    -vf "$box,crop=$fw:$fh:$fx:$fy" -c:v libx264 -preset ultrafast -crf 20 -pix_fmt yuv420p fg.mp4
fi

start=$(date +%s.%N)
# GNU time records the true peak; the samples every 2 s show the course of it (and can miss a short peak).
/usr/bin/time -f "%M" -o peak.txt "$bin" --bg bg.mp4 --fg fg.mp4 -o out.mp4 --preset veryfast --json report.json \
  -v 2>run.log &
tpid=$!
sleep 0.2
pid=$(pgrep -P $tpid || echo $tpid)
: >rss.txt
while kill -0 $tpid 2>/dev/null; do
  t=$(echo "$(date +%s.%N) - $start" | bc)
  kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || true)
  [ -n "$kb" ] && echo "$t $kb" >>rss.txt
  sleep 2
done
wait $tpid
end=$(date +%s.%N)
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 out.mp4)
wall=$(echo "$end - $start" | bc)
echo "pair: $minutes min, bg $size 25 fps, fg ${fw}x$fh 30 fps; output $frames frames in $(printf '%.0f' "$wall") s" \
  "($(echo "1000 * $wall / $frames" | bc -l | xargs printf '%.2f') ms per fg frame)"
awk '{m = int($1 / 60); if (!(m in seen)) {seen[m] = 1; printf "minute %d: RSS %.0f MB\n", m, $2 / 1024}
      if ($2 > max) max = $2} END {printf "max RSS of the samples %.0f MB\n", max / 1024}' rss.txt
echo "peak RSS $(awk '{printf "%.0f", $1 / 1024}' peak.txt) MB (GNU time)"
sed -n '/^stage /,$p' run.log
# The truth: fg at (fx, fy), unscaled; fg frame i shows time 3 + i/30 s, so the nearest bg frame is
# 25 (3 + i/30) = (450 + 5 i) / 6 rounded; a sixth of the frames fall exactly between two bg frames, and either
# counts as exact there.
python3 - <<PY
import json
r = json.load(open("report.json"))
s, m = r["spatial"], r["temporal"]["map"]
def nearest(i):
    q, rem = divmod(450 + 5 * i, 6)
    return {q} if 2 * rem < 6 else {q + 1} if 2 * rem > 6 else {q, q + 1}
exact = sum(b in nearest(i) for i, b in enumerate(m)) / len(m)
near = sum(min(abs(b - t) for t in nearest(i)) <= 1 for i, b in enumerate(m)) / len(m)
print(f"placement x {s['x']:.2f} y {s['y']:.2f} scale {s['scale']:.4f} (truth $fx, $fy, 1); "
      f"map exact {100 * exact:.1f}%, within 1 frame {100 * near:.1f}%")
PY
