package io.transfuse.model.seq2seq;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqModel;
import io.transfuse.Seq2SeqOptions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;

/**
 * Speed of greedy translation on the CPU through the public API only (so the same class measures older builds): one
 * call of one text, then 8 threads each calling generateIds with one text at once (continuous batching shares their
 * decoder steps), then one call of 8 texts (batched within the call). Not a test: run by hand on a model in a real
 * shape with random weights, e.g. {@code make_seq2seq_fixture.py --t5-small DIR}:
 * <pre>
 *   java -cp CLASSPATH io.transfuse.model.seq2seq.Seq2SeqThroughput DIR [newTokens] [sourceTokens] [repeats]
 * </pre>
 * Sources are random token ids (eos-free), every text generates {@code newTokens} tokens unless it reaches eos; tokens/s
 * counts the tokens produced over wall time; best of {@code repeats}.
 */
public final class Seq2SeqThroughput {
    private Seq2SeqThroughput() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int newTokens = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int sourceTokens = args.length > 2 ? Integer.parseInt(args[2]) : 24;
        int repeats = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        int callers = 8;
        try (Seq2SeqModel m = Seq2SeqModel.load(dir, LoadOptions.defaults().withDevice(Device.CPU).withMaxSequences(callers))) {
            SplittableRandom rnd = new SplittableRandom(7);
            List<int[]> sources = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                int[] s = new int[sourceTokens];
                for (int j = 0; j < s.length - 1; j++) s[j] = 3 + rnd.nextInt(30000);
                s[s.length - 1] = 1; // eos as the tokenizer appends it
                sources.add(s);
            }
            Seq2SeqOptions options = new Seq2SeqOptions(newTokens);
            m.generateIds(List.of(sources.getFirst()), options); // warm-up
            double one = 0, concurrent = 0, batched = 0;
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                int produced = m.generateIds(List.of(sources.getFirst()), options).getFirst().length;
                one = Math.max(one, produced / ((System.nanoTime() - t0) / 1e9));

                CountDownLatch go = new CountDownLatch(1);
                int[] counts = new int[callers];
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < callers; i++) {
                    int k = i;
                    threads.add(Thread.ofPlatform().start(() -> {
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            return;
                        }
                        counts[k] = m.generateIds(List.of(sources.get(k)), options).getFirst().length;
                    }));
                }
                t0 = System.nanoTime();
                go.countDown();
                for (Thread t : threads) t.join();
                int total = 0;
                for (int c : counts) total += c;
                concurrent = Math.max(concurrent, total / ((System.nanoTime() - t0) / 1e9));

                t0 = System.nanoTime();
                total = 0;
                for (int[] out : m.generateIds(sources, options)) total += out.length;
                batched = Math.max(batched, total / ((System.nanoTime() - t0) / 1e9));
            }
            System.out.printf("%s: 1 call of 1 text %.1f tokens/s; %d concurrent calls of 1 text %.1f tokens/s; 1 call of %d texts %.1f tokens/s"
                    + " (%d new tokens, %d source tokens, best of %d)%n", dir.getFileName(), one, callers, concurrent, callers, batched,
                    newTokens, sourceTokens, repeats);
        }
    }
}
