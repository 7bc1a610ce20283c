/*
 * ssm_ops.cpp: the Mamba-1 ops of libtransfuse_cpu (transfuse.h, section 1): the causal depthwise
 * conv1d and the selective scan, each carrying its per-sequence state between calls so that one
 * entry point serves prefill (many tokens) and decode (tokens = 1).
 *
 * Same recurrences as the CUDA kernels (native/kernels/conv1d.cuh, selective_scan.cuh), but
 * token-major ([tokens][dim], the layout the model graph's matmuls produce) instead of the CUDA
 * kernels' channel-major [dim][seqlen], and with the conv state as an input as well as an output
 * (so a prompt fed in pieces continues where the last piece stopped).
 *
 * Work split: OpenMP over blocks of TF_SSM_BLOCK channels. Within a block the tokens are walked in
 * order (the recurrence is sequential in time) and, per token, the block's channels: the block's
 * states (TF_SSM_BLOCK x dstate floats, 1 KiB at dstate 16) stay in L1 while B and C rows are shared by
 * every channel. The block loops are per ISA (ssm.inc); small calls stay on the calling thread.
 */
#include "cpu_internal.h"
#include "parallel.h"

#define TF_API extern "C" __attribute__((visibility("default")))

TF_API void tf_cpu_causal_conv1d(float* out, float* conv_state, const float* x, const float* weight, const float* bias,
                                 int tokens, int dim, int width, int silu) {
    const tf_kernels& k = tf_kernels_active();
    const long blocks = (dim + TF_SSM_BLOCK - 1) / TF_SSM_BLOCK;
    tf_parallel_ranges(blocks, (long)tokens * dim * width * 2, [&](long a, long b) {
        for (long blk = a; blk < b; blk++) {
            const int d0 = (int)(blk * TF_SSM_BLOCK), d1 = d0 + TF_SSM_BLOCK < dim ? d0 + TF_SSM_BLOCK : dim;
            k.conv_block(out, conv_state, x, weight, bias, tokens, dim, width, silu, d0, d1);
        }
    });
}

TF_API void tf_cpu_selective_scan(float* out, float* state, const float* u, const float* delta, const float* A,
                                  const float* B, const float* C, const float* D, const float* z,
                                  const float* delta_bias, int tokens, int dim, int dstate, int delta_softplus) {
    const tf_kernels& k = tf_kernels_active();
    const long blocks = (dim + TF_SSM_BLOCK - 1) / TF_SSM_BLOCK;
    tf_parallel_ranges(blocks, (long)tokens * dim * dstate * 8, [&](long a, long b) {
        for (long blk = a; blk < b; blk++) {
            const int d0 = (int)(blk * TF_SSM_BLOCK), d1 = d0 + TF_SSM_BLOCK < dim ? d0 + TF_SSM_BLOCK : dim;
            k.scan_block(out, state, u, delta, A, B, C, D, z, delta_bias, tokens, dim, dstate, delta_softplus, d0, d1);
        }
    });
}
