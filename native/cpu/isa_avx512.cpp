/* The AVX-512 kernels (F, BW, DQ, VL): 16 floats per vector, 32 registers. See isa_kernels.inc.
 * Compiled twice: here without VNNI (table "avx512"), and by isa_avx512_vnni.cpp with TF_VNNI
 * defined and -mavx512vnni (table "avx512-vnni"); only the Q8_0/Q4_0 dot product differs. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <utility>

#include "cpu_internal.h"
#include "parallel.h"

namespace {

struct V {
    typedef __m512 f;
    static constexpr int W = 16;
    static inline f zero() { return _mm512_setzero_ps(); }
    static inline f set1(float a) { return _mm512_set1_ps(a); }
    static inline f load(const float* p) { return _mm512_loadu_ps(p); }
    static inline void store(float* p, f v) { _mm512_storeu_ps(p, v); }
    static inline f load_part(const float* p, int n) { return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p); }
    static inline f add(f a, f b) { return _mm512_add_ps(a, b); }
    static inline f mul(f a, f b) { return _mm512_mul_ps(a, b); }
    static inline f fma(f a, f b, f c) { return _mm512_fmadd_ps(a, b, c); }
    static inline f vmin(f a, f b) { return _mm512_min_ps(a, b); }
    static inline f vmax(f a, f b) { return _mm512_max_ps(a, b); }
    static inline f sub(f a, f b) { return _mm512_sub_ps(a, b); }
    static inline f div(f a, f b) { return _mm512_div_ps(a, b); }
    static inline f roundn(f a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static inline f pow2i(f n) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
    }
    static inline float hsum(f a) {
        __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
    static inline f ld_f16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }
    static inline void st_f16(uint16_t* p, f v) { _mm256_storeu_si256((__m256i*)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }
    static inline f ld_bf16(const uint8_t* p) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
    }
    /* Integer Q8_0/Q4_0 path (matmul.inc): a group is two 32-element blocks, one per 256-bit
     * half of a zmm. With VNNI, vpdpbusd multiplies unsigned weight bytes by signed x bytes and
     * adds groups of 4 into int32 lanes (no saturation): Q8_0 weights are made unsigned by
     * flipping the sign bit (w + 128), Q4_0 nibbles are unsigned already (q = w + 8); the excess,
     * 128 (or 8) * sum(q_x) per block, is subtracted by starting the int32 sum at -that (lanes 0
     * and 8 of corr). Without VNNI, vpmaddubsw + vpmaddwd: Q8_0 uses |w| and x negated where
     * w < 0 (|w| <= 128, |x| <= 127: a pair sum <= 32512 fits int16), Q4_0 as above. */
    static constexpr int QB = 2;
    struct alignas(64) QG { int8_t q[64]; float dx[16]; int32_t corr[16]; };
    struct QX { __m512i q; f dx; __m512i corr; };
#ifdef TF_VNNI
    struct QW { __m512i v; };
#else
    struct QW { __m512i v; __mmask64 neg; };
#endif
    static inline QX qx(const QG& g) {
        return QX{_mm512_load_si512(g.q), _mm512_load_ps(g.dx), _mm512_load_si512(g.corr)};
    }
    static void quantize(const float* x, int nb, QG* out, int type) {
        for (int g = 0; g < (nb + 1) / 2; g++) {
            QG& o = out[g];
            for (int h = 0; h < 2; h++) {
                const int b = 2 * g + h;
                float d = 0.0f;
                int32_t corr = 0;
                if (b < nb) {
                    const f a0 = _mm512_loadu_ps(x + 32 * b), a1 = _mm512_loadu_ps(x + 32 * b + 16);
                    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1)));
                    d = amax / 127.0f;
                    const f id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
                    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(a0, id));
                    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(a1, id));
                    _mm_store_si128((__m128i*)(o.q + 32 * h), _mm512_cvtepi32_epi8(i0));
                    _mm_store_si128((__m128i*)(o.q + 32 * h + 16), _mm512_cvtepi32_epi8(i1));
                    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
#ifdef TF_VNNI
                    corr = type == TF_Q8_0 ? -128 * sum : -8 * sum;
#else
                    corr = type == TF_Q8_0 ? 0 : -8 * sum;
