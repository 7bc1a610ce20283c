package io.transfuse;

import io.transfuse.internal.Internals;
import io.transfuse.model.BlockPool;
import io.transfuse.model.SequenceStateExhaustedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LanguageModel#generate} from several threads at once is batched: eight threads give the greedy outputs of
 * a plain single-session generation ({@link SingleSessionGeneration}) and of the same calls made one after another,
 * in far fewer forward passes (counted by the engine behind generate, not timed). And what the engine behind generate
 * must not turn into a hang: a generate call from a text callback, sessions holding every KV block, the model closed
 * under a call.
 */
class ConcurrentGenerateTest {
    static final int THREADS = 8, TOKENS = 40;
    static final String[] PROMPTS = {"Once upon a time", "The cat sat on the mat and", "Lily and Tom went to the park. They",
            "A big dog", "The sun was hot and the sky was blue. Sue", "Tim had a red ball", "One day, a little bird", "Mom said"};

    static LanguageModel model;

    @BeforeAll
    static void load() {
        model = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withDevice(Device.CPU).withThreads(1));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static GenerateOptions options() {
        return GenerateOptions.defaults().withMaxTokens(TOKENS);
    }

    @Test
    void threadsAtOnceGiveTheSerialOutputsInFewerPasses() throws Exception {
        List<GenerationResult> reference = new ArrayList<>();
        for (String p : PROMPTS) reference.add(SingleSessionGeneration.run(model, p, options()));

        long before = model.generationStats().steps();
        List<GenerationResult> serial = new ArrayList<>();
        for (String p : PROMPTS) serial.add(model.generate(p, options(), piece -> { }));
        long serialPasses = model.generationStats().steps() - before;

        before = model.generationStats().steps();
        CountDownLatch go = new CountDownLatch(1);
        List<Future<GenerationResult>> concurrent = new ArrayList<>();
        try (ExecutorService threads = Executors.newFixedThreadPool(THREADS)) {
            for (String p : PROMPTS) {
                concurrent.add(threads.submit(() -> {
                    go.await();
                    return model.generate(p, options(), piece -> { });
                }));
            }
            go.countDown();
            for (int i = 0; i < THREADS; i++) {
                GenerationResult r = concurrent.get(i).get();
                assertArrayEquals(reference.get(i).tokens(), serial.get(i).tokens(), "serial call " + i + " vs one session");
                assertArrayEquals(reference.get(i).tokens(), r.tokens(), "concurrent call " + i + " vs one session");
                assertEquals(reference.get(i).text(), r.text(), "concurrent call " + i);
                assertEquals(TOKENS, r.generatedTokens(), "call " + i + " ran to max tokens (no early stop to blur the count)");
            }
        }
        long concurrentPasses = model.generationStats().steps() - before;
        // Serially each call takes a pass for its prompt and one per further token: 8 x 40. Together the threads
        // share passes; however late a thread arrives it joins the running batch, so well under half remain.
        assertEquals((long) THREADS * TOKENS, serialPasses, "one pass per token, one call at a time");
        assertTrue(concurrentPasses < serialPasses / 2, "concurrent calls took " + concurrentPasses + " passes, serial " + serialPasses);
    }

    @Test
    void generateFromATextCallbackIsRefusedNotADeadlock() {
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> model.generate("Once", options(), piece -> model.generate("The dog", options(), p -> { })));
        assertTrue(e.getMessage().contains("engine's own thread"), e.getMessage());
        assertEquals(reference("Once"), model.generate("Once", options(), piece -> { }).text(), "the model serves on");
    }

    @Test
    void whenSessionsHoldEveryBlockGenerateFailsClearly() {
        try (LanguageModel lm = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withDevice(Device.CPU).withThreads(1).withMaxSequences(2))) {
            BlockPool pool = Internals.decoder(lm).blockPool();
            float[] logits = new float[lm.vocabSize()];
            List<Session> held = new ArrayList<>();
            for (int i = 0; i < pool.blocks(); i++) {
                Session s = lm.newSession();
                s.feed(new int[] {1}, logits);
                held.add(s);
            }
            long t0 = System.nanoTime();
            SequenceStateExhaustedException e = org.junit.jupiter.api.Assertions.assertThrows(SequenceStateExhaustedException.class,
                    () -> lm.generate("Once", options(), piece -> { }));
            assertTrue(e.getMessage().contains("open session"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "failed within seconds, not a hang");
            for (Session s : held.subList(0, 4)) s.close(); // 64 positions: the call's 2 + 40 fit
            assertEquals(TOKENS, lm.generate("Once", options(), piece -> { }).generatedTokens(), "closed sessions' blocks serve it");
            for (Session s : held) s.close();
        }
    }

    @Test
    void closingTheModelEndsACallInFlight() throws Exception {
        LanguageModel lm = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withDevice(Device.CPU).withThreads(1));
        CountDownLatch first = new CountDownLatch(1);
        try (ExecutorService t = Executors.newSingleThreadExecutor()) {
            Future<GenerationResult> call = t.submit(() -> lm.generate("Once", GenerateOptions.defaults().withMaxTokens(400), piece -> first.countDown()));
            first.await();
            lm.close();
            java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class, call::get);
            assertTrue(e.getCause() instanceof IllegalStateException && e.getCause().getMessage().contains("closed"), String.valueOf(e.getCause()));
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> lm.generate("Once", options(), piece -> { }));
    }

    static String reference(String prompt) {
        return SingleSessionGeneration.run(model, prompt, options()).text();
    }
}
