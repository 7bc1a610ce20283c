// attention_prefill.cuh: fused multi-head attention forward for prompts (FlashAttention-2 style).
//
// What it computes
//   For every sequence b of a variable-length batch, query head h and query row i:
//     O[i] = sum_j softmax_j(cap(scale * q_i . k_j) + bias(i, j)) v_j     over the keys j the mask allows,
//   where cap(x) = x, or c * tanh(x / c) with a soft-cap c > 0 (Gemma 2's attention logit soft-capping),
//   with K/V taken from KV head h / (n_heads / n_kv_heads) (grouped-query; n_kv_heads = 1 is MQA).
//   Tokens are packed without padding rows: token row r of Q starts at q + r * q_stride and holds
//   n_heads heads of D elements, rows of K and V start kv_stride apart and hold n_kv_heads heads
//   (packed: q_stride = n_heads * D, kv_stride = n_kv_heads * D; larger strides read Q, K, V as column
//   blocks of one fused QKV projection [tokens][(n_heads + 2 n_kv_heads) D]). O is always packed
//   [total_q][n_heads][D]. Sequence b owns rows cu_seqlens_q[b] .. cu_seqlens_q[b+1] (and likewise
//   for K/V). Every row is staged in 16-byte cp.async chunks, so q, k, v (and o) must be 16-byte
//   aligned and both strides multiples of 8 elements; the launcher rejects anything else.
//   Masks (see attention_common.cuh MaskSpec): causal aligned bottom-right (query i sees keys
//   <= i + len_k - len_q), optional sliding window, optional ALiBi bias -slope_h * |q_pos - k_pos|.
//   Optionally writes the natural-log log-sum-exp of each row's (capped, biased) scores (for a backward
//   pass or for merging with other attention partials); rows with no visible key get O = 0, lse = -inf.
//
// How it tiles the work
//   One CTA of 4 warps per (64-query tile, head, sequence). Each warp owns 16 query rows for the
//   whole pass: its Q fragments are loaded once (ldmatrix) and stay in registers (D <= 128; for D = 256
//   they are re-read from the shared Q tile per key tile, see kQInRegisters). The CTA walks the
//   key range the masks allow in tiles of BN keys: K and V tiles are staged in shared memory with
//   cp.async, double-buffered (tile t+1 is in flight while tile t is computed). Per tile each warp
//   computes S = Q K^T (mma.m16n8k16, fp32 accumulate), applies masks/scale, updates the running
//   max/sum (quad shuffles), rounds P to T in registers and uses it directly as the A operand of
//   O += P V (V via ldmatrix.trans). O is normalised once at the end and written as T.
//
// Registers vs shared memory
//   Registers per thread: Q fragments D/4 x 32-bit (D <= 128), O accumulator D/2 fp32, S/P BN/2 fp32,
//   softmax state 4 fp32. Shared memory: Q tile 64 x (D+8) plus 2 x (K, V) tiles BN x (D+8), in T:
//   D=64/BN=64: 45 KiB; D=128/BN=64: 85 KiB (two CTAs per SM on A100, more on H100);
//   D=256/BN=32: 99 KiB (BN=64 would need 165 KiB, past sm_80's 163 KiB; see kPrefillBN).
//
// Bytes per FLOP
//   FLOPs per CTA = 4 * 64 * L_k * D (two GEMMs); bytes = 2 * L_k * D * sizeof(T) for K/V
//   (+ Q, O once). So FLOP/byte = 64 * 4 / (2 * 2) = 64 for fp16/bf16 from global memory; K/V tiles are
//   re-read by every query tile of the same head, mostly from L2. Shared memory traffic per mma is one
//   ldmatrix.x4 per two mma (both operands of QK^T and PV come from registers + one shared read); at
//   D = 256 the Q re-read makes it three per four in QK^T.
//
// Performance target
//   Ampere-style FA2 reaches ~50-70% of the dense fp16 mma peak on A100 (312 TFLOP/s) for long
//   sequences; this kernel is built for that regime (>= 40% of peak at L >= 1024, D = 128), and on H100
//   (~990 TFLOP/s dense with wgmma) for the mma.sync ceiling, ~35-45% of peak; a wgmma/TMA variant is
//   out of reach of the emulator and left for later. Short sequences are launch/latency bound.
#pragma once
#include "attention_common.cuh"

