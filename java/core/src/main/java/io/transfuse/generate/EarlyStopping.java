package io.transfuse.generate;

/**
 * When beam search ends, as Hugging Face's {@code early_stopping} (true, false or "never") says. All three stop
 * at the maximum length; before it:
 * <ul>
 *   <li>{@link #TRUE}: as soon as {@code num_beams} finished hypotheses are kept for the input.</li>
 *   <li>{@link #FALSE} (HF's default): once the best running beam, divided by the length penalty at the
 *       <em>current</em> length, can no longer beat the worst kept hypothesis (a heuristic: with a positive
 *       length penalty a longer hypothesis could still win).</li>
 *   <li>{@link #NEVER}: the same test, but with a positive length penalty the running score is divided at the
 *       <em>maximum</em> length, the best any continuation could reach: exact, never stops a search that could
 *       still improve (canonical beam search).</li>
 * </ul>
 * Source: transformers {@code generation/utils.py}, {@code GenerationMixin._check_early_stop_heuristic} and
 * {@code _beam_search_has_unfinished_sequences} (read in transformers 5.18.0).
 */
public enum EarlyStopping {
    TRUE, FALSE, NEVER;

    /** The JSON value as HF writes it: {@code true}, {@code false} or {@code "never"}. */
    public String json() {
        return switch (this) {
            case TRUE -> "true";
            case FALSE -> "false";
            case NEVER -> "\"never\"";
        };
    }
}
