package io.transfuse.engine;

import io.transfuse.GenerationResult;

/**
 * Told what the engine does, for metrics (the server's /metrics binds it to histograms). Called on the
 * engine's thread: keep it short and never block.
 */
public interface EngineListener {
    EngineListener NONE = new EngineListener() {};

    /** A forward pass ran {@code tokens} tokens of {@code sequences} sequences in {@code nanos}. */
    default void step(int sequences, int tokens, long nanos) {}

    /** A request's first token came {@code nanos} after it was submitted. */
    default void firstToken(long nanos) {}

    /** A request's next token came {@code nanos} after its previous one. */
    default void interToken(long nanos) {}

    /** A request ended with a result (not called for cancelled or failed ones). */
    default void finished(GenerationResult result) {}
}
