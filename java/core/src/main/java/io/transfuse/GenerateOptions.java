package io.transfuse;

import io.transfuse.sampling.SamplingOptions;

import java.time.Duration;
import java.util.List;

/**
 * What to generate: at most {@code maxTokens} new tokens, chosen as {@code sampling} says.
 * Generation also stops at an end-of-generation token (EOS, end of turn: {@link
 * io.transfuse.tokenizer.Tokenizer#endOfGeneration()}), when the context is full, when the text
 * produced contains one of the {@code stop} strings (which is left out of the text), or when
 * {@code timeout} has passed since the request was made (null: no deadline).
 */
public record GenerateOptions(int maxTokens, SamplingOptions sampling, List<String> stop, Duration timeout) {
    public GenerateOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("max-tokens must be >= 0, got " + maxTokens);
        if (sampling == null) throw new IllegalArgumentException("sampling must not be null");
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) if (s.isEmpty()) throw new IllegalArgumentException("a stop string must not be empty");
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }

    public GenerateOptions(int maxTokens, SamplingOptions sampling) {
        this(maxTokens, sampling, List.of(), null);
    }

    /** 256 new tokens, greedy. */
    public static GenerateOptions defaults() {
        return new GenerateOptions(256, SamplingOptions.greedy());
    }

    public GenerateOptions withMaxTokens(int n) { return new GenerateOptions(n, sampling, stop, timeout); }

    public GenerateOptions withSampling(SamplingOptions s) { return new GenerateOptions(maxTokens, s, stop, timeout); }

    public GenerateOptions withStop(List<String> strings) { return new GenerateOptions(maxTokens, sampling, strings, timeout); }

    public GenerateOptions withTimeout(Duration d) { return new GenerateOptions(maxTokens, sampling, stop, d); }
}
