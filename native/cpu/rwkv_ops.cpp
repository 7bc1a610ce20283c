/*
 * rwkv_ops.cpp: the RWKV ops of libtransfuse_cpu (transfuse.h, section 1): token shift, token mix (lerp),
 * pointwise activations and the WKV recurrences of RWKV-6 "Finch" and RWKV-7 "Goose", each with the per-head
 * group norm (ln_x) fused, as llama.cpp's rwkv6/rwkv7 graphs compute them (src/models/rwkv6-base.cpp,
 * rwkv7-base.cpp; ggml_rwkv_wkv6/wkv7).
 *
 * Work split: the WKV heads are independent (each owns its [S][S] state), so the WKV ops hand out ranges of heads to
 * the per-ISA loops of rwkv.inc (decode: the one-step recurrence; RWKV-6 prefill: the chunked form; RWKV-7: the
 * recurrence, token by token). The elementwise ops hand out rows; they move a few bytes per FLOP and stay at
 * baseline flags.
 */
#include "cpu_internal.h"
#include "parallel.h"

#include <cmath>

#define TF_API extern "C" __attribute__((visibility("default")))

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

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
    const tf_kernels& kern = tf_kernels_active();
    const tf_wkv6_args a{out, state, r, k, v, w, u, ln_w, ln_b, tokens, heads, head_size, eps};
    tf_parallel_ranges(heads, (long)tokens * heads * head_size * head_size * 4, [&](long h0, long h1) {
        kern.wkv6_heads(&a, (int)h0, (int)h1);
    });
}

TF_API void tf_cpu_rwkv_wkv7(float* out, float* state, const float* r, const float* w, const float* k, const float* v,
                             const float* a, const float* v_first, const float* v_mix, const float* k_k, const float* k_a,
                             const float* r_k, const float* ln_w, const float* ln_b, int tokens, int heads, int head_size,
                             float eps) {
    const tf_kernels& kern = tf_kernels_active();
    const tf_wkv7_args args{out, state, r, w, k, v, a, v_first, v_mix, k_k, k_a, r_k, ln_w, ln_b, tokens, heads, head_size, eps};
    tf_parallel_ranges(heads, (long)tokens * heads * head_size * head_size * 6, [&](long h0, long h1) {
        kern.wkv7_heads(&args, (int)h0, (int)h1);
    });
}
