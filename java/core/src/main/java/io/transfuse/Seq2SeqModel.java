package io.transfuse;

import io.transfuse.internal.Internals;
import io.transfuse.model.seq2seq.Seq2SeqLimits;
import io.transfuse.model.seq2seq.Seq2SeqRunner;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * An encoder-decoder model (T5, Flan-T5, BART, Marian) loaded for text-to-text generation: translation,
 * summarisation. {@link #generate} decodes greedily, many requests per forward pass: their sources are encoded in
 * one packed pass and every decoder step advances all unfinished requests together, those of other threads' calls
 * included.
 *
 * <pre>
 *   try (Seq2SeqModel m = Seq2SeqModel.load(Path.of("t5-small"), LoadOptions.defaults())) {
 *       String german = m.generate("translate English to German: The house is wonderful.", Seq2SeqOptions.defaults());
 *   }
 * </pre>
 * Up to {@link LoadOptions#maxSequences()} requests (or beam hypotheses) share a decoder step. Thread-safe: calls
 * from many threads at once share the decoder steps (continuous batching: a call joins the running batch after its
 * encoder pass and leaves it when done); interrupting a caller cancels its call.
 */
public final class Seq2SeqModel implements AutoCloseable {
    static {
        Internals.seq2seqAccessor(m -> m.runner);
    }

    private final Seq2SeqRunner runner;

    private Seq2SeqModel(Seq2SeqRunner runner) {
        this.runner = runner;
    }

    /**
     * Loads a Hugging Face directory: config.json with model_type t5, mt5, bart or marian, safetensors, and
     * tokenizer.json when present (without one, {@link #generateIds} still works). Errors name the file and the fault.
     */
    public static Seq2SeqModel load(Path path, LoadOptions options) {
        Objects.requireNonNull(options, "options");
        Seq2SeqLimits d = Seq2SeqLimits.defaults();
        int rows = Math.max(1, options.maxSequences());
        return new Seq2SeqModel(Seq2SeqRunner.load(path, options, new Seq2SeqLimits(rows, d.maxSourceTokens(), rows, d.maxTarget())));
    }

    /** Whether {@code path} holds a model this class loads (a Hugging Face directory of a T5, BART or Marian model). */
    public static boolean recognizes(Path path) {
        return Seq2SeqRunner.recognizes(path);
    }

    /** The model's tokenizer, or null when its directory has no tokenizer.json. */
    public Tokenizer tokenizer() { return runner.tokenizer(); }

    /** The output text for {@code text}. */
    public String generate(String text, Seq2SeqOptions options) {
        return runner.generate(text, options);
    }

    /** The output texts for {@code texts}, decoded together (batched) and returned in order. */
    public List<String> generate(List<String> texts, Seq2SeqOptions options) {
        return runner.generate(texts, options);
    }

    /**
     * Greedy decoding of token ids (each source as the tokenizer gives it, eos included), as Hugging Face's
     * {@code generate(num_beams=1, do_sample=False, max_new_tokens=N)} runs it; each result holds the generated ids
     * (eos included when reached).
     */
    public List<int[]> generateIds(List<int[]> sources, Seq2SeqOptions options) {
        return runner.generateIds(sources, options);
    }

    /** The text of generated ids (special tokens and ids past the tokenizer's vocabulary add nothing). */
    public String decode(int[] ids) {
        return runner.decode(ids);
    }

    @Override
    public void close() {
        runner.close();
    }
}
