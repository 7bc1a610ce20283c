package io.transfuse;

import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;

/**
 * One sequence being processed: its KV cache and its position. Feed tokens, read logits.
 * Owns its memory (closed with the session, or with the model that made it). Not thread-safe,
 * and a model runs one session's forward pass at a time.
 */
public final class Session implements AutoCloseable {
    private final LanguageModel owner;
    private final TrackedArena arena;
    private final Decoder.SequenceState cache;
    private int position;

    Session(LanguageModel owner, Decoder model, int capacity) {
        this.owner = owner;
        this.arena = new TrackedArena("a session of " + model.source());
        try {
            this.cache = model.newState(capacity, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Tokens processed so far (the position of the next one). */
    public int position() { return position; }

    /** Size of the logits {@link #feed} writes: the model's vocabulary (may exceed the tokenizer's when padded). */
    public int vocabSize() { return owner.vocabSize(); }

    /** Context capacity in tokens. */
    public int capacity() { return cache.capacity(); }

    /** Forgets the sequence; the cache is reused. */
    public void reset() { position = 0; }

    /** Feeds {@code tokens} and returns the logits after the last one (copied into {@code logits}). */
    public void feed(int[] tokens, float[] logits) {
        feed(tokens, 0, tokens.length, logits);
    }

    public void feed(int[] tokens, int from, int count, float[] logits) {
        if (count <= 0) throw new IllegalArgumentException("feed needs at least one token");
        if (position + count > cache.capacity()) {
            throw new TransfuseException("context full: " + position + " + " + count + " tokens exceed the context of "
                    + cache.capacity() + " tokens");
        }
        synchronized (owner) {
            Decoder model = owner.model();
            int vocab = model.vocabSize();
            for (int i = from; i < from + count; i++) {
                if (tokens[i] < 0 || tokens[i] >= vocab) {
                    throw new IllegalArgumentException("token id " + tokens[i] + " at index " + i + " is outside the vocabulary of " + vocab);
                }
            }
            model.forward(tokens, from, count, position, cache, logits);
            position += count;
        }
    }

    @Override
    public void close() {
        try {
            cache.close();
        } finally {
            arena.close();
        }
        owner.forget(this);
    }
}
