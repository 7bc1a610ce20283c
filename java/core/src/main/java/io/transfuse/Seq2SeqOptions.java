package io.transfuse;

/**
 * What {@link Seq2SeqModel#generate} produces: at most {@code maxNewTokens} tokens, stopping at the model's
 * eos_token_id. With {@code numBeams} 1, greedy decoding (BART's forced_bos_token_id / forced_eos_token_id apply as
 * config.json states them: Hugging Face's ForcedBOS/ForcedEOS logits processors); with more, beam search as Hugging
 * Face defines it ({@link io.transfuse.generate.BeamSearch}) with that many beams and the rest of the model's
 * generation settings (generation_config.json, else config.json: length_penalty, early_stopping,
 * no_repeat_ngram_size, ...), as {@code generate(num_beams=N, max_new_tokens=M)} would run them.
 *
 * @param maxNewTokens tokens to generate at most (>= 1)
 * @param numBeams     1 for greedy decoding, more for beam search with that many beams
 */
public record Seq2SeqOptions(int maxNewTokens, int numBeams) {
    /** HF generate's default max_length is 20 tokens; translation models' generation configs ask for far more. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 128;

    public Seq2SeqOptions {
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        if (numBeams < 1) throw new IllegalArgumentException("numBeams must be >= 1, got " + numBeams);
    }

    /** Greedy decoding of at most {@code maxNewTokens} tokens. */
    public Seq2SeqOptions(int maxNewTokens) { this(maxNewTokens, 1); }

    public static Seq2SeqOptions defaults() { return new Seq2SeqOptions(DEFAULT_MAX_NEW_TOKENS); }

    /** These options with {@code n} beams. */
    public Seq2SeqOptions withBeams(int n) { return new Seq2SeqOptions(maxNewTokens, n); }
}
