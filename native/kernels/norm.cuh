// norm.cuh: RMSNorm and LayerNorm over the last dimension, with an optional fused residual add.
//
// What it computes (per row of `dim` elements, T in {fp32, fp16, bf16}):
//   h = x + residual          (only when residual != nullptr; h is rounded to T and written back
//                              to `residual`: the new residual stream)
//   h = x                     (otherwise)
//   RMSNorm:   out = h * rsqrt(mean(h^2) + eps) * w
//   LayerNorm: out = (h - mean(h)) * rsqrt(var(h) + eps) * w (+ b)      (biased variance)
// The statistics are taken from the T-rounded h, i.e. from exactly what the residual stream holds,
// so the fused kernel equals "add, store, then norm the stored tensor". fp32 accumulation.
//
// Tiling: one block per row. Each thread owns the 16-byte vectors v = tid, tid + blockDim, ... of
// the row (coalesced: a warp reads 512 contiguous bytes per step). The launcher sizes the block to
// the row (32..512 threads, about one vector per thread at dim 4096 fp16).
// Registers vs shared memory: h is computed once from global memory and parked in dynamic shared
// memory as fp32 (dim * 4 bytes, 16 KiB at dim 4096), so the second (LayerNorm: and third) pass
// reads shared memory, not global. Each thread re-reads only the elements it wrote, so the passes
// need no barrier of their own; the block reductions (warp shuffles + 32 floats of shared memory)
// provide the two barriers each.
// Aliasing: global x and residual are read, and residual written, only in pass 1, by the thread that
// owns the element (read x[i], read residual[i], write residual[i]); out is written only in the last
// pass, after the reductions' barriers, again by the owner of the element. So out may be x, residual,
// or both (post-LN: residual = out = the hidden state, x = the layer's delta), with no __restrict__
// on out, x or residual (the compiler must not assume they differ).
// Bytes per FLOP: reads x, residual, w (and b), writes out and residual: 5 * dim * sizeof(T) bytes
// for ~4 dim FLOPs, i.e. ~2.5 B/FLOP at fp16 — purely bandwidth bound. Built to run at 85-90 % of
// DRAM bandwidth on A100 (~1.7 TB/s) and H100 (~2.8-3 TB/s) once rows >= a few hundred; w stays in
// L2 across rows.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_norm {

using namespace tf_ew;

// V elements per access: vec16<T>() on the vector path, 1 on the scalar path (dim not a multiple of
// the vector width or a misaligned pointer).
template <typename T, int V, bool kLayerNorm>
__global__ void __launch_bounds__(512) norm_residual_kernel(T* out, T* residual, const T* x,
                                                            const T* __restrict__ w,
                                                            const T* __restrict__ b, int dim, float eps) {
  TF_DYNAMIC_SHARED(float, h_row);
  __shared__ float scratch[32];
  const size_t row = blockIdx.x;
  const T* xr = x + row * dim;
  T* rr = residual ? residual + row * dim : nullptr;
  T* outr = out + row * dim;
  const int nvec = dim / V;

  // Pass 1: h = round_T(x + residual), write the residual stream, park h, accumulate sum (LayerNorm)
  // or sum of squares (RMSNorm).
  float acc = 0.f;
  for (int v = threadIdx.x; v < nvec; v += blockDim.x) {
    float h[V];
    load_vec<V>(xr + v * V, h);
    if (rr) {
      float r[V];
      load_vec<V>(rr + v * V, r);
#pragma unroll
      for (int i = 0; i < V; ++i) h[i] = round_to<T>(h[i] + r[i]);
      store_vec<V>(rr + v * V, h);
    }
#pragma unroll
    for (int i = 0; i < V; ++i) {
      h_row[v * V + i] = h[i];
      acc += kLayerNorm ? h[i] : h[i] * h[i];
    }
  }
  const float total = block_sum(acc, scratch);
  float mean = 0.f, inv;
  if constexpr (kLayerNorm) {
    // Pass 2 (LayerNorm): variance around the mean, two-pass for accuracy (no E[x^2] - E[x]^2).
    mean = total / float(dim);
    float sq = 0.f;
    for (int v = threadIdx.x; v < nvec; v += blockDim.x) {
#pragma unroll
      for (int i = 0; i < V; ++i) {
        const float d = h_row[v * V + i] - mean;
        sq += d * d;
      }
    }
    inv = rsqrtf(block_sum(sq, scratch) / float(dim) + eps);
  } else {
    inv = rsqrtf(total / float(dim) + eps);
  }

  // Last pass: scale by w (and shift by b), round once to T.
  for (int v = threadIdx.x; v < nvec; v += blockDim.x) {
    float wv[V], o[V];
    load_vec<V>(w + v * V, wv);
#pragma unroll
    for (int i = 0; i < V; ++i) o[i] = (h_row[v * V + i] - mean) * inv * wv[i];
    if (kLayerNorm && b) {
      float bv[V];
      load_vec<V>(b + v * V, bv);
#pragma unroll
      for (int i = 0; i < V; ++i) o[i] += bv[i];
    }
    store_vec<V>(outr + v * V, o);
  }
}

}  // namespace tf_norm
