// attention_decode_bf16.cu: C entry point of paged attention decode for bf16 (design: attention_decode.cuh).
#include "attention_decode.cuh"
#include "transfuse.h"

extern "C" int tf_attention_decode_bf16(const void* q, const void* k_cache, const void* v_cache, void* o,
                                     const int32_t* block_table, const int32_t* context_lens, int batch,
                                     int n_heads, int n_kv_heads, int head_dim, int block_size,
                                     int max_blocks_per_seq, int max_context_len, int kv_split_len,
                                     float softmax_scale, int window, float softcap, const float* alibi_slopes,
                                     void* workspace, void* stream) {
  const tf_attn::DecodeParams p =
      tf_attn::decode_params(q, k_cache, v_cache, o, block_table, context_lens, n_heads, n_kv_heads, block_size,
                             max_blocks_per_seq, kv_split_len, softmax_scale, window, softcap, alibi_slopes);
  return tf_attn::launch_decode<__nv_bfloat16>(p, batch, head_dim, max_context_len, workspace, stream);
}
