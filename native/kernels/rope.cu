// rope.cu: launchers for RoPE in place and RoPE + paged KV-cache write (design notes in rope.cuh).
#include "rope.cuh"
#include "transfuse.h"

namespace tf_rotary {
namespace {

bool valid_shape(int tokens, int n_heads, int n_kv_heads, int head_dim, int rotary_dim, int layout) {
  return tokens >= 0 && n_heads >= 0 && n_kv_heads >= 0 && head_dim > 0 && rotary_dim >= 0 &&
         rotary_dim % 2 == 0 && rotary_dim <= head_dim &&
         (layout == TF_ROPE_ADJACENT || layout == TF_ROPE_HALF_SPLIT);
}

template <typename T, bool kToCache>
int launch(const RopeArgs<T>& a, int tokens, int layout, void* stream) {
  const size_t smem = size_t(a.rotary_dim) * sizeof(float);
  if (layout == TF_ROPE_HALF_SPLIT) return TF_LAUNCH((rope_kernel<T, true, kToCache>), tokens, 128, smem, stream, a);
  return TF_LAUNCH((rope_kernel<T, false, kToCache>), tokens, 128, smem, stream, a);
}

}  // namespace
}  // namespace tf_rotary

extern "C" int tf_rope(void* q, void* k, const int32_t* positions, const float* inv_freq, int tokens, int n_heads,
                       int n_kv_heads, int head_dim, int rotary_dim, int layout, float mscale, int dtype,
                       void* stream) {
  if (!tf_rotary::valid_shape(tokens, n_heads, n_kv_heads, head_dim, rotary_dim, layout) || !positions ||
      (rotary_dim > 0 && !inv_freq))
    return tf_ew::kErrInvalidArgument;
  if (tokens == 0 || rotary_dim == 0 || (!q && !k)) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_rotary::RopeArgs<T> a{};
    a.q = static_cast<T*>(q);
    a.k = static_cast<T*>(k);
    a.positions = positions;
    a.inv_freq = inv_freq;
    a.n_heads = n_heads;
    a.n_kv_heads = n_kv_heads;
    a.head_dim = head_dim;
    a.rotary_dim = rotary_dim;
    a.mscale = mscale;
    return tf_rotary::launch<T, false>(a, tokens, layout, stream);
  });
}

extern "C" int tf_rope_kv_cache(void* q, const void* k, const void* v, void* k_cache, void* v_cache,
                                const int32_t* block_table, const int32_t* positions, const int32_t* seq_ids,
                                const float* inv_freq, int tokens, int n_heads, int n_kv_heads, int head_dim,
                                int rotary_dim, int layout, float mscale, int block_size, int max_blocks_per_seq,
                                int dtype, void* stream) {
  if (!tf_rotary::valid_shape(tokens, n_heads, n_kv_heads, head_dim, rotary_dim, layout) || !positions || !k || !v ||
      !k_cache || !v_cache || !block_table || !seq_ids || (rotary_dim > 0 && !inv_freq) || block_size <= 0 ||
      max_blocks_per_seq <= 0)
    return tf_ew::kErrInvalidArgument;
  if (tokens == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_rotary::RopeArgs<T> a{};
    a.q = static_cast<T*>(q);
    a.k = const_cast<T*>(static_cast<const T*>(k));  // read only in cache mode
    a.v = static_cast<const T*>(v);
    a.k_cache = static_cast<T*>(k_cache);
    a.v_cache = static_cast<T*>(v_cache);
    a.block_table = block_table;
    a.positions = positions;
    a.seq_ids = seq_ids;
    a.inv_freq = inv_freq;
    a.n_heads = n_heads;
    a.n_kv_heads = n_kv_heads;
    a.head_dim = head_dim;
    a.rotary_dim = rotary_dim;
    a.mscale = mscale;
    a.block_size = block_size;
    a.max_blocks_per_seq = max_blocks_per_seq;
    return tf_rotary::launch<T, true>(a, tokens, layout, stream);
  });
}
