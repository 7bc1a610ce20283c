package io.transfuse.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Beam search as transformers defines it ({@code GenerationMixin._beam_search} with its helpers
 * {@code _get_top_k_continuations}, {@code _get_running_beams_for_next_iteration},
 * {@code _update_finished_beams}, {@code _check_early_stop_heuristic}; read in transformers 5.18.0, the
 * vectorized form that replaced {@code BeamSearchScorer}, transformers PR #35802), for a batch of inputs, each with its own
 * {@code num_beams} beams. Per input and step:
 * <ol>
 *   <li>Each running beam's logits become log-probabilities (log-softmax), pass the {@link LogitsProcessors}, and
 *       get the beam's running score (sum of its log-probabilities so far) added. At the first step beam 0 scores
 *       0 and the other beams -1e9 (they are copies of beam 0), so only beam 0's continuations compete.</li>
 *   <li>The best K = max(2, 1 + number of EOS tokens) * num_beams (beam, token) pairs over all beams are kept.
 *       A candidate is finished when its token is an EOS token or the sequence reaches the maximum length.</li>
 *   <li>The next running beams are the best num_beams unfinished candidates.</li>
 *   <li>Finished candidates ranked among the first num_beams of the K are offered to the input's kept
 *       hypotheses with score {@code sum_logprobs / generated_length ** length_penalty}, where generated_length
 *       counts the tokens after the "decoder prompt", the EOS included ({@code cur_len + 1 - decoder_prompt_len} in
 *       {@code _update_finished_beams}). The decoder prompt is HF's {@code input_ids} when the search starts: the
 *       prompt for a decoder-only model, the one decoder start token for an encoder-decoder model, so both count
 *       only what was generated. (The older {@code BeamHypotheses.add}, without {@code generated_len}, divided by
 *       the hypothesis' whole length without the EOS: the same number for an encoder-decoder model, where the
 *       start token stands in for the EOS, but prompt + generated - 1 for a decoder-only one; recalled from the
 *       pre-5.0 sources, which the installed 5.18.0 no longer ships.) The best num_beams are kept; an existing one
 *       wins a tie. Nothing is offered once the input is done (below).</li>
 *   <li>The input is done when the maximum length is reached, with early_stopping true once num_beams
 *       hypotheses are kept, and otherwise once num_beams are kept and the best running score divided by
 *       length ** length_penalty is no better than the worst kept one, where length is the current generated
 *       length, or the maximum generated length for early_stopping "never" with length_penalty > 0
 *       ({@link EarlyStopping}).</li>
 * </ol>
 * The result per input is its best {@code num_return_sequences} hypotheses, best first. Scores are computed in
 * float32 as transformers computes them; ties between equal scores go to the lower (beam, token) index, which
 * {@code torch.topk} does not promise.
 *
 * <p>With num_beams 1 transformers does not run beam search but greedy decoding ({@link GreedySearch}); a
 * one-beam search here would differ from it (it keeps a second candidate and can pass an EOS by).
 *
 * <p>Inputs are independent: each has its own prompt length and limits, as if HF ran it alone (HF pads a batch to
 * its longest prompt, which shifts the lengths and n-grams of the shorter ones). An input stops using rows of the
 * model as soon as it is done, where HF keeps computing it.
 */
public final class BeamSearch {
    /** The score HF gives the beams that must not win: the non-first beams at the start, finished candidates. */
    static final float NEG = -1.0e9f;

    private BeamSearch() {}

    /**
     * Runs the search for each prompt (the prompt's tokens, or {@code [decoder start]} for an encoder-decoder
     * model) and returns, per input, its best {@code config.numReturnSequences()} hypotheses, best first. The model
     * is closed when the search ends.
     */
    public static List<List<Hypothesis>> run(BeamModel model, int[][] prompts, GenerationConfig config) {
        try (model) { // closed however the search ends, a refused config included
            return search(model, prompts, config);
        }
    }

    private static List<List<Hypothesis>> search(BeamModel model, int[][] prompts, GenerationConfig config) {
        config.requireSupported();
        if (prompts.length == 0) throw new IllegalArgumentException("no inputs to search for");
        Input[] inputs = new Input[prompts.length];
        for (int i = 0; i < prompts.length; i++) inputs[i] = new Input(i, prompts[i], config);
        float[][] logits = model.start(prompts.clone());
        checkRows(logits, prompts.length, -1);
        int vocab = logits[0].length;
        LogitsProcessors processors = new LogitsProcessors(config, vocab);
        Step step = new Step(config, processors, vocab);
        for (Input in : inputs) in.startBeams(config.numBeams());
        List<int[]> rows = new ArrayList<>();
        while (true) {
            rows.clear();
            for (Input in : inputs) if (!in.done) step.advance(in, logits, rows);
            if (rows.isEmpty()) break;
            int[] parents = new int[rows.size()], tokens = new int[rows.size()];
            for (int r = 0; r < parents.length; r++) {
                parents[r] = rows.get(r)[0];
                tokens[r] = rows.get(r)[1];
            }
            logits = model.step(parents, tokens);
            checkRows(logits, parents.length, vocab);
        }
        List<List<Hypothesis>> out = new ArrayList<>();
        for (Input in : inputs) {
            List<Hypothesis> best = new ArrayList<>();
            for (int i = 0; i < Math.min(config.numReturnSequences(), in.finished.size()); i++) best.add(in.finished.get(i));
            out.add(best);
        }
        return out;
    }

    private static void checkRows(float[][] logits, int rows, int vocab) {
        if (logits == null || logits.length != rows) {
            throw new IllegalStateException("the model returned " + (logits == null ? "no" : logits.length)
                    + " rows of logits for " + rows + " rows");
        }
        int v = vocab < 0 ? logits[0].length : vocab;
        for (int r = 0; r < rows; r++) {
            if (logits[r] == null || logits[r].length != v || v == 0) {
                throw new IllegalStateException("the model's logits for row " + r + " hold "
                        + (logits[r] == null ? "nothing" : logits[r].length + " values") + ", expected " + v);
            }
        }
    }

    /** One running beam: its whole sequence, running score (sum of log-probabilities) and row in the model. */
    private record Beam(int[] seq, float score, int row) {}

    /** One input's search state. */
    private static final class Input {
        final int index, promptLength, minLength, maxLength;
        final int[] prompt;
        Beam[] running;
        final List<Hypothesis> finished = new ArrayList<>();
        /** HF's is_early_stop_heuristic_unsatisfied: once false, nothing more is kept for this input. */
        boolean improvable = true;
        boolean done;

        Input(int index, int[] prompt, GenerationConfig config) {
            if (prompt == null || prompt.length == 0) {
                throw new IllegalArgumentException("input " + index + ": the prompt is empty (an encoder-decoder model starts from [decoder_start_token_id])");
            }
            this.index = index;
            this.prompt = prompt.clone();
            this.promptLength = prompt.length;
            this.maxLength = config.maxLength(promptLength);
            this.minLength = config.minLength(promptLength);
            if (promptLength >= maxLength) {
                throw new IllegalArgumentException("input " + index + ": the prompt is " + promptLength
                        + " tokens but max_length is " + maxLength + " (" + config.source()
                        + "); raise max_length or set max_new_tokens");
            }
        }

        void startBeams(int numBeams) {
            running = new Beam[numBeams];
            for (int k = 0; k < numBeams; k++) running[k] = new Beam(prompt, k == 0 ? 0f : NEG, index);
        }
    }

    /** The per-step work, with its scratch arrays. */
    private static final class Step {
        final GenerationConfig config;
        final LogitsProcessors processors;
        final int numBeams, keep;
        final double lengthPenalty;
        final float[] scores;
        final float[] topScore;
        final int[] topBeam, topToken;

        Step(GenerationConfig config, LogitsProcessors processors, int vocab) {
            this.config = config;
            this.processors = processors;
            this.numBeams = config.numBeams();
            this.keep = Math.max(2, 1 + processors.eos().length) * numBeams;
            this.lengthPenalty = config.lengthPenalty();
            this.scores = new float[vocab];
            this.topScore = new float[keep];
            this.topBeam = new int[keep];
            this.topToken = new int[keep];
        }

        /** One step of {@code in}: picks its next beams and adds their (parent row, token) to {@code rows} unless it is done. */
        void advance(Input in, float[][] logits, List<int[]> rows) {
            int curLen = in.running[0].seq.length;
            int count = topCandidates(in, logits, curLen);

            boolean[] hits = new boolean[count];
            boolean allHit = true;
            for (int i = 0; i < count; i++) {
                hits[i] = curLen + 1 >= in.maxLength || processors.isEos(topToken[i]);
                allHit &= hits[i];
            }

            // Next running beams: the best num_beams after finished candidates are pushed down by 1e9 (stable).
            Integer[] order = new Integer[count];
            float[] runningScore = new float[count];
            for (int i = 0; i < count; i++) {
                order[i] = i;
                runningScore[i] = hits[i] ? topScore[i] + NEG : topScore[i];
            }
            Arrays.sort(order, Comparator.comparingDouble(i -> -runningScore[i]));
            Beam[] next = new Beam[numBeams];
            for (int k = 0; k < numBeams; k++) {
                int c = order[k];
                Beam parent = in.running[topBeam[c]];
                int[] seq = Arrays.copyOf(parent.seq, curLen + 1);
                seq[curLen] = topToken[c];
                next[k] = new Beam(seq, runningScore[c], parent.row);
            }

            // Kept hypotheses: finished candidates among the first num_beams, unless the input accepts no more.
            boolean full = in.finished.size() == numBeams;
            boolean accepts = in.improvable && !(full && config.earlyStopping() == EarlyStopping.TRUE);
            if (accepts) {
                float denominator = (float) Math.pow(curLen + 1 - in.promptLength, lengthPenalty);
                List<Hypothesis> merged = new ArrayList<>(in.finished);
                for (int i = 0; i < Math.min(numBeams, count); i++) {
                    if (!hits[i]) continue;
                    Beam parent = in.running[topBeam[i]];
                    int[] tokens = Arrays.copyOfRange(parent.seq, in.promptLength, curLen + 1);
                    tokens[tokens.length - 1] = topToken[i];
                    merged.add(new Hypothesis(tokens, topScore[i] / denominator, processors.isEos(topToken[i])));
                }
                merged.sort(Comparator.comparingDouble(h -> -h.score())); // stable: kept ones first on ties
                in.finished.clear();
                in.finished.addAll(merged.subList(0, Math.min(numBeams, merged.size())));
            }

            // HF's _check_early_stop_heuristic, at the new length.
            int generated = curLen + 1 - in.promptLength;
            int hypothetical = config.earlyStopping() == EarlyStopping.NEVER && lengthPenalty > 0
                    ? in.maxLength - in.promptLength : generated;
            float bestPossible = next[0].score / (float) Math.pow(hypothetical, lengthPenalty);
            boolean nowFull = in.finished.size() == numBeams;
            float worst = nowFull ? in.finished.getLast().score() : NEG;
            in.improvable &= bestPossible > worst;

            in.done = allHit || !in.improvable || (nowFull && config.earlyStopping() == EarlyStopping.TRUE);
            in.running = next;
            if (in.done) return;
            for (int k = 0; k < numBeams; k++) {
                rows.add(new int[] {next[k].row, next[k].seq[curLen]});
                next[k] = new Beam(next[k].seq, next[k].score, rows.size() - 1);
            }
        }

        /** HF's top-K over beams x vocabulary of log_softmax -> processors -> + running score; returns how many (K). */
        private int topCandidates(Input in, float[][] logits, int curLen) {
            int count = 0;
            for (int k = 0; k < numBeams; k++) {
                Beam beam = in.running[k];
                LogitsProcessors.logSoftmax(logits[beam.row], scores);
                processors.apply(scores, beam.seq, curLen, in.minLength, in.maxLength);
                for (int t = 0; t < scores.length; t++) {
                    float s = scores[t] + beam.score;
                    if (Float.isNaN(s)) continue;
                    if (count == keep && !(s > topScore[count - 1])) continue; // ties: the earlier (beam, token) stays
                    int at = count == keep ? keep - 1 : count++;
                    while (at > 0 && s > topScore[at - 1]) {
                        topScore[at] = topScore[at - 1];
                        topBeam[at] = topBeam[at - 1];
                        topToken[at] = topToken[at - 1];
                        at--;
                    }
                    topScore[at] = s;
                    topBeam[at] = k;
                    topToken[at] = t;
                }
            }
            if (count < numBeams) {
                throw new IllegalStateException("input " + in.index + ": only " + count
                        + " candidate tokens for " + numBeams + " beams (the vocabulary is too small)");
            }
            return count;
        }
    }
}
