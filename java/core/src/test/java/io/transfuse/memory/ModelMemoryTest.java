package io.transfuse.memory;

import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.Session;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Closing a model returns every native byte it took: mapped weights, workspace, the KV cache. */
class ModelMemoryTest {
    @Test
    void closingTheModelReturnsAllNativeMemory() {
        long before = TrackedArena.bytesInUse();
        LanguageModel model = Transfuse.load(TestModels.storiesGguf(), io.transfuse.LoadOptions.defaults().withMaxSequences(2));
        long loaded = TrackedArena.bytesInUse() - before;
        // the paged KV cache for 2 sequences of 512 positions: 5 layers, K and V rows of 4 KV heads x 8, F16 (the
        // CPU backend's default cache type)
        long kvBytes = 2L * 2 * 5 * 512 * 32 * Short.BYTES;
        assertTrue(loaded >= 1_185_344 + kvBytes, "the mapped file (1185344 bytes) and the KV cache (" + kvBytes + ") are counted: " + loaded);
        model.generate("Once upon a time", GenerateOptions.defaults().withMaxTokens(5), s -> {});
        Session extra = model.newSession(); // left open on purpose: the model closes it
        assertEquals(loaded, TrackedArena.bytesInUse() - before, "sessions take KV blocks from the cache, not memory");
        model.close();
        assertEquals(before, TrackedArena.bytesInUse());
        assertThrows(IllegalStateException.class, () -> extra.feed(new int[] {1}, new float[512]));
        assertThrows(IllegalStateException.class, () -> model.generate("x", GenerateOptions.defaults(), s -> {}));
    }

    @Test
    void arenaRejectsUseAfterClose() {
        TrackedArena arena = new TrackedArena("unit");
        MemorySegment s = arena.allocate(100);
        assertTrue(arena.bytes() >= 100, "allocation counted");
        arena.close();
        assertThrows(IllegalStateException.class, () -> arena.allocate(8));
        assertThrows(IllegalStateException.class, () -> s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void largeAllocationsAreReservedLazilyZeroedAndFreed() {
        long before = TrackedArena.bytesInUse();
        long size = 4 * TrackedArena.LAZY_THRESHOLD; // 256 MiB of address space; only the touched pages cost memory
        MemorySegment s;
        try (TrackedArena arena = new TrackedArena("lazy")) {
            s = arena.allocateLazily(size);
            assertEquals(size, s.byteSize());
            assertEquals(before + size, TrackedArena.bytesInUse(), "counted at its full size");
            for (long at : new long[] {0, size / 2, size - 8}) {
                assertEquals(0L, s.get(java.lang.foreign.ValueLayout.JAVA_LONG, at), "zero-filled at " + at);
                s.set(java.lang.foreign.ValueLayout.JAVA_LONG, at, at + 1);
                assertEquals(at + 1, s.get(java.lang.foreign.ValueLayout.JAVA_LONG, at));
            }
        }
        assertEquals(before, TrackedArena.bytesInUse());
        assertThrows(IllegalStateException.class, () -> s.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0), "unmapped with its arena");
    }
}
