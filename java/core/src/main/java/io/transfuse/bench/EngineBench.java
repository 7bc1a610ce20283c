package io.transfuse.bench;

import io.transfuse.Device;
import io.transfuse.internal.Internals;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import io.transfuse.engine.EngineStats;
import io.transfuse.engine.Generation;
import io.transfuse.SamplingOptions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;

/**
 * Throughput of the continuous-batching {@link Engine} with many users at once (issue 16, item 5). For each
 * concurrency C: C requests with distinct random-token prompts (token ids only, BOS first: random-weight
 * bench models have no real vocabulary), greedy, {@code genTokens} each, submitted at once to a fresh engine
 * on the same loaded model. Measured per round:
 * <ul>
 *   <li>aggregate decode tokens/s: tokens generated in the passes in which all C requests were decoding
 *   (after the pass that gave the last one its first token, up to the pass in which the first one finished;
 *   {@link StepClock}) over those passes' wall time. Greedy output of random weights can hit EOS, which ends
 *   a request early: the tokens counted are the ones really generated, and early stops are reported;</li>
 *   <li>time to first token of every request, from its submission (mean, p50, p90), and end-to-end
 *   throughput (all generated tokens over the round's wall time, prefill included);</li>
 *   <li>TTFT under load: one new request's time to first token while C-1 others are decoding.</li>
 * </ul>
 * Warm-up rounds (short generations, same C) run first at each level and, before the first level, until
 * {@code warmupSeconds} have passed (the JIT compiles the graph's Java path in the first seconds). Every
 * round draws new prompts, so the prefix cache (left on, as served) never hits between rounds.
 */
public final class EngineBench {
    private EngineBench() {}

    public record Options(int promptTokens, int genTokens, int threads, int[] concurrency, int repetitions, int warmup,
                          double warmupSeconds, long seed, Device device) {
        /** On {@link Device#AUTO}. */
        public Options(int promptTokens, int genTokens, int threads, int[] concurrency, int repetitions, int warmup,
                       double warmupSeconds, long seed) {
            this(promptTokens, genTokens, threads, concurrency, repetitions, warmup, warmupSeconds, seed, Device.AUTO);
        }

        public Options {
            if (device == null) throw new IllegalArgumentException("device must not be null (Device.AUTO picks one)");
            if (promptTokens < 2) throw new IllegalArgumentException("--prompt-tokens must be >= 2 (BOS and one more), got " + promptTokens);
            if (genTokens < 2) throw new IllegalArgumentException("--gen-tokens must be >= 2 for the engine bench, got " + genTokens);
            if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0, got " + threads);
            if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1, got " + repetitions);
            if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("--warmup-seconds must be >= 0, got " + warmupSeconds);
            if (concurrency == null || concurrency.length == 0) throw new IllegalArgumentException("--concurrency needs at least one level");
            concurrency = concurrency.clone();
            for (int c : concurrency) if (c < 1) throw new IllegalArgumentException("--concurrency levels must be >= 1, got " + c);
        }

        public int maxConcurrency() { return Arrays.stream(concurrency).max().orElseThrow(); }
    }

    /** Mean, median and 90th percentile of a list of milliseconds. */
    public record Millis(double mean, double p50, double p90) {
        static Millis of(double[] ms) {
            double[] s = ms.clone();
            Arrays.sort(s);
            return new Millis(Arrays.stream(s).average().orElse(Double.NaN), percentile(s, 0.5), percentile(s, 0.9));
        }

        /** Linear interpolation between closest ranks (numpy's default). */
        static double percentile(double[] sorted, double q) {
            if (sorted.length == 0) return Double.NaN;
            double at = q * (sorted.length - 1);
            int lo = (int) Math.floor(at), hi = Math.min(sorted.length - 1, lo + 1);
            return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
        }
    }

