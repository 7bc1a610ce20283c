package io.transfuse.backend;

/**
 * The elementwise functions of {@link Backend#pointwise} that RWKV's graphs need beyond {@link Activation}, with
 * their {@code TF_RWKV_*} codes (transfuse.h, shared by the CPU ops and the CUDA kernel).
 */
public enum Pointwise {
    /** tanh(x): the low-rank token-shift and decay projections. */
    TANH(0),
    /** 1 / (1 + exp(-x)): RWKV-6's channel-mix receptance, RWKV-7's gate low-rank. */
    SIGMOID(1),
    /** max(x, 0)^2: the channel mix's key. */
    RELU_SQUARED(2),
    /** x / 2: RWKV-6's residual rescale every n layers ({@code rwkv6.rescale_every_n_layers}). */
    HALVE(3);

    private final int code;

    Pointwise(int code) { this.code = code; }

    /** TF_RWKV_* of transfuse.h. */
    public int code() { return code; }
}
