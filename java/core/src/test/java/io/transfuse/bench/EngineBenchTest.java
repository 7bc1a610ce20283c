package io.transfuse.bench;

import io.transfuse.loader.RandomLlamaModel;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class EngineBenchTest {
    @TempDir Path dir;

    @Test
    void measuresEachConcurrencyLevel() {
        Path file = dir.resolve("tiny.gguf");
        RandomLlamaModel.Shape s = new RandomLlamaModel.Shape(64, 2, 4, 4, 96, 300, 128);
        RandomLlamaModel.writeGguf(file, s, DType.F32, 1, m -> { });
        EngineBench.Result r = EngineBench.run(file, new EngineBench.Options(8, 6, 1, new int[] {1, 3}, 1, 1, 0, 7));
        assertEquals(2, r.levels().size());
        for (EngineBench.Level l : r.levels()) {
            int c = l.concurrency();
            assertTrue(l.decode().median() > 0, "decode tok/s at " + c);
            // every request generates at most 6 tokens; early stops are the ones that generated fewer
            assertTrue(l.generatedTokens() <= 6L * c && l.generatedTokens() >= 6L * (c - l.earlyStops()), l.toString());
            assertTrue(l.ttft().p50() > 0 && l.ttft().p90() >= l.ttft().p50(), l.toString());
            assertTrue(l.ttftUnderLoadMs()[0] > 0);
            assertTrue(l.runningUnderLoad() <= c - 1);
            assertEquals(0, l.stats().rejected());
            assertTrue(l.stats().generatedTokens() >= l.generatedTokens());
        }
        String json = r.toJson();
        for (String f : new String[] {"\"levels\"", "\"concurrency\": 3", "\"decode_tok_s\"", "\"ttft_ms\"", "\"ttft_under_load_ms\"",
                "\"engine_stats\"", "\"early_stops\""}) {
            assertTrue(json.contains(f), f + " in " + json);
        }
        assertThrows(IllegalArgumentException.class, () -> new EngineBench.Options(8, 6, 1, new int[] {0}, 1, 0, 0, 7));
        assertThrows(IllegalArgumentException.class, () -> EngineBench.run(file, new EngineBench.Options(100, 40, 1, new int[] {1}, 1, 0, 0, 7)));
    }

    /**
     * With the cache on, the shared prefix's full blocks are found (the rounds after the warm-up compute only each
     * request's own tokens); with it off nothing is, and each setting measured every request of every round.
     */
    @Test
    void sharedPrefixIsFoundInTheCacheWhenItIsOn() {
        Path file = dir.resolve("tiny.gguf");
        RandomLlamaModel.Shape s = new RandomLlamaModel.Shape(64, 2, 4, 4, 96, 300, 256);
        RandomLlamaModel.writeGguf(file, s, DType.F32, 1, m -> { });
        // a 64-token prefix: whole KV blocks of the shared part (block sizes up to 64), then 5 tokens of each request's own
        EngineBench.SharedPrefix p = EngineBench.sharedPrefix(file, new EngineBench.Options(5, 4, 1, new int[] {3}, 2, 1, 0, 7), 64);
        assertEquals(3, p.concurrency());
        assertEquals(64, p.prefixTokens());
        assertTrue(p.hitRate() > 0.99, "every full prompt block is the shared prefix's: " + p);
        assertTrue(p.ttftCached().p50() > 0 && p.ttftUncached().p50() > 0, p.toString());
        assertTrue(p.endToEndCached() > 0 && p.endToEndUncached() > 0, p.toString());
        assertThrows(IllegalArgumentException.class, () -> EngineBench.sharedPrefix(file, new EngineBench.Options(5, 4, 1, new int[] {3}, 1, 0, 0, 7), 0));
    }

    /** Window picked by hand from a made-up step log: 2 requests, first tokens in steps 0 and 2, first finish in step 5. */
    @Test
    void windowRunsFromLastFirstTokenToFirstFinish() {
        StepClock c = new StepClock();
        c.step(1, 8, 0); c.firstToken(0);                 // step 0: request A's first token
        c.step(2, 9, 0); c.interToken(0);                 // step 1: A decodes, B prefills
        c.step(2, 2, 0); c.interToken(0); c.firstToken(0); // step 2: B's first token
        c.step(2, 2, 0); c.interToken(0); c.interToken(0); // step 3
        c.step(2, 2, 0); c.interToken(0); c.interToken(0); // step 4
        c.step(2, 2, 0); c.interToken(0); c.interToken(0); c.requestEnded(); // step 5: A finishes
        c.step(1, 1, 0); c.interToken(0);                 // step 6: B alone
        StepClock.Window w = c.window(2);
        assertEquals(3, w.steps());
        assertEquals(6, w.tokens());
        assertTrue(w.allDecoding());
        assertTrue(w.seconds() > 0);
        assertNull(new StepClock().window(1));
    }

    @Test
    void windowRunsToTheEndWhenTheFirstFinishedBeforeTheLastStarted() {
        StepClock c = new StepClock();
        c.step(1, 8, 0); c.firstToken(0); c.requestEnded(); // A: one token and done
        c.step(1, 8, 0); c.firstToken(0);                       // B starts
        c.step(1, 1, 0); c.interToken(0);
        StepClock.Window w = c.window(2);
        assertFalse(w.allDecoding());
        assertEquals(1, w.steps());
        assertEquals(1, w.tokens());
    }

    @Test
    void percentilesInterpolateBetweenRanks() {
        EngineBench.Millis m = EngineBench.Millis.of(new double[] {40, 10, 30, 20});
        assertEquals(25, m.mean(), 1e-12);
        assertEquals(25, m.p50(), 1e-12);
        assertEquals(37, m.p90(), 1e-12); // rank 2.7: 30 + 0.7 * 10
    }

    @Test
    void promptsStartWithBosAndAvoidSpecialIds() {
        int[] p = EngineBench.prompt(new SplittableRandom(1), 50, 300);
        assertEquals(1, p[0]);
        for (int i = 1; i < p.length; i++) assertTrue(p[i] >= 3 && p[i] < 300);
    }
}
