// ssd_scan.cuh: the Mamba-2 SSD scan (prefill, chunked) and its single-token state update.
//
// What it computes (Dao & Gu 2024, "Transformers are SSMs"; transfuse.h tf_ssd_scan), per head h of P
// channels, its B/C group g = h / (heads / groups), state [P][N] in fp32:
//   dt_t = softplus(dt[t][h] + dt_bias[h]);  a_t = exp(dt_t A[h])        (A[h] < 0, one scalar per head)
//   S_t  = a_t S_{t-1} + dt_t x_t B_t^T;     y_t = S_t C_t + D[h] x_t
//
// Prefill (ssd_chunk_scan_kernel): the chunked "SSD algorithm" of the paper (section 6). One block of 128
// threads per (head, block of kPBlock = 16 channels); the sequence is walked in chunks of kChunk = 32
// tokens (one warp's worth), and the block keeps its slice of the state S [16][N] in shared memory across
// chunks (the inter-chunk "state passing", sequential over chunks as the recurrence between them is). Per
// chunk, with cum_i = sum_{k<=i} dt_k A (a warp prefix sum with 5 __shfl_up_sync rounds):
//   1. scores (the diagonal block, "attention-like"): M[i][j] = (C_i . B_j) exp(cum_i - cum_j) dt_j for
//      j <= i, 0 above the diagonal (the causal mask with the decay);     32 x 32, 8 per thread
//   2. outputs: y_i = exp(cum_i) C_i . S + sum_j M[i][j] x_j + D x_i      32 x 16, 4 per thread
//   3. state passing: S = exp(cum_31) S + sum_j exp(cum_31 - cum_j) dt_j x_j B_j^T   16 x N, N/8 per thread
// Tokens past the end of the sequence get dt = 0 and zero B, C, x: they leave cum and S unchanged.
// Shared memory (static, fp32): B and C of the chunk [32][129] each (the +1 column spreads the
// column reads of step 1 over the banks), x [32][16], M [32][33], S [16][129], and per-token dt, cum
// and the two decay factors: 48,064 bytes, under the 48 KiB static limit. Registers: a handful of
// accumulators. Traffic per chunk: B, C (2 x 32 x N) and x (32 x 16) in, y (32 x 16) out, for
// ~2 x 32 x 32 x N + 2 x 32 x 16 x N FLOPs: ~6 FLOP/byte at N = 128 in fp16, compute-bound on CUDA
// cores. The scores are recomputed by each of a head's P / 16 blocks (4 at mamba2-130m's P = 64); a
// tensor-core (mma.sync) version of steps 1-3 is the next step if prefill matters on the GPU.
//
// Decode (ssd_state_update_kernel): one warp per (sequence, channel); lane n (and n + 32, ...) owns
// state element n: S = a S + dt x B, y = warp_sum(S C) + D x. The state read and write (8 bytes per
// element) dominate. out must not alias x.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_ssd {

using namespace tf_ew;

constexpr int kThreads = 128;
constexpr int kChunk = 32;   // tokens per chunk: one per lane of warp 0 in the prefix sum
constexpr int kPBlock = 16;  // channels of a head per block
constexpr int kMaxState = 128;
constexpr int kStride = kMaxState + 1;  // row stride of B, C and S in shared memory
constexpr float kLog2e = 1.4426950408889634f;

template <typename T>
struct SsdArgs {
  T* out;               // [batch][seqlen][heads * head_dim] (scan: batch 1)
  float* state;         // [batch][heads * head_dim][dstate], in/out
  const T* x;           // like out
  const T* dt;          // [batch][seqlen][heads]
  const float* A;       // [heads]
  const T* B;           // [batch][seqlen][groups * dstate]
  const T* C;
  const float* D;       // [heads] or null
  const float* dt_bias; // [heads] or null
  int fresh;            // scan: start from a zero state instead of reading it
  int batch, seqlen, heads, head_dim, groups, dstate;
};

__device__ __forceinline__ float softplus(float v) { return v > 20.f ? v : log1pf(expf(v)); }
__device__ __forceinline__ float exp_(float v) { return exp2f(v * kLog2e); }

