/* The AVX-512 kernels (F, BW, DQ, VL): 16 floats per vector, 32 registers. See simd_kernels.inc. */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <utility>

#include "cpu_internal.h"

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
    static inline f ld_bf16(const uint8_t* p) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
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
};
constexpr int RB = 4, TB = 4;

#include "simd_kernels.inc"

}  // namespace

extern const tf_kernels tf_kernels_avx512 = {"avx512", k_matmul, k_attention, k_silu_glu};
