package io.transfuse.tokenizer.hf;

import java.util.Arrays;

/**
 * The result of encoding one text: token ids with their token strings, type ids (segment ids)
 * and attention mask (all ones: no padding is ever added), and which tokens the post-processor
 * or the added vocabulary marked special.
 */
public final class Encoding {
    private final int[] ids;
    private final int[] typeIds;
    private final String[] tokens;
    private final boolean[] special;

    Encoding(int[] ids, int[] typeIds, String[] tokens, boolean[] special) {
        this.ids = ids;
        this.typeIds = typeIds;
        this.tokens = tokens;
        this.special = special;
    }

    public int[] ids() {
        return ids.clone();
    }

    public int[] typeIds() {
        return typeIds.clone();
    }

    public int[] attentionMask() {
        int[] mask = new int[ids.length];
        Arrays.fill(mask, 1);
        return mask;
    }

    public String[] tokens() {
        return tokens.clone();
    }

    /** 1 where the post-processor added the token (special tokens matched in the text count as 0, as in the Rust library). */
    public int[] specialTokensMask() {
        int[] mask = new int[ids.length];
        for (int i = 0; i < mask.length; i++) mask[i] = special[i] ? 1 : 0;
        return mask;
    }

    /** The first {@code n} tokens. */
    Encoding prefix(int n) {
        if (n == ids.length) return this;
        return new Encoding(Arrays.copyOf(ids, n), Arrays.copyOf(typeIds, n), Arrays.copyOf(tokens, n), Arrays.copyOf(special, n));
    }

    public int length() {
        return ids.length;
    }

    @Override
    public String toString() {
        return "Encoding" + Arrays.toString(ids);
    }
}
