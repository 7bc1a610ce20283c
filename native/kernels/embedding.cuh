// embedding.cuh: token embedding gather, out[t] = table[ids[t]].
//
// What it computes: for each token t, copies row ids[t] of table [vocab][dim] (fp32/fp16/bf16) to
// out[t], either in the table's type (a plain copy) or widened to fp32. Ids outside [0, vocab)
// produce a zero row, so a bad id can never read out of bounds.
// Tiling: one block per token row; the threads stride over the row in 16-byte vectors (a warp
// moves 512 contiguous bytes per step). Rows are independent; no shared memory, everything in
// registers (one vector per thread per step).
// Bytes per FLOP: no arithmetic; 2 * dim * sizeof(T) bytes per token (read + write). Built to be a
// copy at DRAM speed for prefill (A100 ~1.5 TB/s, H100 ~2.8 TB/s achievable) and launch-latency
// bound for decode (one row of a few KiB).
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_embed {

using namespace tf_ew;

// V: elements per access (the 16-byte width of the table type, or 1 on the scalar path).
template <typename TIn, typename TOut, int V>
__global__ void __launch_bounds__(256) embedding_kernel(TOut* __restrict__ out, const int32_t* __restrict__ ids,
                                                        const TIn* __restrict__ table, int dim, int vocab) {
  const size_t t = blockIdx.x;
  const int id = ids[t];
  const bool valid = id >= 0 && id < vocab;
  const TIn* src = table + size_t(valid ? id : 0) * dim;
  TOut* dst = out + t * dim;
  for (int v = threadIdx.x; v < dim / V; v += blockDim.x) {
    float e[V];
    if (valid) {
      load_vec<V>(src + v * V, e);
    } else {
#pragma unroll
      for (int i = 0; i < V; ++i) e[i] = 0.f;
    }
    store_vec<V>(dst + v * V, e);  // widening to fp32 is exact; same-type stores round-trip exactly
  }
}

}  // namespace tf_embed
