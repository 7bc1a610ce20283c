package io.transfuse;

import io.transfuse.model.Decoder;

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

    /** Tokens processed so far (the position of the next one). */
    public int position() { return position; }

    /** Size of the logits {@link #feed} writes: the model's vocabulary (may exceed the tokenizer's when padded). */
    public int vocabSize() { return owner.vocabSize(); }

    /** Context capacity in tokens. */
    public int capacity() { return sequence.capacity(); }

    /** Forgets the sequence; its state is reused. */
    public void reset() { position = 0; }

    /** Feeds {@code tokens} and returns the logits after the last one (copied into {@code logits}). */
    public void feed(int[] tokens, float[] logits) {
        feed(tokens, 0, tokens.length, logits);
    }

    public void feed(int[] tokens, int from, int count, float[] logits) {
        if (count <= 0) throw new IllegalArgumentException("feed needs at least one token");
        if (position + count > sequence.capacity()) {
            throw new TransfuseException("context full: " + position + " + " + count + " tokens exceed the context of "
                    + sequence.capacity() + " tokens");
        }
        synchronized (owner) {
            owner.model().forward(sequence, tokens, from, count, position, logits);
            position += count;
        }
    }

    @Override
    public void close() {
        sequence.close();
        owner.forget(this);
    }
}
