#!/usr/bin/env bash
# Long-run check: a MINUTES-long 854x480 pair (default 30) aligned and rendered in one run, with the process's
# resident memory sampled every 2 s. Prints the RSS at each minute mark, the maximum, and time per fg frame.
# Not a test (it takes a quarter of an hour on 2 cores); the figures go into the README's Reliability section.
# Usage: bench/longrun.sh [path/to/vidkompy]   (env: MINUTES, WORK = folder for the generated files, kept)
set -euo pipefail
bin=$(realpath "${1:-build/vidkompy}")
minutes=${MINUTES:-30}
work=${WORK:-/tmp/vidkompy-longrun-$minutes}
mkdir -p "$work"
cd "$work"
secs=$((minutes * 60))

if [ ! -s bg.mp4 ] || [ ! -s fg.mp4 ]; then
  echo "generating a $minutes-minute pair in $work ..." >&2
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=854x480:r=25" -t $secs -c:v libx264 -preset ultrafast \
    -crf 20 -pix_fmt yuv420p bg.mp4
  # fg: a 640x360 crop at (100, 60), 30 fps, starting 3 s in and ending 3 s before bg does.
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=854x480:r=30" -ss 3 -t $((secs - 6)) \
    -vf "crop=640:360:100:60" -c:v libx264 -preset ultrafast -crf 20 -pix_fmt yuv420p fg.mp4
fi

start=$(date +%s.%N)
"$bin" --bg bg.mp4 --fg fg.mp4 -o out.mp4 --preset veryfast --json report.json -v 2>run.log &
pid=$!
: >rss.txt
while kill -0 $pid 2>/dev/null; do
  t=$(echo "$(date +%s.%N) - $start" | bc)
  kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || true)
  [ -n "$kb" ] && echo "$t $kb" >>rss.txt
  sleep 2
done
wait $pid
end=$(date +%s.%N)
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 out.mp4)
wall=$(echo "$end - $start" | bc)
echo "pair: $minutes min, bg 854x480 25 fps, fg 640x360 30 fps; output $frames frames in $(printf '%.0f' "$wall") s" \
  "($(echo "1000 * $wall / $frames" | bc -l | xargs printf '%.2f') ms per fg frame)"
awk '{m = int($1 / 60); if (!(m in seen)) {seen[m] = 1; printf "minute %d: RSS %.0f MB\n", m, $2 / 1024}
      if ($2 > max) max = $2} END {printf "max RSS %.0f MB\n", max / 1024}' rss.txt
sed -n '/^stage /,$p' run.log
