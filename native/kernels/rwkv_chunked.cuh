// rwkv_chunked.cuh: RWKV-6 WKV for prefill in the chunked form (tf_rwkv_wkv6 with kWkvChunk tokens or more; the same
// result as wkv6_kernel of rwkv.cuh, which decode and short prompts keep).
//
// What it computes: the chunked form of gated linear attention (Yang et al. 2024, "Gated Linear Attention
// Transformers with Hardware-Efficient Training", section 4; flash-linear-attention's chunk_rwkv6 takes the same
// decomposition). Per chunk of L = kWkvChunk tokens, decays d_t = exp(-exp(w_t)) per key channel j:
//   y_t  = (r_t o D_t) S^T                                           D_t = prod_{m<t} d_m      (incoming state)
//        + sum_{s<=t} P[t][s] v_s,  P[t][s] = sum_j r_t[j] k_s[j] prod_{s<m<t} d_m[j]  (s < t),
//                                   P[t][t] = sum_j r_t[j] u_j k_t[j]                           (the bonus)
//   S    = S o D_L + sum_s v_s (k_s o prod_{s<m<L} d_m)                                          (state passing)
// then the per-head group norm of each y_t. L = 16 at head size 32, 8 at 64 (WkvChunkLen below). Every decay factor is a running product of per-token decays (at most 1,
// underflowing harmlessly), never exp(cum_t) exp(-cum_s), whose second factor overflows once a chunk's decays
// sum below -87 (w > 4.5 gives that in one token).
//
// Tiling: one block of S threads per head (S = 32 or 64). Thread i owns value row i of the state (S floats in
// registers for the whole call, as in wkv6_kernel) and, as key channel j = i, column j of the chunk's r, k, d (L
// floats each, registers). Per chunk:
//   1. thread j writes the decayed queries rq[t][j] = r_t[j] D_t[j], the state-passing keys kh[s][j] and the
//      chunk decay D_L[j] to shared memory, and its L(L+1)/2 terms of P (running products along t) to a padded
//      [pairs][S + 1] buffer (conflict-free both ways);
//   2. barrier; P[p] = the sum of row p of that buffer (thread p, then p + S, ...); barrier;
//   3. thread i: y_t = sum_j rq[t][j] S[i][j] + sum_s P[t][s] v_s[i] and S[i][j] = S[i][j] D_L[j] + sum_s kh[s][j]
//      v_s[i] (rq, kh, P read as shared-memory broadcasts): 2 L S FMAs, what the recurrence spends per L tokens;
//   4. the group norm: y to shared, each token's mean and variance by S / L threads (shuffles), then each thread
//      normalises its channel of every token.
// Four barriers per chunk of L tokens against about four per token in wkv6_kernel; global traffic is the same (each
// input element read once, each output written once, the state once each way). Shared memory: pairs x (S + 1)
// floats (S = 64, L = 8: 36 x 65, 9 KB; S = 32, L = 16: 136 x 33, 18 KB) + rq, kh (2 L S floats). Registers (ptxas,
// sm_90): 213-215 at S = 64, 194-196 at S = 32, no spills. The chunk's tail past `tokens` is padded with r = k = 0, d = 1, so every
// loop runs to L without guards.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_rwkv {

constexpr int kWkvChunk = 16;  // the launcher takes this form from this many tokens on
// Tokens per chunk at head size S: 16 at S = 32; 8 at S = 64, where 16 needs more than 255 registers (the state row,
// the chunk's outputs and values, 96 floats, plus the shared-memory operands in flight) and spills.
template <int S> struct WkvChunkLen { static constexpr int value = S >= 64 ? 8 : 16; };
template <int L> struct WkvPairs { static constexpr int value = L * (L + 1) / 2; };  // (t, s) with s <= t

__device__ __forceinline__ constexpr int wkv_pair(int t, int s) { return t * (t + 1) / 2 + s; }

