/*
 * rwkv_ops.cpp: the RWKV ops of libtransfuse_cpu (transfuse.h, section 1): token shift, token mix (lerp),
 * pointwise activations and the WKV recurrences of RWKV-6 "Finch" and RWKV-7 "Goose", each with the per-head
 * group norm (ln_x) fused, as llama.cpp's rwkv6/rwkv7 graphs compute them (src/models/rwkv6-base.cpp,
 * rwkv7-base.cpp; ggml_rwkv_wkv6/wkv7).
 *
 * Work split: the WKV heads are independent (each owns its [S][S] state), so the recurrences hand out ranges of
 * heads; within a head the tokens run in order (the recurrence form for prefill and decode alike: a head's state,
 * 64 x 64 floats = 16 KB, stays in L1 across tokens). Each value row i of the state is contiguous over the key
 * channels j, so the inner loops are unit-stride and vectorise at baseline flags (#pragma omp simd).
 * The elementwise ops hand out rows. Baseline flags: these ops move a few bytes per FLOP and are far from
 * the matmuls in cost (RWKV-7 169M decode: 12 layers x 12 heads x 4096 state values).
 */
#include "cpu_internal.h"
#include "parallel.h"

#include <cmath>

#define TF_API extern "C" __attribute__((visibility("default")))

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

/* The group norm of one head's outputs y[0..S) into out, with ln_w/ln_b of that head (ggml_norm: biased variance). */
void head_group_norm(float* out, const float* y, const float* ln_w, const float* ln_b, int S, float eps) {
    float mean = 0, var = 0;
    for (int i = 0; i < S; i++) mean += y[i];
    mean /= (float)S;
    for (int i = 0; i < S; i++) var += (y[i] - mean) * (y[i] - mean);
    const float scale = 1.0f / std::sqrt(var / (float)S + eps);
    for (int i = 0; i < S; i++) out[i] = (y[i] - mean) * scale * ln_w[i] + ln_b[i];
}

}  // namespace

TF_API void tf_cpu_rwkv_token_shift(float* out, float* state, const float* x, int tokens, int dim, int fresh) {
    tf_parallel_ranges(dim, (long)tokens * dim * 2, [&](long c0, long c1) {
        for (long c = c0; c < c1; c++) {
            float prev = fresh ? 0.0f : state[c];
            for (int t = 0; t < tokens; t++) {
                const float xt = x[(long)t * dim + c];
                out[(long)t * dim + c] = prev - xt;
                prev = xt;
            }
            state[c] = prev;
        }
    });
}

TF_API void tf_cpu_rwkv_token_mix(float* out, const float* x, const float* sx, const float* mix, int mix_rows,
                                  const float* bias, int tokens, int dim) {
    tf_parallel_ranges(tokens, (long)tokens * dim * 3, [&](long t0, long t1) {
        for (long t = t0; t < t1; t++) {
            const float* m = mix + (mix_rows == 1 ? 0 : t * dim);
            const float* xr = x + t * dim;
            const float* sr = sx + t * dim;
            float* o = out + t * dim;
            if (bias) {
#pragma omp simd
                for (int c = 0; c < dim; c++) o[c] = xr[c] + sr[c] * (m[c] + bias[c]);
            } else {
#pragma omp simd
                for (int c = 0; c < dim; c++) o[c] = xr[c] + sr[c] * m[c];
            }
        }
    });
}

TF_API void tf_cpu_rwkv_pointwise(float* x, long n, int fn) {
    tf_parallel_ranges(n, n * 8, [&](long i0, long i1) {
        switch (fn) {
            case TF_RWKV_TANH:
                for (long i = i0; i < i1; i++) x[i] = std::tanh(x[i]);
                break;
            case TF_RWKV_SIGMOID:
                for (long i = i0; i < i1; i++) x[i] = sigmoid(x[i]);
                break;
            case TF_RWKV_RELU_SQUARED:
#pragma omp simd
                for (long i = i0; i < i1; i++) {
                    const float r = x[i] > 0 ? x[i] : 0.0f;
                    x[i] = r * r;
                }
                break;
            default:  // TF_RWKV_HALVE
#pragma omp simd
                for (long i = i0; i < i1; i++) x[i] *= 0.5f;
                break;
        }
    });
}

