package io.transfuse.model.seq2seq;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Continuous batching of concurrent calls ({@link Seq2SeqScheduler}): N threads calling generateIds at once (greedy and
 * beam search mixed, sources of different lengths) get exactly what the same calls give one after another, in fewer
 * decoder steps (their rows share steps), and leave the graph empty (no KV block, row or source slot held). An
 * interrupted caller gets a CancellationException without disturbing the others.
 */
class Seq2SeqConcurrentTest {
    @TempDir
    Path dir;

    private static final Seq2SeqLimits LIMITS = new Seq2SeqLimits(8, 256, 12, 24);

    private record Call(int[] source, Seq2SeqOptions options) {}

    private static List<Call> calls(int n, int vocab) {
        SplittableRandom rnd = new SplittableRandom(17);
        List<Call> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[4 + rnd.nextInt(12)];
            for (int j = 0; j < s.length - 1; j++) s[j] = 3 + rnd.nextInt(vocab - 3);
            s[s.length - 1] = 2;
            out.add(new Call(s, new Seq2SeqOptions(10 + rnd.nextInt(10), i % 3 == 2 ? 2 : 1)));
        }
        return out;
    }

    @Test
    @Timeout(120)
    void concurrentCallsMatchSerialCallsInFewerSteps() throws Exception {
        Path model = Seq2SeqFixture.copyModel("t5-tiny", dir);
        try (Seq2SeqRunner m = Seq2SeqRunner.load(model, LoadOptions.defaults().withDevice(Device.CPU), LIMITS)) {
            List<Call> calls = calls(8, m.config().vocab());
            List<int[]> serial = new ArrayList<>();
            long s0 = m.decoderSteps();
            for (Call c : calls) serial.add(m.generateIds(List.of(c.source()), c.options()).getFirst());
            long serialSteps = m.decoderSteps() - s0;

            int[][] got = new int[calls.size()][];
            AtomicReference<Throwable> error = new AtomicReference<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            long c0 = m.decoderSteps();
            for (int i = 0; i < calls.size(); i++) {
                int k = i;
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        got[k] = m.generateIds(List.of(calls.get(k).source()), calls.get(k).options()).getFirst();
                    } catch (Throwable t) {
                        error.compareAndSet(null, t);
                    }
                }));
            }
            go.countDown();
            for (Thread t : threads) t.join();
            long concurrentSteps = m.decoderSteps() - c0;
            if (error.get() != null) throw new AssertionError("a concurrent call failed", error.get());
            for (int k = 0; k < calls.size(); k++) assertArrayEquals(serial.get(k), got[k], "call " + k + " (" + calls.get(k).options() + ")");
            System.out.printf("%d calls: %d decoder steps one after another, %d concurrently%n", calls.size(), serialSteps, concurrentSteps);
            assertTrue(concurrentSteps < serialSteps, concurrentSteps + " concurrent steps, " + serialSteps + " serial");
            assertEquals(0, m.graph().heldKvBlocks(), "KV blocks held after every call returned");
            assertEquals(LIMITS.maxRows(), m.graph().freeRows(), "decoder rows bound after every call returned");
            assertEquals(LIMITS.maxSources(), m.graph().freeSources(), "source slots bound after every call returned");
        }
    }

    @Test
    @Timeout(120)
    void anInterruptedCallIsCancelledAndTheOthersFinish() throws Exception {
        Path model = Seq2SeqFixture.copyModel("bart-tiny", dir);
        try (Seq2SeqRunner m = Seq2SeqRunner.load(model, LoadOptions.defaults().withDevice(Device.CPU), LIMITS)) {
            List<Call> calls = calls(4, m.config().vocab());
            List<int[]> serial = new ArrayList<>();
            for (Call c : calls) serial.add(m.generateIds(List.of(c.source()), c.options()).getFirst());
            // the victim generates far longer than the others, so it is still running when interrupted
            Seq2SeqOptions longRun = new Seq2SeqOptions(LIMITS.maxTarget() - 1, 1);
            AtomicReference<Throwable> victimError = new AtomicReference<>();
            CountDownLatch started = new CountDownLatch(1);
            Thread victim = Thread.ofPlatform().start(() -> {
                started.countDown();
                try {
                    for (int i = 0; i < 1000; i++) m.generateIds(List.of(calls.getFirst().source()), longRun);
                } catch (Throwable t) {
                    victimError.set(t);
                }
            });
            started.await();
            int[][] got = new int[calls.size()][];
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < calls.size(); i++) {
                int k = i;
                threads.add(Thread.ofPlatform().start(() -> got[k] = m.generateIds(List.of(calls.get(k).source()), calls.get(k).options()).getFirst()));
            }
            Thread.sleep(50);
            victim.interrupt();
            victim.join();
            for (Thread t : threads) t.join();
            assertNotNull(victimError.get(), "the interrupted call ended with an exception");
            assertInstanceOf(CancellationException.class, victimError.get());
            for (int k = 0; k < calls.size(); k++) assertArrayEquals(serial.get(k), got[k], "call " + k);
            assertEquals(0, m.graph().heldKvBlocks(), "KV blocks held after the calls ended");
            assertEquals(LIMITS.maxRows(), m.graph().freeRows(), "decoder rows bound after the calls ended");
        }
    }
}
