/*
 * attention_ops.cpp: RoPE with the paged KV-cache write, attention over the paged cache, and packed
 * variable-length attention (transfuse.h, section 1). The attention loops are per ISA (attention.inc);
 * here the work items are counted, the query heads grouped, and the items dealt out to the threads.
 * RoPE is a plain loop over each token's pairs (memory-bound; its cos/sin are libm calls, computed once
 * per token and pair, not per head).
 */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "parallel.h"

#define TF_API extern "C" __attribute__((visibility("default")))

namespace {

/* Rotates the first rotary_dim values of `heads` heads of one token from src to dst (which may be src):
 * pair i (adjacent: x[2i], x[2i+1]; half split: x[i], x[i + rotary_dim/2]) by c[i], s[i]. Values past
 * rotary_dim are copied when dst is not src. */
void rotate_heads(float* dst, const float* src, int heads, int head_dim, int rotary_dim, int layout, const float* c,
                  const float* s) {
    const int half = rotary_dim / 2;
    for (int h = 0; h < heads; h++) {
        const float* x = src + (long)h * head_dim;
        float* y = dst + (long)h * head_dim;
        if (layout == TF_ROPE_ADJACENT) {
            for (int i = 0; i < half; i++) {
                const float a = x[2 * i], b = x[2 * i + 1];
                y[2 * i] = a * c[i] - b * s[i];
                y[2 * i + 1] = a * s[i] + b * c[i];
            }
        } else {
            for (int i = 0; i < half; i++) {
                const float a = x[i], b = x[i + half];
                y[i] = a * c[i] - b * s[i];
                y[i + half] = a * s[i] + b * c[i];
            }
        }
        if (dst != src) memcpy(y + rotary_dim, x + rotary_dim, (size_t)(head_dim - rotary_dim) * 4);
    }
}

/* Query heads per attention work item: the largest divisor of the GQA group up to TF_ATTENTION_MAX_GROUP
 * that still leaves four items per thread (so that the cyclic split balances); 1 without GQA. */
int group_size(long rows, int n_heads, int n_kv_heads) {
    const int group = n_heads / n_kv_heads, threads = tf_cpu_get_threads();
    for (int g = group < TF_ATTENTION_MAX_GROUP ? group : TF_ATTENTION_MAX_GROUP; g > 1; g--)
        if (group % g == 0 && rows * (n_heads / g) >= 4L * threads) return g;
    return 1;
}

}  // namespace

TF_API void tf_cpu_rope_kv_cache(float* q, const float* k, const float* v, float* k_cache, float* v_cache,
                                 const int32_t* block_table, const int32_t* positions, const int32_t* seq_ids,
                                 const float* inv_freq, int tokens, int n_heads, int n_kv_heads, int head_dim,
                                 int rotary_dim, int layout, float mscale, int block_size, int max_blocks_per_seq) {
    const long kv_floats = (long)n_kv_heads * head_dim;
    const long work = (long)tokens * (n_heads + 2L * n_kv_heads) * head_dim;
    tf_parallel_ranges(tokens, work, [&](long t0, long t1) {
        float c[TF_MAX_HEAD_DIM / 2], s[TF_MAX_HEAD_DIM / 2];
        for (long t = t0; t < t1; t++) {
            const int p = positions[t];
            for (int i = 0; i < rotary_dim / 2; i++) {
                const float angle = (float)p * inv_freq[i];
                c[i] = cosf(angle) * mscale;
                s[i] = sinf(angle) * mscale;
            }
            if (q) {
                float* qt = q + t * n_heads * head_dim;
                rotate_heads(qt, qt, n_heads, head_dim, rotary_dim, layout, c, s);
            }
            const int block = block_table[(long)seq_ids[t] * max_blocks_per_seq + p / block_size];
            const long slot = ((long)block * block_size + p % block_size) * kv_floats;
            rotate_heads(k_cache + slot, k + t * kv_floats, n_kv_heads, head_dim, rotary_dim, layout, c, s);
            memcpy(v_cache + slot, v + t * kv_floats, (size_t)kv_floats * 4);
        }
    });
}

TF_API void tf_cpu_attention_paged(float* out, const float* q, const float* k_cache, const float* v_cache,
                                   const int32_t* block_table, const int32_t* context_lens, int tokens, int n_heads,
                                   int n_kv_heads, int head_dim, int block_size, int max_blocks_per_seq, float scale,
                                   int window) {
    const tf_paged_attention a = {out, q, k_cache, v_cache, block_table, context_lens, tokens, n_heads, n_kv_heads,
                                  head_dim, block_size, max_blocks_per_seq, window,
                                  group_size(tokens, n_heads, n_kv_heads), scale};
    long keys = 0;
    for (int t = 0; t < tokens; t++) keys += window > 0 && context_lens[t] > window ? window : context_lens[t];
    const tf_kernels& k = tf_kernels_active();
    tf_parallel_cyclic(tf_attention_items(tokens, n_heads, n_kv_heads, a.group_size), keys * n_heads * head_dim * 2,
                       [&](long first, long step) { k.attention_paged(&a, first, step); });
}

TF_API void tf_cpu_attention_varlen(float* out, const float* q, const float* k, const float* v,
                                    const int32_t* cu_seqlens, int batch, int n_heads, int n_kv_heads, int head_dim,
                                    long q_stride, long kv_stride, float scale, int causal) {
    const tf_varlen_attention a = {out, q, k, v, cu_seqlens, batch, n_heads, n_kv_heads, head_dim,
                                   group_size(batch, n_heads, n_kv_heads), causal, q_stride, kv_stride, scale};
    long pairs = 0; /* (query, key) pairs */
    for (int b = 0; b < batch; b++) {
        const long len = cu_seqlens[b + 1] - cu_seqlens[b];
        pairs += causal ? len * (len + 1) / 2 : len * len;
    }
    const tf_kernels& kern = tf_kernels_active();
    tf_parallel_cyclic(tf_attention_items(batch, n_heads, n_kv_heads, a.group_size), pairs * n_heads * head_dim * 2,
                       [&](long first, long step) { kern.attention_varlen(&a, first, step); });
}
