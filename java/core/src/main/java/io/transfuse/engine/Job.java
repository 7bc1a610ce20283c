package io.transfuse.engine;

import io.transfuse.CancellationToken;
import io.transfuse.GenerationResult;
import io.transfuse.generate.Decoding;
import io.transfuse.model.Decoder;

import java.util.concurrent.CompletableFuture;

/** One request inside the engine: its tokens and text ({@link Decoding}), its sequence while it runs, its timings. */
final class Job {
    final long id;
    final Runnable wake;
    final Decoding decoding;
    final CompletableFuture<GenerationResult> future = new CompletableFuture<>();
    final long submitted, deadline;
    /** Ends the request with StopReason.CANCELLED (a normal result, the text so far) once cancelled; null if none. */
    final CancellationToken stop;
    /** The model's state for this request while it runs (null while it waits). */
    Decoder.Sequence sequence;
    /** Positions whose state the sequence holds: tokens [computed, length) are still to be fed. */
    int computed;
    float[] logits;
    long firstToken, lastToken;
    int preemptions;

    Job(long id, Runnable wake, Decoding decoding, long submitted, long deadline, CancellationToken stop) {
        this.id = id;
        this.stop = stop;
        this.wake = wake;
        this.decoding = decoding;
        this.submitted = submitted;
        this.deadline = deadline;
    }

    int length() { return decoding.length(); }

    boolean stopAsked() { return stop != null && stop.isCancelled(); }

    /** Tokens still to be fed before the next logits. */
    int pending() { return decoding.length() - computed; }

    /** Gives the sequence's state back (KV blocks, a slot); the job keeps its tokens and can start again. */
    void release() {
        if (sequence != null) sequence.close();
        sequence = null;
        computed = 0;
    }

    @Override
    public String toString() { return "request " + id; }
}