    /**
     * One concurrency level.
     *
     * @param decodeTokensPerSecond per repetition: aggregate tok/s in the all-decoding window
     * @param allDecoding           whether every repetition's window had all C requests decoding (else it ran to the end)
     * @param windowSteps           passes in the last repetition's window
     * @param generatedTokens       tokens generated in all measured rounds (EOS can end a request early)
     * @param earlyStops            measured requests that ended before {@code genTokens} (EOS)
     * @param ttft                  time to first token of every measured request, from its submission
     * @param ttftUnderLoadMs       one new request's TTFT while C-1 others decode (per repetition)
     * @param runningUnderLoad      requests still running when that request was submitted (last repetition)
     * @param stats                 the engine's counters after the measured rounds (warm-up included)
     */
    public record Level(int concurrency, double[] decodeTokensPerSecond, boolean allDecoding, int windowSteps,
                        double[] endToEndTokensPerSecond, long generatedTokens, int earlyStops, Millis ttft,
                        double[] ttftUnderLoadMs, int runningUnderLoad, EngineStats stats) {
        public LlmBench.Stat decode() { return LlmBench.Stat.of(decodeTokensPerSecond); }
    }

    public record Result(String model, int dim, int layers, String dtype, int threads, int promptTokens, int genTokens,
                         int repetitions, int context, List<Level> levels) {
        public String toJson() {
            StringBuilder b = new StringBuilder("{\n");
            b.append("  \"engine\": \"transfuse Engine\",\n");
            b.append("  \"model\": \"").append(model.replace("\\", "\\\\").replace("\"", "\\\"")).append("\",\n");
            b.append("  \"dim\": ").append(dim).append(", \"layers\": ").append(layers).append(", \"dtype\": \"").append(dtype).append("\",\n");
            b.append("  \"threads\": ").append(threads).append(", \"prompt_tokens\": ").append(promptTokens)
                    .append(", \"gen_tokens\": ").append(genTokens).append(", \"repetitions\": ").append(repetitions)
                    .append(", \"context\": ").append(context).append(",\n");
            b.append("  \"levels\": [");
            for (int i = 0; i < levels.size(); i++) {
                Level l = levels.get(i);
                EngineStats s = l.stats();
                b.append(i > 0 ? "," : "").append("\n    {\"concurrency\": ").append(l.concurrency())
                        .append(", \"decode_tok_s\": ").append(array(l.decodeTokensPerSecond()))
                        .append(", \"all_decoding\": ").append(l.allDecoding())
                        .append(", \"window_steps\": ").append(l.windowSteps())
                        .append(", \"end_to_end_tok_s\": ").append(array(l.endToEndTokensPerSecond()))
                        .append(", \"generated_tokens\": ").append(l.generatedTokens())
                        .append(", \"early_stops\": ").append(l.earlyStops())
                        .append(",\n     \"ttft_ms\": {\"mean\": ").append(num(l.ttft().mean())).append(", \"p50\": ").append(num(l.ttft().p50()))
                        .append(", \"p90\": ").append(num(l.ttft().p90())).append("}")
                        .append(", \"ttft_under_load_ms\": ").append(array(l.ttftUnderLoadMs()))
                        .append(", \"running_under_load\": ").append(l.runningUnderLoad())
                        .append(",\n     \"engine_stats\": {\"steps\": ").append(s.steps()).append(", \"prompt_tokens\": ").append(s.promptTokens())
                        .append(", \"generated_tokens\": ").append(s.generatedTokens()).append(", \"preemptions\": ").append(s.preemptions())
                        .append(", \"rejected\": ").append(s.rejected()).append(", \"kv_blocks_used\": ").append(s.kvBlocksUsed())
                        .append(", \"kv_blocks_total\": ").append(s.kvBlocksTotal()).append(", \"prefix_hit_rate\": ").append(num(s.prefixHitRate()))
                        .append("}}");
            }
            return b.append("\n  ]\n}\n").toString();
        }

        private static String array(double[] v) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < v.length; i++) b.append(i > 0 ? ", " : "").append(num(v[i]));
            return b.append(']').toString();
        }

        private static String num(double d) { return String.format(Locale.ROOT, "%.4f", d); }
    }

    public static Result run(Path modelPath, Options o) {
        String dtype = LlmBench.weightInfo(modelPath).dtype();
        // Context per sequence: the round's prompt and generation, and room for the under-load background
        // requests to keep decoding while the probe is prefilled (they are cancelled after it). A short
        // context keeps the KV pool (max C sequences of it) small.
        int wanted = o.promptTokens() + 4 * o.genTokens() + 16;
        LoadOptions load = LoadOptions.defaults().withThreads(o.threads()).withDevice(o.device()).withMaxSequences(o.maxConcurrency()).withContextLength(wanted);
        try (LanguageModel lm = Transfuse.load(modelPath, load)) {
            DecoderShape c = DecoderShape.of(Internals.decoder(lm));
            int context = Internals.decoder(lm).contextLength();
            if (o.promptTokens() + o.genTokens() >= context) {
                throw new IllegalArgumentException("prompt-tokens + gen-tokens = " + (o.promptTokens() + o.genTokens())
                        + " do not fit the model's context of " + context + " (" + modelPath + ")");
            }
            SplittableRandom prompts = new SplittableRandom(o.seed());
            List<Level> levels = new ArrayList<>();
            long warmEnd = System.nanoTime() + (long) (o.warmupSeconds() * 1e9);
            for (int conc : o.concurrency()) {
                StepClock clock = new StepClock();
                try (Engine engine = Engine.start(lm, EngineOptions.defaults().withMaxSequences(conc).withListener(clock))) {
                    int warmGen = Math.min(o.genTokens(), 8);
                    for (int w = 0; w < o.warmup() || System.nanoTime() < warmEnd; w++) {
                        round(engine, clock, lm, prompts, conc, o.promptTokens(), warmGen);
                    }
                    levels.add(level(engine, clock, lm, prompts, conc, o));
                }
            }
            return new Result(modelPath.toString(), c.dim(), c.layers(), dtype, o.threads(), o.promptTokens(), o.genTokens(),
                    o.repetitions(), context, levels);
        }
    }

    /**
     * Requests that share a system prompt, with the engine's prefix cache on and off (issue 16: the prefix-cache
     * effect): each of the {@code o.maxConcurrency()} requests of a round is the same {@code prefixTokens}-token
     * prefix (BOS and random ids, the same for the whole run, like a server's system prompt) followed by its own
     * {@code o.promptTokens()} random ids, greedy, {@code o.genTokens()} each, submitted at once. Per setting:
     * time to first token of every measured request (from submission), end-to-end tokens/s of the rounds, and
     * the share of prompt blocks found in the cache. Warm-up rounds first (so the cache holds the prefix, as on a
     * server that has been up for a while).
     */
    public record SharedPrefix(int prefixTokens, int concurrency, Millis ttftCached, Millis ttftUncached,
                               double endToEndCached, double endToEndUncached, double hitRate) {}

    public static SharedPrefix sharedPrefix(Path modelPath, Options o, int prefixTokens) {
        if (prefixTokens < 1) throw new IllegalArgumentException("--shared-prefix must be >= 1, got " + prefixTokens);
        int conc = o.maxConcurrency();
        int wanted = prefixTokens + o.promptTokens() + o.genTokens() + 16;
        LoadOptions load = LoadOptions.defaults().withThreads(o.threads()).withDevice(o.device()).withMaxSequences(conc).withContextLength(wanted);
        try (LanguageModel lm = Transfuse.load(modelPath, load)) {
            int vocab = Internals.decoder(lm).vocabSize();
            SplittableRandom random = new SplittableRandom(o.seed());
            int[] prefix = prompt(random, prefixTokens, vocab);
            Millis[] ttft = new Millis[2];
            double[] endToEnd = new double[2];
            double hitRate = 0;
            for (int cached = 1; cached >= 0; cached--) {
                try (Engine engine = Engine.start(lm, EngineOptions.defaults().withMaxSequences(conc).withPrefixCaching(cached == 1))) {
                    long warmEnd = System.nanoTime() + (long) (o.warmupSeconds() * 1e9);
                    for (int w = 0; w < Math.max(1, o.warmup()) || System.nanoTime() < warmEnd; w++) {
                        sharedRound(engine, random, prefix, conc, o.promptTokens(), Math.min(o.genTokens(), 8), vocab);
                    }
                    EngineStats before = engine.stats();
                    double[] ms = new double[o.repetitions() * conc];
                    long generated = 0;
                    double seconds = 0;
                    for (int r = 0; r < o.repetitions(); r++) {
                        Round round = sharedRound(engine, random, prefix, conc, o.promptTokens(), o.genTokens(), vocab);
                        seconds += round.seconds();
                        generated += round.generated();
                        for (int i = 0; i < conc; i++) ms[r * conc + i] = round.results().get(i).prefillNanos() / 1e6;
                    }
                    EngineStats after = engine.stats();
                    ttft[cached] = Millis.of(ms);
                    endToEnd[cached] = generated / seconds;
                    if (cached == 1) {
                        long queried = after.prefixQueryBlocks() - before.prefixQueryBlocks();
                        hitRate = queried == 0 ? 0 : (double) (after.prefixHitBlocks() - before.prefixHitBlocks()) / queried;
                    }
                }
            }
            return new SharedPrefix(prefixTokens, conc, ttft[1], ttft[0], endToEnd[1], endToEnd[0], hitRate);
        }
    }

    /** {@code conc} requests of the shared prefix plus their own {@code suffix} random ids, submitted at once. */
    private static Round sharedRound(Engine engine, SplittableRandom random, int[] prefix, int conc, int suffix, int gen, int vocab) {
        awaitIdle(engine);
        int[][] p = new int[conc][];
        for (int i = 0; i < conc; i++) {
            p[i] = Arrays.copyOf(prefix, prefix.length + suffix);
            int[] own = prompt(random, suffix + 1, vocab); // BOS dropped: only the prefix starts with it
            System.arraycopy(own, 1, p[i], prefix.length, suffix);
        }
        return submitAll(engine, p, gen, () -> {});
    }

    private static Level level(Engine engine, StepClock clock, LanguageModel lm, SplittableRandom prompts, int conc, Options o) {
        int reps = o.repetitions();
        double[] decode = new double[reps], endToEnd = new double[reps], underLoad = new double[reps];
        double[] ttft = new double[reps * conc];
        long generated = 0;
        int early = 0, windowSteps = 0, running = 0;
        boolean allDecoding = true;
        EngineStats stats = null;
        for (int r = 0; r < reps; r++) {
            Round round = round(engine, clock, lm, prompts, conc, o.promptTokens(), o.genTokens());
            StepClock.Window w = clock.window(conc);
            if (w == null) {
                throw new IllegalStateException("no decode pass after the last first token at concurrency " + conc
                        + " (every request stopped at its first token?); use more --gen-tokens");
            }
            decode[r] = w.tokensPerSecond();
            allDecoding &= w.allDecoding();
            windowSteps = w.steps();
            endToEnd[r] = round.generated / round.seconds;
            generated += round.generated;
            for (int i = 0; i < conc; i++) {
                GenerationResult g = round.results.get(i);
                ttft[r * conc + i] = g.prefillNanos() / 1e6;
                if (g.generatedTokens() < o.genTokens()) early++;
            }
            stats = engine.stats();
            long[] probe = ttftUnderLoad(engine, clock, lm, prompts, conc, o.promptTokens());
            underLoad[r] = probe[0] / 1e6;
            running = (int) probe[1];
        }
        return new Level(conc, decode, allDecoding, windowSteps, endToEnd, generated, early, Millis.of(ttft), underLoad, running, stats);
    }

    private record Round(List<GenerationResult> results, long generated, double seconds) {}

    /** {@code conc} requests of {@code gen} tokens submitted at once; waits for all of them. */
    private static Round round(Engine engine, StepClock clock, LanguageModel lm, SplittableRandom prompts, int conc, int promptTokens, int gen) {
        awaitIdle(engine);
        clock.reset();
        int[][] p = new int[conc][];
        for (int i = 0; i < conc; i++) p[i] = prompt(prompts, promptTokens, Internals.decoder(lm).vocabSize());
        return submitAll(engine, p, gen, clock::requestEnded);
    }

    /** The prompts submitted at once, greedy, {@code gen} tokens each ({@code ended} told as each finishes); waits for all. */
    private static Round submitAll(Engine engine, int[][] prompts, int gen, Runnable ended) {
        GenerateOptions options = new GenerateOptions(gen, SamplingOptions.greedy());
        List<Generation> gens = new ArrayList<>(prompts.length);
        long t0 = System.nanoTime();
        for (int[] p : prompts) {
            Generation g = engine.submit(p, options, text -> {});
            g.result().whenComplete((r, e) -> ended.run());
            gens.add(g);
        }
        List<GenerationResult> results = new ArrayList<>(prompts.length);
        long generated = 0;
        for (Generation g : gens) {
            GenerationResult r = g.join();
            results.add(r);
            generated += r.generatedTokens();
        }
        return new Round(results, generated, (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Starts {@code conc - 1} long requests, waits until all of them decode, submits one more and returns its
     * time to first token (nanoseconds) and how many requests were running when it came; then cancels the rest.
     */
    private static long[] ttftUnderLoad(Engine engine, StepClock clock, LanguageModel lm, SplittableRandom prompts, int conc, int promptTokens) {
        awaitIdle(engine);
        clock.reset();
        int vocab = Internals.decoder(lm).vocabSize();
        int background = conc - 1;
        // As long as the context allows: they must still be decoding when the probe is prefilled.
        GenerateOptions longRun = new GenerateOptions(Internals.decoder(lm).contextLength() - promptTokens - 1, SamplingOptions.greedy());
        List<Generation> others = new ArrayList<>(background);
        for (int i = 0; i < background; i++) others.add(engine.submit(prompt(prompts, promptTokens, vocab), longRun, text -> {}));
        long until = System.nanoTime() + 600_000_000_000L;
        // A request that meets EOS at once ends without a first token: count it as started.
        while (clock.firstTokens() + others.stream().filter(g -> g.result().isDone()).count() < background) {
            if (System.nanoTime() > until) throw new IllegalStateException("background requests did not start within 10 minutes");
            sleepMillis(1);
        }
        int running = engine.stats().running();
        Generation probe = engine.submit(prompt(prompts, promptTokens, vocab), new GenerateOptions(1, SamplingOptions.greedy()), text -> {});
        long ttft = probe.join().prefillNanos();
        for (Generation g : others) g.cancel();
        for (Generation g : others) {
            try {
                g.join();
            } catch (CancellationException | CompletionException done) { // cancelled, as intended (or ended by EOS)
            }
        }
        return new long[] {ttft, running};
    }

    /** Waits until the engine has no request left (cancelled ones are dropped at its next plan). */
    private static void awaitIdle(Engine engine) {
        long until = System.nanoTime() + 60_000_000_000L;
        while (engine.stats().running() > 0 || engine.stats().queued() > 0) {
            if (System.nanoTime() > until) throw new IllegalStateException("the engine did not become idle within 60 s: " + engine.stats());
            sleepMillis(1);
        }
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** BOS, then distinct random ids above the special tokens (0 unk, 1 BOS, 2 EOS). */
    static int[] prompt(SplittableRandom random, int length, int vocab) {
        int[] p = new int[length];
        p[0] = 1;
        for (int i = 1; i < length; i++) p[i] = 3 + random.nextInt(vocab - 3);
        return p;
    }
}
