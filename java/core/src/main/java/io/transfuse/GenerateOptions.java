package io.transfuse;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What to generate: at most {@code maxTokens} new tokens, chosen as {@code sampling} says. Generation also
 * stops at an end-of-generation token (EOS, end of turn: {@link Tokenizer#endOfGeneration()}), when the
 * context is full, when the text produced contains one of the {@code stop} strings (which is left out of the
 * text), when {@code timeout} has passed since the request was made (null: no deadline), or when it is
 * cancelled ({@link CancellationToken}).
 *
 * <p>Build one with {@link #builder()}: {@code GenerateOptions.builder().maxTokens(64).temperature(0.7)
 * .stop("\n\n").build()}. The default ({@link #defaults()}) is 256 tokens, greedy: the same output for the
 * same prompt every time. The {@code transfuse} command line has the same default ({@code --temperature 0});
 * pass a temperature to sample.
 *
 * @param maxTokens new tokens at most (0 = none: only the prompt is processed)
 * @param sampling  how each token is chosen
 * @param stop      strings that end generation when the text reaches one (none: empty list)
 * @param timeout   how long the request may take (null: no deadline)
 */
public record GenerateOptions(int maxTokens, SamplingOptions sampling, List<String> stop, Duration timeout) {
    /** New tokens at most unless set. */
    public static final int DEFAULT_MAX_TOKENS = 256;

    public GenerateOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
        Objects.requireNonNull(sampling, "sampling");
        if (stop == null) stop = List.of();
        for (String s : stop) {
            if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop strings must not be null or empty, got " + stop);
        }
        stop = List.copyOf(stop);
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }

    /** {@code maxTokens} tokens chosen as {@code sampling} says; no stop strings, no deadline. */
    public GenerateOptions(int maxTokens, SamplingOptions sampling) {
        this(maxTokens, sampling, List.of(), null);
    }

    /** {@value #DEFAULT_MAX_TOKENS} new tokens, greedy ({@link SamplingOptions#greedy()}), no stop strings, no deadline. */
    public static GenerateOptions defaults() {
        return new GenerateOptions(DEFAULT_MAX_TOKENS, SamplingOptions.greedy());
    }

    /** A builder starting from {@link #defaults()}. */
    public static Builder builder() {
        return new Builder(defaults());
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** These options with {@code n} as max tokens. */
    public GenerateOptions withMaxTokens(int n) { return new GenerateOptions(n, sampling, stop, timeout); }

    /** These options with {@code s} as sampling. */
    public GenerateOptions withSampling(SamplingOptions s) { return new GenerateOptions(maxTokens, s, stop, timeout); }

    /** These options with {@code strings} as the stop strings. */
    public GenerateOptions withStop(List<String> strings) { return new GenerateOptions(maxTokens, sampling, strings, timeout); }

    /** These options with {@code d} as the timeout (null: none). */
    public GenerateOptions withTimeout(Duration d) { return new GenerateOptions(maxTokens, sampling, stop, d); }

    /**
     * Sets fields one by one, the sampling ones included ({@link #temperature}, {@link #topK}, ...);
     * {@link #build()} checks them all and names the first that is out of range.
     */
    public static final class Builder {
        private int maxTokens;
        private final SamplingOptions.Builder sampling;
        private List<String> stop;
        private Duration timeout;

        private Builder(GenerateOptions from) {
            maxTokens = from.maxTokens;
            sampling = from.sampling.toBuilder();
            stop = from.stop;
            timeout = from.timeout;
        }

        /** New tokens at most (default {@value GenerateOptions#DEFAULT_MAX_TOKENS}). */
        public Builder maxTokens(int n) { maxTokens = n; return this; }

        /** All sampling fields at once (they replace those set before). */
        public Builder sampling(SamplingOptions s) {
            Objects.requireNonNull(s, "sampling");
            sampling.temperature(s.temperature()).topK(s.topK()).topP(s.topP()).minP(s.minP())
                    .repetitionPenalty(s.repetitionPenalty()).frequencyPenalty(s.frequencyPenalty())
                    .presencePenalty(s.presencePenalty()).penaltyWindow(s.penaltyWindow()).seed(s.seed());
            return this;
        }

        /** {@link SamplingOptions#temperature()}: 0 = greedy (the default). */
        public Builder temperature(double t) { sampling.temperature(t); return this; }

        /** {@link SamplingOptions#topK()}: 0 = no limit. */
        public Builder topK(int k) { sampling.topK(k); return this; }

        /** {@link SamplingOptions#topP()}: 1 = no limit. */
        public Builder topP(double p) { sampling.topP(p); return this; }

        /** {@link SamplingOptions#minP()}: 0 = off. */
        public Builder minP(double p) { sampling.minP(p); return this; }

        /** {@link SamplingOptions#repetitionPenalty()}: 1 = off. */
        public Builder repetitionPenalty(double p) { sampling.repetitionPenalty(p); return this; }

        /** {@link SamplingOptions#frequencyPenalty()}: 0 = off. */
        public Builder frequencyPenalty(double p) { sampling.frequencyPenalty(p); return this; }

        /** {@link SamplingOptions#presencePenalty()}: 0 = off. */
        public Builder presencePenalty(double p) { sampling.presencePenalty(p); return this; }

        /** {@link SamplingOptions#penaltyWindow()}. */
        public Builder penaltyWindow(int tokens) { sampling.penaltyWindow(tokens); return this; }

        /** {@link SamplingOptions#seed()}. */
        public Builder seed(long s) { sampling.seed(s); return this; }

        /** The stop strings (replacing those set before; none: no argument). */
        public Builder stop(String... strings) {
            Objects.requireNonNull(strings, "stop");
            stop = java.util.Arrays.asList(strings);
            return this;
        }

        /** The stop strings (replacing those set before). */
        public Builder stop(List<String> strings) {
            stop = Objects.requireNonNull(strings, "stop");
            return this;
        }

        /** How long the request may take (null: no deadline, the default). */
        public Builder timeout(Duration d) { timeout = d; return this; }

        /** The options; an IllegalArgumentException names the field that is out of range. */
        public GenerateOptions build() {
            return new GenerateOptions(maxTokens, sampling.build(), stop, timeout);
        }
    }
}
