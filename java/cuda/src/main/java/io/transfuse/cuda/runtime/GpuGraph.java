package io.transfuse.cuda.runtime;

/** A recorded sequence of device work (a CUDA graph), replayed with one launch. */
public interface GpuGraph extends AutoCloseable {
    /** Replays the recorded work on {@code stream}, with the arguments it was recorded with. */
    void launch(GpuStream stream);

    /** Launches recorded (kernels, GEMMs, copies). */
    int nodeCount();

    @Override
    void close();
}
