package io.transfuse;

/**
 * How the next token is chosen from the logits. Build one with {@link #builder()} (or start from
 * {@link #greedy()}); every field is checked when it is built, and an error names the field.
 *
 * <p>The steps run in the order Hugging Face transformers runs them: the penalties change the logits
 * (even for greedy decoding), then with {@code temperature > 0} the logits are divided by the
 * temperature, turned into probabilities, restricted by top-k, top-p and min-p, and one token is drawn.
 * With {@code temperature == 0} the most likely token (after the penalties) is taken.
 *
 * <p>The penalties look at the last {@code penaltyWindow} tokens of the sequence (prompt and generated
 * tokens alike, as llama.cpp does; 64 by default, llama.cpp's {@code --repeat-last-n}). For a token that
 * occurs {@code c > 0} times there: its logit {@code l} becomes {@code l / repetitionPenalty} when
 * positive, else {@code l * repetitionPenalty} (the CTRL paper's penalty, as in transformers and
 * llama.cpp), and then {@code l - c * frequencyPenalty - presencePenalty} (OpenAI's definition).
 *
 * @param temperature       0 picks the most likely token (greedy); otherwise the logits are divided by it
 * @param topK              keep only the k most likely tokens (0 = no limit)
 * @param topP              keep the smallest set of most likely tokens whose probability reaches p (1 = no limit)
 * @param minP              keep only tokens at least {@code minP} times as likely as the most likely one (0 = off)
 * @param repetitionPenalty divides positive logits (multiplies negative ones) of tokens in the window; 1 = off
 * @param frequencyPenalty  subtracted from a token's logit once per occurrence in the window; 0 = off
 * @param presencePenalty   subtracted once from the logit of every token in the window; 0 = off
 * @param penaltyWindow     how many of the last tokens the penalties look at (at least 1)
 * @param seed              seed of the random generator, so runs are reproducible
 */
public record SamplingOptions(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                              double frequencyPenalty, double presencePenalty, int penaltyWindow, long seed) {
    /** Tokens the penalties look back over unless set: llama.cpp's default ({@code --repeat-last-n 64}). */
    public static final int DEFAULT_PENALTY_WINDOW = 64;

    public SamplingOptions {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1] (1 = off), got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("minP must be in [0, 1] (0 = off), got " + minP);
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetitionPenalty must be a finite number > 0 (1 = off), got " + repetitionPenalty);
        }
        if (!Double.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException("frequencyPenalty must be a finite number (0 = off), got " + frequencyPenalty);
        }
        if (!Double.isFinite(presencePenalty)) {
            throw new IllegalArgumentException("presencePenalty must be a finite number (0 = off), got " + presencePenalty);
        }
        if (penaltyWindow < 1) throw new IllegalArgumentException("penaltyWindow must be >= 1, got " + penaltyWindow);
    }

    /** Temperature, top-k, top-p and seed; no min-p, no penalties. */
    public SamplingOptions(double temperature, int topK, double topP, long seed) {
        this(temperature, topK, topP, 0, 1, 0, 0, DEFAULT_PENALTY_WINDOW, seed);
    }

    /** Always the most likely token; no penalties. This is the default of {@link GenerateOptions} and of the CLI. */
    public static SamplingOptions greedy() {
        return new SamplingOptions(0, 0, 1, 0);
    }

    /** A builder starting from {@link #greedy()}. */
    public static Builder builder() {
        return new Builder(greedy());
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Whether any penalty changes the logits. */
    public boolean penalizes() {
        return repetitionPenalty != 1 || frequencyPenalty != 0 || presencePenalty != 0;
    }

    /** Sets fields one by one; {@link #build()} checks them all and names the first that is out of range. */
    public static final class Builder {
        private double temperature, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty;
        private int topK, penaltyWindow;
        private long seed;

        private Builder(SamplingOptions from) {
            temperature = from.temperature;
            topK = from.topK;
            topP = from.topP;
            minP = from.minP;
            repetitionPenalty = from.repetitionPenalty;
            frequencyPenalty = from.frequencyPenalty;
            presencePenalty = from.presencePenalty;
            penaltyWindow = from.penaltyWindow;
            seed = from.seed;
        }

        /** 0 = greedy. */
        public Builder temperature(double t) { temperature = t; return this; }

        /** 0 = no limit. */
        public Builder topK(int k) { topK = k; return this; }

        /** 1 = no limit. */
        public Builder topP(double p) { topP = p; return this; }

        /** 0 = off. */
        public Builder minP(double p) { minP = p; return this; }

        /** 1 = off; 1.1 is a common mild setting. */
        public Builder repetitionPenalty(double p) { repetitionPenalty = p; return this; }

        /** 0 = off. */
        public Builder frequencyPenalty(double p) { frequencyPenalty = p; return this; }

        /** 0 = off. */
        public Builder presencePenalty(double p) { presencePenalty = p; return this; }

        /** Tokens the penalties look back over (default {@value SamplingOptions#DEFAULT_PENALTY_WINDOW}). */
        public Builder penaltyWindow(int tokens) { penaltyWindow = tokens; return this; }

        public Builder seed(long s) { seed = s; return this; }

        /** The options; an IllegalArgumentException names the field that is out of range. */
        public SamplingOptions build() {
            return new SamplingOptions(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty,
                    presencePenalty, penaltyWindow, seed);
        }
    }
}
