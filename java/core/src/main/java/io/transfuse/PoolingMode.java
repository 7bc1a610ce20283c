package io.transfuse;

/** How an encoder's token states become one embedding per text ({@link EncoderOptions#pooling()}). */
public enum PoolingMode {
    /** The average of the text's token states (what most sentence-transformers models use: MiniLM, E5). */
    MEAN,
    /** The first token's state ([CLS]; BGE uses it). */
    CLS
}