namespace tf_attn {

struct PrefillParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  float* lse;                   // [total_q][n_heads] natural log, or nullptr
  const int32_t* cu_seqlens_q;  // [batch + 1]
  const int32_t* cu_seqlens_k;  // [batch + 1]
  int n_heads;
  int n_kv_heads;
  long q_stride;                // elements from one token's Q row to the next (>= n_heads * D)
  long kv_stride;               // the same for K and V (>= n_kv_heads * D)
  float scale_log2;             // softmax_scale * log2(e)
  int causal;
  int window;
  float softcap_log2;           // soft-cap c * log2(e), 0: none (MaskSpec)
  float softcap_in;             // softmax_scale / c
  const float* alibi_slopes;    // [n_heads] or nullptr
};

// The parameters of one launch from the C entry point's arguments (softcap 0: none).
inline PrefillParams prefill_params(const void* q, const void* k, const void* v, void* o, float* lse,
                                    const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int n_heads,
                                    int n_kv_heads, long q_stride, long kv_stride, float softmax_scale, int causal,
                                    int window, float softcap, const float* alibi_slopes) {
  return PrefillParams{q, k, v, o, lse, cu_seqlens_q, cu_seqlens_k, n_heads, n_kv_heads, q_stride, kv_stride,
                       softmax_scale * kLog2e, causal, window, softcap > 0.f ? softcap * kLog2e : 0.f,
                       softcap > 0.f ? softmax_scale / softcap : 0.f, alibi_slopes};
}

constexpr int kPrefillBM = 64;  // query rows per CTA
constexpr int kPrefillThreads = 128;

// Keys per tile. 64 up to D=128: ptxas -v shows D=128 at 214 (sm_80) / 222 (sm_90) registers,
// no spills; D=64 uses ~130-150. D=32 (encoders such as all-MiniLM-L6-v2) needs no change of tiling:
// 64-row tiles of 2 x 16-byte chunks split evenly over the 128 threads, and the 80-byte padded row
// stride keeps ldmatrix conflict free (rows land on distinct 4-bank groups); shared memory 25 KiB.
// D=256 (Gemma) takes 32 keys: with 64 the double-buffered K/V tiles need 165 KiB of shared memory,
// past sm_80's 163 KiB, and S/P would add 24 registers to the 245 ptxas reports at 32 keys (O alone is
// 128). The cost: twice the tile iterations per key (barriers, online-softmax rescales of O), and one
// CTA per SM on A100 (99 KiB of 164; two on H100).
template <int D> constexpr int kPrefillBN = D <= 128 ? 64 : 32;

template <int D, int BN>
constexpr int kPrefillSmemBytes = (kPrefillBM + 4 * BN) * kSmemStride<D> * 2;

