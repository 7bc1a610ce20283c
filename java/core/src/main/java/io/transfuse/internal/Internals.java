package io.transfuse.internal;

import io.transfuse.EmbeddingModel;
import io.transfuse.LanguageModel;
import io.transfuse.model.Decoder;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.util.Objects;
import java.util.function.Function;

/**
 * Not API: how the other Transfuse modules (the engine, benchmarks, the CUDA backend's tests) reach the
 * graph behind a {@link LanguageModel} and the tokenizer behind an {@link EmbeddingModel}, which the public API
 * does not show. Each class hands its accessor over when it is initialised, which happens before any model
 * exists to ask about.
 */
public final class Internals {
    private static volatile Function<LanguageModel, Decoder> decoders;
    private static volatile Function<EmbeddingModel, HfTokenizer> encoderTokenizers;

    private Internals() {}

    /**
     * Called once by {@link LanguageModel}'s class initialiser.
     *
     * @param accessor the model's graph for a model
     */
    public static void decoderAccessor(Function<LanguageModel, Decoder> accessor) {
        if (decoders != null) throw new IllegalStateException("the decoder accessor is set already");
        decoders = accessor;
    }

    /**
     * The graph a model runs (its class says the architecture; LlamaModel exposes its config).
     *
     * @param model an open model
     * @return its decoder
     */
    public static Decoder decoder(LanguageModel model) {
        Objects.requireNonNull(model, "model");
        return decoders.apply(model);
    }

    /**
     * Called once by {@link EmbeddingModel}'s class initialiser.
     *
     * @param accessor the model's tokenizer for a model
     */
    public static void encoderTokenizerAccessor(Function<EmbeddingModel, HfTokenizer> accessor) {
        if (encoderTokenizers != null) throw new IllegalStateException("the encoder tokenizer accessor is set already");
        encoderTokenizers = accessor;
    }

    /**
     * The tokenizer.json tokenizer of an encoder (the benchmarks feed its ids to ONNX Runtime).
     *
     * @param model an encoder
     * @return its tokenizer
     */
    public static HfTokenizer tokenizer(EmbeddingModel model) {
        Objects.requireNonNull(model, "model");
        return encoderTokenizers.apply(model);
    }

    // ---- encoder-decoder (seq2seq) ------------------------------------------------------------

    private static volatile Function<io.transfuse.Seq2SeqModel, io.transfuse.model.seq2seq.Seq2SeqRunner> seq2seqRunners;

    /** Called once by {@link io.transfuse.Seq2SeqModel}'s class initialiser. */
    public static void seq2seqAccessor(Function<io.transfuse.Seq2SeqModel, io.transfuse.model.seq2seq.Seq2SeqRunner> accessor) {
        if (seq2seqRunners != null) throw new IllegalStateException("the seq2seq accessor is set already");
        seq2seqRunners = accessor;
    }

    /**
     * The runner behind an encoder-decoder model: its graph ({@code runner.graph()}: encode, startRows, step) is what a
     * beam search drives.
     */
    public static io.transfuse.model.seq2seq.Seq2SeqRunner seq2seq(io.transfuse.Seq2SeqModel model) {
        Objects.requireNonNull(model, "model");
        return seq2seqRunners.apply(model);
    }
}
