/* Matmul timing (not a test): transfuse_cpu_bench [threads]. Prints GFLOP/s and weight GB/s for
 * a 2048x768 matvec (decode) and a 128-token 2048x768 matmul (prefill), F32 and Q8_0, then the
 * all-MiniLM-L6-v2 encoder matmuls (panel-packed F32) at batch 1 and 32 of 32-token texts. */
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "transfuse.h"

static bool g_cpu_clock = false;

/* Wall time, or with TRANSFUSE_BENCH_CPUTIME=1 the calling thread's CPU time (steadier on a busy
 * machine; meaningful for 1 thread only). */
static double now() {
    if (g_cpu_clock) {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* Deterministic values in [-0.5, 0.5) (a multiplicative hash of the index). */
static void fill(std::vector<float>& v, unsigned mul) {
    for (size_t i = 0; i < v.size(); i++) v[i] = (float)((i * mul) % 1000) / 1000.0f - 0.5f;
}

/* Seconds per call of fn: best of 9 trials of reps calls (this machine is shared, the minimum is the
 * least disturbed), after one untimed call. */
template <class F>
static double best_time(int reps, F fn) {
    fn();
    double dt = 1e30;
    for (int trial = 0; trial < 9; trial++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) fn();
        double d = (now() - t0) / reps;
        dt = d < dt ? d : dt;
    }
    return dt;
}

/* The four matmuls of an all-MiniLM-L6-v2 layer (hidden 384, intermediate 1536), weights packed as
 * BertModel does at load: in panels, and (where the CPU has AMX-BF16) for AMX tiles. */
static void encoder_shapes() {
    const int shapes[4][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    tf_cpu_set_isa(tf_cpu_best_isa());
    for (int type : {TF_CPU_F32_PANELS, TF_CPU_F32_AMX}) {
        if (type == TF_CPU_F32_AMX && !tf_cpu_f32_amx_enabled()) continue;
        const char* name = type == TF_CPU_F32_AMX ? "amx     " : "panels  ";
        for (int tokens : {32, 1024}) {
            double flops = 0, secs = 0;
            for (auto& sh : shapes) {
                const int in = sh[0], out = sh[1];
                std::vector<float> wf((size_t)in * out), x((size_t)tokens * in), y((size_t)tokens * out);
                fill(wf, 2654435761u);
                fill(x, 40503u);
                const long bytes = type == TF_CPU_F32_AMX ? tf_cpu_packed_f32_amx_bytes(in, out) : tf_cpu_packed_f32_bytes(in, out);
                std::vector<float> pk(bytes / 4);
                if (type == TF_CPU_F32_AMX) tf_cpu_pack_f32_amx(pk.data(), wf.data(), in, out);
                else tf_cpu_pack_f32(pk.data(), wf.data(), in, out);
                double dt = best_time(tokens == 32 ? 50 : 3, [&] {
                    tf_cpu_matmul(y.data(), x.data(), pk.data(), type, tokens, in, out);
                });
                double f = 2.0 * tokens * in * out;
                flops += f;
                secs += dt;
                printf("%s F32   tokens=%4d %4dx%-4d %8.1f us  %7.1f GFLOP/s\n", name, tokens, in, out, dt * 1e6,
                       f / dt / 1e9);
            }
            printf("%s F32   tokens=%4d MiniLM layer %8.1f us  %7.1f GFLOP/s\n", name, tokens, secs * 1e6,
                   flops / secs / 1e9);
        }
    }
}

int main(int argc, char** argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    g_cpu_clock = getenv("TRANSFUSE_BENCH_CPUTIME") != nullptr;
    tf_cpu_set_threads(threads);
    /* TRANSFUSE_BENCH_OUT=32000: a matrix far larger than the caches (the classifier's shape) */
    const int in = 768, out = getenv("TRANSFUSE_BENCH_OUT") ? atoi(getenv("TRANSFUSE_BENCH_OUT")) : 2048;
    std::vector<float> wf((size_t)in * out), x((size_t)128 * in), y((size_t)128 * out);
    fill(wf, 2654435761u);
    fill(x, 40503u);
    std::vector<unsigned char> wq((size_t)out * in / 32 * 34);
    for (size_t b = 0; b < wq.size() / 34; b++) {
        unsigned short d = 0x2000; /* small f16 scale */
        memcpy(&wq[b * 34], &d, 2);
        for (int j = 0; j < 32; j++) wq[b * 34 + 2 + j] = (unsigned char)((b * 7 + j * 13) % 255);
    }
    const char* isas[] = {"generic", "avx2", "avx512"};
    for (int isa = 0; isa <= 2; isa++) {
        if (tf_cpu_set_isa(isa) < 0) continue;
        for (int type : {TF_CPU_F32, TF_CPU_Q8_0}) {
            const void* w = type == TF_CPU_F32 ? (const void*)wf.data() : (const void*)wq.data();
            double wbytes = type == TF_CPU_F32 ? wf.size() * 4.0 : (double)wq.size();
            for (int tokens : {1, 128}) {
                double dt = best_time(tokens == 1 ? 200 : 5,
                                      [&] { tf_cpu_matmul(y.data(), x.data(), w, type, tokens, in, out); });
                printf("%-8s %-5s tokens=%3d  %8.1f us  %7.1f GFLOP/s  %6.1f GB/s (weights)\n", isas[isa],
                       type == TF_CPU_F32 ? "F32" : "Q8_0", tokens, dt * 1e6, 2.0 * tokens * in * out / dt / 1e9,
                       wbytes / dt / 1e9);
            }
        }
    }
    encoder_shapes();
    return 0;
}