template <int D, int BN, typename T>
__global__ void __launch_bounds__(kPrefillThreads) attention_prefill_kernel(PrefillParams p) {
  constexpr int BM = kPrefillBM, S = kSmemStride<D>;
  static_assert(kPrefillSmemBytes<D, BN> <= kMaxSmemBytesSm80, "shared memory must fit an sm_80 CTA");
  TF_DYNAMIC_SHARED(T, smem);
  // [Q 64 rows][K buf 0][K buf 1][V buf 0][V buf 1]; buffers addressed arithmetically (a pointer
  // array indexed by the runtime buffer number would live in local memory).
  T* q_tile = smem;
  auto k_tile = [&](int buf) { return smem + (BM + buf * BN) * S; };
  auto v_tile = [&](int buf) { return smem + (BM + (2 + buf) * BN) * S; };

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // Query tiles in reverse launch order: with a causal mask the last tiles of a sequence see the
  // most keys, so starting them first shortens the tail of the grid.
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM, head = blockIdx.y, seq = blockIdx.z;
  const int q_begin = p.cu_seqlens_q[seq], len_q = p.cu_seqlens_q[seq + 1] - q_begin;
  if (m0 >= len_q) return;  // the grid covers the longest sequence of the batch
  const int k_begin = p.cu_seqlens_k[seq], len_k = p.cu_seqlens_k[seq + 1] - k_begin;
  const int kv_head = head / (p.n_heads / p.n_kv_heads);
  const int offset = len_k - len_q;  // bottom-right alignment of queries against keys

  // This CTA's head in the first row of its sequence; row r then starts r * stride further on.
  const T* q = static_cast<const T*>(p.q) + (size_t)q_begin * p.q_stride + (size_t)head * D;
  const T* k = static_cast<const T*>(p.k) + (size_t)k_begin * p.kv_stride + (size_t)kv_head * D;
  const T* v = static_cast<const T*>(p.v) + (size_t)k_begin * p.kv_stride + (size_t)kv_head * D;
  T* o = static_cast<T*>(p.o);

  const MaskSpec ms{len_k, p.causal, p.window, p.scale_log2, p.softcap_log2, p.softcap_in};
  // Key range any row of this CTA can see; tiles outside it are skipped entirely.
  const int cta_q_lo = m0 + offset, cta_q_hi = m0 + BM - 1 + offset;
  int n_begin = 0, n_end = len_k;
  if (p.causal) n_end = min(n_end, cta_q_hi + 1);
  if (p.window > 0) {
    n_begin = max(0, cta_q_lo - p.window + 1);
    if (!p.causal) n_end = min(n_end, cta_q_hi + p.window);
  }
  n_begin = (n_begin / BN) * BN;
  const int n_tiles = n_end > n_begin ? (n_end - n_begin + BN - 1) / BN : 0;

  // This lane's two rows (g and g+8 of the warp's slab) and their aligned positions.
  const int row_in_cta[2] = {warp * 16 + (lane >> 2), warp * 16 + (lane >> 2) + 8};
  const int q_pos[2] = {m0 + row_in_cta[0] + offset, m0 + row_in_cta[1] + offset};
  const float slope_log2 = p.alibi_slopes ? p.alibi_slopes[head] * kLog2e : 0.f;
  const float alibi_log2[2] = {slope_log2, slope_log2};
  const int warp_q_lo = m0 + warp * 16 + offset, warp_q_hi = warp_q_lo + 15;

  float acc[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};

  if (n_tiles > 0) {
    auto stage_kv = [&](int tile, int buf) {
      const int key0 = n_begin + tile * BN;
      stage_rows_async<BN, D, kPrefillThreads>(
          k_tile(buf),
          [&](int r) -> const T* {
            const int key = key0 + r;
            return key < len_k ? k + (size_t)key * p.kv_stride : nullptr;
          },
          static_cast<const T*>(p.k), tid);
      stage_rows_async<BN, D, kPrefillThreads>(
          v_tile(buf),
          [&](int r) -> const T* {
            const int key = key0 + r;
            return key < len_k ? v + (size_t)key * p.kv_stride : nullptr;
          },
          static_cast<const T*>(p.v), tid);
    };
    stage_rows_async<BM, D, kPrefillThreads>(
        q_tile,
        [&](int r) -> const T* {
          return m0 + r < len_q ? q + (size_t)(m0 + r) * p.q_stride : nullptr;
        },
        static_cast<const T*>(p.q), tid);
    stage_kv(0, 0);
    tf::cp_async_commit();

    QFragments<D> q_frag;
    for (int tile = 0; tile < n_tiles; ++tile) {
      const int buf = tile & 1;
      if (tile + 1 < n_tiles) {  // prefetch the next tile into the other buffer, then wait for this one
        stage_kv(tile + 1, buf ^ 1);
        tf::cp_async_commit();
        tf::cp_async_wait<1>();
      } else {
        tf::cp_async_wait<0>();
      }
      __syncthreads();  // every thread's copies of this tile are visible
      if (tile == 0) load_q<D>(q_frag, q_tile, warp * 16, lane);

      const int key0 = n_begin + tile * BN;
      float s[BN / 8][4];
      qk_scores<D, BN>(s, q_frag, q_tile, warp * 16, k_tile(buf), 0, lane);
      const bool need_mask = tile_needs_mask(ms, key0, BN, warp_q_lo, warp_q_hi, p.alibi_slopes != nullptr);
      mask_and_scale<BN>(s, ms, key0, q_pos, alibi_log2, lane, need_mask);
      online_softmax(s, acc, m_run, l_run);
      uint32_t p_frag[BN / 16][4];
      p_fragments<BN, T>(p_frag, s);
      pv_accumulate<D, BN, T>(acc, p_frag, v_tile(buf), 0, lane);
      __syncthreads();  // all warps are done with this buffer before the next prefetch overwrites it
    }
  }

  // Normalise and write this lane's two rows.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float l = quad_sum(l_run[r]);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int qi = m0 + row_in_cta[r];
    if (qi < len_q) {
      T* orow = o + ((size_t)(q_begin + qi) * p.n_heads + head) * D;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        const int d = j * 8 + 2 * (lane & 3);
        *reinterpret_cast<uint32_t*>(orow + d) = ElemTraits<T>::pack(acc[j][2 * r] * inv, acc[j][2 * r + 1] * inv);
      }
      if (p.lse && (lane & 3) == 0)
        p.lse[(size_t)(q_begin + qi) * p.n_heads + head] = l > 0.f ? m_run[r] * kLn2 + logf(l) : -INFINITY;
    }
  }
}

