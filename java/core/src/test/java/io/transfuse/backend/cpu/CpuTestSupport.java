package io.transfuse.backend.cpu;

import io.transfuse.tensor.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Test helpers: native buffers from arrays, random weights in every storage type, and an
 * independent dequantiser that follows the GGML block layouts (written from the format
 * description, not from the C code).
 */
final class CpuTestSupport {
    private CpuTestSupport() {}

    static final DType[] WEIGHT_TYPES = {DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0};

    static MemorySegment floats(Arena arena, float[] values) {
        MemorySegment s = arena.allocate((long) values.length * 4, 64);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
        return s;
    }

    static float[] toFloats(MemorySegment s, int n) {
        float[] out = new float[n];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, out, 0, n);
        return out;
    }

    static float[] random(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (r.nextFloat() * 2 - 1) * scale;
        return a;
    }

    /** rows x cols weights of the given type with random contents, as raw bytes. */
    static byte[] randomWeights(Random r, DType type, int rows, int cols) {
        long n = (long) rows * cols;
        byte[] b = new byte[(int) type.bytesFor(n)];
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) putF32(b, i * 4, (r.nextFloat() * 2 - 1));
            }
            case F16 -> {
                for (int i = 0; i < n; i++) putU16(b, i * 2, Float.floatToFloat16(r.nextFloat() * 2 - 1));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) putU16(b, i * 2, (short) (Float.floatToRawIntBits(r.nextFloat() * 2 - 1) >>> 16));
            }
            case Q8_0, Q4_0 -> {
                // Random scales (either sign) and random quants: every bit pattern of the quants occurs.
                int blockBytes = type.blockBytes();
                for (int blk = 0; blk < n / 32; blk++) {
                    int off = blk * blockBytes;
                    putU16(b, off, Float.floatToFloat16((r.nextFloat() * 2 - 1) * 0.05f));
                    for (int j = 2; j < blockBytes; j++) b[off + j] = (byte) r.nextInt(256);
                }
            }
            default -> throw new IllegalArgumentException(type.toString());
        }
        return b;
    }

    /** Element-wise dequantisation of rows x cols weights stored as type, to double. */
    static double[] dequantize(byte[] b, DType type, int rows, int cols) {
        int n = rows * cols;
        double[] w = new double[n];
        for (int i = 0; i < n; i++) {
            w[i] = switch (type) {
                case F32 -> Float.intBitsToFloat(u16(b, i * 4) | (u16(b, i * 4 + 2) << 16));
                case F16 -> Float.float16ToFloat((short) u16(b, i * 2));
                case BF16 -> Float.intBitsToFloat(u16(b, i * 2) << 16);
                case Q8_0 -> {
                    // block: f16 scale d, then 32 signed bytes q; value = d * q
                    int off = (i / 32) * 34;
                    double d = Float.float16ToFloat((short) u16(b, off));
                    yield d * b[off + 2 + i % 32];
                }
                case Q4_0 -> {
                    // block: f16 scale d, then 16 bytes; element j < 16 is the low nibble of byte j,
                    // element j >= 16 the high nibble of byte j - 16; value = d * (nibble - 8)
                    int off = (i / 32) * 18;
                    int j = i % 32;
                    double d = Float.float16ToFloat((short) u16(b, off));
                    int q = j < 16 ? (b[off + 2 + j] & 0x0F) : ((b[off + 2 + j - 16] >> 4) & 0x0F);
                    yield d * (q - 8);
                }
                default -> throw new IllegalArgumentException(type.toString());
            };
        }
        return w;
    }

    static MemorySegment bytes(Arena arena, byte[] b) {
        MemorySegment s = arena.allocate(b.length, 64);
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
        return s;
    }

    /** The instruction sets this CPU supports (GENERIC always). */
    static List<CpuOps.Isa> supportedIsas() {
        CpuOps.Isa before = CpuOps.isa();
        List<CpuOps.Isa> list = new ArrayList<>();
        for (CpuOps.Isa isa : CpuOps.Isa.values()) if (CpuOps.setIsa(isa)) list.add(isa);
        CpuOps.setIsa(before);
        return list;
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xFF) | ((b[off + 1] & 0xFF) << 8);
    }

    private static void putU16(byte[] b, int off, short v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >> 8);
    }

    private static void putF32(byte[] b, int off, float f) {
        int v = Float.floatToRawIntBits(f);
        putU16(b, off, (short) v);
        putU16(b, off + 2, (short) (v >>> 16));
    }
}
