/*
 * encoder_ops.cpp: the ops that bidirectional encoders (BERT-family text encoders, ViT) need beyond
 * the decoder set of ops.cpp: LayerNorm (with optional fused bias and residual adds), bias add per row,
 * GELU (erf form, optionally after a fused bias add) and non-causal multi-head attention over a padded batch. See transfuse.h, section 1.
 *
 * Vectorisation: each op's loop body is an always_inline function, stamped out three times by
 * thin wrappers compiled for generic x86-64, AVX2+FMA and AVX-512 (function target attributes:
 * an always_inline callee is compiled into its caller with the caller's target, so the same plain
 * loops come out as SSE2, AVX2 or AVX-512 code). The wrapper is picked from tf_cpu_get_isa(), so
 * TRANSFUSE_CPU_ISA and tf_cpu_set_isa apply here too. The OpenMP regions live in the baseline
 * dispatchers and call the per-ISA bodies on ranges of rows.
 *
 * GELU needs erf and exp in vectorisable form (libm's erff/expf are scalar calls): exp is the usual
 * 2^n * p(r) range reduction with a degree-6 polynomial (relative error ~2e-7 on float), erf is
 * Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), so GELU is within ~1e-7 * |x| of exact.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "cpu_internal.h"
#include "transfuse.h"

#define TF_API extern "C" __attribute__((visibility("default")))
#define TF_BODY static inline __attribute__((always_inline))
#define TF_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TF_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,prefer-vector-width=512")))

namespace {

/* Work (roughly: element operations) below which an op stays on the calling thread: an OpenMP
 * region costs microseconds. (Own constant: this file does not depend on the matmul units' header.) */
enum { ENC_PARALLEL_MIN_WORK = 1 << 16 };

/* ---- loop bodies (compiled once per ISA through the wrappers below) -------------------------- */

/* out[t] = (y - mean) / sqrt(var + eps) * w + b with y = x[t] (+ xb) (+ res[t]), rows [t0, t1).
 * Float sums, vectorised; dim <= a few thousand keeps the error near 1e-6 relative. */
TF_BODY void layernorm_body(float* out, const float* x, const float* xb, const float* res, const float* w, const float* b,
                            long t0, long t1, int dim, float eps) {
    for (long t = t0; t < t1; t++) {
        const float* xr = x + t * dim;
        float* o = out + t * dim;
        if (res || xb) {
            const float* rr = res ? res + t * dim : nullptr;
            if (rr && xb) {
#pragma omp simd
                for (int i = 0; i < dim; i++) o[i] = xr[i] + xb[i] + rr[i];
            } else if (rr) {
#pragma omp simd
                for (int i = 0; i < dim; i++) o[i] = xr[i] + rr[i];
            } else {
#pragma omp simd
                for (int i = 0; i < dim; i++) o[i] = xr[i] + xb[i];
            }
            xr = o;
        }
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < dim; i++) s += xr[i];
        const float mean = s / dim;
        float v = 0;
#pragma omp simd reduction(+ : v)
        for (int i = 0; i < dim; i++) {
            const float d = xr[i] - mean;
            v += d * d;
        }
        const float r = 1.0f / sqrtf(v / dim + eps);
#pragma omp simd
        for (int i = 0; i < dim; i++) o[i] = (xr[i] - mean) * r * w[i] + b[i];
    }
}

/* x[r][c] += bias[c] over rows [r0, r1), columns [c0, c1); rows `stride` floats apart. */
TF_BODY void add_bias_body(float* x, long stride, const float* bias, long r0, long r1, int c0, int c1) {
    for (long r = r0; r < r1; r++) {
        float* row = x + r * stride;
#pragma omp simd
        for (int i = c0; i < c1; i++) row[i] += bias[i];
    }
}