template <typename T>
__global__ void __launch_bounds__(kThreads) ssd_chunk_scan_kernel(SsdArgs<T> p) {
  __shared__ float Bs[kChunk][kStride];
  __shared__ float Cs[kChunk][kStride];
  __shared__ float xs[kChunk][kPBlock];
  __shared__ float M[kChunk][kChunk + 1];
  __shared__ float S[kPBlock][kStride];
  __shared__ float dts[kChunk], cum[kChunk], decay_in[kChunk], weight[kChunk];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int h = blockIdx.x, p0 = blockIdx.y * kPBlock;
  const int P = p.head_dim, N = p.dstate, H = p.heads;
  const int g = h / (H / p.groups);
  const size_t xw = size_t(H) * P, bw = size_t(p.groups) * N;  // row widths of x/out and of B/C
  const float A = p.A[h], Dh = p.D ? p.D[h] : 0.f, bias = p.dt_bias ? p.dt_bias[h] : 0.f;
  float* state = p.state + (size_t(h) * P + p0) * N;

  for (int e = tid; e < kPBlock * N; e += kThreads) {
    const int r = e / N, n = e - r * N;
    S[r][n] = !p.fresh && p0 + r < P ? state[size_t(r) * N + n] : 0.f;
  }

  for (int c0 = 0; c0 < p.seqlen; c0 += kChunk) {
    const int len = min(kChunk, p.seqlen - c0);
    __syncthreads();  // the previous chunk is done with Bs, Cs, xs, M and the per-token arrays
    for (int e = tid; e < kChunk * N; e += kThreads) {
      const int t = e / N, n = e - t * N;
      const size_t at = size_t(c0 + t) * bw + size_t(g) * N + n;
      Bs[t][n] = t < len ? to_f32(p.B[at]) : 0.f;
      Cs[t][n] = t < len ? to_f32(p.C[at]) : 0.f;
    }
    for (int e = tid; e < kChunk * kPBlock; e += kThreads) {
      const int t = e / kPBlock, r = e - t * kPBlock;
      xs[t][r] = t < len && p0 + r < P ? to_f32(p.x[size_t(c0 + t) * xw + size_t(h) * P + p0 + r]) : 0.f;
    }
    if (warp == 0) {
      const float d = lane < len ? softplus(to_f32(p.dt[size_t(c0 + lane) * H + h]) + bias) : 0.f;
      float c = d * A;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const float up = __shfl_up_sync(0xffffffffu, c, off);
        if (lane >= off) c += up;
      }
      const float total = __shfl_sync(0xffffffffu, c, 31);  // = cum at the last real token (padding adds 0)
      dts[lane] = d;
      cum[lane] = c;
      decay_in[lane] = exp_(c);
      weight[lane] = exp_(total - c) * d;
    }
    __syncthreads();
    // 1. the masked scores of the diagonal block
    for (int e = tid; e < kChunk * kChunk; e += kThreads) {
      const int i = e / kChunk, j = e - i * kChunk;
      float m = 0.f;
      if (j <= i) {
        float dot = 0.f;
        for (int n = 0; n < N; ++n) dot += Cs[i][n] * Bs[j][n];
        m = dot * exp_(cum[i] - cum[j]) * dts[j];
      }
      M[i][j] = m;
    }
    __syncthreads();
    // 2. the outputs: the incoming state through C, the diagonal block, the skip
    for (int e = tid; e < kChunk * kPBlock; e += kThreads) {
      const int i = e / kPBlock, r = e - i * kPBlock;
      float from_state = 0.f;
      for (int n = 0; n < N; ++n) from_state += Cs[i][n] * S[r][n];
      float y = decay_in[i] * from_state + Dh * xs[i][r];
      for (int j = 0; j <= i; ++j) y += M[i][j] * xs[j][r];
      if (i < len && p0 + r < P) p.out[size_t(c0 + i) * xw + size_t(h) * P + p0 + r] = from_f32<T>(y);
    }
    __syncthreads();  // S was read by step 2 before step 3 overwrites it
    // 3. the state handed to the next chunk
    const float carry = exp_(cum[kChunk - 1]);
    for (int e = tid; e < kPBlock * N; e += kThreads) {
      const int r = e / N, n = e - r * N;
      float v = carry * S[r][n];
      for (int j = 0; j < len; ++j) v += weight[j] * xs[j][r] * Bs[j][n];
      S[r][n] = v;
    }
  }
  __syncthreads();
  for (int e = tid; e < kPBlock * N; e += kThreads) {
    const int r = e / N, n = e - r * N;
    if (p0 + r < P) state[size_t(r) * N + n] = S[r][n];
  }
}

constexpr int kStepWarps = 4;

// Decode: one token per sequence; x, out [batch][heads * head_dim]; dt [batch][heads]; B, C [batch][groups * dstate].
template <typename T>
__global__ void __launch_bounds__(kStepWarps * 32) ssd_state_update_kernel(SsdArgs<T> p) {
  const int lane = threadIdx.x & 31;
  const int HP = p.heads * p.head_dim;
  const int ch = blockIdx.x * kStepWarps + (threadIdx.x >> 5), b = blockIdx.y;
  if (ch >= HP) return;  // whole warps
  const int h = ch / p.head_dim, g = h / (p.heads / p.groups), N = p.dstate;
  const size_t i = size_t(b) * HP + ch;
  const float x = to_f32(p.x[i]);
  const float dt = softplus(to_f32(p.dt[size_t(b) * p.heads + h]) + (p.dt_bias ? p.dt_bias[h] : 0.f));
  const float a = exp_(dt * p.A[h]);
  const T* B = p.B + (size_t(b) * p.groups + g) * N;
  const T* C = p.C + (size_t(b) * p.groups + g) * N;
  float* s = p.state + i * N;
  float y = 0.f;
  for (int n = lane; n < N; n += 32) {
    const float v = a * s[n] + dt * x * to_f32(B[n]);
    s[n] = v;
    y += v * to_f32(C[n]);
  }
  y = warp_sum(y);
  if (lane == 0) p.out[i] = from_f32<T>(y + (p.D ? p.D[h] * x : 0.f));
}

}  // namespace tf_ssd
