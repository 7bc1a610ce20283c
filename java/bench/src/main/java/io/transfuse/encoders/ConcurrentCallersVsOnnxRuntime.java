package io.transfuse.encoders;

import io.transfuse.internal.Internals;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.transfuse.EmbeddingModel;
import io.transfuse.bench.EncoderBench;
import io.transfuse.engine.EmbeddingEngine;
import io.transfuse.tokenizer.hf.Encoding;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The "minilm 32 concurrent callers" row of ci/bench.sh (issue 16): {@code CALLERS} threads each embed one
 * text at a time through an {@link EmbeddingEngine}, which joins what arrives while a batch runs into the
 * next packed batch (TEI-style); texts/s over all callers. Beside it, ONNX Runtime Java at its best batch
 * size of {@link #PEER_BATCHES} (a single caller that has all texts at hand, the best case for a batch
 * runtime), measured in the same repetitions, alternating. Same texts and token count as
 * {@link EncoderVsOnnxRuntime}; writes OUT_DIR/encoder-minilm-callers32.json in its format.
 */
final class ConcurrentCallersVsOnnxRuntime {
    static final int CALLERS = 32;
    static final int[] PEER_BATCHES = {8, 16, 32, 64};

    private ConcurrentCallersVsOnnxRuntime() {}

    static void run(EmbeddingModel model, OrtEnvironment env, OrtSession session, String peerVersion, Path out, int threads,
                    int tokens, int reps, int textsPerRep, int warmupReps, double warmupSeconds) throws Exception {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < CALLERS; i++) texts.add(EncoderBench.text(model, tokens, i));
        ExecutorService callers = Executors.newFixedThreadPool(CALLERS);
        try (EmbeddingEngine engine = EmbeddingEngine.start(model, CALLERS, true)) {
            List<Input> peers = new ArrayList<>();
            for (int b : PEER_BATCHES) peers.add(input(model, texts, b, tokens));
            List<EncoderVsOnnxRuntime.Repetition> runs = new ArrayList<>();
            runs.add(() -> callers(engine, callers, texts, textsPerRep));
            for (Input in : peers) {
                int calls = Math.max(1, textsPerRep / in.ids.length);
                runs.add(() -> EncoderVsOnnxRuntime.onnxRuntime(env, session, in.ids, in.mask, in.types, calls));
            }
            for (EncoderVsOnnxRuntime.Repetition r : runs) EncoderVsOnnxRuntime.warmUp(r, warmupReps, warmupSeconds);
            double[][] v = new double[runs.size()][reps];
            for (int rep = 0; rep < reps; rep++) {
                // Alternate the order, so that neither side always runs right after the other's heat.
                for (int k = 0; k < runs.size(); k++) {
                    int i = rep % 2 == 0 ? k : runs.size() - 1 - k;
                    v[i][rep] = runs.get(i).textsPerSecond();
                }
            }
            int best = 1;
            for (int i = 2; i < runs.size(); i++) if (EncoderVsOnnxRuntime.median(v[i]) > EncoderVsOnnxRuntime.median(v[best])) best = i;
            int bestBatch = PEER_BATCHES[best - 1];
            String peerName = peerVersion + " batch " + bestBatch + " (best of " + Arrays.toString(PEER_BATCHES) + ")";
            String name = "minilm " + CALLERS + " concurrent callers (EmbeddingEngine)";
            Files.writeString(out.resolve("encoder-minilm-callers" + CALLERS + ".json"), String.format(Locale.ROOT,
                    "{\"name\": \"%s\", \"batch\": %d, \"tokens\": %d, \"threads\": %d, \"transfuse_texts_s\": %s, "
                            + "\"peer_texts_s\": %s, \"peer_name\": \"%s\"}%n",
                    name, CALLERS, tokens, threads, Arrays.toString(v[0]), Arrays.toString(v[best]), peerName));
            System.err.printf(Locale.ROOT, "%s (%d tokens, %d threads): transfuse %.0f texts/s, %s %.0f texts/s, ratio %.2f%n",
                    name, tokens, threads, EncoderVsOnnxRuntime.median(v[0]), peerName, EncoderVsOnnxRuntime.median(v[best]),
                    EncoderVsOnnxRuntime.median(v[0]) / EncoderVsOnnxRuntime.median(v[best]));
        } finally {
            callers.shutdownNow();
        }
    }

    /** Texts/s of {@code total} one-text embed calls shared among the caller threads. */
    private static double callers(EmbeddingEngine engine, ExecutorService pool, List<String> texts, int total) throws Exception {
        AtomicInteger next = new AtomicInteger();
        double[] sink = new double[CALLERS];
        List<Future<?>> done = new ArrayList<>(CALLERS);
        long t0 = System.nanoTime();
        for (int c = 0; c < CALLERS; c++) {
            int caller = c;
            done.add(pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < total; ) {
                    sink[caller] += engine.embed(List.of(texts.get(i % texts.size()))).join()[0][0];
                }
            }));
        }
        for (Future<?> f : done) f.get();
        double s = (System.nanoTime() - t0) / 1e9;
        if (Double.isNaN(Arrays.stream(sink).sum())) throw new IllegalStateException("EmbeddingEngine returned NaN");
        return total / s;
    }

    private record Input(long[][] ids, long[][] mask, long[][] types) {}

    /** ONNX Runtime's inputs for {@code batch} texts (the caller texts repeated), tokenised once by Transfuse's tokenizer. */
    private static Input input(EmbeddingModel model, List<String> texts, int batch, int tokens) {
        long[][] ids = new long[batch][tokens], mask = new long[batch][tokens], types = new long[batch][tokens];
        for (int b = 0; b < batch; b++) {
            Encoding e = Internals.tokenizer(model).encode(texts.get(b % texts.size()), true, model.maxTokens());
            for (int t = 0; t < tokens; t++) {
                ids[b][t] = e.ids()[t];
                mask[b][t] = 1;
                types[b][t] = e.typeIds()[t];
            }
        }
        return new Input(ids, mask, types);
    }
}
