#!/usr/bin/env bash
# Install what the mosaic-cpp build needs, and nothing when it is already there.
#   - Debian -dev packages (apt-get, only the missing ones)
#   - DuckDB 1.4.4 (not in Debian): libduckdb.so from the npm package
#     @duckdb/node-bindings-linux-x64@1.4.4-r.4 and duckdb.h from duckdb@1.4.4,
#     both fetched with `npm pack` into third_party/duckdb/ (git-ignored).
# Idempotent and quiet when everything is present. Set MOSAIC_BOOTSTRAP_VERBOSE=1 for chatter.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { if [ "${MOSAIC_BOOTSTRAP_VERBOSE:-0}" = 1 ]; then echo "[bootstrap] $*"; fi; }
note() { echo "[bootstrap] $*" >&2; }

# ---- Debian packages -------------------------------------------------------------------------
packages=(
  build-essential cmake pkg-config
  libsqlite3-dev nlohmann-json3-dev libssl-dev libyaml-cpp-dev libeigen3-dev libnanoflann-dev
  libfftw3-dev libxgboost-dev libzip-dev libhdf5-dev libcli11-dev libfmt-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  libgtest-dev libgmock-dev libbenchmark-dev
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm (for DuckDB below) may come from outside Debian (e.g. NodeSource); only ask apt when it is absent.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
  note "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/mosaic-apt.log 2>&1; then
    $sudo_cmd apt-get update -qq >/tmp/mosaic-apt-update.log 2>&1 || true
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/mosaic-apt.log 2>&1 || {
      note "apt-get failed; see /tmp/mosaic-apt.log"; tail -20 /tmp/mosaic-apt.log >&2; exit 1; }
  fi
fi

# ---- DuckDB 1.4.4 from npm ---------------------------------------------------------------------
duck="$here/third_party/duckdb"
if [ ! -f "$duck/lib/libduckdb.so" ] || [ ! -f "$duck/include/duckdb.h" ]; then
  note "fetching DuckDB 1.4.4 (npm pack) into third_party/duckdb/"
  command -v npm >/dev/null || { note "npm is required to fetch DuckDB"; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @duckdb/node-bindings-linux-x64@1.4.4-r.4 >/dev/null 2>npm.err \
     && npm pack --silent duckdb@1.4.4 >/dev/null 2>>npm.err) || { cat "$tmp/npm.err" >&2; exit 1; }
  mkdir -p "$tmp/bind" "$tmp/src"
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz -C "$tmp/bind"
  tar -xzf "$tmp"/duckdb-1.4.4.tgz -C "$tmp/src" package/src/duckdb/src/include/duckdb.h
  so="$(find "$tmp/bind" -name 'libduckdb.so' | head -1)"
  [ -n "$so" ] || { note "libduckdb.so not found in the npm package"; exit 1; }
  mkdir -p "$duck/lib.tmp" "$duck/include.tmp"
  cp "$so" "$duck/lib.tmp/libduckdb.so"
  cp "$tmp/src/package/src/duckdb/src/include/duckdb.h" "$duck/include.tmp/duckdb.h"
  rm -rf "$duck/lib" "$duck/include"
  mv "$duck/lib.tmp" "$duck/lib"
  mv "$duck/include.tmp" "$duck/include"
  echo "1.4.4" > "$duck/VERSION"
fi
say "all dependencies present"
