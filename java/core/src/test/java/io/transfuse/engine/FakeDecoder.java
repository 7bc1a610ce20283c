package io.transfuse.engine;

import io.transfuse.model.BlockPool;
import io.transfuse.model.Decoder;
import io.transfuse.model.PagedSequence;
import io.transfuse.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A decoder of known behaviour for scheduler tests. Its "KV cache" stores the token id written at each
 * physical slot of a {@link BlockPool}, and the next token is a function of the whole context read back
 * through the sequence's block table ({@link #next}): a block table mixed up by prefix reuse or preemption,
 * a skipped or repeated position, changes the output. Every pass is recorded (what the scheduler chose),
 * and {@link #passDelayNanos} gives passes a cost, so deadlines and streaming can be tested in time.
 */
final class FakeDecoder implements Decoder {
    static final int VOCAB = 97;

    /** What one pass ran for one sequence. */
    record Ran(Sequence sequence, int startPos, int count, boolean logits) {}

    final BlockPool pool;
    private final int[][] slots;
    private final int context, maxTokens, maxSequences;
    final List<List<Ran>> passes = new ArrayList<>();
    volatile long passDelayNanos;

    FakeDecoder(int blocks, int blockSize, int context, int maxTokens, int maxSequences) {
        this.pool = new BlockPool(blocks, blockSize);
        this.slots = new int[blocks][blockSize];
        this.context = context;
        this.maxTokens = maxTokens;
        this.maxSequences = maxSequences;
    }

    /** The next token after {@code context[0, n)}: what the fake model computes, written independently of the pass. */
    static int next(int[] context, int n) {
        long h = 7;
        for (int i = 0; i < n; i++) h = h * 1_000_003 + (long) context[i] * (i + 1);
        return (int) Math.floorMod(h ^ (h >>> 29), VOCAB - 1) + 1; // never 0 (the fake tokenizer's EOS)
    }

    /** What greedy generation of {@code maxTokens} tokens gives after {@code prompt}, computed serially. */
    static int[] reference(int[] prompt, int maxTokens) {
        int[] t = Arrays.copyOf(prompt, prompt.length + maxTokens);
        for (int i = prompt.length; i < t.length; i++) t[i] = next(t, i);
        return t;
    }

    @Override public String source() { return "fake"; }
    @Override public int vocabSize() { return VOCAB; }
    @Override public int contextLength() { return context; }
    @Override public int maxBatchTokens() { return maxTokens; }
    @Override public int maxBatchSequences() { return maxSequences; }
    @Override public BlockPool blockPool() { return pool; }
    @Override public Sequence newSequence(int capacity) { return new PagedSequence(pool, this, capacity); }

    @Override
    public void forward(List<Input> batch) {
        int tokens = batch.stream().mapToInt(Input::count).sum();
        if (batch.size() > maxSequences || tokens > maxTokens) throw new AssertionError("pass too large: " + batch.size() + " sequences, " + tokens + " tokens");
        List<Ran> ran = new ArrayList<>();
        for (Input in : batch) {
            PagedSequence s = (PagedSequence) in.sequence();
            if (in.startPos() > s.length()) throw new AssertionError("gap: start " + in.startPos() + " after " + s.length() + " positions");
            s.reserve(in.startPos() + in.count());
            int[] table = s.table();
            int bs = pool.blockSize();
            for (int i = 0; i < in.count(); i++) {
                int pos = in.startPos() + i;
                int block = table[pos / bs];
                if (pool.isPublished(block) && slots[block][pos % bs] != in.tokens()[in.from() + i]) {
                    throw new AssertionError("a shared (published) block was overwritten with other content at position " + pos);
                }
                slots[block][pos % bs] = in.tokens()[in.from() + i];
            }
            int end = in.startPos() + in.count();
            s.written(end);
            if (in.logits() != null) {
                int[] ctx = new int[end];
                for (int p = 0; p < end; p++) ctx[p] = slots[table[p / bs]][p % bs];
                Arrays.fill(in.logits(), 0);
                in.logits()[next(ctx, end)] = 1;
            }
            ran.add(new Ran(in.sequence(), in.startPos(), in.count(), in.logits() != null));
        }
        synchronized (passes) {
            passes.add(ran);
        }
        long d = passDelayNanos;
        if (d > 0) java.util.concurrent.locks.LockSupport.parkNanos(d);
    }

    List<List<Ran>> passes() {
        synchronized (passes) {
            return List.copyOf(passes);
        }
    }

    @Override public void close() {}

    /** Token i is the text "<i>"; 0 is EOS; no BOS. */
    static final Tokenizer TOKENIZER = new Tokenizer() {
        @Override public int[] encode(String text, boolean addBos) { throw new UnsupportedOperationException(); }
        @Override public byte[] decode(int previous, int id) { return ("<" + id + ">").getBytes(StandardCharsets.UTF_8); }
        @Override public int vocabularySize() { return VOCAB; }
        @Override public int bos() { return -1; }
        @Override public int eos() { return 0; }
    };
}
