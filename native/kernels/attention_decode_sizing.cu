// attention_decode_sizing.cu: host-only sizing helpers of attention decode (design: attention_decode.cuh):
// the workspace size and a default KV split length.
#include "attention_decode.cuh"
#include "transfuse.h"

extern "C" size_t tf_attention_decode_workspace_bytes(int batch, int n_heads, int head_dim, int max_context_len,
                                                      int kv_split_len) {
  return tf_attn::decode_workspace_bytes(batch, n_heads, head_dim, max_context_len, kv_split_len);
}

extern "C" int tf_attention_decode_default_split_len(int batch, int n_heads, int n_kv_heads, int max_context_len,
                                                     int num_sms) {
  return tf_attn::decode_default_split_len(batch, n_heads, n_kv_heads, max_context_len, num_sms);
}
