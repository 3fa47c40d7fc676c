#!/usr/bin/env bash
# Alignment accuracy on pairs with exact ground truth. Each bench/pairs/*.json is a case for mkpair.py, cut from
# the clips in ../shared/media. Both (../shared/tools, ../shared/media) are outside this repository: this is a
# measurement aid for developers, not part of the test suite. Each pair is built once into $WORK, then aligned
# with `vidkompy --align-only` and scored with score.py, one line per pair. These are the README's tables.
# Usage: bench/pairs.sh [path/to/vidkompy [name ...]]   (env: WORK, default /tmp/vidkompy-pairs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:-$root/build/vidkompy}")
[ $# -gt 0 ] && shift
work=${WORK:-/tmp/vidkompy-pairs}
tools=$root/../shared/tools  # the cases name their clips as ../shared/media/..., from the repository's root
if [ ! -f "$tools/mkpair.py" ]; then
  echo "pairs.sh: needs $tools/mkpair.py and score.py, and the clips in $root/../shared/media" >&2
  exit 2
fi
cd "$root"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in bench/pairs/*.json; do names+=("$(basename "$f" .json)"); done
fi
for n in "${names[@]}"; do
  d=$work/$n
  # An edited fg (fg's "pieces": stretches cut together) and a speed change ("pick_fps") are built by
  # cutpair.py, on mkpair.py.
  maker=$tools/mkpair.py
  grep -qE '"(pieces|pick_fps)"' "bench/pairs/$n.json" && maker=$root/bench/cutpair.py
  [ -s "$d/truth.json" ] || /usr/bin/python3 "$maker" "bench/pairs/$n.json" "$d" >/dev/null
  rm -f "$d/r.json"
  code=0
  "$bin" --bg "$d/bg.mp4" --fg "$d/fg.mp4" --align-only --json "$d/r.json" -q 2>"$d/err.txt" || code=$?
  if [ $code -eq 0 ]; then
    echo "$n $(/usr/bin/python3 "$tools/score.py" "$d/truth.json" "$d/r.json")"
  else
    echo "$n exit $code: $(tail -1 "$d/err.txt")"
  fi
done
