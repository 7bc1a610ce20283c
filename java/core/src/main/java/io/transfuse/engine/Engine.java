package io.transfuse.engine;

import io.transfuse.CancellationToken;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.GenerationResult.StopReason;
import io.transfuse.LanguageModel;
import io.transfuse.TransfuseException;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.generate.Decoding;
import io.transfuse.internal.Internals;
import io.transfuse.model.BlockPool;
import io.transfuse.model.Decoder;
import io.transfuse.model.SequenceStateExhaustedException;
import io.transfuse.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Serves many generation requests at once on one loaded model: a thread-safe front (submit from any thread,
 * each request with its own options, streamed text, a future of the result, cancellation, a deadline) over
 * one engine thread that runs continuous batching ({@link Scheduler}: each forward pass carries the decode
 * tokens of every running sequence plus chunks of waiting prompts, over the model's paged KV cache with
 * prefix caching). Greedy output does not depend on what else runs: every sequence's rows are computed
 * the same way in any batch.
 *
 * <p>Text callbacks run on the engine's thread, between passes: keep them short (hand the text to a queue);
 * one that throws fails its own request only. The engine shares the model with its other users (sessions,
 * {@link LanguageModel#generate}): each pass holds the model's lock. Closing the engine cancels what remains;
 * it does not close the model.
 */
public final class Engine implements AutoCloseable {
    private final LanguageModel model;
    private final Decoder decoder;
    private final Tokenizer tokenizer;
    /** Held during each pass: the model's lock, which its sessions and generate take too. */
    private final Object lock;
    private final EngineOptions options;
    private final Scheduler scheduler;
    private final LinkedBlockingQueue<Job> inbox = new LinkedBlockingQueue<>();
    /** Requests submitted and not yet ended (waiting or running). */
    private final AtomicInteger unfinished = new AtomicInteger();
    private final AtomicLong ids = new AtomicLong(), rejected = new AtomicLong();
    private final Thread loop;
    private volatile boolean closed;
    // Written by the engine thread only, read by stats().
    private volatile int running;
    private volatile long promptTokens, generatedTokens, steps;
    /** When the engine found itself idle with a request it cannot start (0: not so); engine thread only. */
    private long noRoomSince;
    private static final long NO_ROOM_NANOS = 1_000_000_000L;

    private Engine(LanguageModel model, Decoder decoder, Tokenizer tokenizer, Object lock, EngineOptions options) {
        this.model = model;
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.lock = lock;
        this.options = options;
        int sequences = options.maxSequences() == 0 ? decoder.maxBatchSequences() : options.maxSequences();
        int tokens = options.maxBatchTokens() == 0 ? decoder.maxBatchTokens() : options.maxBatchTokens();
        if (sequences > decoder.maxBatchSequences()) {
            throw new IllegalArgumentException("max sequences " + sequences + " exceeds the " + decoder.maxBatchSequences()
                    + " the model was loaded for (LoadOptions.withMaxSequences, serve --max-sequences)");
        }
        if (tokens > decoder.maxBatchTokens() || tokens < sequences) {
            throw new IllegalArgumentException("max batch tokens " + tokens + " must be in [" + sequences + ", "
                    + decoder.maxBatchTokens() + "] (at least one per sequence, at most what a pass of the model takes)");
        }
        this.scheduler = new Scheduler(decoder, tokens, sequences, options.prefixCaching());
        this.loop = Thread.ofPlatform().name("transfuse-engine").daemon().unstarted(this::run);
    }

    /** Starts an engine on {@code model} (loaded with LoadOptions.withMaxSequences for the concurrency wanted). */
    public static Engine start(LanguageModel model, EngineOptions options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        return start(new Engine(model, Internals.decoder(model), model.tokenizer(), model, options));
    }

    /** An engine over a bare decoder (tests drive the scheduler with a model of known behaviour). */
    static Engine start(Decoder decoder, Tokenizer tokenizer, EngineOptions options) {
        return start(new Engine(null, decoder, tokenizer, decoder, options));
    }

    private static Engine start(Engine e) {
        e.loop.start();
        return e;
    }

    public LanguageModel model() { return model; }

    /** A continuation of {@code prompt} (tokenized with BOS where the model adds one). */
    public Generation generate(String prompt, GenerateOptions options, Consumer<String> onText) {
        Objects.requireNonNull(prompt, "prompt");
        return submit(tokenizer.encode(prompt, true), options, onText);
    }

    /** The assistant's reply to {@code messages}, rendered with the model's chat template (as {@link LanguageModel#chat}). */
    public Generation chat(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        Objects.requireNonNull(messages, "messages");
        if (messages.isEmpty()) throw new IllegalArgumentException("chat needs at least one message");
        ChatTemplate template = model.chatTemplate().orElseThrow(() -> new TransfuseException(model.source()
                + ": the model has no chat template (no tokenizer.chat_template in a GGUF file, no chat_template in tokenizer_config.json)"));
        return submit(model.chatPrompt(template, messages), options, onText);
    }

    /**
     * A continuation of the given prompt tokens. Fails at once (nothing queued) when the prompt leaves no room
     * in the context or has an id outside the vocabulary, or with {@link EngineOverloadedException} when the
     * queue is full.
     */
    public Generation submit(int[] promptTokens, GenerateOptions options, Consumer<String> onText) {
        return submit(promptTokens, options, onText, null);
    }

    /**
     * As {@link #submit(int[], GenerateOptions, Consumer)}; once {@code stop} is cancelled (from any thread, or from
     * {@code onText}) the request ends before its next token and its result completes normally with
     * {@link StopReason#CANCELLED} and the text so far ({@link Generation#cancel()} instead completes it as cancelled).
     *
     * @param stop a token that ends the request early, or null
     */
    public Generation submit(int[] promptTokens, GenerateOptions options, Consumer<String> onText, CancellationToken stop) {
        Objects.requireNonNull(promptTokens, "promptTokens");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(onText, "onText");
        if (closed) throw new IllegalStateException("the engine is closed");
        if (Thread.currentThread() == loop) {
            throw new IllegalStateException("a request submitted from the engine's own thread (a text callback) would wait for itself;"
                    + " hand the work to another thread");
        }
        // Checked here: a bad id found in a forward pass would fail every request of that pass.
        for (int i = 0; i < promptTokens.length; i++) {
            int id = promptTokens[i];
            if (id < 0 || id >= decoder.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " at index " + i + " is outside the vocabulary of " + decoder.vocabSize());
            }
        }
        long now = System.nanoTime();
        Decoding d = new Decoding(tokenizer, promptTokens, decoder.contextLength(), decoder.vocabSize(), options, onText);
        long deadline = options.timeout() == null ? Long.MAX_VALUE : now + options.timeout().toNanos();
        Job job = new Job(ids.incrementAndGet(), this::wake, d, now, deadline, stop);
        if (unfinished.incrementAndGet() - running > this.options.maxQueued()) {
            unfinished.decrementAndGet();
            rejected.incrementAndGet();
            throw new EngineOverloadedException("the engine's queue is full (" + this.options.maxQueued()
                    + " requests waiting); try again later");
        }
        inbox.add(job);
        return new Generation(job);
    }

    /** Load now and counters so far. */
    public EngineStats stats() {
        BlockPool pool = decoder.blockPool();
        int r = running;
        return new EngineStats(Math.max(0, unfinished.get() - r), r,
                pool == null ? 0 : pool.held(), pool == null ? 0 : pool.blocks(),
                pool == null ? 0 : pool.prefixQueries(), pool == null ? 0 : pool.prefixHits(),
                promptTokens, generatedTokens, steps, scheduler.preemptions, rejected.get());
    }

    void wake() {
        inbox.offer(WAKE);
    }

    private static final Job WAKE = new Job(0, () -> {}, null, 0, 0, null);

    private void run() {
        try {
            while (!closed) {
                List<Scheduler.Work> plan = plan();
                if (plan == null) break;
                running = scheduler.running.size();
                if (!plan.isEmpty()) step(plan);
                running = scheduler.running.size();
            }
        } finally {
            List<Job> left = new ArrayList<>(scheduler.running);
            left.addAll(scheduler.waiting);
            inbox.drainTo(left);
            for (Job j : left) {
                if (j == WAKE) continue;
                scheduler.remove(j);
                j.future.completeExceptionally(new CancellationException("the engine was closed"));
                unfinished.decrementAndGet();
            }
            running = 0;
        }
    }

    /** Takes in new requests, drops cancelled and expired ones, and plans the next pass (waiting for work when idle). */
    private List<Scheduler.Work> plan() {
        while (true) {
            Job j;
            boolean idle = scheduler.running.isEmpty();
            try {
                j = idle && scheduler.waiting.isEmpty() ? inbox.take()
                        : idle ? inbox.poll(5, TimeUnit.MILLISECONDS) // waiting for room (KV blocks, slots)
                        : inbox.poll();
            } catch (InterruptedException e) {
                return null;
            }
            for (; j != null; j = inbox.poll()) {
                if (j != WAKE) scheduler.waiting.addLast(j);
            }
            if (closed) return null;
            long now = System.nanoTime();
            for (Job job : jobs()) {
                if (job.future.isDone()) { // cancelled
                    scheduler.remove(job);
                    unfinished.decrementAndGet();
                }
                else if (job.stopAsked()) finish(job, StopReason.CANCELLED);
                else if (now >= job.deadline) finish(job, StopReason.TIMEOUT);
            }
            List<Scheduler.Work> plan = scheduler.schedule();
            if (plan.isEmpty() && scheduler.running.isEmpty() && !scheduler.waiting.isEmpty()) noRoom(now);
            else noRoomSince = 0;
            if (!plan.isEmpty() || !idle) return plan;
        }
    }

    /**
     * Nothing runs and the oldest waiting request cannot start: the KV blocks or state slots it needs are held outside
     * the engine (sessions of the model), or its first chunk needs more blocks than the pool has. Nothing the engine
     * does will free them, so rather than wait for ever: a garbage collection first (sessions dropped without close()
     * give theirs back), and if it still cannot start a second later, it fails with the reason.
     */
    private void noRoom(long now) {
        if (noRoomSince == 0) {
            noRoomSince = now;
            if (model != null && model.openSessions() > 0) System.gc();
        } else if (now - noRoomSince > NO_ROOM_NANOS) {
            noRoomSince = 0;
            Job head = scheduler.waiting.peekFirst();
            BlockPool pool = decoder.blockPool();
            fail(head, new SequenceStateExhaustedException(decoder.source() + ": no room to start " + head + " (nothing else runs in the engine): "
                    + (pool == null ? "every state slot" : pool.held() + " of " + pool.blocks() + " KV blocks")
                    + " held outside the engine" + (model == null ? "" : " by " + model.openSessions() + " open session(s)")
                    + "; close unused sessions, or load with LoadOptions.withMaxSequences for more"));
        }
    }

    private List<Job> jobs() {
        List<Job> all = new ArrayList<>(scheduler.running);
        all.addAll(scheduler.waiting);
        return all;
    }

    private void step(List<Scheduler.Work> plan) {
        List<Decoder.Input> inputs = new ArrayList<>(plan.size());
        int tokens = 0;
        for (Scheduler.Work w : plan) {
            Job job = w.job();
            if (w.last() && job.logits == null) job.logits = new float[decoder.vocabSize()];
            inputs.add(new Decoder.Input(job.sequence, job.decoding.tokens(), w.from(), w.count(), w.from(), w.last() ? job.logits : null));
            tokens += w.count();
        }
        long t0 = System.nanoTime();
        try {
            synchronized (lock) {
                decoder.forward(inputs);
            }
        } catch (RuntimeException | Error e) {
            for (Scheduler.Work w : plan) fail(w.job(), e);
            return;
        }
        long now = System.nanoTime();
        steps++;
        options.listener().step(plan.size(), tokens, now - t0);
        for (Scheduler.Work w : plan) {
            Job job = w.job();
            if (job.decoding.generated() == 0) promptTokens += w.count();
            scheduler.ran(w);
            if (!w.last()) continue;
            try {
                int before = job.decoding.generated();
                boolean more = job.decoding.next(job.logits);
                if (job.decoding.generated() > before) token(job, now);
                if (!more) finish(job, null);
            } catch (RuntimeException | Error e) { // the caller's text callback, say
                fail(job, e);
            }
        }
    }

    private void token(Job job, long now) {
        if (job.firstToken == 0) {
            job.firstToken = now;
            options.listener().firstToken(now - job.submitted);
        } else {
            options.listener().interToken(now - job.lastToken);
        }
        job.lastToken = now;
        generatedTokens++;
    }

    private void finish(Job job, StopReason why) {
        scheduler.remove(job);
        if (why != null) job.decoding.finish(why);
        long first = job.firstToken == 0 ? System.nanoTime() : job.firstToken;
        GenerationResult r = job.decoding.result(Math.max(0, job.decoding.generated() - 1), first - job.submitted,
                job.lastToken == 0 ? 0 : job.lastToken - first);
        unfinished.decrementAndGet();
        if (job.future.complete(r)) options.listener().finished(r);
    }

    private void fail(Job job, Throwable e) {
        scheduler.remove(job);
        unfinished.decrementAndGet();
        job.future.completeExceptionally(e);
    }

    /** Cancels every request still waiting or running and stops the engine's thread (the model stays open). */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        wake();
        try {
            loop.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
