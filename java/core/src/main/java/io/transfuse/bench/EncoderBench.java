package io.transfuse.bench;

import io.transfuse.EmbeddingModel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Encoder throughput: texts per second of {@link EmbeddingModel#embed} on texts that tokenize to
 * exactly {@code tokensPerText} tokens (special tokens included), in calls of {@code batch} texts.
 * Tokenization is included (it is part of embed). Each repetition embeds {@code callsPerRep}
 * batches; warm-up repetitions are discarded; the median repetition is reported.
 */
public final class EncoderBench {
    private EncoderBench() {}

    /** @param textsPerSecond one value per measured repetition */
    public record Result(int batch, int tokensPerText, double[] textsPerSecond) {
        public LlmBench.Stat stat() { return LlmBench.Stat.of(textsPerSecond); }

        /** The result as a JSON object; {@code model} and {@code threads} describe the run. */
        public String toJson(String model, int threads, int repetitions, int warmup) {
            LlmBench.Stat s = stat();
            return String.format(Locale.ROOT, """
                    {
                      "model": "%s",
                      "threads": %d,
                      "batch": %d,
                      "tokens_per_text": %d,
                      "repetitions": %d,
                      "warmup": %d,
                      "texts_s": %s,
                      "texts_s_stats": {"median": %.4f, "min": %.4f, "max": %.4f}
                    }
                    """, model.replace("\\", "\\\\").replace("\"", "\\\""), threads, batch, tokensPerText, repetitions, warmup,
                    Arrays.toString(textsPerSecond), s.median(), s.min(), s.max());
        }
    }

    private static final String[] WORDS = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "house",
            "in", "city", "of", "light", "water", "tree", "green", "blue", "sky"};

    /**
     * Runs on the model's threads (LoadOptions.threads at load).
     *
     * @param callsPerRep embed calls (of {@code batch} texts each) per timed repetition
     */
    public static Result run(EmbeddingModel model, int batch, int tokensPerText, int callsPerRep, int repetitions, int warmup) {
        if (batch < 1 || tokensPerText < 3 || callsPerRep < 1 || repetitions < 1 || warmup < 0) {
            throw new IllegalArgumentException("batch >= 1, tokensPerText >= 3, callsPerRep >= 1, repetitions >= 1, warmup >= 0 required");
        }
        if (tokensPerText > model.maxTokens()) throw new IllegalArgumentException("tokensPerText " + tokensPerText + " exceeds the model's " + model.maxTokens());
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < batch; i++) texts.add(text(model, tokensPerText, i));
        double[] tps = new double[repetitions];
        for (int r = -warmup; r < repetitions; r++) {
            long t0 = System.nanoTime();
            for (int c = 0; c < callsPerRep; c++) model.embed(texts);
            double s = (System.nanoTime() - t0) / 1e9;
            if (r >= 0) tps[r] = (double) batch * callsPerRep / s;
        }
        return new Result(batch, tokensPerText, tps);
    }

    /** A text of common one-token words (different for each seed) that encodes to exactly {@code tokens} tokens. */
    public static String text(EmbeddingModel tok, int tokens, int seed) {
        StringBuilder sb = new StringBuilder();
        int i = seed;
        while (tok.countTokens(sb.toString()) < tokens) {
            String next = (sb.isEmpty() ? "" : " ") + WORDS[i++ % WORDS.length];
            int before = sb.length();
            sb.append(next);
            if (tok.countTokens(sb.toString()) > tokens) {
                sb.setLength(before);
                sb.append(sb.isEmpty() ? "a" : " a");
            }
        }
        if (tok.countTokens(sb.toString()) != tokens) {
            throw new IllegalStateException("cannot build a text of exactly " + tokens + " tokens with this tokenizer");
        }
        return sb.toString();
    }
}
