#!/usr/bin/env bash
# make demo: simulate the built-in demo dataset (once), run the demo pipeline, show the results.
# Usage: scripts/demo.sh <path to mosaic binary> <demo dataset folder>
# Running it twice shows every step cached: nothing is recomputed.
set -euo pipefail
mosaic="$1"
demo="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ ! -f "$demo/dataset.yaml" ] || [ ! -f "$demo/tracks/index.csv" ]; then
  echo "== simulating the demo dataset: 4 sequences x 3 animals x 7 keypoints x 9,000 frames at 30 fps"
  rm -rf "$demo"
  "$mosaic" simulate "$demo" --sequences 4 --animals 3 --keypoints 7 --frames 9000 --fps 30 --seed 42
else
  echo "== demo dataset already simulated in $demo (delete the folder to start over)"
fi
echo
echo "== mosaic info $demo"
"$mosaic" info "$demo"
for pipeline in "$here"/examples/demo.yaml "$here"/examples/calms21_style.yaml; do
  [ -f "$pipeline" ] || continue
  echo
  echo "== mosaic run $(basename "$pipeline") --dataset $demo"
  "$mosaic" run "$pipeline" --dataset "$demo"
  echo
  echo "== mosaic status $(basename "$pipeline")"
  "$mosaic" status "$pipeline" --dataset "$demo"
done
echo
echo "== mosaic query: frames in approach events per sequence, and how fast the approacher moves then (px/s)"
"$mosaic" query "$demo" 'SELECT a.sequence,
                               count(*) FILTER (WHERE a.aa_event = 1) AS approach_frames,
                               round(avg(s.speed) FILTER (WHERE a.aa_event = 1), 1) AS approacher_speed,
                               round(avg(s.speed), 1) AS mean_speed
                        FROM "approach-avoidance__from__tracks" a
                        JOIN "speed-angvel__from__trajectory-smooth__from__tracks" s
                          ON s.sequence = a.sequence AND s.frame = a.frame AND s.id = a.id1
                        GROUP BY a.sequence ORDER BY a.sequence'
