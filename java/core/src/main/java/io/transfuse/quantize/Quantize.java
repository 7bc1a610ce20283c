package io.transfuse.quantize;

import io.transfuse.tensor.DType;

import java.util.stream.IntStream;

/**
 * F32 values to the bytes of a ggml block type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K): the one
 * entry point of this package's quantisers ({@link LegacyQuants}, {@link KQuants}). Blocks are independent,
 * so a tensor is quantised in parallel, in chunks of blocks.
 */
public final class Quantize {
    private Quantize() {}

    /** True for the block types this package writes. */
    public static boolean supports(DType type) {
        return switch (type) {
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    /**
     * {@code values} (row-major, rows of {@code cols}) as {@code type}'s blocks; throws naming {@code what}
     * when the rows do not hold whole blocks.
     */
    public static byte[] quantize(String what, DType type, float[] values, long cols) {
        if (!supports(type)) throw new IllegalArgumentException(what + ": cannot quantise to " + type);
        int bs = type.blockSize(), bb = type.blockBytes();
        if (cols % bs != 0 || values.length % bs != 0) {
            throw new IllegalArgumentException(what + ": rows of " + cols + " elements are not whole " + type + " blocks of " + bs);
        }
        int blocks = values.length / bs;
        byte[] out = new byte[Math.multiplyExact(blocks, bb)];
        int chunk = Math.max(1, 4096 / bs);
        IntStream.range(0, (blocks + chunk - 1) / chunk).parallel().forEach(c -> {
            for (int b = c * chunk; b < Math.min(blocks, (c + 1) * chunk); b++) block(type, values, b * bs, out, b * bb);
        });
        return out;
    }

    private static void block(DType type, float[] x, int xo, byte[] out, int oo) {
        switch (type) {
            case Q8_0 -> LegacyQuants.q8_0(x, xo, out, oo);
            case Q4_0 -> LegacyQuants.type0(x, xo, out, oo, 4);
            case Q5_0 -> LegacyQuants.type0(x, xo, out, oo, 5);
            case Q4_1 -> LegacyQuants.type1(x, xo, out, oo, 4);
            case Q5_1 -> LegacyQuants.type1(x, xo, out, oo, 5);
            case Q4_K -> KQuants.q45k(x, xo, out, oo, 4);
            case Q5_K -> KQuants.q45k(x, xo, out, oo, 5);
            case Q6_K -> KQuants.q6k(x, xo, out, oo);
            default -> throw new IllegalStateException(type.toString());
        }
    }
}
