// attention_decode_bf16.cu: C entry point of paged attention decode for bf16 (design: attention_decode.cuh).
#include "attention_decode.cuh"
#include "transfuse.h"

extern "C" int tf_attention_decode_bf16(const void* q, const void* k_cache, const void* v_cache, void* o,
                                     const int32_t* block_table, const int32_t* context_lens, int batch,
                                     int n_heads, int n_kv_heads, int head_dim, int block_size,
                                     int max_blocks_per_seq, int max_context_len, int kv_split_len,
                                     float softmax_scale, int window, const float* alibi_slopes,
                                     void* workspace, void* stream) {
  tf_attn::DecodeParams p{};
  p.q = q;
  p.k_cache = k_cache;
  p.v_cache = v_cache;
  p.o = o;
  p.block_table = block_table;
  p.context_lens = context_lens;
  p.n_heads = n_heads;
  p.n_kv_heads = n_kv_heads;
  p.block_size = block_size;
  p.max_blocks_per_seq = max_blocks_per_seq;
  p.split_len = kv_split_len;
  p.scale_log2 = softmax_scale * tf_attn::kLog2e;
  p.window = window;
  p.alibi_slopes = alibi_slopes;
  return tf_attn::launch_decode<__nv_bfloat16>(p, batch, head_dim, max_context_len, workspace, stream);
}
