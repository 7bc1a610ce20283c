package io.transfuse.tensor;

import java.lang.foreign.MemorySegment;

/** Host memory: a native segment (an arena allocation or a memory-mapped file). */
public record HostStorage(MemorySegment segment) implements Storage {
    public HostStorage {
        if (segment == null) throw new IllegalArgumentException("host storage needs a segment");
    }

    @Override
    public long byteSize() { return segment.byteSize(); }

    @Override
    public HostStorage slice(long offset, long length) { return new HostStorage(segment.asSlice(offset, length)); }
}
