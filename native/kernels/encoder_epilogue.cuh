// encoder_epilogue.cuh: the elementwise epilogue that follows every GEMM of a transformer encoder
// layer (BERT, ViT): bias add, optional activation, optional residual add, in one pass.
//
// What it computes
//   bias_act_kernel: out[r][j] = act(x[r][j] + bias[r / group_rows][j]) + residual[r][j]
//     over [rows][n] of one dtype, in fp32, rounded once on the store. act is identity or one of the
//     GLU activations (SiLU, GELU tanh, GELU erf: the same activate<> as glu.cuh, so the numerics of
//     an activation are the same everywhere). bias and residual are optional (NULL). Bias rows
//     repeat every group_rows rows, so one launch also serves a fused Q/K/V projection written by a
//     strided-batched GEMM as [3][tokens][n] with biases [3][n] (group_rows = tokens).
//   Uses in an encoder layer (x = the residual stream, y = a GEMM output):
//     FFN up:      h = gelu(y + b1)                       (residual NULL, out aliases y)
//     post-LN:     x = x + y + b, then tf_layernorm in place (BERT: LN(x + sublayer(x)))
//     pre-LN:      x = x + y + b                           (ViT: x + sublayer(LN(x)))
//     Q/K/V bias:  qkv = qkv + bqkv                        (group_rows = tokens)
//   out may alias x or residual exactly (each element is read before it is written, by the same
//   thread); pointers are therefore not __restrict__.
//
// Tiling
//   Like glu_kernel: blockIdx.y = row (looping past 65535 rows), x-blocks stride over the row in
//   V-element vectors, V = 16 bytes (8 fp16/bf16, 4 fp32) when n % V == 0 and every pointer is
//   16-byte aligned, else V = 1. Pure streaming through registers; no shared memory.
// Bytes per FLOP
//   Reads x, bias (L1/L2-resident: every row reads the same n values), residual; writes out: 6 bytes
//   per element at fp16 with a residual for 2-20 FLOPs (GELU erf is the costly one). Bandwidth bound:
//   a BERT-base FFN epilogue (512 x 3072 fp16, 3 MiB read + 3 MiB written) is ~3 us on an H100.
//   A GEMM epilogue fused into cuBLASLt would save this pass; the separate kernel keeps the JCublas /
//   emulated GEMM path identical (cublasGemmStridedBatchedEx has no epilogue).
#pragma once
#include "glu.cuh"

namespace tf_encoder {

using namespace tf_ew;

enum : int { kIdentity = 3 };  // TF_ACT_IDENTITY; the other codes are glu.cuh's Act

template <int ACT>
__device__ __forceinline__ float apply_act(float v) {
  if constexpr (ACT == kIdentity) return v;
  else return tf_gated::activate<ACT>(v);
}

// HAS_BIAS / HAS_RES as template flags: no per-element branch, and the unused loads vanish.
template <typename T, int V, int ACT, bool HAS_BIAS, bool HAS_RES>
__global__ void __launch_bounds__(256) bias_act_kernel(T* out, const T* x, const T* bias, const T* residual, int rows,
                                                       int n, int group_rows) {
  for (size_t r = blockIdx.y; r < size_t(rows); r += gridDim.y) {
    const size_t row = r * size_t(n);
    const T* b = HAS_BIAS ? bias + (r / size_t(group_rows)) * size_t(n) : nullptr;
    for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < n / V; v += gridDim.x * blockDim.x) {
      float a[V], bb[V], res[V];
      load_vec<V>(x + row + v * V, a);
      if constexpr (HAS_BIAS) load_vec<V>(b + v * V, bb);
      if constexpr (HAS_RES) load_vec<V>(residual + row + v * V, res);
#pragma unroll
      for (int i = 0; i < V; ++i) {
        float t = a[i];
        if constexpr (HAS_BIAS) t += bb[i];
        t = apply_act<ACT>(t);
        if constexpr (HAS_RES) t += res[i];
        a[i] = t;
      }
      store_vec<V>(out + row + v * V, a);
    }
  }
}

}  // namespace tf_encoder
