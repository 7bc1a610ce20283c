package io.transfuse.loader;

/**
 * The two orders of the rows of a Q or K projection ([heads * headDim, cols], row-major) that rotary embeddings
 * pair up: Hugging Face's half-split order (row i of a head pairs with row i + headDim/2) and the adjacent-pair
 * order llama.cpp's converter writes for its "llama" architecture (rows 2i and 2i + 1 pair). Hugging Face's own
 * conversion from Meta's checkpoints is {@code w.view(heads, headDim/2, 2, cols).transpose(1, 2).reshape(rows, cols)}
 * ({@link #adjacentToHalfSplit}); llama.cpp's {@code LlamaModel.permute} is its inverse ({@link #halfSplitToAdjacent}).
 */
public final class RotaryRows {
    private RotaryRows() {}

    /** Within each head, adjacent-pair row {@code 2*i + j} becomes half-split row {@code j*headDim/2 + i}. */
    public static float[] adjacentToHalfSplit(float[] w, int heads, int headDim, int cols) {
        return permute(w, heads, headDim, cols, true);
    }

    /** Within each head, half-split row {@code j*headDim/2 + i} becomes adjacent-pair row {@code 2*i + j}. */
    public static float[] halfSplitToAdjacent(float[] w, int heads, int headDim, int cols) {
        return permute(w, heads, headDim, cols, false);
    }

    private static float[] permute(float[] w, int heads, int headDim, int cols, boolean toHalfSplit) {
        if ((long) heads * headDim * cols != w.length || headDim % 2 != 0) {
            throw new IllegalArgumentException("rotary rows: " + w.length + " values are not " + heads + " heads x " + headDim
                    + " rows (even) x " + cols + " columns");
        }
        float[] out = new float[w.length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < 2; j++) {
                for (int i = 0; i < half; i++) {
                    int halfSplit = h * headDim + j * half + i, adjacent = h * headDim + 2 * i + j;
                    int src = toHalfSplit ? adjacent : halfSplit, dst = toHalfSplit ? halfSplit : adjacent;
                    System.arraycopy(w, src * cols, out, dst * cols, cols);
                }
            }
        }
        return out;
    }
}
