package io.transfuse.cuda.runtime;

import java.lang.foreign.MemorySegment;

/** An ordered queue of device work. */
public interface GpuStream extends AutoCloseable {
    /** The native handle kernels receive (cudaStream_t; NULL for the emulator and the default stream). */
    MemorySegment handle();

    /** Destroys the stream (the default stream is never destroyed). */
    @Override
    void close();
}
