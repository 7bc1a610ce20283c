package io.transfuse.model.seq2seq;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching for an encoder-decoder graph: many callers, each driving its own search (greedy decoding, a beam
 * search) from its own thread, share the graph's encoder passes and decoder steps. A caller {@link #join}s with its
 * sources (they wait in arrival order until source slots, cross-attention rows and decoder rows are free; the sources
 * of every caller waiting then are encoded in one pass), then posts one step at a time ({@link #step}) and gets its
 * rows' logits; a decoder step runs as soon as every member has posted, with all their rows in one
 * {@link Seq2SeqGraph#step}. A new member thus joins at the next step after its encoder pass, and a member that
 * {@link #leave}s (done, failed or cancelled) gives its rows, KV blocks and source slots back before the next step.
 *
 * <p>No thread of its own: the callers run the work (leader/follower). Whichever waiting caller finds work ready (the
 * last member to post completes the barrier; a joiner finds its sources admissible) runs it, one piece at a time, with
 * the lock released (so callers arriving meanwhile queue up and are admitted before the next step); a lone caller
 * thus runs its own steps without any thread hand-off (a hand-off costs a scheduler wake-up per step, milliseconds on
 * a loaded machine).
 *
 * <p>Why a barrier rather than a timer: members compute their next tokens in microseconds (an argmax, a beam update),
 * so waiting for all of them costs nothing and every step carries every member; a timer would split steps under load.
 *
 * <p>Guarantees: thread-safe; every posted step is answered exactly once (logits or the step's exception); a caller
 * interrupted while waiting withdraws its request if it was not taken yet, else waits for the step in flight, and gets
 * a {@link CancellationException}; one piece of work touches the graph at a time (or, when idle, a test driving it
 * directly).
 */
final class Seq2SeqScheduler implements AutoCloseable {
    private final Seq2SeqGraph graph;
    private final ArrayDeque<Member> waiting = new ArrayDeque<>();
    private final List<Member> members = new ArrayList<>();
    private final List<Member> leaving = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** A caller is running a piece of work (an encoder pass or a decoder step) on the graph, with the lock released. */
    private boolean working;
    private boolean closed;
    private long steps, stepRows, encoderPasses;

    /** One caller's share: its source slots and decoder rows ({@code rowsPerSource} per source, in source order). */
    final class Member {
        private final List<int[]> sourceIds;
        private final int rowsPerSource, maxTokens;
        private int[] sources, rows;
        private RuntimeException failure;
        // the posted step: rows, parents, tokens; taken by the driver; its answer
        private int[] postRows, postParents, postTokens;
        private boolean taken, answered, left, released;
        private float[][] logits;

        private Member(List<int[]> sourceIds, int rowsPerSource, int maxTokens) {
            this.sourceIds = sourceIds;
            this.rowsPerSource = rowsPerSource;
            this.maxTokens = maxTokens;
        }

        /** The decoder rows: source s's rows are {@code rows()[s * rowsPerSource ..]}. */
        int[] rows() { return rows.clone(); }

        private boolean posted() { return postRows != null && !taken; }
    }

    Seq2SeqScheduler(Seq2SeqGraph graph) {
        this.graph = graph;
    }

    /**
     * Waits until the sources are encoded and {@code rowsPerSource} empty decoder rows of {@code maxTokens} tokens each
     * are bound to each of them. Fails at once for sources that could never fit the graph's limits.
     */
    Member join(List<int[]> sourceIds, int rowsPerSource, int maxTokens) {
        Seq2SeqLimits l = graph.limits();
        int tokens = 0;
        for (int[] s : sourceIds) tokens += s.length;
        if (sourceIds.isEmpty() || sourceIds.size() > l.maxSources() || (long) sourceIds.size() * rowsPerSource > l.maxRows()
                || tokens > l.maxSourceTokens()) {
            throw new IllegalArgumentException(sourceIds.size() + " sources of " + tokens + " tokens with " + rowsPerSource
                    + " rows each exceed what the model was loaded for (" + l.maxSources() + " sources, " + l.maxSourceTokens()
                    + " source tokens, " + l.maxRows() + " decoder rows)");
        }
        Member m = new Member(List.copyOf(sourceIds), rowsPerSource, maxTokens);
        // a caller that runs the work itself may never wait: look at its interrupt status at every call
        if (Thread.currentThread().isInterrupted()) throw new CancellationException("interrupted before joining the running batch");
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the model is closed");
            waiting.addLast(m);
            boolean interrupted = false;
            while (m.rows == null && m.failure == null) {
                drive(() -> m.rows != null || m.failure != null);
                if (m.rows != null || m.failure != null) break;
                try {
                    changed.await();
                } catch (InterruptedException e) {
                    if (m.rows == null && m.failure == null && waiting.remove(m)) {
                        Thread.currentThread().interrupt();
                        throw new CancellationException("interrupted while waiting for room in the running batch");
                    }
                    interrupted = true;
                }
            }
            if (m.failure != null) throw m.failure;
            if (interrupted) {
                Thread.currentThread().interrupt();
                leaveLocked(m);
                throw new CancellationException("interrupted while joining the running batch");
            }
            return m;
        } finally {
            lock.unlock();
        }
    }

    /**
     * One decoder step of member {@code m}'s rows ({@link Seq2SeqGraph#step}'s arguments, rows and parents among
     * {@link Member#rows()}), run together with every other member's; returns the logits of m's rows.
     */
    float[][] step(Member m, int[] rows, int[] parents, int[] tokens) {
        for (int[] a : new int[][] {rows, parents}) {
            for (int r : a) {
                if (Arrays.stream(m.rows).noneMatch(x -> x == r)) throw new IllegalArgumentException("row " + r + " is not one of this request's rows");
            }
        }
        if (Thread.currentThread().isInterrupted()) throw new CancellationException("interrupted between decoder steps");
        lock.lock();
        try {
            if (m.left) throw new IllegalStateException("the request has left the batch");
            if (m.failure != null) throw m.failure;
            awaitIdleGraph();
            graph.checkStep(rows, parents, tokens); // a bad request fails alone, not the shared step
            m.postRows = rows.clone();
            m.postParents = parents.clone();
            m.postTokens = tokens.clone();
            m.taken = m.answered = false;
            m.logits = null;
            boolean interrupted = false;
            while (!m.answered) {
                drive(() -> m.answered);
                if (m.answered) break;
                try {
                    changed.await();
                } catch (InterruptedException e) {
                    interrupted = true;
                    if (!m.taken) { // withdraw: no step took it
                        m.postRows = m.postParents = m.postTokens = null;
                        changed.signalAll();
                        break;
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
                throw new CancellationException("interrupted while waiting for a decoder step");
            }
            m.postRows = m.postParents = m.postTokens = null;
            if (m.failure != null) throw m.failure;
            float[][] out = m.logits;
            m.logits = null;
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Member m's {@code rows} are finished (their sources' searches ended while the member goes on): their KV blocks go
     * back to the pool now rather than when the member leaves.
     */
    void finishRows(Member m, int[] rows) {
        for (int r : rows) {
            if (Arrays.stream(m.rows).noneMatch(x -> x == r)) throw new IllegalArgumentException("row " + r + " is not one of this request's rows");
        }
        lock.lock();
        try {
            awaitIdleGraph();
            if (m.left) return;
            for (int r : rows) graph.emptyRow(r);
        } finally {
            lock.unlock();
        }
    }

    /** Ends member m: its rows, their KV blocks and its source slots are released before the next step. Idempotent. */
    void leave(Member m) {
        lock.lock();
        try {
            leaveLocked(m);
            boolean interrupted = false;
            while (!m.released && !closed) {
                drive(() -> m.released);
                if (m.released) break;
                try {
                    changed.await();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    private void leaveLocked(Member m) {
        if (m.left) return;
        m.left = true;
        m.postRows = m.postParents = m.postTokens = null;
        leaving.add(m);
        changed.signalAll();
    }

    /** Decoder steps run so far (each carrying every member's rows). */
    long steps() {
        lock.lock();
        try {
            return steps;
        } finally {
            lock.unlock();
        }
    }

    /** Rows stepped so far, summed over steps. */
    long stepRows() {
        lock.lock();
        try {
            return stepRows;
        } finally {
            lock.unlock();
        }
    }

    /** Encoder passes run so far. */
    long encoderPasses() {
        lock.lock();
        try {
            return encoderPasses;
        } finally {
            lock.unlock();
        }
    }

    // ---- the work, run by the callers ---------------------------------------------------------------

    /**
     * Runs ready work (releases of leaving members, an encoder pass, a decoder step) until there is none or
     * {@code done} holds for the calling thread, unless another caller is running work. Holds the lock, except while the
     * graph computes ({@link #unlocked}).
     */
    private void drive(java.util.function.BooleanSupplier done) {
        while (!working && !done.getAsBoolean()) {
            releaseLeaving();
            if (done.getAsBoolean()) return;
            if (closed) {
                failAll(new IllegalStateException("the model was closed"));
                return;
            }
            List<Member> admit = admissible();
            List<Member> stepping = admit.isEmpty() ? ready() : List.of();
            if (admit.isEmpty() && stepping.isEmpty()) return;
            for (Member m : stepping) m.taken = true;
            working = true;
            try {
                if (!admit.isEmpty()) encode(admit);
                else step(stepping);
            } finally {
                working = false;
                changed.signalAll();
            }
        }
    }

    /** Releases what leaving members hold (rows first, then the sources they read). Holds the lock. */
    private void releaseLeaving() {
        if (leaving.isEmpty()) return;
        for (Member m : leaving) {
            if (m.rows != null) {
                for (int r : m.rows) graph.releaseRow(r);
                for (int s : m.sources) graph.releaseSource(s);
            }
            members.remove(m);
            m.released = true;
        }
        leaving.clear();
        changed.signalAll();
    }

    /** The waiting members, from the front, that fit the graph together now (one encoder pass). Holds the lock. */
    private List<Member> admissible() {
        List<Member> out = new ArrayList<>();
        if (waiting.isEmpty()) return out;
        // With no member running, whatever the graph holds was left by a direct driver (a test): the batch owns it now.
        if (members.isEmpty()) graph.releaseAll();
        int sources = 0, tokens = 0, rows = 0;
        for (Member m : waiting) {
            int t = 0;
            for (int[] s : m.sourceIds) t += s.length;
            int n = m.sourceIds.size(), r = n * m.rowsPerSource;
            if (!graph.fits(sources + n, tokens + t) || rows + r > graph.freeRows()) break;
            out.add(m);
            sources += n;
            tokens += t;
            rows += r;
        }
        waiting.removeAll(out);
        return out;
    }

    /** Every member has posted a step (and at least one exists): they all run now. Holds the lock. */
    private List<Member> ready() {
        if (members.isEmpty()) return List.of();
        for (Member m : members) if (!m.posted()) return List.of();
        return List.copyOf(members);
    }

    /** One encoder pass for the admitted members; binds their rows. Holds the lock except while the encoder runs. */
    private void encode(List<Member> admit) {
        List<int[]> all = new ArrayList<>();
        for (Member m : admit) all.addAll(m.sourceIds);
        RuntimeException failure = null;
        int[] slots = null;
        try {
            slots = unlocked(() -> graph.addSources(all));
        } catch (RuntimeException e) {
            failure = e;
        }
        encoderPasses++;
        int at = 0;
        for (Member m : admit) {
            if (failure != null) {
                m.failure = failure;
                continue;
            }
            int n = m.sourceIds.size();
            m.sources = Arrays.copyOfRange(slots, at, at + n);
            at += n;
            int[] rows = new int[n * m.rowsPerSource];
            for (int s = 0; s < n; s++) {
                for (int k = 0; k < m.rowsPerSource; k++) rows[s * m.rowsPerSource + k] = graph.addRow(m.sources[s], m.maxTokens);
            }
            m.rows = rows;
            members.add(m);
        }
    }

    /** One decoder step of every member's posted rows. Holds the lock except while the decoder runs. */
    private void step(List<Member> stepping) {
        int n = 0;
        for (Member m : stepping) n += m.postRows.length;
        int[] rows = new int[n], parents = new int[n], tokens = new int[n];
        int at = 0;
        for (Member m : stepping) {
            System.arraycopy(m.postRows, 0, rows, at, m.postRows.length);
            System.arraycopy(m.postParents, 0, parents, at, m.postRows.length);
            System.arraycopy(m.postTokens, 0, tokens, at, m.postRows.length);
            at += m.postRows.length;
        }
        float[][] logits = null;
        RuntimeException failure = null;
        try {
            logits = unlocked(() -> graph.step(rows, parents, tokens));
        } catch (RuntimeException e) {
            failure = e;
        }
        steps++;
        stepRows += n;
        at = 0;
        for (Member m : stepping) {
            int k = m.postRows.length;
            if (failure != null) m.failure = failure;
            else m.logits = Arrays.copyOfRange(logits, at, at + k);
            at += k;
            m.answered = true;
        }
    }

    /**
     * Runs graph work with the lock released (callers arriving meanwhile join the queue, so they are admitted before
     * the next step rather than racing the running caller for the lock), {@link #working} keeping others off the graph.
     */
    private <T> T unlocked(java.util.function.Supplier<T> work) {
        lock.unlock();
        try {
            return work.get();
        } finally {
            lock.lock();
        }
    }

    /** Waits (uninterruptibly) until no work runs on the graph. Holds the lock. */
    private void awaitIdleGraph() {
        while (working) changed.awaitUninterruptibly();
    }

    private void failAll(RuntimeException e) {
        for (Member m : waiting) m.failure = e;
        waiting.clear();
        for (Member m : members) {
            m.failure = e;
            m.answered = true;
        }
        changed.signalAll();
    }

    /** Waits for the work running on the graph; then waiting and running callers fail. The graph is not closed here. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            awaitIdleGraph(); // the graph is closed after this returns: let the running work end first
            failAll(new IllegalStateException("the model was closed"));
        } finally {
            lock.unlock();
        }
    }
}
