package io.transfuse.model.seq2seq;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqOptions;
import io.transfuse.TransfuseException;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backends;
import io.transfuse.generate.BeamModel;
import io.transfuse.generate.BeamSearch;
import io.transfuse.generate.GenerationConfig;
import io.transfuse.generate.GenerationConfigFiles;
import io.transfuse.generate.Hypothesis;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.Tokenizer;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An encoder-decoder model loaded with its tokenizer: the graph ({@link Seq2SeqGraph}) and greedy decoding or beam
 * search over it, many requests per forward pass. Each call's searches run in the calling thread, and the calls of
 * all threads share the graph's encoder passes and decoder steps through one {@link Seq2SeqScheduler} (continuous
 * batching: a call joins the running batch at the next step after its encoder pass, and leaves it when its search
 * ends). {@link io.transfuse.Seq2SeqModel} is the API over it. Thread-safe; interrupting a calling thread cancels its
 * call ({@link java.util.concurrent.CancellationException}).
 */
public final class Seq2SeqRunner implements AutoCloseable {
    private final Seq2SeqGraph graph;
    private final Seq2SeqScheduler scheduler;
    private final Tokenizer tokenizer;
    private final TrackedArena arena;
    private GenerationConfig generation;

    private Seq2SeqRunner(Seq2SeqGraph graph, Tokenizer tokenizer, TrackedArena arena) {
        this.graph = graph;
        this.scheduler = new Seq2SeqScheduler(graph);
        this.tokenizer = tokenizer;
        this.arena = arena;
    }

    /** Loads a Hugging Face directory (config.json, safetensors, tokenizer.json when present) with the default limits. */
    public static Seq2SeqRunner load(Path path, LoadOptions options) {
        return load(path, options, Seq2SeqLimits.defaults());
    }

