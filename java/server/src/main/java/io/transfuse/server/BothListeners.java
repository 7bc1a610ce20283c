package io.transfuse.server;

import io.transfuse.GenerationResult;
import io.transfuse.engine.EngineListener;

/** Tells two engine listeners everything: the server's metrics and the caller's own (tests, embedding programs). */
record BothListeners(EngineListener first, EngineListener second) implements EngineListener {
    @Override
    public void step(int sequences, int tokens, long nanos) {
        first.step(sequences, tokens, nanos);
        second.step(sequences, tokens, nanos);
    }

    @Override
    public void firstToken(long nanos) {
        first.firstToken(nanos);
        second.firstToken(nanos);
    }

    @Override
    public void interToken(long nanos) {
        first.interToken(nanos);
        second.interToken(nanos);
    }

    @Override
    public void finished(GenerationResult result) {
        first.finished(result);
        second.finished(result);
    }
}
