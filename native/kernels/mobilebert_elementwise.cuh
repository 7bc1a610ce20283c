// mobilebert_elementwise.cuh: MobileBERT's NoNorm (with the residual contract of tf_layernorm). Its feed-forward
// ReLU is the RELU activation of the linear epilogue (Activation.RELU), not an op of its own.
//
// What it computes
//   h = x (residual NULL) or h = round(residual + x), written back to residual (the new residual stream);
//   out[r][i] = h[r][i] * weight[i] + bias[i] (bias optional), over [rows][dim] of one dtype, in fp32, rounded
//   once on the store. MobileBERT (Sun et al. 2020, "MobileBERT", section 3.4) replaces every LayerNorm by this
//   elementwise affine map: its "normalization" is a learned per-channel scale and shift.
// Tiling
//   no_norm: blockIdx.y = row (looping past 65535 rows), x-blocks stride over the row, one element per
//   thread. Consecutive threads touch consecutive elements (coalesced).
//   Registers only, no shared memory.
// Bytes per FLOP
//   Reads x, residual, weight and bias (the last two L1/L2-resident: every row reads the same dim values),
//   writes out and residual: ~8 bytes per element at fp16 for 2 FLOPs. Bandwidth bound, like every
//   elementwise epilogue; at MobileBERT's widths (128/512) a row is a few hundred bytes.
// Aliasing
//   out may be x or residual exactly: each element is read by the thread that writes it, before it writes it
//   (pointers are therefore not __restrict__).
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_nonorm {

using namespace tf_ew;

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads) no_norm_kernel(T* out, T* residual, const T* x, const T* w, const T* bias,
                                                           int rows, int dim) {
  for (size_t r = blockIdx.y; r < size_t(rows); r += gridDim.y) {
    for (int i = blockIdx.x * kThreads + threadIdx.x; i < dim; i += gridDim.x * kThreads) {
      const size_t o = r * dim + i;
      float h = to_f32(x[o]);
      if (residual) {
        const T stored = from_f32<T>(h + to_f32(residual[o]));
        residual[o] = stored;
        h = to_f32(stored);
      }
      out[o] = from_f32<T>(h * to_f32(w[i]) + (bias ? to_f32(bias[i]) : 0.f));
    }
  }
}

}  // namespace tf_nonorm
