package io.transfuse;

import io.transfuse.sampling.SamplingOptions;

/**
 * What to generate: at most {@code maxTokens} new tokens, chosen as {@code sampling} says.
 * Generation also stops at an end-of-generation token (EOS, end of turn: {@link
 * io.transfuse.tokenizer.Tokenizer#endOfGeneration()}) or when the context is full.
 */
public record GenerateOptions(int maxTokens, SamplingOptions sampling) {
    public GenerateOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("max-tokens must be >= 0, got " + maxTokens);
        if (sampling == null) throw new IllegalArgumentException("sampling must not be null");
    }

    /** 256 new tokens, greedy. */
    public static GenerateOptions defaults() {
        return new GenerateOptions(256, SamplingOptions.greedy());
    }

    public GenerateOptions withMaxTokens(int n) { return new GenerateOptions(n, sampling); }

    public GenerateOptions withSampling(SamplingOptions s) { return new GenerateOptions(maxTokens, s); }
}
