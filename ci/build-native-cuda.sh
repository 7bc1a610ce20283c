#!/usr/bin/env bash
# Builds the CUDA backend's native libraries with CMake and copies them to a resource folder: the
# kernels compiled against the host emulator (libtransfuse_emu, always) and, where nvcc exists, for
# the GPU (libtransfuse_cuda). Called by the Maven build (java/cuda/pom.xml) as:
#   build-native-cuda.sh BUILD_DIR DEST_DIR
# TRANSFUSE_SKIP_NVCC=1 skips libtransfuse_cuda even where nvcc exists (faster local builds).
set -euo pipefail
build_dir=$1 dest_dir=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v cmake >/dev/null || { echo "transfuse: cmake not found; install CMake >= 3.25 (e.g. apt-get install cmake)." >&2; exit 1; }
command -v c++ >/dev/null || command -v g++ >/dev/null || { echo "transfuse: no C++ compiler found; install g++ >= 12 (e.g. apt-get install g++)." >&2; exit 1; }
cmake -S "$root" -B "$build_dir" -DTRANSFUSE_KERNELS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=(transfuse_emu)
if [ "${TRANSFUSE_SKIP_NVCC:-0}" != 1 ] && grep -q '^CMAKE_CUDA_COMPILER:' "$build_dir/CMakeCache.txt" 2>/dev/null \
   && ! grep -q '^CMAKE_CUDA_COMPILER:.*NOTFOUND' "$build_dir/CMakeCache.txt"; then
  targets+=(transfuse_cuda)
fi
cmake --build "$build_dir" --target "${targets[@]}" -j "$(nproc)"
mkdir -p "$dest_dir"
for t in "${targets[@]}"; do
  cp "$build_dir/native/$([ "$t" = transfuse_emu ] && echo emu || echo cuda)/lib$t.so" "$dest_dir"/
done
