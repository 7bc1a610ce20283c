package io.transfuse.engine;

import io.transfuse.SingleSessionGeneration;
import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine on the bundled stories260K model (CPU): requests run together give what each gives alone
 * through {@link LanguageModel#generate} (the single-session path), and the KV pool is empty afterwards.
 */
class EngineTest {
    static LanguageModel model;

    @BeforeAll
    static void load() {
        model = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withDevice(Device.CPU).withMaxSequences(64));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Half start with the same long text, as requests with one system prompt do. */
    static final String SHARED = "Once upon a time, there was a little girl named Lily. She liked to play outside in the sun "
            + "with her friends and her dog. One day, ";
    static final String[] PROMPTS = {"Once upon a time", SHARED + "The cat", "Lily and Tom went to the park. They", SHARED + "One day",
            "A big dog", SHARED + "Sue had a red ball", "The sun was hot", SHARED + "Tim"};

    @Test
    void concurrentGreedyEqualsSerial() {
        List<GenerationResult> serial = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            serial.add(SingleSessionGeneration.run(model, PROMPTS[i % PROMPTS.length], options(i)));
        }
        int before = Internals.decoder(model).blockPool().held();
        try (Engine engine = Engine.start(model, EngineOptions.defaults())) {
            engine.generate(SHARED, options(0), t -> {}).join(); // its blocks stay cached for the others
            // Submitted from 64 threads at once.
            Generation[] gens = new Generation[64];
            StringBuffer[] streamed = new StringBuffer[64];
            try (var submitters = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 64; i++) {
                    int k = i;
                    streamed[k] = new StringBuffer();
                    submitters.submit(() -> gens[k] = engine.generate(PROMPTS[k % PROMPTS.length], options(k), streamed[k]::append));
                }
            }
            for (int i = 0; i < 64; i++) {
                GenerationResult r = gens[i].join();
                assertEquals(serial.get(i).text(), r.text(), "request " + i);
                assertArrayEquals(serial.get(i).tokens(), r.tokens(), "request " + i);
                assertEquals(serial.get(i).stopReason(), r.stopReason(), "request " + i);
                assertEquals(r.text(), streamed[i].toString());
            }
            awaitIdle(engine, before);
            EngineStats s = engine.stats();
            assertTrue(s.prefixHitBlocks() > 0, "64 requests over 8 prompts reuse prompt blocks: " + s);
        }
    }

    /** Mixed lengths and options: greedy, seeded sampling with top-k/top-p, stop strings. */
    static GenerateOptions options(int i) {
        GenerateOptions o = new GenerateOptions(10 + 7 * (i % 9), SamplingOptions.greedy());
        return switch (i % 4) {
            case 1 -> o.withSampling(new SamplingOptions(0.8f, 40, 0.95f, i));
            case 2 -> o.withStop(List.of(".", " and"));
            default -> o;
        };
    }

    @Test
    void cancelFreesBlocks() throws Exception {
        int before = Internals.decoder(model).blockPool().held();
        try (Engine engine = Engine.start(model, EngineOptions.defaults())) {
            Generation g = engine.generate("Once upon a time", GenerateOptions.defaults().withMaxTokens(200), s -> {});
            g.cancel();
            assertThrows(CancellationException.class, g::join);
            awaitIdle(engine, before);
        }
    }

    @Test
    void failingCallbackFailsOnlyItsRequest() {
        try (Engine engine = Engine.start(model, EngineOptions.defaults())) {
            Generation bad = engine.generate("The cat", GenerateOptions.defaults().withMaxTokens(20), s -> {
                throw new IllegalStateException("client gone");
            });
            Generation good = engine.generate("The cat", GenerateOptions.defaults().withMaxTokens(20), s -> {});
            CompletionException e = assertThrows(CompletionException.class, bad::join);
            assertEquals("client gone", e.getCause().getMessage());
            assertEquals(SingleSessionGeneration.run(model, "The cat", GenerateOptions.defaults().withMaxTokens(20)).text(), good.join().text());
        }
    }

    /** Waits until nothing runs or waits and the KV blocks held are back to {@code blocks}. */
    static void awaitIdle(Engine engine, int blocks) {
        long until = System.nanoTime() + 10_000_000_000L;
        while (engine.stats().running() + engine.stats().queued() > 0 || engine.stats().kvBlocksUsed() != blocks) {
            if (System.nanoTime() > until) throw new AssertionError("engine not idle: " + engine.stats());
            Thread.onSpinWait();
        }
    }
}
