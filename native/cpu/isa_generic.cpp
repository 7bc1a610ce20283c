/* The baseline x86-64 kernels (SSE2 only: no FMA, no F16C): 4 floats per vector. Slow on purpose
 * nowhere, but written for correctness first: this is what runs on CPUs without AVX2. */
#include <emmintrin.h>
#include <math.h>
#include <stdlib.h>
#include <utility>

#include "cpu_internal.h"
#include "parallel.h"

namespace {

struct V {
    typedef __m128 f;
    static constexpr int W = 4;
    static inline f zero() { return _mm_setzero_ps(); }
    static inline f set1(float a) { return _mm_set1_ps(a); }
    static inline f load(const float* p) { return _mm_loadu_ps(p); }
    static inline void store(float* p, f v) { _mm_storeu_ps(p, v); }
    static inline f load_part(const float* p, int n) {
        float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int i = 0; i < n; i++) t[i] = p[i];
        return _mm_loadu_ps(t);
    }
    static inline f add(f a, f b) { return _mm_add_ps(a, b); }
    static inline f mul(f a, f b) { return _mm_mul_ps(a, b); }
    static inline f fma(f a, f b, f c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
    static inline f vmin(f a, f b) { return _mm_min_ps(a, b); }
    static inline f vmax(f a, f b) { return _mm_max_ps(a, b); }
    static inline f sub(f a, f b) { return _mm_sub_ps(a, b); }
    static inline f div(f a, f b) { return _mm_div_ps(a, b); }
    /* cvtps2dq rounds to nearest even (the default MXCSR mode); |a| < 2^31 here */
    static inline f roundn(f a) { return _mm_cvtepi32_ps(_mm_cvtps_epi32(a)); }
    static inline f pow2i(f n) {
        return _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(_mm_cvtps_epi32(n), _mm_set1_epi32(127)), 23));
    }
    static inline float hsum(f a) {
        __m128 s = _mm_add_ps(a, _mm_movehl_ps(a, a));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        return _mm_cvtss_f32(s);
    }
    static inline float h2f(uint16_t h) { return tf_f16_to_f32(h); }
    /* Four halves widened with SSE2 integer ops (the F16 KV cache is read through this: four scalar
     * conversions made decode 4x slower than an F32 cache). The half's exponent and mantissa shifted
     * into a float's place, times 2^112, is the value for normal and subnormal halves alike (a subnormal
     * half lands on a float subnormal, scaled exactly); exponent 31 (infinity, NaN) gets the float's all-ones
     * exponent instead; then the sign. Same results as tf_f16_to_f32. */
    static inline f ld_f16(const uint8_t* p) {
        const __m128i h = _mm_unpacklo_epi16(_mm_loadl_epi64((const __m128i*)p), _mm_setzero_si128());
        const __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7FFF));
        const __m128i sign = _mm_slli_epi32(_mm_xor_si128(h, em), 16);
        const __m128i shifted = _mm_slli_epi32(em, 13);
        const __m128 finite = _mm_mul_ps(_mm_castsi128_ps(shifted), _mm_castsi128_ps(_mm_set1_epi32(0x77800000)));
        const __m128i special = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7BFF));
        const __m128i infnan = _mm_or_si128(shifted, _mm_set1_epi32(0x7F800000));
        const __m128i bits = _mm_or_si128(_mm_and_si128(special, infnan), _mm_andnot_si128(special, _mm_castps_si128(finite)));
        return _mm_castsi128_ps(_mm_or_si128(bits, sign));
    }
    static inline f ld_bf16(const uint8_t* p) {
        return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), _mm_loadl_epi64((const __m128i*)p)));
    }
    /* W floats rounded to halves (nearest even) at p: the KV cache's store (no F16C here) */
    static inline void st_f16(uint16_t* p, f v) {
        float t[4];
        _mm_storeu_ps(t, v);
        for (int i = 0; i < 4; i++) p[i] = tf_f32_to_f16(t[i]);
    }
    static inline __m128i load4(const uint8_t* p) {
        int v;
        memcpy(&v, p, 4);
        return _mm_cvtsi32_si128(v);
    }
    /* Integer Q8_0/Q4_0 path (matmul.inc), plain C: one block per group, the weights
     * widened to signed bytes (Q4_0: q - 8), an int32 dot product, its f32 result in lane 0. */
    static constexpr int QB = 1;
    struct QG { int8_t q[32]; float d; int32_t corr; };
    typedef const QG* QX;
    struct QW { int8_t v[32]; };
    static inline QX qx(const QG& g) { return &g; }
    static void quantize(const float* x, int nb, QG* out, int) {
        for (int b = 0; b < nb; b++) {
            const float* p = x + 32 * b;
            float amax = 0.0f;
            for (int i = 0; i < 32; i++) amax = fabsf(p[i]) > amax ? fabsf(p[i]) : amax;
            const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
            for (int i = 0; i < 32; i++) out[b].q[i] = (int8_t)lrintf(p[i] * id);
            out[b].d = amax / 127.0f;
            out[b].corr = 0;
        }
    }
    template <int T> static inline QW qw(const uint8_t* row, int g, int) {
        QW w;
        if (T == TF_Q8_0) {
            memcpy(w.v, row + (long)g * TF_Q8_0_BYTES + 2, 32);
        } else {
            const uint8_t* b = row + (long)g * TF_Q4_0_BYTES + 2;
            for (int j = 0; j < 16; j++) {
                w.v[j] = (int8_t)((b[j] & 0x0F) - 8);
                w.v[j + 16] = (int8_t)((b[j] >> 4) - 8);
            }
        }
        return w;
    }
    template <int T> static inline f qd(const uint8_t* row, int g, int) {
        return _mm_set_ss(tf_f16_to_f32(tf_load_u16(row + (long)g * (T == TF_Q8_0 ? TF_Q8_0_BYTES : TF_Q4_0_BYTES))));
    }
    template <int T> static inline f qfma(const QW& w, QX x, f dw, f acc) {
        int32_t s = 0;
        for (int i = 0; i < 32; i++) s += (int32_t)w.v[i] * x->q[i];
        return _mm_add_ss(acc, _mm_set_ss((float)s * (_mm_cvtss_f32(dw) * x->d)));
    }
    static inline f q8(const uint8_t* qs, int v, f d) {
        __m128i b = load4(qs + 4 * v);
        b = _mm_unpacklo_epi8(b, b);
        b = _mm_unpacklo_epi16(b, b);
        b = _mm_srai_epi32(b, 24); /* sign-extended int8 */
        return _mm_mul_ps(_mm_cvtepi32_ps(b), d);
    }
    static inline f q4(const uint8_t* qs, int v, f d) {
        /* v = 0..3: low nibbles of bytes 4v..4v+3; v = 4..7: high nibbles of bytes 4(v-4).. */
        __m128i b = load4(qs + 4 * (v & 3));
        if (v >= 4) b = _mm_srli_epi16(b, 4);
        b = _mm_and_si128(b, _mm_set1_epi8(0x0F));
        b = _mm_unpacklo_epi8(b, _mm_setzero_si128());
        b = _mm_unpacklo_epi16(b, _mm_setzero_si128());
        b = _mm_sub_epi32(b, _mm_set1_epi32(8));
        return _mm_mul_ps(_mm_cvtepi32_ps(b), d);
    }
    /* K-quant dot (kquant.inc): acc + dD * sum_g sc[g] sum_{i in g} q[i] x[i] - dM * sum_g mn[g] bsum[g]
     * (the 16 groups g of 16 elements; scalar, added to lane 0). */
    static inline f kdot(const uint8_t* q, const int8_t* x, const int16_t* sc, const int16_t* mn, const int16_t* bsum,
                         float dD, float dM, f acc) {
        int32_t is = 0, ms = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int i = 0; i < 16; i++) s += (int32_t)q[16 * g + i] * x[16 * g + i];
            is += s * sc[g];
            ms += (int32_t)mn[g] * bsum[g];
        }
        return _mm_add_ps(acc, _mm_set_ss(dD * (float)is - dM * (float)ms));
    }
};
constexpr int RB = 2, TB = 4;
constexpr int QRB = 2, QTB = 4;

}  // namespace

#define TF_ISA_NAME "generic"
#define TF_ISA_TABLE tf_kernels_generic
#include "isa_kernels.inc"
