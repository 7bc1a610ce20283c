// attention_prefill_f16.cu: C entry point of attention prefill for f16 (design: attention_prefill.cuh).
// One file per dtype so that the two instantiation sets compile in parallel.
#include "attention_prefill.cuh"
#include "transfuse.h"

extern "C" int tf_attention_prefill_f16(const void* q, const void* k, const void* v, void* o, float* lse,
                                     const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int batch,
                                     int max_seqlen_q, int n_heads, int n_kv_heads, int head_dim, long q_stride,
                                     long kv_stride, float softmax_scale, int causal, int window, float softcap,
                                     const float* alibi_slopes, void* stream) {
  const tf_attn::PrefillParams p = tf_attn::prefill_params(q, k, v, o, lse, cu_seqlens_q, cu_seqlens_k, n_heads, n_kv_heads,
                                                           q_stride, kv_stride, softmax_scale, causal, window, softcap,
                                                           alibi_slopes);
  return tf_attn::launch_prefill<__half>(p, batch, max_seqlen_q, head_dim, stream);
}
