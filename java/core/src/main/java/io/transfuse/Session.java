package io.transfuse;

import io.transfuse.model.Decoder;

import java.lang.ref.Cleaner;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.Objects;

/**
 * One sequence being processed: its state in the model (KV blocks or a recurrent state) and its
 * position. Feed tokens, read logits. Not thread-safe, and a model runs one forward pass at a time.
 *
 * <p>Memory policy: a session holds no memory of its own. It draws KV blocks from the model's pool as it grows (a
 * Mamba session holds one state slot), and the pool is sized once, at load, for
 * {@link LoadOptions#maxSequences()} sequences of {@link LoadOptions#contextLength()} positions: however many sessions
 * are open, the KV memory stays within that bound, and when it is all held the next session that needs more fails
 * with an error saying so. {@link #close()} returns what the session holds at once. A session dropped without
 * {@code close()} returns it when the garbage collector finds the session unreachable (a {@link Cleaner}); when the
 * pool runs out, the model first asks for a collection, so that abandoned sessions are reclaimed, and tries once
 * more. Only block numbers go back to the pool this way: no memory is freed by the collector. Closing the model
 * closes every session it made.
 */
public final class Session implements AutoCloseable {
    /** One daemon thread for every model's sessions. */
    private static final Cleaner CLEANER = Cleaner.create();

    private final LanguageModel owner;
    private final Decoder.Sequence sequence;
    private final Release release;
    private final Cleaner.Cleanable cleanable;
    private int position;

    Session(LanguageModel owner, Decoder model, int capacity, Set<Release> open, AtomicLong reclaimed) {
        this.owner = owner;
        this.sequence = model.newSequence(capacity);
        this.release = new Release(sequence, open, reclaimed);
        open.add(release);
        this.cleanable = CLEANER.register(this, release);
    }

    /**
     * Tokens processed so far.
     *
     * @return the position of the next token
     */
    public int position() { return position; }

    /**
     * Size of the logits {@link #feed} writes: the model's vocabulary.
     *
     * @return logits per position (may exceed the tokenizer's vocabulary when padded)
     */
    public int vocabSize() { return owner.vocabSize(); }

    /**
     * Context capacity in tokens.
     *
     * @return positions the session holds
     */
    public int capacity() { return sequence.capacity(); }

    /** Forgets the sequence; its state is reused. */
    public void reset() { position = 0; }

    /**
     * Feeds {@code tokens} and returns the logits after the last one.
     *
     * @param tokens token ids (at least one)
     * @param logits receives the logits after the last token ({@link #vocabSize()} floats at least)
     */
    public void feed(int[] tokens, float[] logits) {
        Objects.requireNonNull(tokens, "tokens");
        feed(tokens, 0, tokens.length, logits);
    }

    /**
     * Feeds {@code tokens[from, from + count)} and returns the logits after the last one.
     *
     * @param tokens token ids
     * @param from   first one to feed
     * @param count  how many to feed (at least one)
     * @param logits receives the logits after the last token ({@link #vocabSize()} floats at least)
     */
    public void feed(int[] tokens, int from, int count, float[] logits) {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(logits, "logits");
        if (count <= 0) throw new IllegalArgumentException("feed needs at least one token, got count " + count);
        if (release.done.get()) throw new IllegalStateException("the session is closed");
        Objects.checkFromIndexSize(from, count, tokens.length);
        if (logits.length < vocabSize()) {
            throw new IllegalArgumentException("logits holds " + logits.length + " floats; the model writes " + vocabSize());
        }
        if (position + count > sequence.capacity()) {
            throw new TransfuseException("context full: " + position + " + " + count + " tokens exceed the context of "
                    + sequence.capacity() + " tokens");
        }
        owner.reclaimingAbandoned(1, () -> {
            synchronized (owner) {
                owner.model().forward(sequence, tokens, from, count, position, logits);
            }
            return null;
        });
        position += count;
    }

    /** Gives the session's state back to the model. */
    @Override
    public void close() {
        release.release(false);
        cleanable.clean(); // deregisters from the cleaner (the release has run and will not run again)
    }

    /**
     * What a session gives back, as its own object so that the {@link Cleaner} does not keep the session reachable:
     * the sequence's KV blocks or state slot, and its entry in the model's set of open sessions. Runs at most once:
     * on close, when the model closes, or when the collector finds the session abandoned.
     */
    static final class Release implements Runnable {
        private final Decoder.Sequence sequence;
        private final Set<Release> open;
        private final AtomicLong reclaimed;
        private final AtomicBoolean done = new AtomicBoolean();

        Release(Decoder.Sequence sequence, Set<Release> open, AtomicLong reclaimed) {
            this.sequence = sequence;
            this.open = open;
            this.reclaimed = reclaimed;
        }

        /** The cleaner's call: the session was dropped without close(). */
        @Override
        public void run() { release(true); }

        /** Gives back the sequence's state, once; {@code abandoned} counts it as reclaimed. */
        void release(boolean abandoned) {
            if (done.getAndSet(true)) return;
            open.remove(this);
            sequence.close();
            if (abandoned) reclaimed.incrementAndGet();
        }
    }
}