/* exp(x) for x <= 0 (down to -87, below which it returns ~0): 2^n * p(r), |r| <= ln2/2. */
TF_BODY float exp_neg(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round to nearest */
    const float r = (x - n * 0.693145752f) - n * 1.42860677e-6f;   /* ln2 split hi/lo */
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

/* GELU of one value: v * 0.5 * (1 + erf(v / sqrt(2))), erf by Abramowitz & Stegun 7.1.26. */
TF_BODY float gelu1(float v) {
    const float z = fabsf(v) * 0.70710678f;
    const float t = 1.0f / (1.0f + 0.3275911f * z);
    const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    const float e = 1.0f - poly * exp_neg(-z * z); /* erf(|v| / sqrt 2) */
    return 0.5f * v * (1.0f + (v < 0 ? -e : e));
}

TF_BODY void gelu_body(float* x, long i0, long i1) {
#pragma omp simd
    for (long i = i0; i < i1; i++) x[i] = gelu1(x[i]);
}

/* x[r][c] = gelu(x[r][c] + bias[c]) over rows [r0, r1), columns [c0, c1); rows `stride` floats apart. */
TF_BODY void bias_gelu_body(float* x, long stride, const float* bias, long r0, long r1, int c0, int c1) {
    for (long r = r0; r < r1; r++) {
        float* row = x + r * stride;
#pragma omp simd
        for (int i = c0; i < c1; i++) row[i] = gelu1(row[i] + bias[i]);
    }
}

struct AttnArgs {
    float* out;
    const float *q, *k, *v;
    const int32_t* lengths;
    int seq_len, heads, head_dim, stride;
    float scale;
};

/* The blocked path (below) needs K^T of one (sequence, head) in kt: head_dim * ldk <= KT_FLOATS
 * (128 KiB; MiniLM 32 x 512, BERT-base 64 x 512), and QB * ldk <= the scores scratch
 * (TF_CPU_MAX_ENCODER_SEQ floats). Longer or wider heads take the per-pair dot-product path. */
enum { KT_FLOATS = 32768, QB = 4, KB = 16 };

/* Softmax of the first len scores in place; returns 1 / sum (the caller scales the output). */
TF_BODY float softmax_unnormalised(float* s, int len) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int j = 0; j < len; j++) m = s[j] > m ? s[j] : m;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < len; j++) {
        s[j] = exp_neg(s[j] - m);
        sum += s[j];
    }
    return 1.0f / sum;
}

/* One (sequence, head), blocked so that accumulators stay in registers: QB query rows at a time,
 * scores for KB keys per block as QB x KB accumulators over d (K^T rows are contiguous), then the
 * output as QB x KB accumulators over keys for each KB-wide slice of head_dim. Independent
 * accumulators hide FMA latency; no read-modify-write of memory in the inner loops. */
TF_BODY void attention_head_blocked(const AttnArgs& a, long row0, int h, int len, float* S, float* kt) {
    const int hd = a.head_dim, out_stride = a.heads * hd, ldk = (len + KB - 1) / KB * KB;
    for (int j = 0; j < ldk; j++) {
        if (j < len) {
            const float* kj = a.k + (row0 + j) * a.stride + (long)h * hd;
            for (int d = 0; d < hd; d++) kt[(long)d * ldk + j] = kj[d];
        } else {
            for (int d = 0; d < hd; d++) kt[(long)d * ldk + j] = 0;
        }
    }
    for (int i0 = 0; i0 < len; i0 += QB) {
        const int nr = len - i0 < QB ? len - i0 : QB;
        const float* qr[QB];
        for (int r = 0; r < QB; r++) qr[r] = a.q + (row0 + i0 + (r < nr ? r : 0)) * a.stride + (long)h * hd;
        for (int jb = 0; jb < ldk; jb += KB) {
            float acc[QB][KB] = {};
            for (int d = 0; d < hd; d++) {
                const float* kd = kt + (long)d * ldk + jb;
#pragma GCC unroll 4
                for (int r = 0; r < QB; r++) {
                    const float qv = qr[r][d];
#pragma omp simd
                    for (int x = 0; x < KB; x++) acc[r][x] += qv * kd[x];
                }
            }
#pragma GCC unroll 4
            for (int r = 0; r < QB; r++) {
#pragma omp simd
                for (int x = 0; x < KB; x++) S[r * ldk + jb + x] = acc[r][x] * a.scale;
            }
        }
        float inv[QB];
        for (int r = 0; r < QB; r++) inv[r] = r < nr ? softmax_unnormalised(S + r * ldk, len) : 0.0f;
        int db = 0;
        for (; db + KB <= hd; db += KB) {
            float o[QB][KB] = {};
            for (int j = 0; j < len; j++) {
                const float* vj = a.v + (row0 + j) * a.stride + (long)h * hd + db;
#pragma GCC unroll 4
                for (int r = 0; r < QB; r++) {
                    const float p = S[r * ldk + j];
#pragma omp simd
                    for (int x = 0; x < KB; x++) o[r][x] += p * vj[x];
                }
            }
            for (int r = 0; r < nr; r++) {
                float* out = a.out + (row0 + i0 + r) * out_stride + (long)h * hd + db;
#pragma omp simd
                for (int x = 0; x < KB; x++) out[x] = o[r][x] * inv[r];
            }
        }
        for (int r = 0; r < nr && db < hd; r++) { /* head_dim % KB: the last columns one by one */
            float* out = a.out + (row0 + i0 + r) * out_stride + (long)h * hd;
            for (int d = db; d < hd; d++) {
                float acc = 0;
                for (int j = 0; j < len; j++) acc += S[r * ldk + j] * a.v[(row0 + j) * a.stride + (long)h * hd + d];
                out[d] = acc * inv[r];
            }
        }
    }
}

