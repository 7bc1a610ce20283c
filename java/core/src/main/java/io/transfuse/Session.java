package io.transfuse;

import io.transfuse.model.Decoder;

import java.util.Objects;

/**
 * One sequence being processed: its state in the model (KV blocks or a recurrent state) and its
 * position. Feed tokens, read logits. Holds its state until closed (or until the model that made it is
 * closed). Not thread-safe, and a model runs one forward pass at a time.
 */
public final class Session implements AutoCloseable {
    private final LanguageModel owner;
    private final Decoder.Sequence sequence;
    private int position;

    Session(LanguageModel owner, Decoder model, int capacity) {
        this.owner = owner;
        this.sequence = model.newSequence(capacity);
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
        Objects.checkFromIndexSize(from, count, tokens.length);
        if (logits.length < vocabSize()) {
            throw new IllegalArgumentException("logits holds " + logits.length + " floats; the model writes " + vocabSize());
        }
        if (position + count > sequence.capacity()) {
            throw new TransfuseException("context full: " + position + " + " + count + " tokens exceed the context of "
                    + sequence.capacity() + " tokens");
        }
        synchronized (owner) {
            owner.model().forward(sequence, tokens, from, count, position, logits);
            position += count;
        }
    }

    /** Gives the session's state back to the model. */
    @Override
    public void close() {
        sequence.close();
        owner.forget(this);
    }
}
