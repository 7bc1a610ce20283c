package io.transfuse.backend;

/**
 * The attention heads of a layer: {@code heads} query heads and {@code kvHeads} key/value heads
 * (grouped-query attention: query head h reads KV head {@code h / (heads / kvHeads)}), each of
 * {@code headDim} values (the dimension the backend runs at, after any padding).
 */
public record Heads(int heads, int kvHeads, int headDim) {
    public Heads {
        if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention heads: " + heads + " query heads must be a positive multiple of "
                    + kvHeads + " key/value heads, head dim " + headDim + " positive");
        }
    }

    /** Width of the query (and attention output) rows: heads x headDim. */
    public int qWidth() { return heads * headDim; }

    /** Width of a key or value row: kvHeads x headDim. */
    public int kvWidth() { return kvHeads * headDim; }
}
