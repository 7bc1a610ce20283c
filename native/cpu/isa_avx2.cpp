/* The AVX2 + FMA + F16C kernels: 8 floats per vector, 16 registers. See isa_kernels.inc. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <utility>

#include "cpu_internal.h"
#include "parallel.h"

namespace {

struct V {
    typedef __m256 f;
    static constexpr int W = 8;
    static inline f zero() { return _mm256_setzero_ps(); }
    static inline f set1(float a) { return _mm256_set1_ps(a); }
    static inline f load(const float* p) { return _mm256_loadu_ps(p); }
    static inline void store(float* p, f v) { _mm256_storeu_ps(p, v); }
    static inline f load_part(const float* p, int n) {
        const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx));
    }
    static inline f add(f a, f b) { return _mm256_add_ps(a, b); }
    static inline f mul(f a, f b) { return _mm256_mul_ps(a, b); }
    static inline f fma(f a, f b, f c) { return _mm256_fmadd_ps(a, b, c); }
    static inline f vmin(f a, f b) { return _mm256_min_ps(a, b); }
    static inline f vmax(f a, f b) { return _mm256_max_ps(a, b); }
    static inline f sub(f a, f b) { return _mm256_sub_ps(a, b); }
    static inline f div(f a, f b) { return _mm256_div_ps(a, b); }
    static inline f roundn(f a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static inline f pow2i(f n) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
    }
    static inline float hsum(f a) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
    static inline f ld_f16(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
    static inline void st_f16(uint16_t* p, f v) { _mm_storeu_si128((__m128i*)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }
    static inline f ld_bf16(const uint8_t* p) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
    }
    /* Integer Q8_0/Q4_0 path (matmul.inc): one 32-element block per group. vpmaddubsw
     * multiplies unsigned by signed bytes into int16 pair sums, vpmaddwd with ones widens them to
     * int32. Q8_0: |w| times x negated where w < 0 (vpsignb; a pair sum <= 2 * 128 * 127 = 32512
     * fits int16). Q4_0: the nibbles q = w + 8 (unsigned) times x, then - 8 * sum(q_x) (corr). */
    static constexpr int QB = 1;
    struct QG { int8_t q[32]; float d; int32_t corr; };
    struct QX { __m256i q; f dx; __m256i corr; };
    struct QW { __m256i v; __m256i sgn; };
    static inline QX qx(const QG& g) {
        return QX{_mm256_loadu_si256((const __m256i*)g.q), _mm256_set1_ps(g.d),
                  _mm256_zextsi128_si256(_mm_cvtsi32_si128(g.corr))};
    }
    static void quantize(const float* x, int nb, QG* out, int type) {
        const f sign = _mm256_set1_ps(-0.0f);
        for (int b = 0; b < nb; b++) {
            const float* p = x + 32 * b;
            const f a0 = _mm256_loadu_ps(p), a1 = _mm256_loadu_ps(p + 8), a2 = _mm256_loadu_ps(p + 16),
                    a3 = _mm256_loadu_ps(p + 24);
            const f m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, a0), _mm256_andnot_ps(sign, a1)),
                                      _mm256_max_ps(_mm256_andnot_ps(sign, a2), _mm256_andnot_ps(sign, a3)));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_movehdup_ps(h));
            const float amax = _mm_cvtss_f32(h);
            const f id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
            const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(a0, id)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(a1, id)),
                          i2 = _mm256_cvtps_epi32(_mm256_mul_ps(a2, id)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(a3, id));
            /* packs work per 128-bit lane: the dwords come out as 0 4 1 5 2 6 3 7 */
            const __m256i q = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            _mm256_storeu_si256((__m256i*)out[b].q,
                                _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
            const __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
            __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
            out[b].d = amax / 127.0f;
            out[b].corr = type == TF_Q8_0 ? 0 : -8 * _mm_cvtsi128_si32(t);
        }
    }
    template <int T> static inline QW qw(const uint8_t* row, int g, int) {
        if (T == TF_Q8_0) {
            const __m256i w = _mm256_loadu_si256((const __m256i*)(row + (long)g * TF_Q8_0_BYTES + 2));
            return QW{_mm256_abs_epi8(w), w};
        }
        const __m128i b = _mm_loadu_si128((const __m128i*)(row + (long)g * TF_Q4_0_BYTES + 2));
        const __m128i m = _mm_set1_epi8(0x0F);
        const __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
        return QW{v, v};
    }
    template <int T> static inline f qd(const uint8_t* row, int g, int) {
        return _mm256_set1_ps(_cvtsh_ss(tf_load_u16(row + (long)g * (T == TF_Q8_0 ? TF_Q8_0_BYTES : TF_Q4_0_BYTES))));
    }
    template <int T> static inline f qfma(const QW& w, const QX& x, f dw, f acc) {
        const __m256i xs = T == TF_Q8_0 ? _mm256_sign_epi8(x.q, w.sgn) : x.q;
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w.v, xs), _mm256_set1_epi16(1));
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(p, x.corr)), _mm256_mul_ps(dw, x.dx), acc);
    }
    static inline f q8(const uint8_t* qs, int v, f d) {
        __m128i b = _mm_loadl_epi64((const __m128i*)(qs + 8 * v));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d);
    }
    static inline f q4(const uint8_t* qs, int v, f d) {
        /* v = 0, 1: low nibbles of bytes 0-7, 8-15; v = 2, 3: high nibbles of the same. */
        __m128i b = _mm_loadl_epi64((const __m128i*)(qs + 8 * (v & 1)));
        if (v >= 2) b = _mm_srli_epi16(b, 4);
        b = _mm_and_si128(b, _mm_set1_epi8(0x0F));
        __m256i i = _mm256_sub_epi32(_mm256_cvtepu8_epi32(b), _mm256_set1_epi32(8));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(i), d);
    }
    /* K-quant dot (kquant.inc): acc + dD * sum_g sc[g] sum_{i in g} q[i] x[i] - dM * sum_g mn[g] bsum[g], the
     * 16 groups g of 16 elements spread over the lanes (reduced once per row, not per super-block).
     * vpmaddubsw pairs unsigned q (<= 63) with signed x (|x| <= 127): |pair| <= 16002, no saturation;
     * vpmaddwd then weighs each pair by its group's scale (low 128 bits group 2c, high 2c + 1). */
    static inline f kdot(const uint8_t* q, const int8_t* x, const int16_t* sc, const int16_t* mn, const int16_t* bsum,
                         float dD, float dM, f acc) {
        __m256i ia = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            const __m256i p = _mm256_maddubs_epi16(_mm256_load_si256((const __m256i*)(q + 32 * c)),
                                                   _mm256_load_si256((const __m256i*)(x + 32 * c)));
            const __m256i s = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(sc[2 * c])),
                                                      _mm_set1_epi16(sc[2 * c + 1]), 1);
            ia = _mm256_add_epi32(ia, _mm256_madd_epi16(p, s));
        }
        const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)mn), _mm256_loadu_si256((const __m256i*)bsum));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dD), _mm256_cvtepi32_ps(ia), acc);
        return _mm256_fnmadd_ps(_mm256_set1_ps(dM), _mm256_cvtepi32_ps(ms), acc);
    }
};
constexpr int RB = 2, TB = 4;
constexpr int QRB = 2, QTB = 4;

}  // namespace

#define TF_ISA_NAME "avx2"
#define TF_ISA_TABLE tf_kernels_avx2
#include "isa_kernels.inc"
