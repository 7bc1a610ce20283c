package io.transfuse.engine;

import io.transfuse.GenerationResult;

import java.util.concurrent.CompletableFuture;

/**
 * A request submitted to an {@link Engine}: its text streams to the callback given at submission, and
 * {@link #result()} completes with the whole result (exceptionally with a CancellationException when
 * cancelled, or with the error that ended it).
 */
public final class Generation {
    private final Job job;

    Generation(Job job) {
        this.job = job;
    }

    /** Unique within its engine, in submission order. */
    public long id() { return job.id; }

    /** Tokens of the prompt (with BOS where the tokenizer adds one). */
    public int promptTokens() { return job.decoding.promptTokens(); }

    /** Completes when generation ends. Cancelling it cancels the request. */
    public CompletableFuture<GenerationResult> result() { return job.future; }

    /** Stops the request (waiting or running) and frees what it holds; its result completes as cancelled. */
    public void cancel() {
        job.future.cancel(false);
        job.wake.run();
    }

    /** Waits for the result. */
    public GenerationResult join() { return job.future.join(); }
}
