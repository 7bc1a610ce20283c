package io.transfuse.model;

import io.transfuse.TransfuseException;
import io.transfuse.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The paged KV cache's block accounting: blocks taken as positions grow, lowest first, returned on close. */
class KvCacheTest {
    static KvCache cache(CpuBackend b) {
        return new KvCache(b, "test", 2, 8, new DecoderLimits(16, 2, 40, 16)); // 2 sequences of 40 positions: 3 blocks each, 6 in all
    }

    @Test
    void blocksAreTakenOnDemandLowestFirstAndReturned() {
        try (CpuBackend b = CpuBackend.create(0)) {
            KvCache c = cache(b);
            assertEquals(6, c.blocks());
            assertEquals(3, c.maxBlocks());
            PagedSequence a = c.newSequence(40), s = c.newSequence(40);
            assertArrayEquals(new int[] {0}, c.admit(a, 0, 1), "one block covers position 0");
            assertArrayEquals(new int[] {1, 2}, c.admit(s, 0, 20));
            c.advance(a, 0, 1);
            assertArrayEquals(new int[] {0, 3, 4}, c.admit(a, 1, 39));
            assertEquals(1, c.freeBlocks());
            a.close();
            assertEquals(4, c.freeBlocks());
            PagedSequence again = c.newSequence(40);
            assertArrayEquals(new int[] {0, 3, 4}, c.admit(again, 0, 33), "a closed sequence's blocks are reused, lowest first");
        }
    }

    @Test
    void misuseIsAClearError() {
        try (CpuBackend b = CpuBackend.create(0)) {
            KvCache c = cache(b), other = cache(b);
            PagedSequence a = c.newSequence(40), s = c.newSequence(40), t = c.newSequence(40);
            c.admit(a, 0, 40);
            c.admit(s, 0, 40);
            TransfuseException full = assertThrows(TransfuseException.class, () -> c.admit(t, 0, 1));
            assertTrue(full.getMessage().contains("0 of 6 are free"), full.getMessage());
            IllegalArgumentException gap = assertThrows(IllegalArgumentException.class, () -> c.admit(a, 5, 1));
            assertTrue(gap.getMessage().contains("gap"), gap.getMessage());
            assertThrows(IllegalArgumentException.class, () -> other.admit(a, 0, 1), "a sequence of another cache");
            a.close();
            assertThrows(IllegalStateException.class, () -> c.admit(a, 0, 1), "a closed sequence");
            assertThrows(IllegalArgumentException.class, () -> c.newSequence(40).reserve(41), "more than its capacity");
            assertTrue(Arrays.stream(s.table()).allMatch(x -> x >= 0 && x < 6));
        }
    }
}
