package io.transfuse.cuda.runtime;

/** A point in a stream's work, for waiting and timing. */
public interface GpuEvent extends AutoCloseable {
    /** Waits until the work before the event has finished. */
    void synchronize();

    /** Milliseconds between {@code earlier} and this event (both finished). */
    float millisSince(GpuEvent earlier);

    @Override
    void close();
}
