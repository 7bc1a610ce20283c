package io.transfuse.memory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An owner of native memory: allocations and file mappings made through it live until it is
 * closed, then are freed (or unmapped) together. Every byte is counted, so tests and users can
 * check that closing a model returns everything it took ({@link #bytesInUse()}).
 *
 * <p>Backed by a shared {@link Arena}: segments may be read from any thread (the CPU backend's
 * OpenMP workers read them natively anyway). Native libraries are NOT loaded through this class:
 * they belong to {@code Arena.global()} (unloading OpenMP under live threads crashes the JVM).
 */
public final class TrackedArena implements AutoCloseable {
    private static final AtomicLong IN_USE = new AtomicLong();

    private final Arena arena = Arena.ofShared();
    private final String owner;
    private long bytes;
    private boolean closed;

    /** @param owner what this memory belongs to, named in errors (e.g. the model file). */
    public TrackedArena(String owner) {
        this.owner = owner;
    }

    /** Native bytes currently held by all open tracked arenas in this JVM. */
    public static long bytesInUse() {
        return IN_USE.get();
    }

    /** Zero-filled native memory, 64-byte aligned (a cache line; enough for AVX-512 loads). */
    public synchronized MemorySegment allocate(long byteSize) {
        checkOpen();
        MemorySegment segment = arena.allocate(Math.max(byteSize, 1), 64);
        count(segment.byteSize());
        return segment;
    }

    /** Float array of {@code count} elements. */
    public MemorySegment allocateFloats(long count) {
        return allocate(count * Float.BYTES);
    }

    /** Maps {@code size} bytes of a file read-only; unmapped when this arena closes. */
    public synchronized MemorySegment map(FileChannel channel, long size) throws IOException {
        checkOpen();
        MemorySegment segment = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        count(size);
        return segment;
    }

    /** Bytes held by this arena. */
    public synchronized long bytes() {
        return bytes;
    }

    public synchronized boolean isOpen() {
        return !closed;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
        IN_USE.addAndGet(-bytes);
        bytes = 0;
    }

    private void count(long n) {
        bytes += n;
        IN_USE.addAndGet(n);
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("memory of " + owner + " was already released (closed)");
    }
}
