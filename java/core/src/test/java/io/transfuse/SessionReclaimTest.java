package io.transfuse;

import io.transfuse.internal.Internals;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.model.BlockPool;
import io.transfuse.model.SequenceStateExhaustedException;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The session policy ({@link Session}): sessions draw KV blocks from the model's pool, sized at load, and give them
 * back on close; sessions dropped without close are reclaimed by the garbage collector, so 10,000 of them run in the
 * memory of 16 (they used to accumulate, 6.9 GB for 10,000); sessions still held keep their blocks, and the one
 * that finds none left fails with a clear error.
 */
class SessionReclaimTest {
    @TempDir Path dir;

    @Test
    void tenThousandAbandonedSessionsRunInThePoolsMemory() {
        try (LanguageModel lm = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withThreads(1))) {
            BlockPool pool = Internals.decoder(lm).blockPool();
            assertEquals(16 * 512 / 16, pool.blocks(), "16 sequences of 512 positions");
            float[] logits = new float[lm.vocabSize()], first = null;
            for (int i = 0; i < 10_000; i++) {
                Session s = lm.newSession(); // never closed: dropped at the end of the iteration
                s.feed(new int[] {1, 400, 7}, logits);
                if (first == null) first = logits.clone();
                assertTrue(pool.held() <= pool.blocks());
            }
            try (Session s = lm.newSession()) { // a reclaimed block reused: the same logits as the first session's
                s.feed(new int[] {1, 400, 7}, logits);
                assertArrayEquals(first, logits);
            }
            assertTrue(lm.reclaimedSessions() >= 10_000 - pool.blocks(), "reclaimed " + lm.reclaimedSessions());
            assertTrue(lm.openSessions() <= pool.blocks(), lm.openSessions() + " sessions still open");
        }
    }

    @Test
    void closingReturnsBlocksAtOnceAndHeldSessionsHitAClearBound() {
        try (LanguageModel lm = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withThreads(1).withMaxSequences(2))) {
            BlockPool pool = Internals.decoder(lm).blockPool();
            float[] logits = new float[lm.vocabSize()];
            try (Session s = lm.newSession()) {
                s.feed(new int[] {1, 2, 3}, logits);
                assertEquals(1, pool.held());
            }
            assertEquals(0, pool.held(), "close gave the block back");
            List<Session> held = new ArrayList<>(); // reachable: the collector must not take their blocks
            for (int i = 0; i < pool.blocks(); i++) {
                Session s = lm.newSession();
                s.feed(new int[] {1}, logits);
                held.add(s);
            }
            Session one = lm.newSession();
            SequenceStateExhaustedException e = assertThrows(SequenceStateExhaustedException.class, () -> one.feed(new int[] {1}, logits));
            assertTrue(e.getMessage().contains("KV cache full") && e.getMessage().contains("close unused sessions"), e.getMessage());
            assertEquals(pool.blocks(), pool.held());
            held.getFirst().close();
            one.feed(new int[] {1}, logits); // a closed session's block serves the next
            assertEquals(held.size(), lm.openSessions(), "63 held and the new one");
        }
    }

    @Test
    void closingTheModelClosesItsSessions() {
        LanguageModel lm = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withThreads(1));
        Session s = lm.newSession();
        s.feed(new int[] {1, 2}, new float[lm.vocabSize()]);
        lm.close();
        assertEquals(0, lm.openSessions());
        assertEquals(0, Internals.decoder(lm).blockPool().held());
        s.close(); // harmless after the model closed
    }

    /** A Mamba session holds a state slot from creation: 16 slots serve 200 abandoned sessions. */
    @Test
    void abandonedMambaSessionsGiveTheirSlotsBack() {
        Path mamba = dir.resolve("mamba");
        RandomMambaModel.write(mamba, RandomMambaModel.Shape.TINY, DType.F32, 1, s -> { });
        try (LanguageModel lm = Transfuse.load(mamba, LoadOptions.defaults().withThreads(1))) {
            float[] logits = new float[lm.vocabSize()];
            for (int i = 0; i < 200; i++) lm.newSession().feed(new int[] {1, 5}, logits);
            assertTrue(lm.reclaimedSessions() >= 200 - 16, "reclaimed " + lm.reclaimedSessions());
        }
    }
}
