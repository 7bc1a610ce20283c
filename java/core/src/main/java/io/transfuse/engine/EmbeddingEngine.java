package io.transfuse.engine;

import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;

import java.nio.file.Path;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Embeddings for many concurrent callers (TEI-style): requests that arrive while a batch runs are joined
 * into the next one, up to {@code maxBatchTexts} texts, so the encoder runs full packed batches
 * ({@link EmbeddingModel} packs texts without padding) instead of many small ones. Texts longer than the
 * model's {@link EmbeddingModel#maxTokens()} are truncated, or rejected when {@code truncate} is off.
 * Thread-safe; closing it fails what is still waiting, and closes the model only when the engine loaded it
 * ({@link #open}).
 */
public final class EmbeddingEngine implements AutoCloseable {
    private record Request(List<String> texts, CompletableFuture<float[][]> result) {}

    private static final Request STOP = new Request(List.of(), new CompletableFuture<>());

    private final EmbeddingModel model;
    private final int maxBatchTexts;
    private final boolean truncate;
    /** Whether the engine loaded the model ({@link #open}) and so closes it. */
    private final boolean ownsModel;
    private final LinkedBlockingQueue<Request> queue = new LinkedBlockingQueue<>();
    private final Thread worker;
    private volatile boolean closed;

    private EmbeddingEngine(EmbeddingModel model, int maxBatchTexts, boolean truncate, boolean ownsModel) {
        if (maxBatchTexts < 1) throw new IllegalArgumentException("max batch texts must be >= 1, got " + maxBatchTexts);
        this.model = model;
        this.maxBatchTexts = maxBatchTexts;
        this.truncate = truncate;
        this.ownsModel = ownsModel;
        this.worker = Thread.ofPlatform().name("transfuse-embeddings").daemon().unstarted(this::run);
    }

    /** An engine over {@code model}, which the caller keeps (and closes). */
    public static EmbeddingEngine start(EmbeddingModel model, int maxBatchTexts, boolean truncate) {
        java.util.Objects.requireNonNull(model, "model");
        return start(new EmbeddingEngine(model, maxBatchTexts, truncate, false));
    }

    /** Loads the encoder at {@code path} and starts an engine that owns it: closing the engine closes the model. */
    public static EmbeddingEngine open(Path path, LoadOptions load, EncoderOptions encoder, int maxBatchTexts, boolean truncate) {
        EmbeddingModel model = Transfuse.loadEncoder(path, load, encoder);
        try {
            return start(new EmbeddingEngine(model, maxBatchTexts, truncate, true));
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private static EmbeddingEngine start(EmbeddingEngine e) {
        e.worker.start();
        return e;
    }

    public EmbeddingModel model() { return model; }

    /** One embedding per text, in order. Fails at once for a null text or, without truncation, one that is too long. */
    public CompletableFuture<float[][]> embed(List<String> texts) {
        java.util.Objects.requireNonNull(texts, "texts");
        if (closed) throw new IllegalStateException("the embedding engine is closed");
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            if (t == null) throw new IllegalArgumentException("text " + i + " is null");
            if (!truncate) {
                int n = model.countTokens(t);
                if (n > model.maxTokens()) {
                    throw new TransfuseException("text " + i + " is " + n + " tokens; the model takes at most " + model.maxTokens());
                }
            }
        }
        CompletableFuture<float[][]> f = new CompletableFuture<>();
        if (texts.isEmpty()) {
            f.complete(new float[0][]);
            return f;
        }
        queue.add(new Request(List.copyOf(texts), f));
        return f;
    }

    private void run() {
        List<Request> batch = new ArrayList<>();
        try {
            while (!closed) {
                Request first = queue.take();
                if (first == STOP) break;
                batch.clear();
                batch.add(first);
                int texts = first.texts().size();
                // Join what else waits, up to the batch limit (a request is never split).
                for (Request r; texts < maxBatchTexts && (r = queue.peek()) != null && r != STOP
                        && texts + r.texts().size() <= maxBatchTexts; texts += r.texts().size()) {
                    batch.add(queue.poll());
                }
                runBatch(batch);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            List<Request> left = new ArrayList<>();
            queue.drainTo(left);
            for (Request r : left) r.result().completeExceptionally(new CancellationException("the embedding engine was closed"));
        }
    }

    private void runBatch(List<Request> batch) {
        List<Request> live = batch.stream().filter(r -> !r.result().isDone()).toList(); // not cancelled while waiting
        List<String> all = new ArrayList<>();
        for (Request r : live) all.addAll(r.texts());
        if (all.isEmpty()) return;
        float[][] out;
        try {
            out = model.embed(all);
        } catch (RuntimeException | Error e) {
            for (Request r : live) r.result().completeExceptionally(e);
            return;
        }
        int at = 0;
        for (Request r : live) {
            int n = r.texts().size();
            float[][] mine = new float[n][];
            System.arraycopy(out, at, mine, 0, n);
            at += n;
            r.result().complete(mine);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        queue.add(STOP);
        try {
            worker.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (ownsModel) model.close();
        }
    }
}