template <int S, typename T>
__global__ void __launch_bounds__(S) wkv6_chunked_kernel(T* out, float* state, const T* r, const T* k, const T* v, const T* w,
                                                         const float* u, const T* ln_w, const T* ln_b, int tokens, int heads,
                                                         float eps) {
  constexpr int L = WkvChunkLen<S>::value, Q = S / L, kPairs = WkvPairs<L>::value;  // Q: threads per token in the norm
  static_assert(S % L == 0 && 32 % Q == 0 && L <= kWkvChunk, "head size must be a multiple of the chunk");
  __shared__ float terms[kPairs][S + 1];  // step 1's terms of P; reused for y in step 4
  __shared__ float rq[L][S], kh[L][S], decay[S], P[kPairs], mean[L], rstd[L];
  const int h = blockIdx.x, i = threadIdx.x;
  const size_t C = size_t(heads) * S, c = size_t(h) * S + i;
  float s[S];
  float* row = state + (size_t(h) * S + i) * S;
#pragma unroll
  for (int j = 0; j < S; ++j) s[j] = row[j];
  const float ui = u[c], lw = to_f32(ln_w[c]), lb = to_f32(ln_b[c]);
  for (int t0 = 0; t0 < tokens; t0 += L) {
    const int n = tokens - t0 < L ? tokens - t0 : L;
    // 1. this thread as key channel j = i: its column of the chunk, padded past n
    float rj[L], kj[L], dj[L], vi[L];
#pragma unroll
    for (int t = 0; t < L; ++t) {
      const size_t o = size_t(t0 + t) * C + c;
      rj[t] = t < n ? to_f32(r[o]) : 0.f;
      kj[t] = t < n ? to_f32(k[o]) : 0.f;
      dj[t] = t < n ? expf(-expf(to_f32(w[o]))) : 1.f;
      vi[t] = t < n ? to_f32(v[o]) : 0.f;
    }
    float dq = 1.f;
#pragma unroll
    for (int t = 0; t < L; ++t) {
      rq[t][i] = rj[t] * dq;
      dq *= dj[t];
    }
    decay[i] = dq;
#pragma unroll
    for (int sidx = 0; sidx < L; ++sidx) {
      float kd = kj[sidx];
      terms[wkv_pair(sidx, sidx)][i] = rj[sidx] * ui * kd;
#pragma unroll
      for (int t = sidx + 1; t < L; ++t) {
        terms[wkv_pair(t, sidx)][i] = rj[t] * kd;
        kd *= dj[t];
      }
      kh[sidx][i] = kd;
    }
    __syncthreads();
    // 2. P: the sums over key channels
    for (int p = i; p < kPairs; p += S) {
      float acc = 0.f;
#pragma unroll 8
      for (int j = 0; j < S; ++j) acc += terms[p][j];
      P[p] = acc;
    }
    __syncthreads();
    // 3. this thread as value channel i: outputs and the state
    float y[L];
#pragma unroll
    for (int t = 0; t < L; ++t) {
      float acc = 0.f;
#pragma unroll
      for (int sidx = 0; sidx <= t; ++sidx) acc += P[wkv_pair(t, sidx)] * vi[sidx];
      y[t] = acc;
    }
#pragma unroll
    for (int j = 0; j < S; ++j) {
#pragma unroll
      for (int t = 0; t < L; ++t) y[t] += rq[t][j] * s[j];
    }
#pragma unroll
    for (int j = 0; j < S; ++j) {
      float upd = s[j] * decay[j];
#pragma unroll
      for (int t = 0; t < L; ++t) upd += kh[t][j] * vi[t];
      s[j] = upd;
    }
    // 4. the group norm of each token over the head (terms is free since step 2's barrier)
    float(*ys)[S + 1] = terms;
#pragma unroll
    for (int t = 0; t < L; ++t) ys[t][i] = y[t];
    __syncthreads();
    {
      const int t = i / Q, e = i % Q;
      float sum = 0.f;
#pragma unroll
      for (int m = e; m < S; m += Q) sum += ys[t][m];
#pragma unroll
      for (int off = Q / 2; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      const float mu = sum / float(S);
      float var = 0.f;
#pragma unroll
      for (int m = e; m < S; m += Q) var += (ys[t][m] - mu) * (ys[t][m] - mu);
#pragma unroll
      for (int off = Q / 2; off > 0; off >>= 1) var += __shfl_xor_sync(0xffffffffu, var, off);
      if (e == 0) {
        mean[t] = mu;
        rstd[t] = rsqrtf(var / float(S) + eps);
      }
    }
    __syncthreads();
#pragma unroll
    for (int t = 0; t < L; ++t)
      if (t < n) out[size_t(t0 + t) * C + c] = from_f32<T>((y[t] - mean[t]) * rstd[t] * lw + lb);
    // the next chunk's step 1 writes rq, kh, decay, terms: their last readers (steps 3-4) finished before the
    // barrier above; mean and rstd are next written after two more barriers
  }
#pragma unroll
  for (int j = 0; j < S; ++j) row[j] = s[j];
}

}  // namespace tf_rwkv
