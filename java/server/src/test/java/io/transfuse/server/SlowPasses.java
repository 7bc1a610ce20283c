package io.transfuse.server;

import io.transfuse.engine.EngineListener;

/**
 * An engine listener that sleeps 20 ms after every forward pass, on the engine's thread: it makes the engine slow on
 * purpose, so that a request of n tokens takes at least n * 20 ms and a test can tell "cut short" from "ran out".
 */
final class SlowPasses implements EngineListener {
    static final long PASS_MILLIS = 20;

    @Override
    public void step(int sequences, int tokens, long nanos) {
        try {
            Thread.sleep(PASS_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
