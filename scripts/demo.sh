#!/usr/bin/env bash
# make demo: simulate the built-in demo dataset (once), then show what it holds.
# Usage: scripts/demo.sh <path to mosaic binary> <demo dataset folder>
set -euo pipefail
mosaic="$1"
demo="$2"

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
