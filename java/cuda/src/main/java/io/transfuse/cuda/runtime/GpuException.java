package io.transfuse.cuda.runtime;

import io.transfuse.TransfuseException;

/** A device call failed; the message names the call and the runtime's error. */
public class GpuException extends TransfuseException {
    public GpuException(String message) {
        super(message);
    }
}
