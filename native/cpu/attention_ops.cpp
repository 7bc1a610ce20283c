/*
 * attention_ops.cpp: RoPE with the paged KV-cache write, attention over the paged cache, and packed
 * variable-length attention, and Swin's window attention (transfuse.h, section 1). The attention loops are
 * per ISA (attention.inc, window_attention.inc); here the work items are counted, the query heads grouped,
 * and the items dealt out to the threads.
 * RoPE is a plain loop over each token's pairs (memory-bound; its cos/sin are libm calls, computed once
 * per token and pair, not per head). With a half cache (kv_type TF_F16) each rotated key head goes
 * through a small f32 buffer and the active table's f32_to_f16 (vcvtps2ph where there is F16C).
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
 * that still leaves four items per thread (so that the split over threads balances); 1 without GQA. */
int group_size(long rows, int n_heads, int n_kv_heads) {
    const int group = n_heads / n_kv_heads, threads = tf_cpu_get_threads();
    for (int g = group < TF_ATTENTION_MAX_GROUP ? group : TF_ATTENTION_MAX_GROUP; g > 1; g--)
        if (group % g == 0 && rows * (n_heads / g) >= 4L * threads) return g;
    return 1;
}

/* Rows per paged-attention work item: 1 when no row looks like it continues the one before (decode: the
 * items then go row by row and kv head by kv head, the order in which the cache is laid out, which
 * measured 1.1-1.2x faster than taking eight sequences per kv head); else up to TF_ATTENTION_MAX_RUN (a
 * chunked prefill's rows then run as blocks of queries), halved while that leaves fewer than four items
 * per thread. The kernel checks each run exactly. */
int run_rows(long rows, int n_heads, int n_kv_heads, int group, const int32_t* context_lens,
             const int32_t* block_table, int max_blocks_per_seq) {
    bool runs = false;
    for (long t = 1; t < rows && !runs; t++)
        runs = context_lens[t] == context_lens[t - 1] + 1 &&
               block_table[t * max_blocks_per_seq] == block_table[(t - 1) * max_blocks_per_seq];
    if (!runs) return 1;
    const int threads = tf_cpu_get_threads();
    for (int r = TF_ATTENTION_MAX_RUN; r > 1; r /= 2)
        if (tf_attention_items((rows + r - 1) / r, n_heads, n_kv_heads, group) >= 4L * threads) return r;
    return 1;
}

}  // namespace

TF_API void tf_cpu_rope_kv_cache(float* q, const float* k, const float* v, void* k_cache, void* v_cache, int kv_type,
                                 const int32_t* block_table, const int32_t* positions, const int32_t* seq_ids,
                                 const float* inv_freq, int tokens, int n_heads, int n_kv_heads, int head_dim,
                                 int rotary_dim, int layout, float mscale, int block_size, int max_blocks_per_seq) {
    const long kv_floats = (long)n_kv_heads * head_dim;
    const long work = (long)tokens * (n_heads + 2L * n_kv_heads) * head_dim;
    const tf_kernels& kern = tf_kernels_active();
    tf_parallel_ranges(tokens, work, [&](long t0, long t1) {
        float c[TF_MAX_HEAD_DIM / 2], s[TF_MAX_HEAD_DIM / 2];
        float head[TF_MAX_HEAD_DIM];
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
            if (kv_type == TF_F16) {
                uint16_t* kc = (uint16_t*)k_cache + slot;
                for (int h = 0; h < n_kv_heads; h++) {
                    rotate_heads(head, k + t * kv_floats + (long)h * head_dim, 1, head_dim, rotary_dim, layout, c, s);
                    kern.f32_to_f16(kc + (long)h * head_dim, head, head_dim);
                }
                kern.f32_to_f16((uint16_t*)v_cache + slot, v + t * kv_floats, kv_floats);
            } else {
                rotate_heads((float*)k_cache + slot, k + t * kv_floats, n_kv_heads, head_dim, rotary_dim, layout, c, s);
                memcpy((float*)v_cache + slot, v + t * kv_floats, (size_t)kv_floats * 4);
            }
        }
    });
}

