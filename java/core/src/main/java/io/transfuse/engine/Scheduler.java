package io.transfuse.engine;

import io.transfuse.TransfuseException;
import io.transfuse.model.BlockPool;
import io.transfuse.model.Decoder;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Decides what each forward pass runs (continuous batching): first one token for every running sequence
 * that is decoding, then prompt chunks of running sequences still in prefill, then new requests from the
 * queue in arrival order, all under a token budget per pass, so a long prompt is prefilled in chunks
 * beside the others' decode steps instead of stalling them. A request starts only when the KV blocks of
 * its first chunk are free; a running sequence that needs a block when none is free takes it from the
 * newest running sequence, which goes back to the front of the queue and is recomputed later
 * (preemption by recompute, as vLLM does). New sequences first take the cached blocks of their prompt's
 * prefix ({@link Decoder.Sequence#reusePrefix}). Used by the engine's thread only: not thread-safe.
 */
final class Scheduler {
    /** Part of one pass: tokens [from, from + count) of a job; {@code last} when they end its pending tokens (logits wanted). */
    record Work(Job job, int from, int count, boolean last) {}

    private final Decoder decoder;
    private final int maxTokens, maxSequences;
    private final boolean prefixCaching;
    final Deque<Job> waiting = new ArrayDeque<>();
    /** In the order they started: the newest is preempted first. */
    final List<Job> running = new ArrayList<>();
    volatile long preemptions;
    /** Blocks the pass being planned will take when it runs (the pool hands them out only then). */
    private int plannedBlocks;

    Scheduler(Decoder decoder, int maxTokens, int maxSequences, boolean prefixCaching) {
        if (maxTokens < maxSequences) {
            throw new IllegalArgumentException("a pass of " + maxTokens + " tokens cannot give each of " + maxSequences + " sequences a token");
        }
        this.decoder = decoder;
        this.maxTokens = maxTokens;
        this.maxSequences = maxSequences;
        this.prefixCaching = prefixCaching;
    }

    /** The next pass, or an empty list when nothing can run now. */
    List<Work> schedule() {
        BlockPool pool = decoder.blockPool();
        List<Work> plan = new ArrayList<>();
        int budget = maxTokens;
        plannedBlocks = 0;
        Set<Job> inPlan = Collections.newSetFromMap(new IdentityHashMap<>());
        // Decode steps first, oldest first; then prefill chunks of running sequences.
        for (int pass = 0; pass < 2; pass++) {
            for (Job job : List.copyOf(running)) {
                if (budget == 0) break;
                boolean decoding = job.pending() == 1 && job.computed > 0;
                if (decoding != (pass == 0) || inPlan.contains(job) || !running.contains(job)) continue;
                int n = Math.min(job.pending(), budget);
                if (!reserveBlocks(pool, job, n, inPlan)) continue; // the job itself was preempted
                plan.add(new Work(job, job.computed, n, n == job.pending()));
                inPlan.add(job);
                budget -= n;
            }
        }
        // New requests, in arrival order, while a pass has room and their first chunk's blocks are free.
        while (!waiting.isEmpty() && running.size() < maxSequences && budget > 0) {
            Job job = waiting.peekFirst();
            if (!start(job)) break;
            int n = Math.min(job.pending(), budget);
            if (pool != null && pool.available() - plannedBlocks < blocksFor(pool, job, n)) {
                job.release();
                break;
            }
            if (pool != null) plannedBlocks += blocksFor(pool, job, n);
            waiting.pollFirst();
            running.add(job);
            plan.add(new Work(job, job.computed, n, n == job.pending()));
            budget -= n;
        }
        return plan;
    }

    /** After a pass ran {@code w}: the job's state holds its tokens. */
    void ran(Work w) {
        w.job().computed = w.from() + w.count();
        if (prefixCaching) w.job().sequence.publishPrefix(w.job().decoding.tokens(), w.job().computed);
    }

    /** Takes a job out of the scheduler (finished, cancelled or failed) and releases its state. */
    void remove(Job job) {
        running.remove(job);
        waiting.remove(job);
        job.release();
    }

    /** Blocks a job needs beyond those it holds to feed its next {@code n} tokens. */
    private static int blocksFor(BlockPool pool, Job job, int n) {
        return pool.blocksFor(job.computed + n) - pool.blocksFor(job.computed);
    }

    /**
     * Makes sure the blocks for a running job's next {@code n} tokens can be taken, preempting the newest
     * running jobs not in the plan as needed. Returns false when the job itself had to be preempted.
     */
    private boolean reserveBlocks(BlockPool pool, Job job, int n, Set<Job> inPlan) {
        if (pool == null) return true;
        int need = blocksFor(pool, job, n);
        while (pool.available() - plannedBlocks < need) {
            Job victim = null;
            for (int i = running.size() - 1; i >= 0 && victim == null; i--) {
                Job j = running.get(i);
                if (!inPlan.contains(j)) victim = j;
            }
            preempt(victim);
            if (victim == job) return false;
        }
        plannedBlocks += need;
        return true;
    }

    private void preempt(Job job) {
        running.remove(job);
        job.release();
        job.preemptions++;
        preemptions++;
        waiting.addFirst(job);
    }

    /** Gives a waiting job a sequence (reusing cached prefix blocks); false when the model has no room for one now. */
    private boolean start(Job job) {
        try {
            job.sequence = decoder.newSequence(decoder.contextLength());
        } catch (TransfuseException full) { // state slots taken (by sessions outside the engine)
            return false;
        }
        // Leave at least one token to feed: its logits are what the next step needs.
        job.computed = prefixCaching ? job.sequence.reusePrefix(job.decoding.tokens(), job.length() - 1) : 0;
        return true;
    }
}
