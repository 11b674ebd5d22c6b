#!/usr/bin/env bash
# bootstrap.sh — install what the build and the programs need (Debian packages), then configure
# and build.
#
#   scripts/bootstrap.sh [--build-dir DIR] [--sanitize] [TARGET...]
#
# Idempotent and quiet when everything is in place: packages are installed only when missing
# (apt-get update once, then apt-get install), CMake is configured only when DIR has no build
# files, and ninja rebuilds only what changed. Progress goes to stderr so that a program's own
# output on stdout stays clean.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
sanitize=OFF
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --sanitize) sanitize=ON; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done

log() { echo "[bootstrap] $*" >&2; }

# --- 1. system packages ----------------------------------------------------------------------
# gnuplot-nox draws the plots (tools/lib/gnuplot.h): a program the tools run, not a library.
packages=(build-essential cmake ninja-build pkg-config libopenblas-openmp-dev liblapack-dev
          doctest-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >&2
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- 2. configure ----------------------------------------------------------------------------
if [ ! -f "$build_dir/build.ninja" ]; then
  build_type=Release
  [ "$sanitize" = ON ] && build_type=RelWithDebInfo
  log "configuring $build_dir ($build_type, sanitizers $sanitize)"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=$build_type \
        -DTG_SANITIZE=$sanitize >&2
fi

# --- 3. build --------------------------------------------------------------------------------
log "building ${targets[*]:-all} in $build_dir"
if ! ninja -C "$build_dir" "${targets[@]}" > "$build_dir/last-build.log" 2>&1; then
  cat "$build_dir/last-build.log" >&2
  log "build failed"
  exit 1
fi