#endif
                } else {
                    _mm256_store_si256((__m256i*)(o.q + 32 * h), _mm256_setzero_si256());
                }
                for (int i = 0; i < 8; i++) {
                    o.dx[8 * h + i] = d;
                    o.corr[8 * h + i] = i == 0 ? corr : 0;
                }
            }
        }
    }
    template <int T> static inline QW qw(const uint8_t* row, int g, int nb) {
        const bool two = 2 * g + 1 < nb;
        if (T == TF_Q8_0) {
            const uint8_t* a = row + (long)2 * g * TF_Q8_0_BYTES + 2;
            const __m256i lo = _mm256_loadu_si256((const __m256i*)a);
            const __m256i hi = two ? _mm256_loadu_si256((const __m256i*)(a + TF_Q8_0_BYTES)) : _mm256_setzero_si256();
            const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
#ifdef TF_VNNI
            return QW{_mm512_xor_si512(z, _mm512_set1_epi8((char)0x80))};
#else
            return QW{_mm512_abs_epi8(z), _mm512_movepi8_mask(z)};
#endif
        } else {
            const uint8_t* a = row + (long)2 * g * TF_Q4_0_BYTES + 2;
            const __m128i ba = _mm_loadu_si128((const __m128i*)a);
            const __m128i bb = two ? _mm_loadu_si128((const __m128i*)(a + TF_Q4_0_BYTES)) : _mm_setzero_si128();
            const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(ba), bb, 1);
            const __m256i m = _mm256_set1_epi8(0x0F);
            const __m256i lo = _mm256_and_si256(v, m), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
            /* [loA loB hiA hiB] -> [loA hiA loB hiB]: block A's elements 0-15, 16-31, then block B's */
            const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
#ifdef TF_VNNI
            return QW{_mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0))};
#else
            return QW{_mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)), 0};
#endif
        }
    }
    template <int T> static inline f qd(const uint8_t* row, int g, int nb) {
        const long bytes = T == TF_Q8_0 ? TF_Q8_0_BYTES : TF_Q4_0_BYTES;
        const uint8_t* a = row + 2 * g * bytes;
        const short da = (short)tf_load_u16(a), db = 2 * g + 1 < nb ? (short)tf_load_u16(a + bytes) : 0;
        return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(da)), _mm_set1_epi16(db), 1));
    }
    template <int T> static inline f qfma(const QW& w, const QX& x, f dw, f acc) {
#ifdef TF_VNNI
        const __m512i i = _mm512_dpbusd_epi32(x.corr, w.v, x.q);
#else
        const __m512i xs = T == TF_Q8_0 ? _mm512_mask_sub_epi8(x.q, w.neg, _mm512_setzero_si512(), x.q) : x.q;
        const __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(w.v, xs), _mm512_set1_epi16(1));
        const __m512i i = _mm512_add_epi32(p, x.corr);
#endif
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(dw, x.dx), acc);
    }
    static inline f q8(const uint8_t* qs, int v, f d) {
        __m128i b = _mm_loadu_si128((const __m128i*)(qs + 16 * v));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), d);
    }
    static inline f q4(const uint8_t* qs, int v, f d) {
        __m128i b = _mm_loadu_si128((const __m128i*)qs);
        if (v) b = _mm_srli_epi16(b, 4);
        b = _mm_and_si128(b, _mm_set1_epi8(0x0F));
        __m512i i = _mm512_sub_epi32(_mm512_cvtepu8_epi32(b), _mm512_set1_epi32(8));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(i), d);
    }
    /* K-quant dot (kquant.inc): acc + dD * sum_g sc[g] sum_{i in g} q[i] x[i] - dM * sum_g mn[g] bsum[g], the
     * 16 groups g of 16 elements spread over the lanes (reduced once per row, not per super-block).
     * vpmaddubsw pairs unsigned q (<= 63) with signed x (|x| <= 127): |pair| <= 16002, no saturation;
     * each 128-bit lane is one group, weighed by its scale (vpermw spreads 4 scales over the lanes) in
     * vpmaddwd, or with VNNI in vpdpwssd (multiply, add pairs and accumulate in one instruction). */
    static inline f kdot(const uint8_t* q, const int8_t* x, const int16_t* sc, const int16_t* mn, const int16_t* bsum,
                         float dD, float dM, f acc) {
        const __m512i idx0 = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                              1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        const __m512i scv = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)sc));
        __m512i ia = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const __m512i p = _mm512_maddubs_epi16(_mm512_load_si512(q + 64 * c), _mm512_load_si512(x + 64 * c));
            const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(idx0, _mm512_set1_epi16((short)(4 * c))), scv);
#ifdef TF_VNNI
            ia = _mm512_dpwssd_epi32(ia, p, s);
#else
            ia = _mm512_add_epi32(ia, _mm512_madd_epi16(p, s));
#endif
        }
        const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)mn), _mm256_loadu_si256((const __m256i*)bsum));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(dD), _mm512_cvtepi32_ps(ia), acc);
        return _mm512_fnmadd_ps(_mm512_set1_ps(dM), _mm512_cvtepi32_ps(_mm512_castsi256_si512(ms)), acc);
    }
};
constexpr int RB = 4, TB = 4;
constexpr int QRB = 4, QTB = 4;

}  // namespace

#ifdef TF_VNNI
#define TF_ISA_NAME "avx512-vnni"
#define TF_ISA_TABLE tf_kernels_avx512_vnni
#else
#define TF_ISA_NAME "avx512"
#define TF_ISA_TABLE tf_kernels_avx512
#endif
#include "isa_kernels.inc"
