package io.transfuse.cuda.cudnn;

import io.transfuse.cuda.runtime.GpuException;

/** A cuDNN call failed, or cuDNN could not be found; the message names the call, the status code and its meaning. */
public class CudnnException extends GpuException {
    private final int code;
    private final CudnnStatus status;

    public CudnnException(String message, int code, CudnnStatus status) {
        super(message);
        this.code = code;
        this.status = status;
    }

    /** The raw {@code cudnnStatus_t} (0 when the failure was not a status, e.g. a missing library). */
    public int code() { return code; }

    /** The category of {@link #code()}. */
    public CudnnStatus status() { return status; }
}
