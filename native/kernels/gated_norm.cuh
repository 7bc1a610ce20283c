// gated_norm.cuh: the gated RMSNorm of the Mamba-2 mixer (mamba_ssm's RMSNormGated with
// norm_before_gate = False, HF's MambaRMSNormGated), grouped.
//
// What it computes (per row r and group of group_size columns, T in {fp32, fp16, bf16}, fp32 math):
//   v = x * silu(z);   out = v * rsqrt(mean over the group of v^2 + eps) * w
//
// Tiling: one block of 128 threads per (row, group); thread k owns the group's columns k, k + 128, ...
// (coalesced). Pass 1 accumulates the sum of squares of v (block_sum: warp shuffles + 32 floats of
// shared memory); pass 2 recomputes v from x and z and writes out. Every element is read and written by
// the same thread, reads before the write, so out may be x or z. Registers: a few floats; no dynamic
// shared memory. Bytes per FLOP: reads x, z twice and w once, writes out: ~7 x sizeof(T) bytes per
// element for ~12 FLOPs (two exps): bandwidth bound; the second read of x and z mostly hits L1/L2
// (a group is at most a few KiB).
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_gnorm {

using namespace tf_ew;

constexpr int kThreads = 128;

__device__ __forceinline__ float gated(float x, float z) { return x * z / (1.f + expf(-z)); }

template <typename T>
__global__ void __launch_bounds__(kThreads) gated_rmsnorm_kernel(T* out, const T* x, const T* z, const T* __restrict__ w,
                                                                 int dim, int group_size, float eps) {
  __shared__ float scratch[32];
  const size_t base = size_t(blockIdx.x) * dim + size_t(blockIdx.y) * group_size;
  const int c0 = blockIdx.y * group_size;
  float ss = 0.f;
  for (int i = threadIdx.x; i < group_size; i += kThreads) {
    const float v = gated(to_f32(x[base + i]), to_f32(z[base + i]));
    ss += v * v;
  }
  const float scale = rsqrtf(block_sum(ss, scratch) / float(group_size) + eps);
  for (int i = threadIdx.x; i < group_size; i += kThreads) {
    const float v = gated(to_f32(x[base + i]), to_f32(z[base + i]));
    out[base + i] = from_f32<T>(v * scale * to_f32(w[c0 + i]));
  }
}

}  // namespace tf_gnorm
