// glu.cuh: gated linear units, act(gate) * up, for SiLU, GELU (tanh and erf forms) and identity
// (the bilinear GLU; decode GEMV: SiLU and GELU only).
//
// What it computes
//   glu_kernel:      out[t][j] = act(gate[t * in_stride + j]) * up[t * in_stride + j], out [tokens][ffn]
//                    packed. gate and up are rows of in_stride elements: two separate [tokens][ffn]
//                    GEMM outputs (in_stride = ffn), or the two column halves of one fused gate/up
//                    GEMM output (up = gate + ffn, in_stride = 2 * ffn). Each element is read and
//                    written by one thread in one step, so out may be gate or up itself (in_stride = ffn).
//   glu_gemv_kernel: the decode form, out[j] = act(W_gate[j] . x) * (W_up[j] . x), W_* [ffn][dim]
//                    row-major: both matrix-vector products and the epilogue in one pass over the
//                    weights, so the [2 * ffn] intermediate never goes to memory.
// Everything is computed in fp32; stores round once to the output type.
//
// Tiling
//   glu_kernel: a 2-D grid, blockIdx.y = token (looping past 65535 tokens), x-blocks stride over the
//   row in V-element vectors (V = 16 bytes worth when out, gate, up are 16-byte aligned and ffn and
//   in_stride are multiples of V; V = 1 otherwise). Pure streaming, registers only.
//   glu_gemv_kernel: one warp per output row j (the pair of rows W_gate[j], W_up[j]); 8 warps per
//   block. Each lane reads 16-byte chunks of both rows at k = (32 i + lane) * 8, so a warp reads 512
//   contiguous bytes of each row per step (fully coalesced), with the loop unrolled so several loads
//   are in flight per lane. x is read through the read-only path (L1-resident: all warps of a block
//   and all blocks of an SM read the same x). The two dot products reduce with 5 xor-shuffles each;
//   lane 0 applies the epilogue. No shared memory.
// Bytes per FLOP
//   glu_kernel: reads 2 and writes 1 element per ~10 FLOPs (bandwidth bound, ~0.6 B/FLOP at fp16).
//   glu_gemv_kernel: 2 bytes of weight per multiply-add (1 B/FLOP at fp16/bf16): bandwidth bound by
//   the weights; built for ~80-90 % of DRAM bandwidth on A100 (~1.6 TB/s) and H100 (~2.8 TB/s), e.g.
//   a 4096 x 14336 Llama-3-8B gate+up (235 MB bf16) in ~90 us on H100.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_gated {

using namespace tf_ew;

enum Act : int { kSilu = 0, kGeluTanh = 1, kGeluErf = 2, kIdentity = 3, kRelu = 4 };

template <int ACT>
__device__ __forceinline__ float activate(float x) {
  if constexpr (ACT == kSilu) {
    return x / (1.f + expf(-x));
  } else if constexpr (ACT == kGeluTanh) {
    const float k0 = 0.7978845608028654f, k1 = 0.044715f;  // sqrt(2/pi)
    return 0.5f * x * (1.f + tanhf(k0 * (x + k1 * x * x * x)));
  } else if constexpr (ACT == kGeluErf) {
    return 0.5f * x * (1.f + erff(x * 0.7071067811865476f));
  } else if constexpr (ACT == kRelu) {
    return x > 0.f || x != x ? x : 0.f;  // NaN stays NaN
  } else {
    static_assert(ACT == kIdentity, "unknown activation");
    return x;
  }
}

// No __restrict__ on out / gate / up: out may be gate or up itself (same element, same thread).
template <typename T, int V, int ACT>
__global__ void __launch_bounds__(256) glu_kernel(T* out, const T* gate, const T* up, int tokens, int ffn,
                                                  long in_stride) {
  // grid.y is capped at 65535 by the launcher: longer batches loop.
  for (size_t t = blockIdx.y; t < size_t(tokens); t += gridDim.y) {
    const T* g_row = gate + t * size_t(in_stride);
    const T* u_row = up + t * size_t(in_stride);
    T* o = out + t * size_t(ffn);
    for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < ffn / V; v += gridDim.x * blockDim.x) {
      float g[V], u[V], r[V];
      load_vec<V>(g_row + v * V, g);
      load_vec<V>(u_row + v * V, u);
#pragma unroll
      for (int i = 0; i < V; ++i) r[i] = activate<ACT>(g[i]) * u[i];
      store_vec<V>(o + v * V, r);
    }
  }
}

constexpr int kGemvWarps = 8;

// TW: weight type; TX: type of x and out. V: weight elements per access (8 = 16 bytes of fp16/bf16,
// 4 for fp32 weights, 1 on the scalar path). ffn rows, one per warp.
template <typename TW, typename TX, int V, int ACT>
__global__ void __launch_bounds__(kGemvWarps * 32) glu_gemv_kernel(TX* __restrict__ out, const TW* __restrict__ w_gate,
                                                                   const TW* __restrict__ w_up,
                                                                   const TX* __restrict__ x, int ffn, int dim) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
  if (row >= ffn) return;  // whole warps leave together: the shuffles below stay full-warp
  const TW* wg = w_gate + size_t(row) * dim;
  const TW* wu = w_up + size_t(row) * dim;
  float acc_g = 0.f, acc_u = 0.f;
  const int nvec = dim / V;
#pragma unroll 4
  for (int v = lane; v < nvec; v += 32) {
    float g[V], u[V], xv[V];
    load_vec<V>(wg + v * V, g);
    load_vec<V>(wu + v * V, u);
    load_vec<V>(x + v * V, xv);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      acc_g += g[i] * xv[i];
      acc_u += u[i] * xv[i];
    }
  }
  acc_g = warp_sum(acc_g);
  acc_u = warp_sum(acc_u);
  if (lane == 0) out[row] = from_f32<TX>(activate<ACT>(acc_g) * acc_u);
}

}  // namespace tf_gated
