#!/usr/bin/env bash
# Builds libtransfuse_cpu with CMake and copies it to a resource folder. Called by the Maven build
# (java/core/pom.xml) as: build-native.sh BUILD_DIR DEST_DIR
set -euo pipefail
build_dir=$1 dest_dir=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v cmake >/dev/null || { echo "transfuse: cmake not found; install CMake >= 3.25 (e.g. apt-get install cmake)." >&2; exit 1; }
command -v c++ >/dev/null || command -v g++ >/dev/null || { echo "transfuse: no C++ compiler found; install g++ >= 12 (e.g. apt-get install g++)." >&2; exit 1; }
cmake -S "$root" -B "$build_dir" -DTRANSFUSE_KERNELS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" --target transfuse_cpu -j "$(nproc)"
mkdir -p "$dest_dir"
cp "$build_dir"/native/cpu/libtransfuse_cpu.so "$dest_dir"/
