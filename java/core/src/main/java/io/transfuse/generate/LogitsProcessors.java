package io.transfuse.generate;

import io.transfuse.loader.ModelFormatException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The logits processors a {@link GenerationConfig} turns on, applied to one row's scores in the order transformers
 * builds them ({@code GenerationMixin._get_logits_processor}): repetition penalty, no-repeat n-gram, bad words,
 * min length, forced BOS, forced EOS, and last the renormalization. Beam search applies them to log-probabilities
 * (after the log-softmax), greedy decoding to the raw logits, as HF does. A banned token's score becomes
 * -infinity. Each processor, as transformers' {@code generation/logits_process.py} defines it, where
 * {@code seq} is the whole sequence so far (HF's {@code input_ids}: the prompt or the decoder start included):
 * <ul>
 *   <li>repetition_penalty p: every token that occurs in {@code seq} gets {@code s < 0 ? s * p : s / p}.</li>
 *   <li>no_repeat_ngram_size n: every token that would complete an n-gram already in {@code seq} is banned
 *       (the last n-1 tokens are matched against every window of {@code seq}).</li>
 *   <li>bad_words_ids: a one-token entry is banned always; a longer one bans its last token when {@code seq}
 *       ends with the rest. Entries that are exactly one EOS token are dropped (HF's NoBadWordsLogitsProcessor).</li>
 *   <li>min length: every EOS token is banned while {@code seq} is shorter than the minimum length.</li>
 *   <li>forced_bos_token_id: when {@code seq} is one token long, everything but that token is banned and it
 *       scores 0.</li>
 *   <li>forced_eos_token_id: when {@code seq} is one token short of the maximum length, everything but those
 *       tokens is banned and they score 0.</li>
 *   <li>renormalize_logits: a log-softmax over the result.</li>
 * </ul>
 * Not thread-safe (it keeps a scratch array); one per search.
 */
public final class LogitsProcessors {
    private final GenerationConfig config;
    private final int vocabSize;
    private final List<int[]> badWords = new ArrayList<>();
    private final int[] eos, forcedEos;
    private final boolean[] seen;

    /** Checks every token id the config names against the vocabulary (the logits' length). */
    public LogitsProcessors(GenerationConfig config, int vocabSize) {
        this.config = config;
        this.vocabSize = vocabSize;
        this.eos = ids(config.eosTokenIds(), "eos_token_id");
        this.forcedEos = ids(config.forcedEosTokenIds(), "forced_eos_token_id");
        if (config.forcedBosTokenId() >= vocabSize) outOfVocabulary("forced_bos_token_id", config.forcedBosTokenId());
        for (List<Integer> words : config.badWordsIds()) {
            if (words.size() == 1 && config.eosTokenIds().contains(words.getFirst())) continue;
            int[] w = ids(words, "bad_words_ids");
            badWords.add(w);
        }
        this.seen = new boolean[vocabSize];
    }

    /** The EOS tokens (those of the config). */
    public int[] eos() {
        return eos.clone();
    }

    /** Whether {@code token} is one of the EOS tokens. */
    public boolean isEos(int token) {
        for (int e : eos) if (e == token) return true;
        return false;
    }

    /**
     * Applies the processors to {@code scores} (one row, the vocabulary's length) for the sequence
     * {@code seq[0, length)} whose limits are {@code minLength} and {@code maxLength} (whole sequence, as
     * {@link GenerationConfig#minLength(int)} and {@link GenerationConfig#maxLength(int)} give them).
     */
    public void apply(float[] scores, int[] seq, int length, int minLength, int maxLength) {
        if (scores.length != vocabSize) {
            throw new IllegalArgumentException("scores hold " + scores.length + " values, the vocabulary " + vocabSize);
        }
        double penalty = config.repetitionPenalty();
        if (penalty != 1.0) {
            float p = (float) penalty;
            for (int i = 0; i < length; i++) {
                int t = seq[i];
                if (t < 0 || t >= vocabSize || seen[t]) continue; // HF drops ids beyond the output vocabulary
                seen[t] = true;
                scores[t] = scores[t] < 0 ? scores[t] * p : scores[t] / p;
            }
            for (int i = 0; i < length; i++) if (seq[i] >= 0 && seq[i] < vocabSize) seen[seq[i]] = false;
        }
        int n = config.noRepeatNgramSize();
        if (n > 0 && length >= n) {
            int suffix = length - (n - 1);
            for (int start = 0; start + n <= length; start++) {
                if (Arrays.equals(seq, start, start + n - 1, seq, suffix, length)) ban(scores, seq[start + n - 1]);
            }
        }
        for (int[] w : badWords) {
            int prefix = w.length - 1;
            if (prefix <= length && Arrays.equals(w, 0, prefix, seq, length - prefix, length)) ban(scores, w[prefix]);
        }
        if (length < minLength) for (int e : eos) scores[e] = Float.NEGATIVE_INFINITY;
        if (config.forcedBosTokenId() >= 0 && length == 1) force(scores, new int[] {config.forcedBosTokenId()});
        if (forcedEos.length > 0 && length == maxLength - 1) force(scores, forcedEos);
        if (config.renormalizeLogits() && anyAllowed(scores)) logSoftmax(scores, scores); // all banned: HF gets NaN; -inf here
    }

    /** {@code out = log_softmax(in)} (they may be the same array): -infinity stays -infinity. */
    public static void logSoftmax(float[] in, float[] out) {
        float max = Float.NEGATIVE_INFINITY;
        for (float x : in) max = Math.max(max, x);
        if (max == Float.NEGATIVE_INFINITY) throw new IllegalStateException("every token is banned: no token can follow");
        double sum = 0;
        for (float x : in) sum += Math.exp(x - max);
        float logSum = (float) Math.log(sum);
        for (int i = 0; i < in.length; i++) out[i] = in[i] - max - logSum;
    }

    private static boolean anyAllowed(float[] scores) {
        for (float s : scores) if (s != Float.NEGATIVE_INFINITY) return true;
        return false;
    }

    private static void ban(float[] scores, int token) {
        if (token < scores.length) scores[token] = Float.NEGATIVE_INFINITY;
    }

    private static void force(float[] scores, int[] tokens) {
        Arrays.fill(scores, Float.NEGATIVE_INFINITY);
        for (int t : tokens) scores[t] = 0;
    }

    private int[] ids(List<Integer> list, String key) {
        int[] a = new int[list.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = list.get(i);
            if (a[i] >= vocabSize) outOfVocabulary(key, a[i]);
        }
        return a;
    }

    private void outOfVocabulary(String key, int id) {
        throw new ModelFormatException(config.source() + ": '" + key + "' names token " + id
                + " but the model's vocabulary has " + vocabSize + " tokens");
    }
}
