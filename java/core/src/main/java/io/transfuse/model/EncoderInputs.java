package io.transfuse.model;

import io.transfuse.backend.EncoderBatch;

/** Packs an encoder's input texts (token ids and optional token types) into one batch, checking them first. */
public final class EncoderInputs {
    private EncoderInputs() {}

    /**
     * Clears {@code batch}, adds each text as one sequence and commits it; writes the ids and types of all texts,
     * packed, to {@code hostIds} / {@code hostTypes}. An empty text runs one padding token (id 0): attention needs a
     * key, and pooling reads none of it. Returns the packed token count.
     *
     * @param typeIds     per text its token types, or null for all 0
     * @param maxSequence the longest text the model takes
     * @param vocab       token ids are in [0, vocab)
     * @param typeRows    token types are in [0, typeRows)
     */
    public static int pack(EncoderBatch batch, int[][] tokenIds, int[][] typeIds, int maxSequence, int vocab, int typeRows,
                           int[] hostIds, int[] hostTypes) {
        if (typeIds != null && typeIds.length != tokenIds.length) {
            throw new IllegalArgumentException(typeIds.length + " token type arrays for " + tokenIds.length + " sequences");
        }
        batch.clear();
        int n = 0;
        for (int b = 0; b < tokenIds.length; b++) {
            int[] t = tokenIds[b], ty = typeIds == null ? null : typeIds[b];
            if (t.length > maxSequence) throw new IllegalArgumentException("sequence " + b + " has " + t.length + " tokens; the model takes " + maxSequence);
            if (ty != null && ty.length != t.length) throw new IllegalArgumentException("sequence " + b + " has " + t.length + " tokens but " + ty.length + " token types");
            int len = Math.max(1, t.length);
            batch.add(len);
            for (int i = 0; i < len; i++) {
                int id = i < t.length ? t[i] : 0, type = ty != null && i < t.length ? ty[i] : 0;
                if (id < 0 || id >= vocab) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                if (type < 0 || type >= typeRows) throw new IllegalArgumentException("token type " + type + " is outside [0, " + typeRows + ")");
                hostIds[n + i] = id;
                hostTypes[n + i] = type;
            }
            n += len;
        }
        batch.commit();
        return n;
    }
}
