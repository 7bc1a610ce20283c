package io.transfuse.bench;

import io.transfuse.engine.EngineListener;

import java.util.Arrays;

/**
 * Records, for {@link EngineBench}, what each forward pass of an engine produced: when it ended, how many
 * tokens it generated, how many of those were first tokens, and whether a request finished in it. Step
 * numbers let the bench pick the passes in which every request of a round was decoding, without guessing
 * from timestamps. The engine calls it from its one thread; the bench reads it when the engine is idle
 * (after the round's results completed, which orders the reads after the writes), so plain synchronized
 * methods suffice.
 */
final class StepClock implements EngineListener {
    private long[] endNanos = new long[256];
    private int[] tokens = new int[256], firsts = new int[256], finishes = new int[256];
    private int steps;
    private volatile int firstTokens;

    /** Forgets every step (call while the engine is idle). */
    synchronized void reset() {
        steps = 0;
        firstTokens = 0;
    }

    /** First tokens seen since the last reset (read while the engine runs). */
    int firstTokens() { return firstTokens; }

    @Override
    public synchronized void step(int sequences, int tokenCount, long nanos) {
        if (steps == endNanos.length) {
            int n = 2 * steps;
            endNanos = Arrays.copyOf(endNanos, n);
            tokens = Arrays.copyOf(tokens, n);
            firsts = Arrays.copyOf(firsts, n);
            finishes = Arrays.copyOf(finishes, n);
        }
        endNanos[steps] = System.nanoTime();
        tokens[steps] = firsts[steps] = finishes[steps] = 0;
        steps++;
    }

    @Override
    public synchronized void firstToken(long nanos) {
        if (steps == 0) return;
        tokens[steps - 1]++;
        firsts[steps - 1]++;
        firstTokens++;
    }

    @Override
    public synchronized void interToken(long nanos) {
        if (steps > 0) tokens[steps - 1]++;
    }

    /**
     * A request of the measured round ended (called from its future's completion, which the engine runs
     * inside the pass that ended it). Not {@link EngineListener#finished}: that also reports requests of other rounds (the
     * under-load probe) whose callback can come after the bench has moved on and reset the clock.
     */
    synchronized void requestEnded() {
        if (steps > 0) finishes[steps - 1]++;
    }

    /**
     * The decode window of a round of {@code requests} requests submitted together: the passes after the
     * one that gave the last request its first token, up to the one in which the first request finished
     * (every request decoding in each of them). When the first request finished before the last one
     * started (a short generation behind long prefills), the window runs to the last pass instead and is
     * marked {@code allDecoding = false}. Null when no pass follows the last first token.
     */
    synchronized Window window(int requests) {
        int lastFirst = -1, seen = 0;
        for (int s = 0; s < steps && seen < requests; s++) {
            seen += firsts[s];
            if (seen >= requests) lastFirst = s;
        }
        if (lastFirst < 0) return null;
        int firstFinish = -1;
        for (int s = 0; s < steps && firstFinish < 0; s++) if (finishes[s] > 0) firstFinish = s;
        boolean allDecoding = firstFinish > lastFirst;
        int end = allDecoding ? firstFinish : steps - 1;
        if (end <= lastFirst) return null;
        long generated = 0;
        for (int s = lastFirst + 1; s <= end; s++) generated += tokens[s];
        return new Window(end - lastFirst, generated, (endNanos[end] - endNanos[lastFirst]) / 1e9, allDecoding);
    }

    /** Passes, tokens generated in them, and their wall time from the end of the pass before the first. */
    record Window(int steps, long tokens, double seconds, boolean allDecoding) {
        double tokensPerSecond() { return tokens / seconds; }
    }
}
