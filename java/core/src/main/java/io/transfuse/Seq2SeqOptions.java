package io.transfuse;

/**
 * What {@link Seq2SeqModel#generate} produces: greedy decoding of at most {@code maxNewTokens} tokens, stopping at
 * the model's eos_token_id; BART's forced_bos_token_id / forced_eos_token_id apply as config.json states them
 * (Hugging Face's ForcedBOS/ForcedEOS logits processors). Beam search is a separate driver over
 * {@link io.transfuse.model.seq2seq.Seq2SeqGraph#step}.
 *
 * @param maxNewTokens tokens to generate at most (>= 1)
 */
public record Seq2SeqOptions(int maxNewTokens) {
    /** HF generate's default max_length is 20 tokens; translation models' generation configs ask for far more. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 128;

    public Seq2SeqOptions {
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
    }

    public static Seq2SeqOptions defaults() { return new Seq2SeqOptions(DEFAULT_MAX_NEW_TOKENS); }
}
