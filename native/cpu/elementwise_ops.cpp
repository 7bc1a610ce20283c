/*
 * elementwise_ops.cpp: the norms (with the residual add fused in) and the activations of
 * libtransfuse_cpu (transfuse.h, section 1): tf_cpu_rmsnorm, tf_cpu_layernorm, tf_cpu_bias_act,
 * tf_cpu_glu. Rows (elements) are split over threads here; the loops are per ISA (elementwise.inc).
 * All of them are memory-bound: a few vector operations per value read.
 */
#include "cpu_internal.h"
#include "parallel.h"

#define TF_API extern "C" __attribute__((visibility("default")))

TF_API void tf_cpu_rmsnorm(float* out, float* residual, const float* x, const float* weight, int rows, int dim,
                           float eps) {
    const tf_kernels& k = tf_kernels_active();
    tf_parallel_ranges(rows, (long)rows * dim * 4,
                       [&](long a, long b) { k.rmsnorm(out, residual, x, weight, a, b, dim, eps); });
}

TF_API void tf_cpu_layernorm(float* out, float* residual, const float* x, const float* weight, const float* bias,
                             int rows, int dim, float eps) {
    const tf_kernels& k = tf_kernels_active();
    tf_parallel_ranges(rows, (long)rows * dim * 4,
                       [&](long a, long b) { k.layernorm(out, residual, x, weight, bias, a, b, dim, eps); });
}

TF_API void tf_cpu_bias_act(float* x, const float* bias, int rows, int dim, int act) {
    if (!bias && act == TF_ACT_IDENTITY) return;
    const tf_kernels& k = tf_kernels_active();
    /* a bias add alone is one load and store per value: threads only pay off for large matrices */
    const long work = act == TF_ACT_IDENTITY ? (long)rows * dim / 4 : (long)rows * dim * 8;
    tf_parallel_ranges(rows, work,
                       [&](long a, long b) { k.bias_act(x, dim, bias, act, a, b, 0, dim); });
}

TF_API void tf_cpu_glu(float* out, const float* gate, const float* up, long n, int act) {
    const tf_kernels& k = tf_kernels_active();
    tf_parallel_ranges(n, n * 8, [&](long a, long b) { k.glu(out, gate, up, a, b, act); });
}
