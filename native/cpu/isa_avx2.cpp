/* The AVX2 + FMA + F16C kernels: 8 floats per vector, 16 registers. See simd_kernels.inc. */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <utility>

#include "cpu_internal.h"

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
    static inline f ld_bf16(const uint8_t* p) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
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
};
constexpr int RB = 2, TB = 4;

#include "simd_kernels.inc"

}  // namespace

extern const tf_kernels tf_kernels_avx2 = {"avx2", k_matmul, k_attention, k_silu_glu};
