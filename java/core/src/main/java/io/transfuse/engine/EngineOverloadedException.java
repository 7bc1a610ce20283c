package io.transfuse.engine;

import io.transfuse.TransfuseException;

/** A request refused because the engine's queue is full: try again later (HTTP 429 with Retry-After). */
public final class EngineOverloadedException extends TransfuseException {
    public EngineOverloadedException(String message) {
        super(message);
    }
}
