package io.transfuse.engine;

import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's scheduling on {@link FakeDecoder}, a model whose output is a known function of the context it
 * reads back through the block tables: every request's tokens must equal the serial reference whatever the
 * schedule did (chunks, batching, preemption, reused prefix blocks), and the recorded passes show the policy.
 */
class SchedulerTest {
    static GenerateOptions greedy(int maxTokens) {
        return new GenerateOptions(maxTokens, SamplingOptions.greedy());
    }

    static int[] prompt(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = 1 + r.nextInt(FakeDecoder.VOCAB - 1);
        return p;
    }

    static void assertReference(int[] prompt, int maxTokens, GenerationResult r) {
        assertArrayEquals(FakeDecoder.reference(prompt, maxTokens), r.tokens());
    }

    static void awaitIdle(Engine e) {
        long until = System.nanoTime() + 10_000_000_000L;
        while (e.stats().running() + e.stats().queued() > 0) {
            if (System.nanoTime() > until) throw new AssertionError("engine not idle: " + e.stats());
            Thread.onSpinWait();
        }
    }

    @Test
    void chunkedPrefillNeverStallsDecoding() {
        FakeDecoder m = new FakeDecoder(256, 4, 512, 16, 8);
        m.passDelayNanos = 300_000;
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults())) {
            List<int[]> prompts = new ArrayList<>();
            List<Generation> gens = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                prompts.add(prompt(i, 5));
                gens.add(e.submit(prompts.get(i), greedy(60), t -> {}));
            }
            // Let the three start decoding, then a 200-token prompt arrives.
            while (m.passes().size() < 3) Thread.onSpinWait();
            int[] longPrompt = prompt(99, 200);
            Generation big = e.submit(longPrompt, greedy(5), t -> {});
            for (int i = 0; i < 3; i++) assertReference(prompts.get(i), 60, gens.get(i).join());
            assertReference(longPrompt, 5, big.join());

            List<List<FakeDecoder.Ran>> passes = m.passes();
            int lastDecode = 0;
            for (int i = 0; i < passes.size(); i++) {
                if (passes.get(i).size() > 1) lastDecode = i; // the last pass that still ran several sequences
            }
            int chunks = 0, beside = 0;
            for (int i = 0; i < passes.size(); i++) {
                List<FakeDecoder.Ran> pass = passes.get(i);
                int tokens = pass.stream().mapToInt(FakeDecoder.Ran::count).sum();
                assertTrue(tokens <= 16, "a pass of " + tokens + " tokens exceeds the budget of 16");
                if (pass.stream().noneMatch(r -> r.count() > 1 && r.startPos() > 0)) continue;
                chunks++;
                long decoding = pass.stream().filter(r -> r.count() == 1).count();
                if (decoding > 0) beside++;
                // While the others still decode, every pass with a chunk of the long prompt carries their tokens.
                if (i < lastDecode) assertTrue(decoding >= 1, "a prefill chunk ran without the decode steps: " + pass);
            }
            assertTrue(beside > 0, "no chunk of the long prompt ran beside decode steps");
            assertTrue(chunks >= 200 / 16, "the long prompt was not chunked: " + chunks + " continuing chunks");
        }
    }

    @Test
    void requestsStartInArrivalOrderAndDecodeOneTokenPerPass() {
        FakeDecoder m = new FakeDecoder(256, 4, 512, 64, 2);
        m.passDelayNanos = 200_000;
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults())) {
            List<Generation> gens = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                prompts.add(prompt(10 + i, 3 + i));
                gens.add(e.submit(prompts.get(i), greedy(8), t -> {}));
            }
            for (int i = 0; i < 6; i++) assertReference(prompts.get(i), 8, gens.get(i).join());
            // First pass of each sequence (from position 0), in order of appearance = start order.
            List<Integer> startLengths = new ArrayList<>();
            Map<Object, Integer> tokensPerPass = new HashMap<>();
            for (List<FakeDecoder.Ran> pass : m.passes()) {
                assertTrue(pass.size() <= 2, "more sequences than allowed in a pass: " + pass.size());
                for (FakeDecoder.Ran r : pass) {
                    if (r.startPos() == 0) startLengths.add(r.count());
                    assertTrue(r.count() == 1 || r.startPos() == 0, "a decoding sequence ran " + r.count() + " tokens in a pass");
                    tokensPerPass.merge(r.sequence(), 1, Integer::sum);
                }
            }
            assertEquals(List.of(3, 4, 5, 6, 7, 8), startLengths, "requests did not start in arrival order");
        }
    }

    @Test
    void preemptedSequencesAreRecomputedExactly() {
        // 24 blocks of 4 positions; four requests of 6 + 40 tokens need 12 blocks each: they cannot all fit.
        FakeDecoder m = new FakeDecoder(24, 4, 64, 64, 4);
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults().withPrefixCaching(false))) {
            List<Generation> gens = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                prompts.add(prompt(20 + i, 6));
                gens.add(e.submit(prompts.get(i), greedy(40), t -> {}));
            }
            for (int i = 0; i < 4; i++) assertReference(prompts.get(i), 40, gens.get(i).join());
            awaitIdle(e);
            assertTrue(e.stats().preemptions() > 0, "no preemption happened: " + e.stats());
            assertEquals(0, m.pool.held(), "blocks still held after all requests ended");
        }
    }

    @Test
    void sharedPrefixBlocksAreReusedThenEvicted() {
        FakeDecoder m = new FakeDecoder(40, 4, 64, 64, 4);
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults())) {
            int[] system = prompt(7, 13); // three full blocks and one token
            int[] a = concat(system, prompt(8, 3)), b = concat(system, prompt(9, 5));
            assertReference(a, 4, e.submit(a, greedy(4), t -> {}).join());
            int before = m.passes().size();
            assertReference(b, 4, e.submit(b, greedy(4), t -> {}).join());
            FakeDecoder.Ran first = m.passes().get(before).get(0);
            assertEquals(12, first.startPos(), "the second request should start after the 3 cached blocks");
            awaitIdle(e);
            assertTrue(e.stats().prefixHitBlocks() >= 3, e.stats().toString());

            // Other long requests take every block: the cached prefix is evicted, and a request with it is
            // computed from the start, still correctly.
            for (int i = 0; i < 3; i++) {
                int[] p = prompt(30 + i, 40);
                assertReference(p, 10, e.submit(p, greedy(10), t -> {}).join());
            }
            int[] c = concat(system, prompt(10, 2));
            before = m.passes().size();
            assertReference(c, 3, e.submit(c, greedy(3), t -> {}).join());
            assertEquals(0, m.passes().get(before).get(0).startPos(), "the evicted prefix was reused");
        }
    }

    @Test
    void deadlinesAndCancellationFreeWhatTheyHold() {
        FakeDecoder m = new FakeDecoder(64, 4, 256, 64, 4);
        m.passDelayNanos = 2_000_000;
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults())) {
            int[] p = prompt(1, 4);
            GenerationResult r = e.submit(p, greedy(200).withTimeout(Duration.ofMillis(40)), t -> {}).join();
            assertEquals(GenerationResult.StopReason.TIMEOUT, r.stopReason());
            assertTrue(r.generatedTokens() < 200);
            assertArrayEquals(Arrays.copyOf(FakeDecoder.reference(p, 200), r.tokens().length), r.tokens(), "the text so far is kept");
            Generation g = e.submit(p, greedy(200), t -> {});
            while (m.passes().size() < 3) Thread.onSpinWait();
            g.cancel();
            awaitIdle(e);
            assertEquals(0, m.pool.held(), e.stats() + " " + g.result().isCancelled() + " passes " + m.passes().size());
        }
    }

    @Test
    void aFullQueueRejectsCleanly() {
        FakeDecoder m = new FakeDecoder(64, 4, 256, 64, 1);
        m.passDelayNanos = 1_000_000;
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults().withMaxQueued(2))) {
            List<Generation> accepted = new ArrayList<>();
            int rejected = 0;
            for (int i = 0; i < 10; i++) {
                try {
                    accepted.add(e.submit(prompt(i, 4), greedy(20), t -> {}));
                } catch (EngineOverloadedException x) {
                    rejected++;
                }
            }
            assertTrue(rejected > 0, "nothing was rejected");
            for (Generation g : accepted) assertEquals(20, g.join().generatedTokens());
            assertEquals(rejected, e.stats().rejected());
        }
    }

    @Test
    void stopStringsEndGenerationAndStayOutOfTheText() {
        FakeDecoder m = new FakeDecoder(64, 4, 256, 64, 4);
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults())) {
            int[] p = prompt(3, 4);
            int[] ref = FakeDecoder.reference(p, 10);
            String stop = "<" + ref[p.length + 5] + "><"; // the 6th token and the start of the 7th
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = e.submit(p, greedy(10).withStop(List.of(stop)), streamed::append).join();
            assertEquals(GenerationResult.StopReason.STOP_STRING, r.stopReason());
            StringBuilder expected = new StringBuilder();
            for (int i = p.length; i < p.length + 5; i++) expected.append('<').append(ref[i]).append('>');
            assertEquals(expected.toString(), r.text());
            assertEquals(r.text(), streamed.toString());
        }
    }

    @Test
    void promptsThatCannotFitFailAtSubmission() {
        FakeDecoder m = new FakeDecoder(64, 4, 16, 64, 4);
        try (Engine e = Engine.start(m, FakeDecoder.TOKENIZER, EngineOptions.defaults())) {
            assertThrows(io.transfuse.TransfuseException.class, () -> e.submit(prompt(1, 16), greedy(4), t -> {}));
        }
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
