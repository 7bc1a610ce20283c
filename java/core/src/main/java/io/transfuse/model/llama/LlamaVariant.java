package io.transfuse.model.llama;

import io.transfuse.backend.Activation;
import io.transfuse.backend.RopeLayout;

import java.util.Arrays;
import java.util.List;

/**
 * The decoders that are the Llama graph with a few switches. Each switch is a delta of the one graph in
 * {@link LlamaModel}; what is a number (head size, windows, soft-caps, RoPE) lives in {@link LlamaConfig}.
 *
 * <table>
 * <caption>switches per architecture</caption>
 * <tr><th>variant</th><th>what differs from Llama</th></tr>
 * <tr><td>LLAMA</td><td>Llama 1/2/3.x, TinyLlama, SmolLM2, and Mistral/Mixtral-free GGUFs (llama.cpp stores Mistral as "llama")</td></tr>
 * <tr><td>MISTRAL</td><td>sliding-window attention on every layer (HF {@code sliding_window}; null in v0.2 and later)</td></tr>
 * <tr><td>QWEN2</td><td>biases on Q, K and V</td></tr>
 * <tr><td>QWEN3</td><td>RMSNorm over each head of Q and K before RoPE; head size independent of the width</td></tr>
 * <tr><td>GEMMA</td><td>GeGLU (tanh GELU), embeddings times sqrt(dim), RMSNorm weights applied as (1 + w), tied head</td></tr>
 * <tr><td>GEMMA2</td><td>Gemma plus RMSNorm on the attention and FFN outputs ("sandwich"), attention and final-logit
 *     soft-capping, sliding window on every other layer (layers 0, 2, ...)</td></tr>
 * <tr><td>GEMMA3</td><td>Gemma 2 without soft-capping, plus Q/K head norms; five local (sliding, own RoPE base) layers
 *     for every global one</td></tr>
 * <tr><td>PHI3</td><td>fused QKV and gate/up projections (split at load), LongRoPE, partial rotary (Phi-4-mini)</td></tr>
 * </table>
 *
 * <p>RoPE layout: llama.cpp's converter permutes Q/K rows into adjacent pairs for the "llama" architecture only; every
 * other GGUF architecture and every Hugging Face checkpoint keeps rotary pairs split in halves.
 */
public enum LlamaVariant {
    LLAMA(List.of("llama"), List.of("llama"), 0, Activation.SILU),
    MISTRAL(List.of(), List.of("mistral"), 0, Activation.SILU),
    QWEN2(List.of("qwen2"), List.of("qwen2"), Switch.QKV_BIAS, Activation.SILU),
    QWEN3(List.of("qwen3"), List.of("qwen3"), Switch.QK_NORM, Activation.SILU),
    GEMMA(List.of("gemma"), List.of("gemma"), Switch.GEMMA_BASE, Activation.GELU_TANH),
    GEMMA2(List.of("gemma2"), List.of("gemma2"), Switch.GEMMA_BASE | Switch.SANDWICH_NORMS, Activation.GELU_TANH),
    GEMMA3(List.of("gemma3"), List.of("gemma3_text"), Switch.GEMMA_BASE | Switch.SANDWICH_NORMS | Switch.QK_NORM,
            Activation.GELU_TANH),
    PHI3(List.of("phi3"), List.of("phi3"), Switch.FUSED_PROJECTIONS, Activation.SILU);

    /** GGUF {@code general.architecture} values and Hugging Face {@code model_type} values of this variant. */
    private final List<String> ggufNames, hfNames;
    private final int switches;
    private final Activation ffnActivation;

    private static final class Switch {
        static final int QKV_BIAS = 1, QK_NORM = 2, SCALED_EMBEDDINGS = 4, NORM_PLUS_ONE = 8, SANDWICH_NORMS = 16,
                FUSED_PROJECTIONS = 32, TIED_HEAD = 64;
        static final int GEMMA_BASE = SCALED_EMBEDDINGS | NORM_PLUS_ONE | TIED_HEAD;
    }

    LlamaVariant(List<String> ggufNames, List<String> hfNames, int switches, Activation ffnActivation) {
        this.ggufNames = ggufNames;
        this.hfNames = hfNames;
        this.switches = switches;
        this.ffnActivation = ffnActivation;
    }

    private boolean has(int s) { return (switches & s) != 0; }

    /** Q, K and V projections carry biases (Qwen2). */
    public boolean qkvBias() { return has(Switch.QKV_BIAS); }

    /** Q and K are RMS-normed per head before RoPE (Qwen3, Gemma 3). */
    public boolean qkNorm() { return has(Switch.QK_NORM); }

    /** The embeddings are multiplied by sqrt(dim) before the first layer (Gemma). */
    public boolean scaledEmbeddings() { return has(Switch.SCALED_EMBEDDINGS); }

    /**
     * RMSNorm multiplies by (1 + w) (Gemma). Hugging Face checkpoints store w; llama.cpp's converter stores 1 + w,
     * so only Hugging Face weights are shifted at load.
     */
    public boolean normPlusOne() { return has(Switch.NORM_PLUS_ONE); }

    /** Attention and FFN outputs are RMS-normed before the residual add (Gemma 2 and 3). */
    public boolean sandwichNorms() { return has(Switch.SANDWICH_NORMS); }

    /** Q/K/V and gate/up are stored as one matrix each (Phi-3). */
    public boolean fusedProjections() { return has(Switch.FUSED_PROJECTIONS); }

    /** The output head is always the embedding table (Gemma has no separate head). */
    public boolean tiedHead() { return has(Switch.TIED_HEAD); }

    /** The FFN's gate activation: SiLU (SwiGLU) or tanh GELU (GeGLU). */
    public Activation ffnActivation() { return ffnActivation; }

    /** Rotary pair layout of Q/K weights from a GGUF file of this variant (see the class comment). */
    public RopeLayout ggufRopeLayout() { return this == LLAMA ? RopeLayout.ADJACENT_PAIRS : RopeLayout.HALF_SPLIT; }

    /** The GGUF {@code general.architecture} llama.cpp's converter writes for this variant (Mistral is stored as "llama"). */
    public String ggufArchitecture() { return ggufNames.isEmpty() ? LLAMA.ggufNames.getFirst() : ggufNames.getFirst(); }

    /** The variant of GGUF {@code general.architecture} {@code name}, or null. */
    public static LlamaVariant ofGguf(String name) {
        return Arrays.stream(values()).filter(v -> v.ggufNames.contains(name)).findFirst().orElse(null);
    }

    /** The variant of Hugging Face {@code model_type} {@code name}, or null. */
    public static LlamaVariant ofHf(String name) {
        return Arrays.stream(values()).filter(v -> v.hfNames.contains(name)).findFirst().orElse(null);
    }

    /** Every GGUF architecture name understood, for error messages. */
    public static List<String> ggufNames() {
        return Arrays.stream(values()).flatMap(v -> v.ggufNames.stream()).toList();
    }

    /** Every Hugging Face model_type understood, for error messages. */
    public static List<String> hfNames() {
        return Arrays.stream(values()).flatMap(v -> v.hfNames.stream()).toList();
    }
}
