package io.transfuse.cuda.runtime;

/** A device allocation did not fit; the message says how many bytes were requested and how many were free. */
public final class GpuOutOfMemoryException extends GpuException {
    private final long requested, free;

    public GpuOutOfMemoryException(String what, long requested, long free) {
        super("out of device memory: " + what + " requested " + requested + " bytes, " + free + " bytes free");
        this.requested = requested;
        this.free = free;
    }

    public long requested() { return requested; }

    public long free() { return free; }
}
