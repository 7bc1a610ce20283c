package io.transfuse.generate;

import io.transfuse.GenerateOptions;
import io.transfuse.SamplingOptions;
import io.transfuse.loader.ModelFormatException;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How to generate, as Hugging Face's {@code GenerationConfig} states it in a model's generation_config.json (or,
 * without that file, in the generation keys of its config.json): read one with {@link GenerationConfigFiles}, or
 * start from {@link #defaults()} and change fields with {@link #toBuilder()}. Field names follow the JSON keys;
 * a token id or length that is not set is -1. Unset fields take HF's defaults
 * ({@code GenerationConfig._get_default_generation_params}): 20 new tokens, min_length 0, 1 beam, length_penalty
 * 1, early_stopping false, no n-gram ban, repetition_penalty 1, greedy (do_sample false; temperature 1, top_k 50
 * and top_p 1 when sampling), one returned sequence.
 *
 * <p>Lengths count the whole sequence as HF's {@code input_ids} does: the prompt for a decoder-only model, the
 * decoder start token for an encoder-decoder one, plus what is generated ({@link #maxLength(int)},
 * {@link #minLength(int)}).
 *
 * @param source              where the values came from (a file), named by every error
 * @param maxLength           longest sequence, prompt included (-1: the prompt plus 20, or {@code maxNewTokens})
 * @param maxNewTokens        most new tokens; takes precedence over {@code maxLength} (-1: not set)
 * @param minLength           EOS is banned while the sequence is shorter (0: off)
 * @param minNewTokens        EOS is banned before this many new tokens; takes precedence over {@code minLength} (-1: not set)
 * @param numBeams            beams per input (1: greedy or sampling, no beam search)
 * @param numReturnSequences  hypotheses returned per input (at most {@code numBeams})
 * @param lengthPenalty       a finished hypothesis scores sum_logprobs / generated_length ** lengthPenalty
 * @param earlyStopping       when beam search ends ({@link EarlyStopping})
 * @param noRepeatNgramSize   no n-gram of this size occurs twice in a sequence (0: off)
 * @param repetitionPenalty   scores of tokens already in the sequence: negative ones multiplied, others divided (1: off)
 * @param badWordsIds         token sequences never generated (a single-token one is banned everywhere)
 * @param eosTokenIds         tokens that end a sequence (empty: none, generation runs to the maximum length)
 * @param padTokenId          padding token (-1: none)
 * @param bosTokenId          beginning-of-sequence token (-1: none)
 * @param decoderStartTokenId first decoder token of an encoder-decoder model (-1: {@code bosTokenId})
 * @param forcedBosTokenId    token forced as the first generated one after a one-token start (-1: none)
 * @param forcedEosTokenIds   tokens forced (all of them allowed, nothing else) when the maximum length is one away (empty: none)
 * @param renormalizeLogits   log-softmax again after the processors (Marian sets it)
 * @param doSample            sample instead of taking the most likely token
 * @param temperature         sampling temperature (only with {@code doSample})
 * @param topK                sampling keeps the k most likely tokens (0: no limit)
 * @param topP                sampling keeps the smallest set reaching this probability (1: no limit)
 * @param unsupported         settings present with a non-default value that Transfuse does not implement
 *                            ({@code "num_beam_groups = 2"}); searches refuse to run while any is listed
 */
public record GenerationConfig(
        String source,
        int maxLength,
        int maxNewTokens,
        int minLength,
        int minNewTokens,
        int numBeams,
        int numReturnSequences,
        double lengthPenalty,
        EarlyStopping earlyStopping,
        int noRepeatNgramSize,
        double repetitionPenalty,
        List<List<Integer>> badWordsIds,
        List<Integer> eosTokenIds,
        int padTokenId,
        int bosTokenId,
        int decoderStartTokenId,
        int forcedBosTokenId,
        List<Integer> forcedEosTokenIds,
        boolean renormalizeLogits,
        boolean doSample,
        double temperature,
        int topK,
        double topP,
        List<String> unsupported) {

    /** New tokens when neither max_length nor max_new_tokens is set (HF's max_length 20, counted after the prompt). */
    public static final int DEFAULT_NEW_TOKENS = 20;

    public GenerationConfig {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(earlyStopping, "earlyStopping");
        if (maxLength < -1 || maxLength == 0) fail(source, "max_length", "must be a positive integer", maxLength);
        if (maxNewTokens < -1 || maxNewTokens == 0) fail(source, "max_new_tokens", "must be a positive integer", maxNewTokens);
        if (minLength < 0) fail(source, "min_length", "must be >= 0", minLength);
        if (minNewTokens < -1) fail(source, "min_new_tokens", "must be >= 0", minNewTokens);
        if (numBeams < 1) fail(source, "num_beams", "must be >= 1", numBeams);
        if (numReturnSequences < 1) fail(source, "num_return_sequences", "must be >= 1", numReturnSequences);
        if (!doSample && numReturnSequences > numBeams) {
            fail(source, "num_return_sequences", "must be at most num_beams = " + numBeams
                    + " (greedy and beam search return the best hypotheses only)", numReturnSequences);
        }
        if (!Double.isFinite(lengthPenalty)) fail(source, "length_penalty", "must be a finite number", lengthPenalty);
        if (noRepeatNgramSize < 0) fail(source, "no_repeat_ngram_size", "must be >= 0", noRepeatNgramSize);
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            fail(source, "repetition_penalty", "must be a finite number > 0 (1 = off)", repetitionPenalty);
        }
        badWordsIds = badWordsIds == null ? List.of() : badWordsIds.stream().map(List::copyOf).toList();
        for (List<Integer> words : badWordsIds) {
            if (words.isEmpty()) fail(source, "bad_words_ids", "must not hold an empty sequence", badWordsIds);
            for (int id : words) if (id < 0) fail(source, "bad_words_ids", "must hold token ids >= 0", badWordsIds);
        }
        eosTokenIds = tokenList(source, "eos_token_id", eosTokenIds);
        forcedEosTokenIds = tokenList(source, "forced_eos_token_id", forcedEosTokenIds);
        tokenId(source, "pad_token_id", padTokenId);
        tokenId(source, "bos_token_id", bosTokenId);
        tokenId(source, "decoder_start_token_id", decoderStartTokenId);
        tokenId(source, "forced_bos_token_id", forcedBosTokenId);
        if (doSample) {
            // HF checks these only when sampling (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper).
            if (!(temperature > 0) || Double.isInfinite(temperature)) {
                fail(source, "temperature", "must be a finite number > 0 when do_sample is true (greedy: do_sample false)", temperature);
            }
            if (topK < 0) fail(source, "top_k", "must be >= 0 (0 = off)", topK);
            if (!(topP > 0 && topP <= 1)) fail(source, "top_p", "must be in (0, 1] (1 = off)", topP);
        }
        unsupported = unsupported == null ? List.of() : List.copyOf(unsupported);
    }

    /** HF's defaults, no special tokens. */
    public static GenerationConfig defaults() {
        return new GenerationConfig("generation config", -1, -1, 0, -1, 1, 1, 1.0, EarlyStopping.FALSE, 0, 1.0,
                List.of(), List.of(), -1, -1, -1, -1, List.of(), false, false, 1.0, 50, 1.0, List.of());
    }

    /**
     * The longest sequence for a prompt of {@code promptLength} tokens (the decoder start for an encoder-decoder
     * model), prompt included: prompt + max_new_tokens, else max_length, else prompt + 20 (HF's
     * {@code _prepare_generated_length}; HF also caps the last case at the model's max_position_embeddings,
     * which is the caller's to apply).
     */
    public int maxLength(int promptLength) {
        if (maxNewTokens > 0) return saturatedAdd(promptLength, maxNewTokens);
        if (maxLength > 0) return maxLength;
        return saturatedAdd(promptLength, DEFAULT_NEW_TOKENS);
    }

    /** The shortest sequence that may end with EOS, prompt included: prompt + min_new_tokens, else min_length. */
    public int minLength(int promptLength) {
        return minNewTokens >= 0 ? saturatedAdd(promptLength, minNewTokens) : minLength;
    }

    /** Whether this is beam search (more than one beam) rather than greedy decoding or sampling. */
    public boolean beamSearch() {
        return numBeams > 1;
    }

    /**
     * The first decoder token of an encoder-decoder model: decoder_start_token_id, else bos_token_id (HF's
     * {@code _get_decoder_start_token_id}); an error naming the source when neither is set.
     */
    public int decoderStart() {
        if (decoderStartTokenId >= 0) return decoderStartTokenId;
        if (bosTokenId >= 0) return bosTokenId;
        throw new ModelFormatException(source + ": neither 'decoder_start_token_id' nor 'bos_token_id' is set,"
                + " so the decoder has no token to start from");
    }

    /**
     * The sampling settings for the existing single-sequence path ({@link io.transfuse.sampling.Sampler}):
     * greedy unless do_sample, then temperature, top_k and top_p; repetition_penalty over the whole sequence as
     * HF applies it (no window).
     */
    public SamplingOptions sampling() {
        SamplingOptions.Builder b = SamplingOptions.builder().repetitionPenalty(repetitionPenalty).penaltyWindow(Integer.MAX_VALUE);
        if (doSample) b.temperature(temperature).topK(topK).topP(topP);
        return b.build();
    }

    /**
     * Options for {@link io.transfuse.LanguageModel}-style generation of one sequence after a prompt of
     * {@code promptLength} tokens: at most {@code maxLength(promptLength) - promptLength} new tokens, chosen as
     * {@link #sampling()} says. (min_length, n-gram bans, bad words and forced tokens are {@link LogitsProcessors}'
     * and not part of these options.)
     */
    public GenerateOptions generateOptions(int promptLength) {
        return new GenerateOptions(Math.max(0, maxLength(promptLength) - promptLength), sampling());
    }

    /** An error naming the source and each unsupported setting, or the unsupported beam sampling; else nothing. */
    public void requireSupported() {
        if (!unsupported.isEmpty()) {
            throw new ModelFormatException(source + ": " + String.join(", ", unsupported)
                    + (unsupported.size() == 1 ? " is" : " are") + " not supported by Transfuse's generation");
        }
        if (doSample && numBeams > 1) {
            throw new ModelFormatException(source + ": do_sample = true with num_beams = " + numBeams
                    + " (beam sampling) is not supported; set do_sample false for beam search or num_beams 1 for sampling");
        }
    }

    /** A builder starting from these values. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    private static List<Integer> tokenList(String source, String key, List<Integer> ids) {
        if (ids == null) return List.of();
        for (Integer id : ids) if (id == null || id < 0) fail(source, key, "must hold token ids >= 0", ids);
        return List.copyOf(ids);
    }

    private static void tokenId(String source, String key, int id) {
        if (id < -1) fail(source, key, "must be a token id >= 0", id);
    }

    private static int saturatedAdd(int a, int b) {
        long s = (long) a + b;
        return s > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) s;
    }

    static void fail(String source, String key, String what, Object got) {
        throw new ModelFormatException(source + ": '" + key + "' " + what + ", got " + got);
    }

    /** Changes fields one by one; {@link #build()} checks them all and names the first that is wrong. */
    public static final class Builder {
        private String source;
        private int maxLength, maxNewTokens, minLength, minNewTokens, numBeams, numReturnSequences, noRepeatNgramSize;
        private double lengthPenalty, repetitionPenalty, temperature, topP;
        private EarlyStopping earlyStopping;
        private List<List<Integer>> badWordsIds;
        private List<Integer> eosTokenIds, forcedEosTokenIds;
        private int padTokenId, bosTokenId, decoderStartTokenId, forcedBosTokenId, topK;
        private boolean renormalizeLogits, doSample;
        private List<String> unsupported;

        private Builder(GenerationConfig c) {
            source = c.source;
            maxLength = c.maxLength;
            maxNewTokens = c.maxNewTokens;
            minLength = c.minLength;
            minNewTokens = c.minNewTokens;
            numBeams = c.numBeams;
            numReturnSequences = c.numReturnSequences;
            lengthPenalty = c.lengthPenalty;
            earlyStopping = c.earlyStopping;
            noRepeatNgramSize = c.noRepeatNgramSize;
            repetitionPenalty = c.repetitionPenalty;
            badWordsIds = c.badWordsIds;
            eosTokenIds = c.eosTokenIds;
            padTokenId = c.padTokenId;
            bosTokenId = c.bosTokenId;
            decoderStartTokenId = c.decoderStartTokenId;
            forcedBosTokenId = c.forcedBosTokenId;
            forcedEosTokenIds = c.forcedEosTokenIds;
            renormalizeLogits = c.renormalizeLogits;
            doSample = c.doSample;
            temperature = c.temperature;
            topK = c.topK;
            topP = c.topP;
            unsupported = c.unsupported;
        }

        public Builder source(String s) { source = s; return this; }
        public Builder maxLength(int n) { maxLength = n; return this; }
        public Builder maxNewTokens(int n) { maxNewTokens = n; return this; }
        public Builder minLength(int n) { minLength = n; return this; }
        public Builder minNewTokens(int n) { minNewTokens = n; return this; }
        public Builder numBeams(int n) { numBeams = n; return this; }
        public Builder numReturnSequences(int n) { numReturnSequences = n; return this; }
        public Builder lengthPenalty(double p) { lengthPenalty = p; return this; }
        public Builder earlyStopping(EarlyStopping e) { earlyStopping = e; return this; }
        public Builder noRepeatNgramSize(int n) { noRepeatNgramSize = n; return this; }
        public Builder repetitionPenalty(double p) { repetitionPenalty = p; return this; }
        public Builder badWordsIds(List<List<Integer>> ids) { badWordsIds = ids; return this; }
        public Builder eosTokenIds(List<Integer> ids) { eosTokenIds = ids; return this; }
        public Builder eosTokenId(int id) { eosTokenIds = List.of(id); return this; }
        public Builder padTokenId(int id) { padTokenId = id; return this; }
        public Builder bosTokenId(int id) { bosTokenId = id; return this; }
        public Builder decoderStartTokenId(int id) { decoderStartTokenId = id; return this; }
        public Builder forcedBosTokenId(int id) { forcedBosTokenId = id; return this; }
        public Builder forcedEosTokenIds(List<Integer> ids) { forcedEosTokenIds = ids; return this; }
        public Builder renormalizeLogits(boolean b) { renormalizeLogits = b; return this; }
        public Builder doSample(boolean b) { doSample = b; return this; }
        public Builder temperature(double t) { temperature = t; return this; }
        public Builder topK(int k) { topK = k; return this; }
        public Builder topP(double p) { topP = p; return this; }
        public Builder unsupported(List<String> settings) { unsupported = new ArrayList<>(settings); return this; }

        public GenerationConfig build() {
            return new GenerationConfig(source, maxLength, maxNewTokens, minLength, minNewTokens, numBeams,
                    numReturnSequences, lengthPenalty, earlyStopping, noRepeatNgramSize, repetitionPenalty, badWordsIds,
                    eosTokenIds, padTokenId, bosTokenId, decoderStartTokenId, forcedBosTokenId, forcedEosTokenIds,
                    renormalizeLogits, doSample, temperature, topK, topP, unsupported);
        }
    }
}
