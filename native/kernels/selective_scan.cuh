// selective_scan.cuh: the Mamba-1 selective scan (prefill, chunked) and its single-token update.
//
// What it computes (mamba_ssm selective_scan_fn semantics), per batch b, channel d, state n:
//   dt_l = delta[l] + delta_bias[d]; if softplus: dt_l = log1p(exp(dt_l)) (dt_l > 20: dt_l)
//   h_n  = exp(dt_l * A[d][n]) * h_n + dt_l * B[g][n][l] * u[l]            (g = d / (dim / n_groups))
//   y_l  = sum_n h_n * C[g][n][l] + D[d] * u[l];  y_l *= silu(z[l]) when z is given
// with h the fp32 state (optionally starting from initial_state) and the final h written out.
//
// Tiling (prefill): one block of 128 threads per (channel d, batch b); grid dim x batch (Mamba's
// dim >= 1536, so thousands of blocks). The sequence is walked in chunks of 512 = 128 threads x 4
// consecutive positions per thread. Per chunk, u, dt, dt*u live in registers; then for each state n
// the recurrence h_l = a_l h_{l-1} + b_l (a = exp(dt A), b = dt B u) is a scan over the pairs (a, b)
// with the associative composition (a1, b1) then (a2, b2) = (a2 a1, a2 b1 + b2):
//   1. each thread composes its 4 pairs sequentially (registers),
//   2. a warp inclusive scan of the thread aggregates with 5 __shfl_up_sync rounds,
//   3. the 4 warp aggregates go through shared memory; every thread applies the aggregates of the
//      warps before it to the chunk's incoming state h (the carry, shared memory, one float per
//      state) to get its own starting state, and all threads compute the chunk's outgoing carry,
//   4. each thread replays its 4 steps from its starting state and accumulates y += h C.
// Two barriers per (chunk, state). Shared memory: the carry (dstate floats, at most 256) and the
// warp aggregates (32 bytes). Registers: ~24 floats of per-position data per thread.
// Bytes per FLOP: per position and state it reads B and C (2 elements) for ~8 FLOPs, plus u, delta,
// z, out per position: ~0.5 B/FLOP at fp16 with dstate 16. The B/C rows are shared by all channels
// of a group and stay in L2, so DRAM traffic is dominated by u, delta, z, out (and B, C once per
// group); built to reach 60-70 % of DRAM bandwidth on A100/H100 at dstate 16, as the reference does.
//
// Decode (selective_state_update_kernel): one warp per (b, d); lane n (and n + 32, ...) owns state n:
// reads h, updates it, writes it back, and the warp reduces y with 5 xor-shuffles. Bandwidth: the
// state read + write (8 bytes per state) dominates. Every lane reads x[b][d] before the reduction and
// lane 0 writes out[b][d] after it, so out may be x (in place).
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_scan {

using namespace tf_ew;

constexpr int kScanThreads = 128;
constexpr int kScanItems = 4;
constexpr int kScanChunk = kScanThreads * kScanItems;
constexpr int kMaxDState = 256;
constexpr float kLog2e = 1.4426950408889634f;

template <typename T>
struct ScanArgs {
  T* out;                    // [batch][dim][seqlen]
  float* final_state;        // [batch][dim][dstate] or null
  const T* u;                // [batch][dim][seqlen]
  const T* delta;            // [batch][dim][seqlen]
  const float* A;            // [dim][dstate]
  const T* B;                // [batch][n_groups][dstate][seqlen] (scan) or [batch][n_groups][dstate] (step)
  const T* C;
  const float* D;            // [dim] or null
  const T* z;                // like u, or null
  const float* delta_bias;   // [dim] or null
  const float* initial_state;  // [batch][dim][dstate] or null (scan); the in/out state (step)
  float* state;              // step: [batch][dim][dstate], in/out
  int batch, dim, seqlen, dstate, n_groups, delta_softplus;
};

__device__ __forceinline__ float softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }

// dt for one position: bias, then softplus when asked.
__device__ __forceinline__ float make_dt(float delta, float bias, int use_softplus) {
  const float dt = delta + bias;
  return use_softplus ? softplus(dt) : dt;
}

// The kScanItems positions l0 .. l0+3 of a row (zero past seqlen). kVec: one 4-element access
// (the launcher checked seqlen % 4 == 0 and the alignment, so a chunk never straddles the end).
template <bool kVec, typename T>
__device__ __forceinline__ void load_items(const T* row, int l0, int seqlen, float (&v)[kScanItems]) {
  if (kVec && l0 < seqlen) {
    load_vec<kScanItems>(row + l0, v);
  } else {
#pragma unroll
    for (int i = 0; i < kScanItems; ++i) v[i] = l0 + i < seqlen ? to_f32(row[l0 + i]) : 0.f;
  }
}