TF_API void tf_cpu_rwkv_wkv6(float* out, float* state, const float* r, const float* k, const float* v, const float* w,
                             const float* u, const float* ln_w, const float* ln_b, int tokens, int heads, int head_size,
                             float eps) {
    const int S = head_size;
    const long C = (long)heads * S;
    tf_parallel_ranges(heads, (long)tokens * C * S * 4, [&](long h0, long h1) {
        float d[TF_CPU_MAX_WKV_HEAD], y[TF_CPU_MAX_WKV_HEAD];
        for (long h = h0; h < h1; h++) {
            float* st = state + h * S * S;
            const float* uh = u + h * S;
            for (int t = 0; t < tokens; t++) {
                const long o = t * C + h * S;
                const float *rt = r + o, *kt = k + o, *vt = v + o, *wt = w + o;
                for (int j = 0; j < S; j++) d[j] = std::exp(-std::exp(wt[j]));
                // the bonus u of the current token is the same for every value row: sum_j r_j u_j k_j
                float ruk = 0;
                for (int j = 0; j < S; j++) ruk += rt[j] * uh[j] * kt[j];
                for (int i = 0; i < S; i++) {
                    float* row = st + (long)i * S;
                    const float vi = vt[i];
                    float acc = 0;
#pragma omp simd reduction(+ : acc)
                    for (int j = 0; j < S; j++) {
                        acc += rt[j] * row[j];
                        row[j] = row[j] * d[j] + kt[j] * vi;
                    }
                    y[i] = acc + ruk * vi;
                }
                head_group_norm(out + o, y, ln_w + h * S, ln_b + h * S, S, eps);
            }
        }
    });
}

TF_API void tf_cpu_rwkv_wkv7(float* out, float* state, const float* r, const float* w, const float* k, const float* v,
                             const float* a, const float* v_first, const float* v_mix, const float* k_k, const float* k_a,
                             const float* r_k, const float* ln_w, const float* ln_b, int tokens, int heads, int head_size,
                             float eps) {
    const int S = head_size;
    const long C = (long)heads * S;
    tf_parallel_ranges(heads, (long)tokens * C * S * 6, [&](long h0, long h1) {
        float d[TF_CPU_MAX_WKV_HEAD], kk[TF_CPU_MAX_WKV_HEAD], kka[TF_CPU_MAX_WKV_HEAD], kp[TF_CPU_MAX_WKV_HEAD],
                vv[TF_CPU_MAX_WKV_HEAD], y[TF_CPU_MAX_WKV_HEAD];
        for (long h = h0; h < h1; h++) {
            float* st = state + h * S * S;
            const long p = h * S;  // the head's offset into the per-channel parameters
            for (int t = 0; t < tokens; t++) {
                const long o = t * C + p;
                const float *rt = r + o, *kt = k + o;
                float norm = 0;
                for (int j = 0; j < S; j++) {
                    d[j] = std::exp(-0.606531f * sigmoid(w[o + j]));
                    kk[j] = kt[j] * k_k[p + j];
                    norm += kk[j] * kk[j];
                }
                const float inv = 1.0f / std::fmax(std::sqrt(norm), 1e-12f);
                float bonus = 0;
                for (int j = 0; j < S; j++) {
                    const float aj = sigmoid(a[o + j]);
                    kk[j] *= inv;
                    kka[j] = kk[j] * aj;
                    kp[j] = kt[j] * (1.0f + (aj - 1.0f) * k_a[p + j]);
                    bonus += rt[j] * kp[j] * r_k[p + j];
                }
                for (int i = 0; i < S; i++) {
                    const float vi = v[o + i];
                    vv[i] = v_first ? vi + (v_first[o + i] - vi) * sigmoid(v_mix[o + i]) : vi;
                }
                for (int i = 0; i < S; i++) {
                    float* row = st + (long)i * S;
                    float sa = 0;
#pragma omp simd reduction(+ : sa)
                    for (int j = 0; j < S; j++) sa -= kk[j] * row[j];
                    const float vi = vv[i];
                    float acc = 0;
#pragma omp simd reduction(+ : acc)
                    for (int j = 0; j < S; j++) {
                        row[j] = row[j] * d[j] + kp[j] * vi + sa * kka[j];
                        acc += row[j] * rt[j];
                    }
                    y[i] = acc;
                }
                head_group_norm(out + o, y, ln_w + p, ln_b + p, S, eps);
                for (int i = 0; i < S; i++) out[o + i] += bonus * vv[i];
            }
        }
    });
}
