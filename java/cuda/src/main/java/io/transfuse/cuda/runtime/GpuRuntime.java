package io.transfuse.cuda.runtime;

import io.transfuse.cuda.kernels.KernelLibrary;

import java.lang.foreign.MemorySegment;

/**
 * What the CUDA backend needs of a GPU: memory, copies, streams, events, graphs, GEMM and the kernel
 * library. Two implementations: {@link EmulatedRuntime} (cuda-emu: host memory, kernels of
 * libtransfuse_emu, synchronous in-order streams) and {@code JCudaRuntime} (cuda: a real device).
 *
 * <p>Device memory is named by raw addresses ({@code long}); ownership, bounds and use-after-free
 * checks live one level up, in {@link io.transfuse.cuda.memory.DeviceArena}. Every method validates
 * its arguments in Java before any native call and reports failures as {@link GpuException}.
 */
public interface GpuRuntime extends AutoCloseable {
    DeviceProperties properties();

    /** Free device bytes right now. */
    long freeBytes();

    /** Allocates {@code bytes} of device memory (contents undefined); throws {@link GpuOutOfMemoryException} when it cannot. */
    long malloc(long bytes);

    void free(long address);

    /** Page-locked host memory of {@code bytes} bytes (for fast transfers), until {@link #freePinned}. */
    MemorySegment allocatePinned(long bytes);

    void freePinned(MemorySegment pinned);

    void memset(GpuStream stream, long dst, int value, long bytes);

    void copyHostToDevice(GpuStream stream, MemorySegment src, long dst, long bytes);

    void copyDeviceToHost(GpuStream stream, long src, MemorySegment dst, long bytes);

    void copyDeviceToDevice(GpuStream stream, long src, long dst, long bytes);

    /** The stream that work goes to unless told otherwise. */
    GpuStream defaultStream();

    GpuStream createStream();

    /** An event recorded on {@code stream} now (completes when the stream's earlier work has). */
    GpuEvent recordEvent(GpuStream stream);

    /**
     * Starts recording {@code stream}: kernels, GEMMs and device-to-device copies issued to it until
     * {@link #endCapture} are recorded instead of run. Host-device copies are not allowed while capturing.
     */
    void beginCapture(GpuStream stream);

    /** Ends the recording and returns the graph, ready to be launched any number of times. */
    GpuGraph endCapture(GpuStream stream);

    /** C = alpha op(A) op(B) + beta C with cuBLAS's semantics ({@link Gemm}). */
    void gemm(GpuStream stream, Gemm g);

    /** The kernels of native/kernels for this runtime's library. */
    KernelLibrary kernels();

    /**
     * Issues a native kernel launch to {@code stream}: runs it now, or records it when the stream is
     * capturing (emulated). {@code name} appears in errors.
     */
    void launch(GpuStream stream, String name, NativeLaunch launch);

    /** Waits for all work on {@code stream}. */
    void synchronize(GpuStream stream);

    /** Releases streams, handles and libraries' per-runtime state (not device buffers: their arenas do). */
    @Override
    void close();

    /** A kernel launch: a downcall given the native stream handle; returns 0 or an error code. */
    @FunctionalInterface
    interface NativeLaunch {
        int run(MemorySegment stream) throws Throwable;
    }
}
