package io.transfuse.tensor;

/**
 * Where a tensor's bytes live: host memory ({@link HostStorage}) or a backend's device memory (the
 * CUDA module's device buffers). A backend's ops accept the storage it allocated; slicing never copies.
 */
public interface Storage {
    /** Bytes addressable through this storage. */
    long byteSize();

    /** The bytes {@code [offset, offset + length)} of this storage (bounds checked). */
    Storage slice(long offset, long length);
}
