// conv1d.cuh: causal depthwise conv1d (Mamba's short convolution), prefill and decode step.
//
// What it computes: per batch b and channel d, with width W <= 4,
//   out[l] = bias[d] + sum_{k<W} weight[d][k] * x[l - (W-1) + k]    (x at negative l is 0)
// then SiLU if asked. Prefill can also emit the conv state for decode: the last W-1 inputs, oldest
// first (zeros where the sequence is shorter). The decode step reads that state, produces one output
// for the new x, and rolls the state in place (drop the oldest, append x).
// Layouts: x, out [batch][dim][seqlen] (channel-major, as Mamba's in_proj output is transposed to);
// weight [dim][W]; bias [dim]; state [batch][dim][W-1]; all of one dtype, fp32 arithmetic.
//
// Tiling (prefill): one block of 128 threads per (channel, batch) row; the threads stride over the
// sequence, each output reads its W inputs (the W-1 halo values are re-read by neighbouring threads
// and hit L1, so DRAM sees each input once). The W weights and the bias sit in registers.
// Decode: one thread per (batch, channel): W-1 state reads, one x, W-1 state writes. The thread reads
// its x element first and writes the same out element last, so out may be x (in place).
// Bytes per FLOP: ~2 W FLOPs per output for 2 elements moved (4 bytes at fp16): bandwidth bound;
// built to stream at ~80 % of DRAM bandwidth on A100/H100 for long rows (seqlen >= 512), and as a
// latency-bound single launch for decode.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_conv {

using namespace tf_ew;

constexpr int kMaxWidth = 4;
constexpr int kConvThreads = 128;

__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }

template <typename T>
struct ConvArgs {
  T* out;
  T* state;          // prefill: conv_state_out (or null); step: the rolled state
  const T* x;
  const T* weight;   // [dim][width]
  const T* bias;     // [dim] or null
  int batch, dim, seqlen, width, silu;
};

template <typename T>
__global__ void __launch_bounds__(kConvThreads) causal_conv1d_kernel(ConvArgs<T> p) {
  const int d = blockIdx.x, b = blockIdx.y, W = p.width, L = p.seqlen;
  const size_t row = (size_t(b) * p.dim + d) * L;
  float w[kMaxWidth];
#pragma unroll
  for (int k = 0; k < kMaxWidth; ++k) w[k] = k < W ? to_f32(p.weight[size_t(d) * W + k]) : 0.f;
  const float bias = p.bias ? to_f32(p.bias[d]) : 0.f;
  const T* x = p.x + row;
  for (int l = threadIdx.x; l < L; l += kConvThreads) {
    float acc = bias;
#pragma unroll
    for (int k = 0; k < kMaxWidth; ++k) {
      const int src = l - (W - 1) + k;
      if (k < W && src >= 0) acc += w[k] * to_f32(x[src]);
    }
    if (p.silu) acc = silu(acc);
    p.out[row + l] = from_f32<T>(acc);
  }
  if (p.state) {
    // The last W-1 inputs, oldest first; zero where l < 0.
    T* st = p.state + (size_t(b) * p.dim + d) * (W - 1);
    for (int k = threadIdx.x; k < W - 1; k += kConvThreads) {
      const int src = L - (W - 1) + k;
      st[k] = src >= 0 ? x[src] : from_f32<T>(0.f);
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kConvThreads) causal_conv1d_update_kernel(ConvArgs<T> p) {
  const int i = blockIdx.x * kConvThreads + threadIdx.x;
  if (i >= p.batch * p.dim) return;
  const int d = i % p.dim, W = p.width;
  T* st = p.state + size_t(i) * (W - 1);
  const T* wd = p.weight + size_t(d) * W;
  const T xnew = p.x[i];
  float acc = p.bias ? to_f32(p.bias[d]) : 0.f;
  // Window = state[0 .. W-2], then x; roll the state as we go (each entry is read before written).
#pragma unroll
  for (int k = 0; k < kMaxWidth - 1; ++k) {
    if (k < W - 1) {
      acc += to_f32(wd[k]) * to_f32(st[k]);
      st[k] = k + 1 < W - 1 ? st[k + 1] : xnew;
    }
  }
  acc += to_f32(wd[W - 1]) * to_f32(xnew);
  if (p.silu) acc = silu(acc);
  p.out[i] = from_f32<T>(acc);
}

}  // namespace tf_conv
