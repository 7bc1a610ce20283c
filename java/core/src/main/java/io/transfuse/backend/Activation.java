package io.transfuse.backend;

/**
 * The elementwise activations of the op set, with their {@code TF_ACT_*} codes (transfuse.h, shared by
 * the CPU ops and the CUDA kernels).
 */
public enum Activation {
    /** x * sigmoid(x). */
    SILU(0),
    /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): Hugging Face "gelu_new" / "gelu_pytorch_tanh" (GPT-2). */
    GELU_TANH(1),
    /** 0.5 x (1 + erf(x / sqrt(2))): Hugging Face "gelu" (BERT, ViT). */
    GELU_ERF(2),
    /** x: no activation (a bias or residual add alone). */
    IDENTITY(3),
    /** max(x, 0) (DETR's feed-forward layers and box head; the ResNet backbone's residual sums). */
    RELU(4);

    private final int code;

    Activation(int code) { this.code = code; }

    /** TF_ACT_* of transfuse.h. */
    public int code() { return code; }
}
