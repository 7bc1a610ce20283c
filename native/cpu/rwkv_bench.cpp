// rwkv_bench.cpp: times tf_cpu_rwkv_wkv6 / tf_cpu_rwkv_wkv7 of a given libtransfuse_cpu.so (dlopen, so two builds can
// be compared in one run) at a model's shape: one sequence of `tokens` tokens (prefill) or 1 (decode) over `heads`
// heads of `head_size`, all layers' worth of calls. Not a test.
//
//   transfuse_rwkv_bench LIB.so [tokens=512] [heads=12] [head_size=64] [layers=12] [threads=2] [reps=5]
// Prints the median over reps of the time for `layers` calls, and tokens/s of the WKV op alone.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

using wkv6_fn = void (*)(float*, float*, const float*, const float*, const float*, const float*, const float*, const float*,
                         const float*, int, int, int, float);
using wkv7_fn = void (*)(float*, float*, const float*, const float*, const float*, const float*, const float*, const float*,
                         const float*, const float*, const float*, const float*, const float*, const float*, int, int, int, float);

std::vector<float> random(size_t n, float lo, float hi, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(g);
    return v;
}

template <typename F>
double median_ms(int reps, F&& body) {
    std::vector<double> ms;
    body();  // warm-up
    for (int i = 0; i < reps; i++) {
        const auto t0 = std::chrono::steady_clock::now();
        body();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s LIB.so [tokens] [heads] [head_size] [layers] [threads] [reps]\n", argv[0]);
        return 2;
    }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { std::fprintf(stderr, "%s\n", dlerror()); return 1; }
    auto arg = [&](int i, int def) { return argc > i ? std::atoi(argv[i]) : def; };
    const int tokens = arg(2, 512), heads = arg(3, 12), S = arg(4, 64), layers = arg(5, 12), threads = arg(6, 2), reps = arg(7, 5);
    auto set_threads = (void (*)(int))dlsym(lib, "tf_cpu_set_threads");
    auto wkv6 = (wkv6_fn)dlsym(lib, "tf_cpu_rwkv_wkv6");
    auto wkv7 = (wkv7_fn)dlsym(lib, "tf_cpu_rwkv_wkv7");
    if (!set_threads || !wkv6 || !wkv7) { std::fprintf(stderr, "missing symbols in %s\n", argv[1]); return 1; }
    set_threads(threads);
    const size_t C = size_t(heads) * S, n = size_t(tokens) * C;
    auto r = random(n, -1, 1, 1), k = random(n, -1, 1, 2), v = random(n, -1, 1, 3), w6 = random(n, -8, 1, 4), w7 = random(n, -3, 2, 5);
    auto a = random(n, -2, 2, 6), vf = random(n, -1, 1, 7), vm = random(n, -2, 2, 8), u = random(C, -0.5f, 1, 9);
    auto lw = random(C, 0.5f, 1.5f, 10), lb = random(C, -0.5f, 0.5f, 11), kK = random(C, 0.5f, 1, 12), kA = random(C, 0.5f, 1.5f, 13),
         rK = random(C, -0.5f, 0.5f, 14);
    std::vector<float> state(size_t(layers) * C * S, 0.f), out(n);
    const double t6 = median_ms(reps, [&] {
        for (int l = 0; l < layers; l++)
            wkv6(out.data(), state.data() + size_t(l) * C * S, r.data(), k.data(), v.data(), w6.data(), u.data(), lw.data(), lb.data(),
                 tokens, heads, S, 64e-5f);
    });
    std::fill(state.begin(), state.end(), 0.f);
    const double t7 = median_ms(reps, [&] {
        for (int l = 0; l < layers; l++)
            wkv7(out.data(), state.data() + size_t(l) * C * S, r.data(), w7.data(), k.data(), v.data(), a.data(), l ? vf.data() : nullptr,
                 l ? vm.data() : nullptr, kK.data(), kA.data(), rK.data(), lw.data(), lb.data(), tokens, heads, S, 64e-5f);
    });
    std::printf("%s: %d tokens, %d heads x %d, %d layers, %d threads: wkv6 %.2f ms (%.0f tok/s), wkv7 %.2f ms (%.0f tok/s)\n", argv[1],
                tokens, heads, S, layers, threads, t6, tokens * 1e3 / t6, t7, tokens * 1e3 / t7);
    return 0;
}