TF_API void tf_cpu_attention_paged(float* out, const float* q, const void* k_cache, const void* v_cache, int kv_type,
                                   const int32_t* block_table, const int32_t* context_lens, int tokens, int n_heads,
                                   int n_kv_heads, int head_dim, int block_size, int max_blocks_per_seq, float scale,
                                   int window, float softcap) {
    const int group = group_size(tokens, n_heads, n_kv_heads);
    const int run = run_rows(tokens, n_heads, n_kv_heads, group, context_lens, block_table, max_blocks_per_seq);
    const tf_paged_attention a = {.out = out, .q = q, .k_cache = k_cache, .v_cache = v_cache, .kv_type = kv_type,
                                  .block_table = block_table, .context_lens = context_lens, .tokens = tokens,
                                  .n_heads = n_heads, .n_kv_heads = n_kv_heads, .head_dim = head_dim,
                                  .block_size = block_size, .max_blocks_per_seq = max_blocks_per_seq, .window = window,
                                  .group_size = group, .run_rows = run, .scale = scale,
                                  .softcap = softcap};
    long keys = 0;
    for (int t = 0; t < tokens; t++) keys += window > 0 && context_lens[t] > window ? window : context_lens[t];
    const tf_kernels& k = tf_kernels_active();
    const long items = tf_attention_items((tokens + run - 1) / run, n_heads, n_kv_heads, group);
    const long work = keys * n_heads * head_dim * 2;
    /* Prefill chunks cost more the later they sit (causal): small chunks, claimed in turn. Rows of similar
     * cost go in larger contiguous chunks: a thread then reads whole cache slots, where dealing out the kv
     * heads of a row cyclically made two cores share each slot's cache lines (decode measured 1.3x slower
     * on 2 threads). */
    if (run > 1)
        tf_parallel_fine(items, work, [&](long begin, long end) { k.attention_paged(&a, begin, end, 1); });
    else
        tf_parallel_ranges(items, work, [&](long begin, long end) { k.attention_paged(&a, begin, end, 1); });
}

TF_API void tf_cpu_attention_varlen(float* out, const float* q, const float* k, const float* v,
                                    const int32_t* cu_seqlens, int batch, int n_heads, int n_kv_heads, int head_dim,
                                    long q_stride, long kv_stride, float scale, int causal) {
    const tf_varlen_attention a = {.out = out, .q = q, .k = k, .v = v, .cu_seqlens = cu_seqlens, .batch = batch,
                                   .n_heads = n_heads, .n_kv_heads = n_kv_heads, .head_dim = head_dim,
                                   .group_size = group_size(batch, n_heads, n_kv_heads), .causal = causal,
                                   .q_stride = q_stride, .kv_stride = kv_stride, .scale = scale};
    long pairs = 0; /* (query, key) pairs */
    for (int b = 0; b < batch; b++) {
        const long len = cu_seqlens[b + 1] - cu_seqlens[b];
        pairs += causal ? len * (len + 1) / 2 : len * len;
    }
    const tf_kernels& kern = tf_kernels_active();
    /* contiguous shares, for the reason above (cyclic heads measured 1.1x slower on all-MiniLM-L6-v2) */
    const long items = tf_attention_items(batch, n_heads, n_kv_heads, a.group_size);
    tf_parallel_ranges(items, pairs * n_heads * head_dim * 2,
                       [&](long begin, long end) { kern.attention_varlen(&a, begin, end, 1); });
}

TF_API void tf_cpu_window_attention(float* out, const float* q, const float* k, const float* v, const float* bias,
                                    const float* logit_scale, int grid_h, int grid_w, int window, int shift,
                                    int n_heads, int head_dim, long stride, float scale) {
    const tf_window_args a = {.out = out, .q = q, .k = k, .v = v, .bias = bias, .logit_scale = logit_scale, .grid_h = grid_h,
                                   .grid_w = grid_w, .window = window, .shift = shift, .n_heads = n_heads,
                                   .head_dim = head_dim, .stride = stride, .scale = scale};
    const long windows = (long)(grid_h / window) * (grid_w / window), n = (long)window * window;
    const tf_kernels& kern = tf_kernels_active();
    /* every item costs the same: contiguous shares */
    tf_parallel_ranges(windows * n_heads, windows * n_heads * n * n * head_dim * 2,
                       [&](long begin, long end) { kern.window_attention(&a, begin, end, 1); });
}