/* One (sequence, head) for long sequences or wide heads: a dot product per (query, key) pair. */
TF_BODY void attention_head_pairs(const AttnArgs& a, long row0, int h, int len, float* scores) {
    const int hd = a.head_dim, out_stride = a.heads * hd;
    for (int i = 0; i < len; i++) {
        float* o = a.out + (row0 + i) * out_stride + (long)h * hd;
        const float* qi = a.q + (row0 + i) * a.stride + (long)h * hd;
        for (int j = 0; j < len; j++) {
            const float* kj = a.k + (row0 + j) * a.stride + (long)h * hd;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int d = 0; d < hd; d++) s += qi[d] * kj[d];
            scores[j] = s * a.scale;
        }
        const float inv = softmax_unnormalised(scores, len);
#pragma omp simd
        for (int d = 0; d < hd; d++) o[d] = 0;
        for (int j = 0; j < len; j++) {
            const float* vj = a.v + (row0 + j) * a.stride + (long)h * hd;
            const float p = scores[j] * inv;
#pragma omp simd
            for (int d = 0; d < hd; d++) o[d] += p * vj[d];
        }
    }
}

/* Work item w = (sequence b, head h): every query row of that head. Keys j >= len are masked;
 * query rows i >= len are zero. scores: TF_CPU_MAX_ENCODER_SEQ floats, kt: KT_FLOATS floats. */
TF_BODY void attention_body(const AttnArgs& a, long w0, long w1, float* scores, float* kt) {
    const int hd = a.head_dim, out_stride = a.heads * hd;
    for (long w = w0; w < w1; w++) {
        const int b = (int)(w / a.heads), h = (int)(w % a.heads);
        const int len = a.lengths[b];
        const long row0 = (long)b * a.seq_len;
        const long ldk = (len + KB - 1) / KB * KB;
        if (len > 0 && (long)hd * ldk <= KT_FLOATS && QB * ldk <= TF_CPU_MAX_ENCODER_SEQ) {
            attention_head_blocked(a, row0, h, len, scores, kt);
        } else if (len > 0) {
            attention_head_pairs(a, row0, h, len, scores);
        }
        for (int i = len; i < a.seq_len; i++) memset(a.out + (row0 + i) * out_stride + (long)h * hd, 0, (size_t)hd * 4);
    }
}

/* ---- per-ISA wrappers -------------------------------------------------------------------------- */

#define TF_STAMP(SUFFIX, ATTR)                                                                                    \
    ATTR void layernorm_##SUFFIX(float* out, const float* x, const float* xb, const float* res, const float* w,  \
                                 const float* b, long t0, long t1, int dim, float eps) {                         \
        layernorm_body(out, x, xb, res, w, b, t0, t1, dim, eps);                                                  \
    }                                                                                                             \
    ATTR void add_bias_##SUFFIX(float* x, long stride, const float* bias, long r0, long r1, int c0, int c1) {    \
        add_bias_body(x, stride, bias, r0, r1, c0, c1);                                                           \
    }                                                                                                             \
    ATTR void gelu_##SUFFIX(float* x, long i0, long i1) { gelu_body(x, i0, i1); }                                 \
    ATTR void bias_gelu_##SUFFIX(float* x, long stride, const float* bias, long r0, long r1, int c0, int c1) {   \
        bias_gelu_body(x, stride, bias, r0, r1, c0, c1);                                                          \
    }                                                                                                             \
    ATTR void attention_##SUFFIX(const AttnArgs& a, long w0, long w1, float* scores, float* kt) {                \
        attention_body(a, w0, w1, scores, kt);                                                                    \
    }

TF_STAMP(generic, )
TF_STAMP(avx2, TF_AVX2)
TF_STAMP(avx512, TF_AVX512)

