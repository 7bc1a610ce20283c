package io.transfuse.model;

import io.transfuse.TransfuseException;

/**
 * Every KV block (or recurrent state slot) of a decoder is held by open sequences. The sessions API reacts to it by
 * reclaiming sessions dropped without {@code close()} and trying once more; the engine by preempting a sequence.
 */
public final class SequenceStateExhaustedException extends TransfuseException {
    public SequenceStateExhaustedException(String message) {
        super(message);
    }
}
