package io.transfuse.model.seq2seq;

/**
 * What an encoder-decoder graph sizes its workspace and caches for, at load: {@code maxSources} requests of at most
 * {@code maxSourceTokens} encoder tokens together per encode pass, {@code maxRows} decoder rows (requests, or beam
 * hypotheses) per step, each of at most {@code maxTarget} tokens (the decoder start token included).
 */
public record Seq2SeqLimits(int maxSources, int maxSourceTokens, int maxRows, int maxTarget) {
    public Seq2SeqLimits {
        if (maxSources <= 0 || maxSourceTokens <= 0 || maxRows <= 0 || maxTarget < 2) {
            throw new IllegalArgumentException("seq2seq limits must be positive (max target >= 2): " + maxSources + " sources, "
                    + maxSourceTokens + " source tokens, " + maxRows + " rows, " + maxTarget + " target tokens");
        }
    }

    /** 8 requests (or beams) of up to 2048 source tokens in all, targets of up to 256 tokens. */
    public static Seq2SeqLimits defaults() {
        return new Seq2SeqLimits(8, 2048, 8, 256);
    }
}
