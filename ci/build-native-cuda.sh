#!/usr/bin/env bash
# Builds the CUDA backend's native libraries with CMake and copies them to a resource folder: the
# kernels compiled against the host emulator (libtransfuse_emu, always) and, when asked or where nvcc
# exists, for the GPU (libtransfuse_cuda). Called by the Maven build (java/cuda/pom.xml) as:
#   build-native-cuda.sh BUILD_DIR DEST_DIR [CUDA]
# CUDA (the Maven property transfuse.cuda): auto (default) = build libtransfuse_cuda where nvcc exists,
# true = build it and fail without nvcc, false = skip it. With auto, the environment variable TRANSFUSE_CUDA
# (1/true, 0/false) decides instead; TRANSFUSE_SKIP_NVCC=1 means false (the older switch, kept).
# nvcc takes most of a first build (several minutes on two cores): the ./transfuse launcher skips it
# unless TRANSFUSE_CUDA=1.
set -euo pipefail
build_dir=$1 dest_dir=$2 cuda=${3:-auto}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v cmake >/dev/null || { echo "transfuse: cmake not found; install CMake >= 3.25 (e.g. apt-get install cmake)." >&2; exit 1; }
command -v c++ >/dev/null || command -v g++ >/dev/null || { echo "transfuse: no C++ compiler found; install g++ >= 12 (e.g. apt-get install g++)." >&2; exit 1; }
if [ "$cuda" = auto ]; then
  cuda=${TRANSFUSE_CUDA:-auto}
  [ "${TRANSFUSE_SKIP_NVCC:-0}" = 1 ] && cuda=false
fi
case "$cuda" in
  1|true|on|yes) cuda=true ;;
  0|false|off|no) cuda=false ;;
  auto) ;;
  *) echo "transfuse: transfuse.cuda / TRANSFUSE_CUDA is '$cuda'; expected auto, true (1) or false (0)." >&2; exit 1 ;;
esac
cmake -S "$root" -B "$build_dir" -DTRANSFUSE_KERNELS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=(transfuse_emu)
has_nvcc() {
  grep -q '^CMAKE_CUDA_COMPILER:' "$build_dir/CMakeCache.txt" 2>/dev/null \
    && ! grep -q '^CMAKE_CUDA_COMPILER:.*NOTFOUND' "$build_dir/CMakeCache.txt"
}
if [ "$cuda" = true ] && ! has_nvcc; then
  echo "transfuse: CUDA kernels were asked for (transfuse.cuda=true or TRANSFUSE_CUDA=1) but CMake found no nvcc; install the CUDA 13 toolkit or put nvcc on PATH." >&2
  exit 1
fi
if [ "$cuda" = true ] || { [ "$cuda" = auto ] && has_nvcc; }; then
  targets+=(transfuse_cuda)
  echo "transfuse: compiling the CUDA kernels with nvcc (libtransfuse_cuda; transfuse.cuda=false or TRANSFUSE_CUDA=0 skips it)" >&2
else
  # A stale GPU library from an earlier build must not ship in the jar.
  rm -f "$dest_dir/libtransfuse_cuda.so"
fi
cmake --build "$build_dir" --target "${targets[@]}" -j "$(nproc)"
mkdir -p "$dest_dir"
for t in "${targets[@]}"; do
  cp "$build_dir/native/$([ "$t" = transfuse_emu ] && echo emu || echo cuda)/lib$t.so" "$dest_dir"/
done
