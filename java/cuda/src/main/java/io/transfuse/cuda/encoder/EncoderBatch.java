package io.transfuse.cuda.encoder;

import java.util.Arrays;

/**
 * The sequences of one encoder call, packed without padding: sequence b owns token rows
 * {@code cuSeqlens[b] .. cuSeqlens[b+1]-1} of every activation. Attention sees only its own
 * sequence (the varlen kernel's cu_seqlens), so no attention mask is needed: a padded batch is
 * packed by the caller (or by {@link CudaEncoder#forwardPadded}).
 */
public final class EncoderBatch {
    private final int[] lengths, cuSeqlens;
    private final int maxLength;

    private EncoderBatch(int[] lengths, int[] cuSeqlens, int maxLength) {
        this.lengths = lengths;
        this.cuSeqlens = cuSeqlens;
        this.maxLength = maxLength;
    }

    /** A batch of sequences of these lengths (each at least 1). */
    public static EncoderBatch of(int... lengths) {
        if (lengths == null || lengths.length == 0) throw new IllegalArgumentException("an encoder batch needs at least one sequence");
        int[] cu = new int[lengths.length + 1];
        int max = 0;
        for (int b = 0; b < lengths.length; b++) {
            if (lengths[b] < 1) throw new IllegalArgumentException("sequence " + b + " of the batch has length " + lengths[b] + "; it must be at least 1");
            cu[b + 1] = Math.addExact(cu[b], lengths[b]);
            max = Math.max(max, lengths[b]);
        }
        return new EncoderBatch(lengths.clone(), cu, max);
    }

    /** Number of sequences. */
    public int size() { return lengths.length; }

    /** Tokens of all sequences together (rows of the packed activations). */
    public int tokens() { return cuSeqlens[lengths.length]; }

    public int maxLength() { return maxLength; }

    public int length(int b) { return lengths[b]; }

    /** First packed row of sequence b. */
    public int offset(int b) { return cuSeqlens[b]; }

    /** The prefix sums, {@code size() + 1} entries starting at 0. */
    public int[] cuSeqlens() { return cuSeqlens.clone(); }

    @Override public String toString() { return "EncoderBatch" + Arrays.toString(lengths); }
}
