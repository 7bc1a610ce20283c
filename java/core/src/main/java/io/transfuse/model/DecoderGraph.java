package io.transfuse.model;

import io.transfuse.backend.Backend;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * What every decoder graph shares around its equations: the backend it owns, the packed batch of a
 * forward pass, the sequences' state ({@link SequenceStore}: KV blocks or recurrent slots), checking the
 * inputs before any op runs, running decode steps as recorded steps ({@link Backend#replay}), the output
 * head on each sequence's last token, and reading the logits back. A subclass is one architecture,
 * written once for every backend: it implements {@link #compute}, which ends with {@link #head}.
 * Not thread-safe.
 */
public abstract class DecoderGraph implements Decoder {
    protected final Backend ops;
    private final DecoderBatch batch;
    /** F32 [maxSequences][vocab]: row s holds the logits after sequence s's last token. */
    private final Tensor logits;
    /** [maxSequences][dim]: the hidden state of each sequence's last token. */
    private final Tensor last;
    private final String source;
    private final int vocab, context;
    private final SequenceStore store;
    private final float[] logitsHost;
    private boolean closed;

    /**
     * @param dim      width of the hidden state the head reads
     * @param vocab    the output head's rows
     * @param context  the most positions a sequence may hold
     * @param store    where sequences keep their state (allocated on {@code ops})
     */
    protected DecoderGraph(Backend ops, String source, int dim, int vocab, int context, DecoderLimits limits, SequenceStore store) {
        this.ops = ops;
        this.source = source;
        this.vocab = vocab;
        this.context = context;
        this.store = store;
        this.batch = new DecoderBatch(ops, limits.maxTokens(), limits.maxSequences(), store.maxBlocks());
        this.logits = ops.allocate("logits", DType.F32, limits.maxSequences(), vocab);
        this.last = ops.allocate("last tokens", ops.activationType(), limits.maxSequences(), dim);
        this.logitsHost = new float[Math.multiplyExact(limits.maxSequences(), vocab)];
    }

    /**
     * The architecture's forward pass over {@code b} (already written to the backend), ending with
     * {@link #head}. The same ops on the same tensors for every batch of the same {@link #replayKey}:
     * decode steps are recorded once and replayed.
     */
    protected abstract void compute(DecoderBatch b);

    /** What identifies a decode step's recording: by default its batch size. */
    protected Object replayKey(DecoderBatch b) {
        return "decode " + b.tokens();
    }

    /** The logits of each sequence's last token: {@code head} applied to rows {@code lastRows} of {@code hidden} (final-normed). */
    protected final void head(Tensor hidden, Tensor headWeight, DecoderBatch b) {
        int s = b.sequences();
        Tensor rows = last.rows(0, s);
        ops.gatherRows(rows, hidden, b.lastRows());
        ops.matmul(logits.rows(0, s), rows, headWeight);
    }

    /**
     * Final-logit soft-cap (Gemma 2): the logits handed out are {@code cap * tanh(logits / cap)}; 0 (the default)
     * leaves them as computed. Applied on the host as the logits are read back: it changes no argmax, so only
     * callers that read logits (sampling with temperature, tests) see it.
     */
    protected float logitSoftcap() { return 0; }

    /** Sequence {@code sequence} is number s of the pass being built (before {@link #compute}). Default: nothing. */
    protected void admitted(int s, Sequence sequence) {}

    @Override public String source() { return source; }

    @Override public int vocabSize() { return vocab; }

    @Override public int contextLength() { return context; }

    @Override public int maxBatchTokens() { return batch.maxTokens(); }

    @Override public int maxBatchSequences() { return batch.maxSequences(); }

    /** The backend this graph runs on. */
    public Backend backend() { return ops; }

    @Override
    public BlockPool blockPool() { return store instanceof KvCache kv ? kv.pool() : null; }

    @Override
    public Sequence newSequence(int capacity) {
        checkOpen();
        if (capacity < 1 || capacity > context) {
            throw new IllegalArgumentException("sequence capacity " + capacity + " must be in [1, " + context + "] (" + source + ")");
        }
        return store.newSequence(capacity);
    }

    @Override
    public void forward(List<Input> inputs) {
        checkOpen();
        if (inputs.isEmpty() || inputs.size() > batch.maxSequences()) {
            throw new IllegalArgumentException("a forward pass takes 1.." + batch.maxSequences() + " sequences, got " + inputs.size());
        }
        Set<Sequence> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        int tokens = 0;
        for (Input in : inputs) {
            if (!seen.add(in.sequence())) throw new IllegalArgumentException("a sequence appears twice in one forward pass");
            tokens += in.count();
            if (in.startPos() + in.count() > in.sequence().capacity()) {
                throw new IllegalArgumentException("positions " + in.startPos() + ".." + (in.startPos() + in.count() - 1)
                        + " exceed the sequence capacity of " + in.sequence().capacity());
            }
            for (int i = in.from(); i < in.from() + in.count(); i++) {
                int id = in.tokens()[i];
                if (id < 0 || id >= vocab) throw new IllegalArgumentException("token id " + id + " at index " + i + " is outside the vocabulary of " + vocab);
            }
            if (in.logits() != null && in.logits().length < vocab) {
                throw new IllegalArgumentException("logits array of " + in.logits().length + " values is shorter than the vocabulary of " + vocab);
            }
        }
        if (tokens > batch.maxTokens()) throw new IllegalArgumentException(tokens + " tokens exceed the " + batch.maxTokens() + " a forward pass takes");
        batch.clear();
        for (Input in : inputs) {
            int[] table = store.admit(in.sequence(), in.startPos(), in.count());
            admitted(batch.sequences(), in.sequence());
            batch.add(in.tokens(), in.from(), in.count(), in.startPos(), table);
        }
        batch.commit();
        if (batch.decodeOnly()) ops.replay(replayKey(batch), () -> compute(batch));
        else compute(batch);
        int n = inputs.size();
        if (inputs.stream().anyMatch(in -> in.logits() != null)) {
            ops.read(logits.rows(0, n), logitsHost, 0, n * vocab);
            float cap = logitSoftcap();
            if (cap > 0) for (int i = 0; i < n * vocab; i++) logitsHost[i] = (float) (cap * Math.tanh(logitsHost[i] / cap));
        }
        for (int s = 0; s < n; s++) {
            Input in = inputs.get(s);
            store.advance(in.sequence(), in.startPos(), in.count());
            if (in.logits() != null) System.arraycopy(logitsHost, s * vocab, in.logits(), 0, vocab);
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("model " + source + " is closed");
    }

    /** Frees the backend and everything on it. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ops.close();
    }
}