template <typename T, bool kVec>
__global__ void __launch_bounds__(kScanThreads) selective_scan_kernel(ScanArgs<T> p) {
  __shared__ float carry[kMaxDState];
  __shared__ float2 warp_agg[kScanThreads / 32];
  constexpr int kWarps = kScanThreads / 32;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int d = blockIdx.x, b = blockIdx.y;
  const int g = d / (p.dim / p.n_groups);
  const int L = p.seqlen, N = p.dstate;
  const size_t row = (size_t(b) * p.dim + d) * L;
  const size_t state_row = (size_t(b) * p.dim + d) * N;
  const T* B_g = p.B + (size_t(b) * p.n_groups + g) * N * L;
  const T* C_g = p.C + (size_t(b) * p.n_groups + g) * N * L;
  const float* A_d = p.A + size_t(d) * N;
  const float D_d = p.D ? p.D[d] : 0.f;
  const float bias = p.delta_bias ? p.delta_bias[d] : 0.f;

  for (int n = tid; n < N; n += kScanThreads) carry[n] = p.initial_state ? p.initial_state[state_row + n] : 0.f;
  __syncthreads();

  for (int chunk = 0; chunk < L; chunk += kScanChunk) {
    const int l0 = chunk + tid * kScanItems;
    float u[kScanItems], dt[kScanItems], dtu[kScanItems], y[kScanItems];
    load_items<kVec>(p.u + row, l0, L, u);
    load_items<kVec>(p.delta + row, l0, L, dt);
#pragma unroll
    for (int i = 0; i < kScanItems; ++i) {
      // Positions past the end get dt = 0: a = exp(0) = 1, b = 0, the identity pair, so they leave
      // the carry alone.
      dt[i] = l0 + i < L ? make_dt(dt[i], bias, p.delta_softplus) : 0.f;
      dtu[i] = dt[i] * u[i];
      y[i] = 0.f;
    }

    for (int n = 0; n < N; ++n) {
      const float A_n = A_d[n] * kLog2e;  // exp(dt A) = exp2(dt A log2 e)
      float Bv[kScanItems], a[kScanItems], bb[kScanItems];
      load_items<kVec>(B_g + size_t(n) * L, l0, L, Bv);
#pragma unroll
      for (int i = 0; i < kScanItems; ++i) {
        a[i] = exp2f(dt[i] * A_n);
        bb[i] = dtu[i] * Bv[i];
      }
      // 1. this thread's 4 pairs, composed in order.
      float ta = a[0], tb = bb[0];
#pragma unroll
      for (int i = 1; i < kScanItems; ++i) {
        tb = a[i] * tb + bb[i];
        ta = a[i] * ta;
      }
      // 2. inclusive scan over the warp's lanes.
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const float pa = __shfl_up_sync(0xffffffffu, ta, off);
        const float pb = __shfl_up_sync(0xffffffffu, tb, off);
        if (lane >= off) {
          tb = ta * pb + tb;
          ta = ta * pa;
        }
      }
      // Exclusive prefix of this lane within its warp (identity for lane 0).
      float ea = __shfl_up_sync(0xffffffffu, ta, 1);
      float eb = __shfl_up_sync(0xffffffffu, tb, 1);
      if (lane == 0) { ea = 1.f; eb = 0.f; }
      if (lane == 31) warp_agg[warp] = make_float2(ta, tb);
      __syncthreads();
      // 3. the carry through the earlier warps gives this warp's incoming state; through all warps,
      //    the chunk's outgoing state.
      const float h_in = carry[n];
      float h_warp = h_in, h_out = h_in;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const float2 agg = warp_agg[w];
        if (w < warp) h_warp = agg.x * h_warp + agg.y;
        h_out = agg.x * h_out + agg.y;
      }
      __syncthreads();  // everyone has read carry[n] and warp_agg before they are overwritten
      if (tid == 0) carry[n] = h_out;
      // 4. replay this thread's positions from its starting state.
      float h = ea * h_warp + eb;
      float Cv[kScanItems];
      load_items<kVec>(C_g + size_t(n) * L, l0, L, Cv);
#pragma unroll
      for (int i = 0; i < kScanItems; ++i) {
        h = a[i] * h + bb[i];
        y[i] += h * Cv[i];
      }
    }

    float zv[kScanItems];
    if (p.z) load_items<kVec>(p.z + row, l0, L, zv);
#pragma unroll
    for (int i = 0; i < kScanItems; ++i) {
      y[i] += D_d * u[i];
      if (p.z) y[i] *= silu(zv[i]);
    }
    if (kVec && l0 < L) {
      store_vec<kScanItems>(p.out + row + l0, y);
    } else {
#pragma unroll
      for (int i = 0; i < kScanItems; ++i)
        if (l0 + i < L) p.out[row + l0 + i] = from_f32<T>(y[i]);
    }
  }

  if (p.final_state) {
    __syncthreads();  // thread 0's last carry writes are visible
    for (int n = tid; n < N; n += kScanThreads) p.final_state[state_row + n] = carry[n];
  }
}

constexpr int kStepWarps = 4;

// Decode: one token per sequence; x, delta, z, out [batch][dim]; B, C [batch][n_groups][dstate].
template <typename T>
__global__ void __launch_bounds__(kStepWarps * 32) selective_state_update_kernel(ScanArgs<T> p) {
  const int lane = threadIdx.x & 31;
  const int d = blockIdx.x * kStepWarps + (threadIdx.x >> 5), b = blockIdx.y;
  if (d >= p.dim) return;  // whole warps
  const int g = d / (p.dim / p.n_groups), N = p.dstate;
  const size_t i = size_t(b) * p.dim + d;
  const float x = to_f32(p.u[i]);
  const float dt = make_dt(to_f32(p.delta[i]), p.delta_bias ? p.delta_bias[d] : 0.f, p.delta_softplus);
  const T* B_g = p.B + (size_t(b) * p.n_groups + g) * N;
  const T* C_g = p.C + (size_t(b) * p.n_groups + g) * N;
  float* h = p.state + i * N;
  float y = 0.f;
  for (int n = lane; n < N; n += 32) {
    const float hn = exp2f(dt * p.A[size_t(d) * N + n] * kLog2e) * h[n] + dt * to_f32(B_g[n]) * x;
    h[n] = hn;
    y += hn * to_f32(C_g[n]);
  }
  y = warp_sum(y);
  if (lane == 0) {
    if (p.D) y += p.D[d] * x;
    if (p.z) y *= silu(to_f32(p.z[i]));
    p.out[i] = from_f32<T>(y);
  }
}

}  // namespace tf_scan
