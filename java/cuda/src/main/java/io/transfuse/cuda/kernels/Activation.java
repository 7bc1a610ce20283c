package io.transfuse.cuda.kernels;

/** Elementwise activations of the kernels, with their TF_ACT_* codes (transfuse.h sections 2b and 2d). */
public enum Activation {
    /** x * sigmoid(x). */
    SILU(0),
    /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): Hugging Face "gelu_new" / "gelu_pytorch_tanh". */
    GELU_TANH(1),
    /** 0.5 x (1 + erf(x / sqrt(2))): Hugging Face "gelu" (BERT, ViT). */
    GELU_ERF(2),
    /** x (a bias and residual add without an activation). */
    IDENTITY(3);

    private final int code;

    Activation(int code) { this.code = code; }

    /** TF_ACT_* of transfuse.h. */
    public int code() { return code; }
}
