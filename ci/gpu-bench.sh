#!/usr/bin/env bash
# Times every CUDA kernel on this machine's GPU: builds libtransfuse_cuda and native/test/gpu_bench.cu
# with nvcc, then runs the benchmark (median of 30 cudaEvent-timed launches per kernel, GB/s or
# TFLOP/s). Not part of CI (CI has no GPU). Without nvcc or without a GPU it says so and exits 0.
#   usage: ci/gpu-bench.sh [BUILD_DIR]      (default build/gpu-bench)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build/gpu-bench}
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  echo "gpu-bench: nvcc not found; nothing to build or time."
  exit 0
fi
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" >/dev/null
cmake --build "$build_dir" --target transfuse_cuda -j "$(nproc)"
lib_dir="$build_dir/native/cuda"
"$nvcc" -std=c++17 -O2 -arch=native -I"$root/native/include" "$root/native/test/gpu_bench.cu" \
  -o "$build_dir/gpu_bench" -L"$lib_dir" -ltransfuse_cuda -Xlinker -rpath="$lib_dir" 2>/dev/null ||
  "$nvcc" -std=c++17 -O2 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
    -I"$root/native/include" "$root/native/test/gpu_bench.cu" \
    -o "$build_dir/gpu_bench" -L"$lib_dir" -ltransfuse_cuda -Xlinker -rpath="$lib_dir"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-bench: no NVIDIA GPU visible (nvidia-smi finds none); built $build_dir/gpu_bench but not running it."
  exit 0
fi
"$build_dir/gpu_bench"
