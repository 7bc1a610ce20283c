/*
 * ssd_ops.cpp: the Mamba-2 ops of libtransfuse_cpu (transfuse.h, section 1): the SSD scan (one token:
 * the recurrence; more: the chunked form of Dao & Gu 2024) and the gated RMSNorm of the mixer output.
 *
 * Work split: heads are independent (each owns its [head_dim][dstate] state), so the scan hands out
 * ranges of heads (mamba2-130m: 24 heads of 64 x 128); the norm hands out rows. The loops are per ISA
 * (ssd.inc); small calls stay on the calling thread.
 */
#include "cpu_internal.h"
#include "parallel.h"

#define TF_API extern "C" __attribute__((visibility("default")))

TF_API void tf_cpu_ssd_scan(float* out, float* state, const float* x, const float* dt_in, const float* A, const float* B,
                            const float* C, const float* D, const float* dt_bias, int tokens, int heads, int head_dim,
                            int groups, int dstate) {
    const tf_kernels& k = tf_kernels_active();
    const tf_ssd_args a{out, state, x, dt_in, A, B, C, D, dt_bias, tokens, heads, head_dim, groups, dstate};
    tf_parallel_ranges(heads, (long)tokens * heads * head_dim * dstate * 4, [&](long h0, long h1) {
        k.ssd_heads(&a, (int)h0, (int)h1);
    });
}

TF_API void tf_cpu_gated_rmsnorm(float* out, const float* x, const float* z, const float* weight, int rows, int dim,
                                 int group_size, float eps) {
    const tf_kernels& k = tf_kernels_active();
    tf_parallel_ranges(rows, (long)rows * dim * 8, [&](long r0, long r1) {
        k.gated_rmsnorm(out, x, z, weight, r0, r1, dim, group_size, eps);
    });
}
