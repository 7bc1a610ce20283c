/*
 * bert_variant_ops.cpp: the encoder ops the BERT variants add to libtransfuse_cpu (transfuse.h, section 1):
 * MobileBERT's NoNorm (x * w + b) and ReLU, RoPE in place on packed Q and K (ModernBERT, nomic-bert), and packed
 * bidirectional attention with a sliding window (ModernBERT's local layers) and ALiBi (JinaBERT).
 *
 * These are compiled once, not per ISA: NoNorm and RoPE are bandwidth-bound streaming loops the compiler
 * vectorises; the masked attention is the plain two-pass softmax per (row, head) with `omp simd` dot
 * products. Its cost is the same O(n^2 d) as tf_cpu_attention_varlen's per visible key, and windows cut it
 * to O(n w d). Work split: rows for NoNorm and RoPE, (row, head) items for attention.
 */
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "cpu_internal.h"
#include "parallel.h"

#define TF_API extern "C" __attribute__((visibility("default")))

TF_API void tf_cpu_no_norm(float* out, float* residual, const float* x, const float* weight, const float* bias, int rows,
                           int dim) {
    tf_parallel_ranges(rows, (long)rows * dim * 3, [&](long r0, long r1) {
        for (long r = r0; r < r1; r++) {
            const size_t o = (size_t)r * dim;
            // Each element is read before it is written, so out may be x or residual.
#pragma omp simd
            for (int i = 0; i < dim; i++) {
                float h = x[o + i];
                if (residual) {
                    h += residual[o + i];
                    residual[o + i] = h;
                }
                out[o + i] = h * weight[i] + (bias ? bias[i] : 0.f);
            }
        }
    });
}


TF_API void tf_cpu_rope(float* q, float* k, const int32_t* positions, const float* inv_freq, int tokens, int n_heads,
                        int n_kv_heads, int head_dim, int rotary_dim, int layout, float mscale) {
    const int half = rotary_dim / 2;
    if (half == 0) return;
    tf_parallel_ranges(tokens, (long)tokens * (n_heads + n_kv_heads) * rotary_dim * 3, [&](long t0, long t1) {
        std::vector<float> cs(2 * (size_t)half);
        for (long t = t0; t < t1; t++) {
            for (int i = 0; i < half; i++) {
                // The angle in fp32 as Hugging Face computes it (inv_freq * position, then cos and sin).
                const float angle = (float)positions[t] * inv_freq[i];
                cs[i] = cosf(angle) * mscale;
                cs[half + i] = sinf(angle) * mscale;
            }
            auto rotate = [&](float* row, int heads) {
                for (int h = 0; h < heads; h++) {
                    float* x = row + (size_t)h * head_dim;
                    for (int i = 0; i < half; i++) {
                        const int ia = layout == TF_ROPE_HALF_SPLIT ? i : 2 * i;
                        const int ib = layout == TF_ROPE_HALF_SPLIT ? i + half : 2 * i + 1;
                        const float a = x[ia], b = x[ib], c = cs[i], s = cs[half + i];
                        x[ia] = a * c - b * s;
                        x[ib] = a * s + b * c;
                    }
                }
            };
            if (q) rotate(q + (size_t)t * n_heads * head_dim, n_heads);
            if (k) rotate(k + (size_t)t * n_kv_heads * head_dim, n_kv_heads);
        }
    });
}

TF_API void tf_cpu_attention_varlen_masked(float* out, const float* q, const float* k, const float* v,
                                           const int32_t* cu_seqlens, int batch, int n_heads, int n_kv_heads,
                                           int head_dim, long q_stride, long kv_stride, float scale, int window,
                                           const float* alibi_slopes) {
    const long rows = cu_seqlens[batch];
    const int group = n_heads / n_kv_heads;
    long pairs = 0;
    for (int b = 0; b < batch; b++) {
        const long len = cu_seqlens[b + 1] - cu_seqlens[b];
        pairs += window > 0 ? len * std::min<long>(len, 2L * window - 1) : len * len;
    }
    tf_parallel_ranges(rows * n_heads, pairs * n_heads * head_dim * 2, [&](long i0, long i1) {
        std::vector<float> p;
        int b = 0;
        for (long item = i0; item < i1; item++) {
            const long r = item / n_heads;
            const int h = (int)(item % n_heads), kvh = h / group;
            while (cu_seqlens[b + 1] <= r) b++;  // items run in row order: the sequence only moves forward
            const long s0 = cu_seqlens[b], s1 = cu_seqlens[b + 1], i = r - s0;
            long j0 = s0, j1 = s1;
            if (window > 0) {
                j0 = std::max(s0, r - window + 1);
                j1 = std::min(s1, r + window);
            }
            const float slope = alibi_slopes ? alibi_slopes[h] : 0.f;
            const float* qr = q + r * q_stride + (size_t)h * head_dim;
            p.resize((size_t)(j1 - j0));
            float m = -INFINITY;
            for (long j = j0; j < j1; j++) {
                const float* kr = k + j * kv_stride + (size_t)kvh * head_dim;
                float dot = 0.f;
#pragma omp simd reduction(+ : dot)
                for (int d = 0; d < head_dim; d++) dot += qr[d] * kr[d];
                const float s = dot * scale - slope * (float)std::labs((j - s0) - i);
                p[j - j0] = s;
                m = std::max(m, s);
            }
            float sum = 0.f;
            for (long j = j0; j < j1; j++) sum += p[j - j0] = expf(p[j - j0] - m);
            const float inv = 1.f / sum;
            float* o = out + r * (long)n_heads * head_dim + (size_t)h * head_dim;
            for (int d = 0; d < head_dim; d++) o[d] = 0.f;
            for (long j = j0; j < j1; j++) {
                const float* vr = v + j * kv_stride + (size_t)kvh * head_dim;
                const float w = p[j - j0] * inv;
#pragma omp simd
                for (int d = 0; d < head_dim; d++) o[d] += w * vr[d];
            }
        }
    });
}
