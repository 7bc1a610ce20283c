// rel_bias_attention.cu: launcher for the relative-position-bias attention (design notes in rel_bias_attention.cuh).
#include "rel_bias_attention.cuh"
#include "transfuse.h"

extern "C" int tf_attention_rel_bias(const void* q, const void* k, const void* v, void* o, const int32_t* spans,
                                     const float* bias, int bias_radius, int tokens, int n_heads, int n_kv_heads,
                                     int head_dim, float scale, int dtype, void* stream) {
  using namespace tf_ew;
  if (tokens < 0 || n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads != 0 || head_dim <= 0 ||
      head_dim > 32 * tf_relbias::kMaxPerLane || !q || !k || !v || !o || !spans || (bias && bias_radius < 0))
    return kErrInvalidArgument;
  if (tokens == 0) return 0;
  return dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    return TF_LAUNCH((tf_relbias::rel_bias_attention_kernel<T>), dim3(tokens, n_heads), 32, 0, stream,
                     static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<T*>(o), spans,
                     bias, bias_radius, n_heads, n_kv_heads, head_dim, scale);
  });
}

extern "C" int tf_attention_rel_bias_paged(const void* q, const void* k_cache, const void* v_cache, void* o,
                                           const int32_t* block_tables, const int32_t* positions, const float* bias,
                                           int bias_radius, int tokens, int n_heads, int n_kv_heads, int head_dim,
                                           int block_size, int max_blocks, float scale, int dtype, void* stream) {
  using namespace tf_ew;
  if (tokens < 0 || n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads != 0 || head_dim <= 0 ||
      head_dim > 32 * tf_relbias::kMaxPerLane || block_size <= 0 || max_blocks <= 0 || !q || !k_cache || !v_cache || !o ||
      !block_tables || !positions || (bias && bias_radius < 0))
    return kErrInvalidArgument;
  if (tokens == 0) return 0;
  return dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    return TF_LAUNCH((tf_relbias::rel_bias_attention_paged_kernel<T>), dim3(tokens, n_heads), 32, 0, stream,
                     static_cast<const T*>(q), static_cast<const T*>(k_cache), static_cast<const T*>(v_cache),
                     static_cast<T*>(o), block_tables, positions, bias, bias_radius, n_heads, n_kv_heads, head_dim,
                     block_size, max_blocks, scale);
  });
}
