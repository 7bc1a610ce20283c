// rope.cuh: rotary position embedding, in place on Q and K, and fused with the paged KV-cache write.
//
// What it computes: for every token t (position p = positions[t]) and pair i < rotary_dim/2,
//   c = cos(p * inv_freq[i]) * mscale, s = sin(p * inv_freq[i]) * mscale   (fp32; angle as in HF)
//   (a, b) -> (a c - b s, a s + b c)
// with the pair (x[2i], x[2i+1]) (adjacent layout) or (x[i], x[i + rotary_dim/2]) (half split), on
// every head of Q and K. Elements past rotary_dim are untouched. The frequency table is the caller's,
// so every RoPE scaling scheme (linear, NTK, YaRN, Llama-3) is a table (plus mscale for YaRN).
// The cache variant reads K (not modified), writes rotated K and a copy of V to the slot of the
// paged cache that the token's (sequence, position) maps to, and rotates Q in place. rotary_dim = 0
// makes it a plain KV-cache write (no pairs, no table read: inv_freq may be null, Q is untouched).
//
// Tiling: one block per token. The block first computes the token's rotary_dim/2 (cos, sin) pairs
// into shared memory (computed once per pair, not once per head and pair), one barrier, then its
// threads stride over the (head, pair) items of Q and K; consecutive threads take consecutive pairs,
// so each warp reads and writes contiguous runs of a head (coalesced). Everything else is registers.
// Bytes per FLOP: each element is read and written once (4 bytes at fp16) for ~3 FLOPs: bandwidth
// bound, and small next to attention (Q and K of one token are a few KiB). Built for ~70-80 % of DRAM
// bandwidth on A100/H100 at prefill sizes; at decode it costs one launch (that is why the cache write
// is fused into it).
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_rotary {

using namespace tf_ew;

template <typename T>
struct RopeArgs {
  T* q;                 // [tokens][n_heads][head_dim], rotated in place (may be null)
  T* k;                 // [tokens][n_kv_heads][head_dim]: rotated in place (in-place mode, may be null)
                        // or read only (cache mode)
  const T* v;           // cache mode: [tokens][n_kv_heads][head_dim]
  T* k_cache;           // cache mode: [num_blocks][block_size][n_kv_heads][head_dim]
  T* v_cache;
  const int32_t* block_table;  // cache mode: [batch][max_blocks_per_seq]
  const int32_t* positions;    // [tokens]
  const int32_t* seq_ids;      // cache mode: [tokens]
  const float* inv_freq;       // [rotary_dim / 2]
  int n_heads, n_kv_heads, head_dim, rotary_dim;
  float mscale;
  int block_size, max_blocks_per_seq;
};

// Rotates the pairs of `heads` heads of one token: src -> dst (may be the same memory).
template <typename T, bool kHalfSplit>
__device__ __forceinline__ void rotate_heads(T* dst, const T* src, int heads, int head_dim, int half,
                                             const float* cos_sin) {
  for (int j = threadIdx.x; j < heads * half; j += blockDim.x) {
    const int h = j / half, i = j - h * half;
    const int ia = kHalfSplit ? i : 2 * i;
    const int ib = kHalfSplit ? i + half : 2 * i + 1;
    const size_t base = size_t(h) * head_dim;
    const float a = to_f32(src[base + ia]), b = to_f32(src[base + ib]);
    const float c = cos_sin[i], s = cos_sin[half + i];
    dst[base + ia] = from_f32<T>(a * c - b * s);
    dst[base + ib] = from_f32<T>(a * s + b * c);
  }
}

template <typename T, bool kHalfSplit, bool kToCache>
__global__ void __launch_bounds__(128) rope_kernel(RopeArgs<T> p) {
  TF_DYNAMIC_SHARED(float, cos_sin);  // [0, half): cos, [half, 2 half): sin
  const size_t t = blockIdx.x;
  const int half = p.rotary_dim / 2;
  const int pos = p.positions[t];
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = float(pos) * p.inv_freq[i];
    // cosf/sinf, not __cosf/__sinf: positions reach 10^5 radians and need the full range reduction.
    // (sincosf would share it, but its slow path keeps a 32-byte local array on sm_90.)
    cos_sin[i] = cosf(angle) * p.mscale;
    cos_sin[half + i] = sinf(angle) * p.mscale;
  }
  __syncthreads();

  const int hd = p.head_dim;
  if (p.q) {
    T* qt = p.q + t * p.n_heads * hd;
    rotate_heads<T, kHalfSplit>(qt, qt, p.n_heads, hd, half, cos_sin);
  }
  if constexpr (!kToCache) {
    if (p.k) {
      T* kt = p.k + t * p.n_kv_heads * hd;
      rotate_heads<T, kHalfSplit>(kt, kt, p.n_kv_heads, hd, half, cos_sin);
    }
  } else {
    // Cache slot of (sequence, position): all kv heads of the token are contiguous there.
    const int seq = p.seq_ids[t];
    const int block = p.block_table[size_t(seq) * p.max_blocks_per_seq + pos / p.block_size];
    const size_t slot = (size_t(block) * p.block_size + pos % p.block_size) * p.n_kv_heads * hd;
    const size_t row = t * p.n_kv_heads * hd;
    rotate_heads<T, kHalfSplit>(p.k_cache + slot, p.k + row, p.n_kv_heads, hd, half, cos_sin);
    // Dimensions past rotary_dim pass through unchanged.
    const int tail = hd - p.rotary_dim;
    for (int j = threadIdx.x; j < p.n_kv_heads * tail; j += blockDim.x) {
      const int h = j / tail, e = p.rotary_dim + (j - h * tail);
      p.k_cache[slot + size_t(h) * hd + e] = p.k[row + size_t(h) * hd + e];
    }
    for (int j = threadIdx.x; j < p.n_kv_heads * hd; j += blockDim.x) p.v_cache[slot + j] = p.v[row + j];
  }
}

}  // namespace tf_rotary