// Host side: validate, pick the instantiation, launch. Returns 0 or an error code (1 = invalid value,
// the value of cudaErrorInvalidValue): an unsupported head_dim, heads that do not group, a stride
// shorter than its row of heads or not a multiple of 8 elements, or a pointer not 16-byte aligned
// (cp.async and the fragment loads need every 16-byte chunk of every row aligned).
template <typename T>
int launch_prefill(const PrefillParams& p, int batch, int max_seqlen_q, int head_dim, void* stream) {
  if (head_dim != 32 && head_dim != 64 && head_dim != 128 && head_dim != 256) return 1;
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0) return 1;
  constexpr long kChunk = 16 / sizeof(T);  // elements per 16-byte chunk
  if (p.q_stride < (long)p.n_heads * head_dim || p.kv_stride < (long)p.n_kv_heads * head_dim ||
      p.q_stride % kChunk != 0 || p.kv_stride % kChunk != 0)
    return 1;
  for (const void* ptr : {p.q, p.k, p.v, static_cast<const void*>(p.o)})
    if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) return 1;
  if (batch <= 0 || max_seqlen_q <= 0) return 0;
  const dim3 grid((max_seqlen_q + kPrefillBM - 1) / kPrefillBM, p.n_heads, batch);
  const dim3 block(kPrefillThreads);
  switch (head_dim) {
    case 32: {  // encoders (all-MiniLM-L6-v2, bge-small); prefill only, decode keeps 64 / 128
      constexpr int smem = kPrefillSmemBytes<32, kPrefillBN<32>>;
      return TF_LAUNCH((attention_prefill_kernel<32, kPrefillBN<32>, T>), grid, block, smem, stream, p);
    }
    case 64: {
      constexpr int smem = kPrefillSmemBytes<64, kPrefillBN<64>>;  // (a comma would split TF_LAUNCH's args)
      return TF_LAUNCH((attention_prefill_kernel<64, kPrefillBN<64>, T>), grid, block, smem, stream, p);
    }
    case 128: {
      constexpr int smem = kPrefillSmemBytes<128, kPrefillBN<128>>;
      return TF_LAUNCH((attention_prefill_kernel<128, kPrefillBN<128>, T>), grid, block, smem, stream, p);
    }
    case 256: {  // Gemma; 32-key tiles (kPrefillBN)
      constexpr int smem = kPrefillSmemBytes<256, kPrefillBN<256>>;
      return TF_LAUNCH((attention_prefill_kernel<256, kPrefillBN<256>, T>), grid, block, smem, stream, p);
    }
    default:
      return 1;
  }
}

}  // namespace tf_attn
