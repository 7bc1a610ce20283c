/* transfuse_machine_probe [threads] [MiB per array] [repetitions]: the two limits that ci/bench.sh
 * compares the CPU backend with, printed as one JSON object.
 *  - memory bandwidth: a STREAM-style triad a[i] = b[i] + s * c[i] over three double arrays
 *    (default 256 MiB each, so the working set is well beyond the caches), split statically over
 *    the threads (each thread first-touches its own part). Counted as STREAM does: 24 bytes per
 *    element (read b and c, write a; the write-allocate read of a is not counted).
 *  - peak FP32 FMA GFLOP/s: each thread runs independent chains of vfmadd on registers (12 chains,
 *    enough to cover the FMA latency of 4 cycles on 2 ports), 2 FLOPs per lane; AVX-512 where the
 *    CPU has it, else AVX2+FMA.
 * Each figure is measured `repetitions` times: median, min and max (the spread is the run-to-run
 * noise on this machine). Not a test; built on demand (EXCLUDE_FROM_ALL). Plain std::threads, one
 * static share each: a probe of the machine's limits wants every thread busy all the time, not the
 * library's pool (whose point is to tolerate threads that are not). */
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

/* f(begin, end) on `threads` threads, one contiguous share of [0, n) each; returns when all are done. */
template <class F>
void on_threads(int threads, long n, F f) {
    std::vector<std::thread> ts;
    for (int i = 1; i < threads; i++) ts.emplace_back([=] { f(n * i / threads, n * (i + 1) / threads); });
    f(0, n / threads);
    for (auto& t : ts) t.join();
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Stat { double median, min, max; };

Stat stat(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return {n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v.front(), v.back()};
}

std::vector<double> triad(int threads, long n, int reps) {
    double* a = static_cast<double*>(std::aligned_alloc(64, n * sizeof(double)));
    double* b = static_cast<double*>(std::aligned_alloc(64, n * sizeof(double)));
    double* c = static_cast<double*>(std::aligned_alloc(64, n * sizeof(double)));
    if (!a || !b || !c) { std::fprintf(stderr, "machine_probe: cannot allocate 3 x %ld doubles\n", n); std::exit(1); }
    on_threads(threads, n, [=](long lo, long hi) {
        for (long i = lo; i < hi; i++) { a[i] = 0.0; b[i] = 1.0; c[i] = 2.0; }
    });
    std::vector<double> gbs;
    const double s = 3.0;
    for (int r = 0; r < reps + 1; r++) {
        const double t0 = now();
        on_threads(threads, n, [=](long lo, long hi) {
            for (long i = lo; i < hi; i++) a[i] = b[i] + s * c[i];
        });
        const double dt = now() - t0;
        if (r > 0) gbs.push_back(24.0 * n / dt / 1e9); /* the first pass is a warm-up */
    }
    volatile double sink = a[n / 2];
    (void)sink;
    std::free(a); std::free(b); std::free(c);
    return gbs;
}

/* The chains start from different values read at run time (g_seed is volatile): with equal
 * starting values the compiler merges the 12 chains into one. */
volatile float g_seed = 1.0f;
#define FMA_CHAINS(V, FMA, SET1)                                                           \
    const float s0 = g_seed;                                                               \
    V c0 = SET1(s0), c1 = SET1(s0 + 1), c2 = SET1(s0 + 2), c3 = SET1(s0 + 3),             \
      c4 = SET1(s0 + 4), c5 = SET1(s0 + 5), c6 = SET1(s0 + 6), c7 = SET1(s0 + 7),         \
      c8 = SET1(s0 + 8), c9 = SET1(s0 + 9), c10 = SET1(s0 + 10), c11 = SET1(s0 + 11);     \
    const V m = SET1(g_seed * 0.999999f), k = SET1(g_seed * 1e-7f);                        \
    for (long i = 0; i < iters; i++) {                                                     \
        c0 = FMA(c0, m, k); c1 = FMA(c1, m, k); c2 = FMA(c2, m, k); c3 = FMA(c3, m, k);    \
        c4 = FMA(c4, m, k); c5 = FMA(c5, m, k); c6 = FMA(c6, m, k); c7 = FMA(c7, m, k);    \
        c8 = FMA(c8, m, k); c9 = FMA(c9, m, k); c10 = FMA(c10, m, k); c11 = FMA(c11, m, k); \
    }

__attribute__((target("avx512f"))) float fma_avx512(long iters) {
    FMA_CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps)
    const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                                   _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)),
                                                 _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11))));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float fma_avx2(long iters) {
    FMA_CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps)
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)),
                                           _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11))));
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

std::vector<double> fma_peak(int threads, int reps, bool avx512) {
    const long iters = 20'000'000;
    const int lanes = avx512 ? 16 : 8;
    std::vector<double> gflops;
    volatile float sink = 0;
    for (int r = 0; r < reps + 1; r++) {
        const double t0 = now();
        on_threads(threads, threads, [&](long, long) {
            const float v = avx512 ? fma_avx512(iters) : fma_avx2(iters);
            if (v == 12345.0f) sink = v;
        });
        const double dt = now() - t0;
        if (r > 0) gflops.push_back(2.0 * 12 * lanes * iters * threads / dt / 1e9);
    }
    (void)sink;
    return gflops;
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    const long mib = argc > 2 ? std::atol(argv[2]) : 256;
    const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
    if (threads < 1 || mib < 1 || reps < 1) {
        std::fprintf(stderr, "usage: transfuse_machine_probe [threads >= 1] [MiB per array >= 1] [repetitions >= 1]\n");
        return 2;
    }
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        std::fprintf(stderr, "machine_probe: this CPU has neither AVX-512 nor AVX2+FMA\n");
        return 1;
    }
    const Stat bw = stat(triad(threads, mib * 1024 * 1024 / 8, reps));
    const Stat fl = stat(fma_peak(threads, reps, avx512));
    std::printf("{\"threads\": %d, \"array_mib\": %ld, \"repetitions\": %d, \"isa\": \"%s\", "
                "\"triad_gb_s\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}, "
                "\"fma_gflop_s\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}}\n",
                threads, mib, reps, avx512 ? "avx512" : "avx2", bw.median, bw.min, bw.max, fl.median, fl.min, fl.max);
    return 0;
}
