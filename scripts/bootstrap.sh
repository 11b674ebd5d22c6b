#!/usr/bin/env bash
# bootstrap.sh — install what the build and the programs need (Debian packages), then configure
# and build.
#
#   scripts/bootstrap.sh [--build-dir DIR] [--sanitize | --fuzz] [TARGET...]
#
# --sanitize builds with ASan + UBSan; --fuzz configures the libFuzzer build (clang, TG_FUZZ:
# only the fuzz targets and the libraries they need; tests/fuzz/run uses it) and installs clang
# and its runtime libraries when they are missing.
#
# Idempotent and quiet when everything is in place: packages are installed only when missing
# (apt-get update once, then apt-get install), CMake is configured only when DIR has no build
# files, and ninja rebuilds only what changed. Progress goes to stderr so that a program's own
# output on stdout stays clean.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
sanitize=OFF
fuzz=OFF
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --sanitize) sanitize=ON; shift ;;
    --fuzz) fuzz=ON; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done

log() { echo "[bootstrap] $*" >&2; }

# --- 1. system packages ----------------------------------------------------------------------
# gnuplot-nox draws the plots (tools/lib/gnuplot.h): a program the tools run, not a library.
# Open MPI (mpirun and the library) runs training as several processes (docs/distributed.md).
packages=(build-essential cmake ninja-build pkg-config libopenblas-openmp-dev liblapack-dev
          doctest-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev gnuplot-nox
          openmpi-bin libopenmpi-dev)
# libFuzzer and the sanitizer runtimes (libclang-rt), OpenMP for clang (libomp).
if [ "$fuzz" = ON ]; then packages+=(clang libclang-rt-dev libomp-dev); fi
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
  compilers=()
  # The sanitizer build leaves the CUDA backend out: nvcc code is not instrumented anyway, the
  # CUDA cases skip without a GPU, and the Release build already compiles every .cu file.
  [ "$sanitize" = ON ] && build_type=RelWithDebInfo && compilers=(-DTG_WITH_CUDA=OFF)
  if [ "$fuzz" = ON ]; then
    build_type=RelWithDebInfo
    compilers=(-DCMAKE_CXX_COMPILER=clang++)
  fi
  log "configuring $build_dir ($build_type, sanitizers $sanitize, fuzz targets $fuzz)"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=$build_type \
        -DTG_SANITIZE=$sanitize -DTG_FUZZ=$fuzz "${compilers[@]}" >&2
fi

# --- 3. build --------------------------------------------------------------------------------
log "building ${targets[*]:-all} in $build_dir"
if ! ninja -C "$build_dir" "${targets[@]}" > "$build_dir/last-build.log" 2>&1; then
  cat "$build_dir/last-build.log" >&2
  log "build failed"
  exit 1
fi