    public static Seq2SeqRunner load(Path path, LoadOptions options, Seq2SeqLimits limits) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        Device device = Backends.resolve(options.device());
        Backends.requireAvailable(device);
        TrackedArena arena = new TrackedArena(path.toString());
        Backend backend = null;
        try {
            ModelSource source = ModelSource.open(path, arena);
            if (source.format() != ModelSource.Format.HF_DIRECTORY) {
                throw new ModelFormatException(path + ": an encoder-decoder model is read from a Hugging Face directory (config.json + "
                        + "safetensors), not " + source.format());
            }
            Seq2SeqConfig config = Seq2SeqConfig.read(source.configPath());
            Seq2SeqWeights weights = Seq2SeqWeights.from(source.safetensors(), config);
            Tokenizer tokenizer = HfTokenizer.forModel(source.directory(), config.vocab());
            if (tokenizer == null) tokenizer = MarianTokenizer.forModel(source.directory(), config.vocab()); // opus-mt: *.spm + vocab.json
            backend = Backends.open(device, options.withDevice(device));
            Seq2SeqGraph graph = new Seq2SeqGraph(config, weights, backend, limits);
            return new Seq2SeqRunner(graph, tokenizer, arena);
        } catch (RuntimeException e) {
            if (backend != null) backend.close();
            arena.close();
            throw e;
        }
    }

    /** Whether {@code path} holds a model this class loads (config.json's model_type t5, mt5, bart or marian). */
    public static boolean recognizes(Path path) {
        try (TrackedArena a = new TrackedArena("probe " + path)) {
            ModelSource s = ModelSource.open(path, a);
            return s.format() == ModelSource.Format.HF_DIRECTORY && Seq2SeqConfig.handles(s.architecture());
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * The graph, for drivers of their own (tests: {@link Seq2SeqGraph#encode}, startRows, step), only while no call of
     * this runner is in flight (the scheduler's thread drives it then).
     */
    public Seq2SeqGraph graph() { return graph; }

    /** Decoder steps run so far, every caller's rows together in each (for tests and statistics). */
    public long decoderSteps() { return scheduler.steps(); }

    /** Encoder passes run so far. */
    public long encoderPasses() { return scheduler.encoderPasses(); }

    public Seq2SeqConfig config() { return graph.config(); }

    /** The model's tokenizer (tokenizer.json, or Marian's source.spm + vocab.json), or null when it has neither (use {@link #generateIds}). */
    public Tokenizer tokenizer() { return tokenizer; }

    /** The output text for {@code text}: greedy decoding as {@code options} says. */
    public String generate(String text, Seq2SeqOptions options) {
        return generate(List.of(text), options).getFirst();
    }

    /** The output texts for {@code texts}, decoded together (batched) and returned in order. */
    public List<String> generate(List<String> texts, Seq2SeqOptions options) {
        if (tokenizer == null) {
            throw new TransfuseException(config().source().getParent() + " has no tokenizer.json: pass token ids to generateIds");
        }
        List<int[]> sources = new ArrayList<>();
        for (String t : texts) sources.add(tokenizer.encode(Objects.requireNonNull(t, "text"), true));
        List<String> out = new ArrayList<>();
        for (int[] ids : generateIds(sources, options)) out.add(decode(ids));
        return out;
    }

    /**
     * The text of generated ids. Ids past the tokenizer's vocabulary (T5's config rounds vocab_size up to 32128 over
     * 32100 tokens) have no text and are left out, as are special tokens.
     */
    public String decode(int[] ids) {
        if (tokenizer == null) throw new TransfuseException(config().source().getParent() + " has no tokenizer.json");
        int v = tokenizer.vocabularySize();
        return tokenizer.decode(Arrays.stream(ids).filter(id -> id < v).toArray());
    }

    /**
     * Greedy decoding (or beam search, {@link Seq2SeqOptions#numBeams}) of each source (token ids as the tokenizer
     * gives them, eos included), as Hugging Face's {@code generate(do_sample=False, num_beams=B, max_new_tokens=N)}
     * runs it: the decoder starts from decoder_start_token_id; forced BOS/EOS apply; a request ends after eos. The
     * result holds the generated ids (eos included when reached, the decoder start token not); for beam search the
     * best hypothesis.
     */
    public List<int[]> generateIds(List<int[]> sources, Seq2SeqOptions options) {
        Seq2SeqLimits limits = graph.limits();
        int maxNew = Math.min(options.maxNewTokens(), limits.maxTarget() - 1), beams = options.numBeams();
        if (beams > limits.maxRows()) {
            throw new IllegalArgumentException(beams + " beams exceed the " + limits.maxRows() + " decoder rows this model was loaded "
                    + "for (LoadOptions.maxSequences)");
        }
        GenerationConfig search = beams > 1 ? generationConfig().toBuilder().numBeams(beams).numReturnSequences(1)
                .maxLength(-1).maxNewTokens(maxNew).build() : null;
        List<int[]> results = new ArrayList<>();
        int i = 0;
        while (i < sources.size()) {
            // as many requests as one encode pass and the decoder rows (beams rows each) hold
            int n = 0, tokens = 0;
            while (i + n < sources.size() && n < Math.min(limits.maxSources(), limits.maxRows() / beams)
                    && tokens + sources.get(i + n).length <= limits.maxSourceTokens()) {
                tokens += sources.get(i + n).length;
                n++;
            }
            if (n == 0) {
                throw new IllegalArgumentException("source " + i + " has " + sources.get(i).length + " tokens; one encode pass holds "
                        + limits.maxSourceTokens() + " (Seq2SeqLimits.maxSourceTokens)");
            }
            List<int[]> chunk = sources.subList(i, i + n);
            results.addAll(search == null ? greedy(chunk, maxNew) : beamSearch(chunk, search, beams, maxNew));
            i += n;
        }
        return results;
    }

    /** The model directory's generation settings (generation_config.json, else config.json's generation keys), read once. */
    private synchronized GenerationConfig generationConfig() {
        if (generation == null) generation = GenerationConfigFiles.load(config().source().getParent());
        return generation;
    }

    private List<int[]> beamSearch(List<int[]> sources, GenerationConfig search, int beams, int maxNew) {
        Seq2SeqScheduler.Member member = scheduler.join(sources, beams, maxNew + 1);
        try {
            int[][] starts = new int[sources.size()][];
            for (int s = 0; s < starts.length; s++) starts[s] = new int[] {config().decoderStartId()};
            List<int[]> out = new ArrayList<>();
            for (List<Hypothesis> best : BeamSearch.run(new MemberBeams(member, beams), starts, search)) {
                int[] t = best.getFirst().tokens();
                out.add(Arrays.copyOfRange(t, 1, t.length)); // without the decoder start token
            }
            return out;
        } finally {
            scheduler.leave(member);
        }
    }

    /**
     * One call's rows as a {@link BeamModel}: input s owns the member's decoder rows [s * beams, (s + 1) * beams), and a
     * search row is one of its input's rows. A step puts the k-th new row of input s on that input's k-th decoder row,
     * its parent's history shared with it by {@link Seq2SeqGraph#step} (which reads every parent as it was before the
     * step, so rows may trade places).
     */
    private final class MemberBeams implements BeamModel {
        private final Seq2SeqScheduler.Member member;
        private final int[] decoderRows;
        private final int beams;
        private final boolean[] finished;
        private int[] rowOf = new int[0], inputOf = new int[0]; // per search row: its decoder row and input

        MemberBeams(Seq2SeqScheduler.Member member, int beams) {
            this.member = member;
            this.decoderRows = member.rows();
            this.beams = beams;
            this.finished = new boolean[decoderRows.length / beams];
        }

        @Override
        public float[][] start(int[][] prompts) {
            int n = prompts.length;
            int[] rows = new int[n], tokens = new int[n];
            for (int s = 0; s < n; s++) {
                if (prompts[s].length != 1) throw new IllegalArgumentException("an encoder-decoder search starts from the decoder start token alone");
                rows[s] = decoderRows[s * beams];
                tokens[s] = prompts[s][0];
            }
            rowOf = rows;
            inputOf = new int[n];
            for (int s = 0; s < n; s++) inputOf[s] = s;
            return scheduler.step(member, rows, rows, tokens);
        }

        @Override
        public float[][] step(int[] parents, int[] tokens) {
            int k = parents.length;
            int[] rows = new int[k], parentRows = new int[k], inputs = new int[k];
            int[] used = new int[decoderRows.length / beams];
            for (int j = 0; j < k; j++) {
                int in = inputOf[parents[j]];
                if (used[in] == beams) throw new IllegalStateException("beam search asked for more than " + beams + " rows of input " + in);
                inputs[j] = in;
                rows[j] = decoderRows[in * beams + used[in]++];
                parentRows[j] = rowOf[parents[j]];
            }
            rowOf = rows;
            inputOf = inputs;
            for (int in = 0; in < used.length; in++) { // an input whose search ended: its rows' blocks go back now
                if (used[in] == 0 && !finished[in]) {
                    finished[in] = true;
                    scheduler.finishRows(member, Arrays.copyOfRange(decoderRows, in * beams, (in + 1) * beams));
                }
            }
            return scheduler.step(member, rows, parentRows, tokens);
        }
    }

    private List<int[]> greedy(List<int[]> sources, int maxNew) {
        Seq2SeqConfig c = config();
        int n = sources.size();
        Seq2SeqScheduler.Member member = scheduler.join(sources, 1, maxNew + 1);
        try {
            int[] rowOf = member.rows();
            int[][] out = new int[n][maxNew];
            int[] produced = new int[n], last = new int[n];
            Arrays.fill(last, c.decoderStartId());
            boolean[] done = new boolean[n];
            for (int step = 0; step < maxNew; step++) {
                int active = 0;
                for (int r = 0; r < n; r++) if (!done[r]) active++;
                if (active == 0) break;
                int[] which = new int[active], rows = new int[active], tokens = new int[active];
                for (int r = 0, a = 0; r < n; r++) {
                    if (done[r]) continue;
                    which[a] = r;
                    rows[a] = rowOf[r];
                    tokens[a++] = last[r];
                }
                float[][] logits = scheduler.step(member, rows, rows, tokens);
                for (int a = 0; a < active; a++) {
                    int r = which[a], tok;
                    if (step == 0 && c.forcedBos() >= 0) tok = c.forcedBos();
                    else if (step == maxNew - 1 && c.forcedEos() >= 0) tok = c.forcedEos();
                    else tok = argmax(logits[a]);
                    out[r][produced[r]++] = tok;
                    last[r] = tok;
                    if (tok == c.eosId()) {
                        done[r] = true;
                        scheduler.finishRows(member, new int[] {rowOf[r]}); // its blocks back now, not when the call ends
                    }
                }
            }
            List<int[]> result = new ArrayList<>();
            for (int r = 0; r < n; r++) result.add(Arrays.copyOf(out[r], produced[r]));
            return result;
        } finally {
            scheduler.leave(member);
        }
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    @Override
    public void close() {
        try {
            scheduler.close();
            graph.close();
        } finally {
            arena.close();
        }
    }
}
