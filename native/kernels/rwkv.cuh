// rwkv.cuh: the RWKV-6 "Finch" / RWKV-7 "Goose" kernels (transfuse.h section 2, the RWKV block): token shift, token
// mix (lerp), pointwise activations, and the WKV recurrences with the per-head group norm (ln_x) fused, as
// llama.cpp's rwkv6/rwkv7 graphs compute them (ggml_rwkv_wkv6 / wkv7 followed by ggml_norm per head).
//
// What the WKV kernels compute (one sequence, per head h of S channels, token t, value channel i, key channel j;
// T in {fp32, fp16, bf16} for the activations, fp32 state and math):
//   RWKV-6: d_j = exp(-exp(w_j));  y_i = sum_j r_j (u_j k_j v_i + S[i][j]);  S[i][j] = S[i][j] d_j + k_j v_i
//   RWKV-7: d_j = exp(-0.606531 sigmoid(w_j)); a_j = sigmoid(a_j); v'_i = v_i + (vf_i - v_i) sigmoid(vm_i);
//           kk = l2normalize(k o k_k); k'_j = k_j (1 + (a_j - 1) k_a_j); sa_i = -sum_j kk_j S[i][j];
//           S[i][j] = S[i][j] d_j + k'_j v'_i + sa_i kk_j a_j;  y_i = sum_j S[i][j] r_j
//   then out = groupnorm(y) * ln_w + ln_b (+ RWKV-7's bonus (sum_j r_j k'_j r_k_j) v'_i).
//
// Tiling: one block of S threads (S = 32 or 64, a template parameter) per head; thread i owns value row i of
// the head's state, S floats in registers for the whole call (loaded once, stored once: 4 S^2 bytes each way). The
// tokens run in order; per token the per-key vectors (r, decay, k or kk, k', kk a) are computed by the thread of
// that key into shared memory (5 S floats), a barrier, then each thread sweeps its row (2-3 FMAs per state value),
// and the group norm's mean and variance and RWKV-7's key norm and bonus are block sums (warp shuffles + 32 floats
// of shared memory). This is the recurrent form for prefill and decode alike: per token it reads 5-7 S values of
// T and writes S, against 2-3 S^2 FMAs (registers at S = 64, sm_90: wkv6 128, wkv7 190, no spills; at S = 128
// wkv7 needs 255 and spills, so 64, every released RWKV-6/7's head size, is the limit), so a head is compute bound on its state sweep; heads and sequences are the
// parallelism. RWKV-6 prefill of 16 tokens or more runs the chunked form instead (rwkv_chunked.cuh); RWKV-7 prefill
// stays on this recurrence (its chunked form needs the WY/UT representation: not done). The elementwise kernels are grid-stride loops, bandwidth
// bound (token shift: one thread per channel walks the tokens, carrying the previous value in a register).
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_rwkv {

using namespace tf_ew;

constexpr int kEwThreads = 256;

enum Pointwise : int { kTanh = 0, kSigmoid = 1, kReluSquared = 2, kHalve = 3 };

__device__ __forceinline__ float sigmoidf(float x) { return 1.f / (1.f + expf(-x)); }

template <typename T>
__global__ void __launch_bounds__(kEwThreads) token_shift_kernel(T* out, T* state, const T* x, int tokens, int dim, int fresh) {
  const int c = blockIdx.x * kEwThreads + threadIdx.x;
  if (c >= dim) return;
  float prev = fresh ? 0.f : to_f32(state[c]);
  for (int t = 0; t < tokens; ++t) {
    const float xt = to_f32(x[size_t(t) * dim + c]);
    out[size_t(t) * dim + c] = from_f32<T>(prev - xt);
    prev = xt;
  }
  state[c] = from_f32<T>(prev);
}

template <typename T>
__global__ void __launch_bounds__(kEwThreads) token_mix_kernel(T* out, const T* x, const T* sx, const T* mix, int mix_rows,
                                                               const T* bias, int tokens, int dim) {
  const size_t n = size_t(tokens) * dim;
  for (size_t i = size_t(blockIdx.x) * kEwThreads + threadIdx.x; i < n; i += size_t(gridDim.x) * kEwThreads) {
    const int c = int(i % dim);
    const float m = to_f32(mix[mix_rows == 1 ? c : i]) + (bias ? to_f32(bias[c]) : 0.f);
    out[i] = from_f32<T>(to_f32(x[i]) + to_f32(sx[i]) * m);
  }
}

template <typename T>
__global__ void __launch_bounds__(kEwThreads) pointwise_kernel(T* x, size_t n, int fn) {
  for (size_t i = size_t(blockIdx.x) * kEwThreads + threadIdx.x; i < n; i += size_t(gridDim.x) * kEwThreads) {
    const float v = to_f32(x[i]);
    float y;
    switch (fn) {
      case kTanh: y = tanhf(v); break;
      case kSigmoid: y = sigmoidf(v); break;
      case kReluSquared: y = v > 0.f ? v * v : 0.f; break;
      default: y = 0.5f * v; break;
    }
    x[i] = from_f32<T>(y);
  }
}

// out_i = (y_i - mean) / sqrt(var + eps) * ln_w_i + ln_b_i over the block's S values y (thread i holds y_i).
template <typename T>
__device__ __forceinline__ float group_norm(float y, float* scratch, int S, float eps, const T* ln_w, const T* ln_b, int c) {
  const float mean = block_sum(y, scratch) / float(S);
  const float d = y - mean;
  const float var = block_sum(d * d, scratch) / float(S);
  return d * rsqrtf(var + eps) * to_f32(ln_w[c]) + to_f32(ln_b[c]);
}

template <int S, typename T>
__global__ void __launch_bounds__(S) wkv6_kernel(T* out, float* state, const T* r, const T* k, const T* v, const T* w,
                                                 const float* u, const T* ln_w, const T* ln_b, int tokens, int heads, float eps) {
  __shared__ float sr[S], sk[S], sd[S], scratch[32];
  const int h = blockIdx.x, i = threadIdx.x;
  const size_t C = size_t(heads) * S, c = size_t(h) * S + i;
  float s[S];
  float* row = state + (size_t(h) * S + i) * S;
#pragma unroll
  for (int j = 0; j < S; ++j) s[j] = row[j];
  const float ui = u[c];
  for (int t = 0; t < tokens; ++t) {
    const size_t o = size_t(t) * C + c;
    const float ri = to_f32(r[o]), ki = to_f32(k[o]);
    __syncthreads();  // the previous token's readers are done with sr, sk, sd
    sr[i] = ri;
    sk[i] = ki;
    sd[i] = expf(-expf(to_f32(w[o])));
    const float ruk = block_sum(ri * ui * ki, scratch);  // the current token's bonus, the same for every row
    const float vi = to_f32(v[o]);
    float acc = 0.f;
#pragma unroll
    for (int j = 0; j < S; ++j) {
      acc += sr[j] * s[j];
      s[j] = s[j] * sd[j] + sk[j] * vi;
    }
    out[o] = from_f32<T>(group_norm(acc + ruk * vi, scratch, S, eps, ln_w, ln_b, int(c)));
  }
#pragma unroll
  for (int j = 0; j < S; ++j) row[j] = s[j];
}

template <int S, typename T>
__global__ void __launch_bounds__(S) wkv7_kernel(T* out, float* state, const T* r, const T* w, const T* k, const T* v, const T* a,
                                                 const T* v_first, const T* v_mix, const T* k_k, const T* k_a, const T* r_k,
                                                 const T* ln_w, const T* ln_b, int tokens, int heads, float eps) {
  __shared__ float sr[S], sd[S], skk[S], skka[S], skp[S], scratch[32];
  const int h = blockIdx.x, i = threadIdx.x;
  const size_t C = size_t(heads) * S, c = size_t(h) * S + i;
  float s[S];
  float* row = state + (size_t(h) * S + i) * S;
#pragma unroll
  for (int j = 0; j < S; ++j) s[j] = row[j];
  const float kki = to_f32(k_k[c]), kai = to_f32(k_a[c]), rki = to_f32(r_k[c]);
  for (int t = 0; t < tokens; ++t) {
    const size_t o = size_t(t) * C + c;
    const float ri = to_f32(r[o]), ki = to_f32(k[o]), ai = sigmoidf(to_f32(a[o]));
    float vi = to_f32(v[o]);
    if (v_first) vi += (to_f32(v_first[o]) - vi) * sigmoidf(to_f32(v_mix[o]));
    const float kk = ki * kki;
    const float inv = 1.f / fmaxf(sqrtf(block_sum(kk * kk, scratch)), 1e-12f);
    const float kp = ki * (1.f + (ai - 1.f) * kai);
    const float bonus = block_sum(ri * kp * rki, scratch);
    // block_sum's barriers also separate the previous token's readers of the shared vectors from these writes
    sr[i] = ri;
    sd[i] = expf(-0.606531f * sigmoidf(to_f32(w[o])));
    skk[i] = kk * inv;
    skka[i] = kk * inv * ai;
    skp[i] = kp;
    __syncthreads();
    float sa = 0.f;
#pragma unroll
    for (int j = 0; j < S; ++j) sa -= skk[j] * s[j];
    float acc = 0.f;
#pragma unroll
    for (int j = 0; j < S; ++j) {
      s[j] = s[j] * sd[j] + skp[j] * vi + sa * skka[j];
      acc += s[j] * sr[j];
    }
    out[o] = from_f32<T>(group_norm(acc, scratch, S, eps, ln_w, ln_b, int(c)) + bonus * vi);
  }
#pragma unroll
  for (int j = 0; j < S; ++j) row[j] = s[j];
}

}  // namespace tf_rwkv
