#!/usr/bin/env bash
# make bench: run every benchmark; results (Google Benchmark JSON) go to <build>/bench-results/
# so they can be diffed between commits.
# Usage: scripts/bench.sh <build dir> [benchmark-name-regex]
set -euo pipefail
build="$1"
filter="${2:-.}"
out="$build/bench-results"
mkdir -p "$out"
for bin in "$build"/bench/*_bench; do
  name="$(basename "$bin")"
  [[ "$name" =~ $filter ]] || continue
  echo "== $name"
  "$bin" --benchmark_out="$out/$name.json" --benchmark_out_format=json
done
echo "results: $out"