struct EncoderKernels {
    void (*layernorm)(float*, const float*, const float*, const float*, const float*, const float*, long, long, int, float);
    /* (x, stride, bias, r0, r1, c0, c1): the shape of a tf_epilogue */
    void (*add_bias)(float*, long, const float*, long, long, int, int);
    void (*gelu)(float*, long, long);
    void (*bias_gelu)(float*, long, const float*, long, long, int, int);
    void (*attention)(const AttnArgs&, long, long, float*, float*);
};

const EncoderKernels K_GENERIC = {layernorm_generic, add_bias_generic, gelu_generic, bias_gelu_generic, attention_generic};
const EncoderKernels K_AVX2 = {layernorm_avx2, add_bias_avx2, gelu_avx2, bias_gelu_avx2, attention_avx2};
const EncoderKernels K_AVX512 = {layernorm_avx512, add_bias_avx512, gelu_avx512, bias_gelu_avx512, attention_avx512};

const EncoderKernels& kernels() {
    switch (tf_cpu_get_isa()) {
        case TF_CPU_ISA_AVX512: return K_AVX512;
        case TF_CPU_ISA_AVX2: return K_AVX2;
        default: return K_GENERIC;
    }
}

/* f(begin, end) over [0, n): on the calling thread when the work is small (an OpenMP region costs
 * microseconds), else split statically over tf_cpu_get_threads() threads. */
template <class F>
inline void for_range(long n, long work, F f) {
    const int threads = tf_cpu_get_threads();
    if (threads <= 1 || n < 2 || work < ENC_PARALLEL_MIN_WORK) {
        f(0L, n, 0);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const long nt = omp_get_num_threads(), id = omp_get_thread_num();
        const long per = n / nt, extra = n % nt;
        const long a = id * per + (id < extra ? id : extra);
        f(a, a + per + (id < extra ? 1 : 0), (int)id);
    }
}

}  // namespace

TF_API void tf_cpu_layernorm(float* out, const float* x, const float* x_bias, const float* residual, const float* weight,
                             const float* bias, int tokens, int dim, float eps) {
    const EncoderKernels& k = kernels();
    for_range(tokens, (long)tokens * dim * 4, [&](long a, long b, int) { k.layernorm(out, x, x_bias, residual, weight, bias, a, b, dim, eps); });
}

TF_API void tf_cpu_add_bias(float* x, const float* bias, int rows, int dim) {
    const EncoderKernels& k = kernels();
    for_range(rows, (long)rows * dim / 4, [&](long a, long b, int) { k.add_bias(x, dim, bias, a, b, 0, dim); });
}

TF_API void tf_cpu_gelu(float* x, long n) {
    const EncoderKernels& k = kernels();
    for_range(n, n * 8, [&](long a, long b, int) { k.gelu(x, a, b); });
}

TF_API void tf_cpu_bias_gelu(float* x, const float* bias, int rows, int dim) {
    const EncoderKernels& k = kernels();
    for_range(rows, (long)rows * dim * 8, [&](long a, long b, int) { k.bias_gelu(x, dim, bias, a, b, 0, dim); });
}

TF_API void tf_cpu_matmul_bias(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim, int out_dim,
                               const float* bias, int act) {
    const EncoderKernels& k = kernels();
    if (w_type == TF_CPU_F32_PANELS || w_type == TF_CPU_F32_AMX) {
        const tf_epilogue epi = {act == TF_CPU_ACT_GELU ? k.bias_gelu : k.add_bias, bias};
        tf_matmul_packed_epilogue(out, x, w, w_type, tokens, in_dim, out_dim, &epi);
        return;
    }
    tf_cpu_matmul(out, x, w, w_type, tokens, in_dim, out_dim);
    if (act == TF_CPU_ACT_GELU) tf_cpu_bias_gelu(out, bias, tokens, out_dim);
    else tf_cpu_add_bias(out, bias, tokens, out_dim);
}

TF_API void tf_cpu_attention_bidirectional(float* out, const float* q, const float* k, const float* v,
                                           const int32_t* lengths, int batch, int seq_len, int heads, int head_dim,
                                           int qkv_stride) {
    const EncoderKernels& kern = kernels();
    const AttnArgs a = {out, q, k, v, lengths, seq_len, heads, head_dim, qkv_stride, 1.0f / sqrtf((float)head_dim)};
    const long items = (long)batch * heads;
    const long work = items * seq_len * seq_len * head_dim * 2L;
    for_range(items, work, [&](long w0, long w1, int) {
        alignas(64) float scores[TF_CPU_MAX_ENCODER_SEQ];
        alignas(64) float kt[KT_FLOATS];
        kern.attention(a, w0, w1, scores, kt);
    });
}
