package io.transfuse.quantize;

import io.transfuse.tensor.DType;

/**
 * A plain, element-at-a-time decoder of the ggml block types, written from the specification (ggml-common.h
 * block layouts; ggml-quants.c dequantize_row_* for the values) for the tests, independent of Transfuse's
 * quantisers and native code. Returns value = a - b as {a, b}, the two products ggml forms, so that tests can
 * bound rounding by |a| + |b|.
 */
final class PlainDecoder {
    private PlainDecoder() {}

    static double[] element(DType type, byte[] data, long index) {
        int bs = type.blockSize();
        int base = Math.toIntExact(index / bs * type.blockBytes());
        int e = (int) (index % bs);
        return switch (type) {
            case Q8_0 -> new double[] {half(data, base) * data[base + 2 + e], 0};
            case Q4_0 -> new double[] {half(data, base) * nibble(data, base + 2, e), half(data, base) * 8};
            case Q4_1 -> new double[] {half(data, base) * nibble(data, base + 4, e), -half(data, base + 2)};
            case Q5_0 -> new double[] {half(data, base) * (nibble(data, base + 6, e) + 16 * bit(data, base + 2, e)), half(data, base) * 16};
            case Q5_1 -> new double[] {half(data, base) * (nibble(data, base + 8, e) + 16 * bit(data, base + 4, e)), -half(data, base + 2)};
            case Q4_K, Q5_K -> {
                boolean five = type == DType.Q5_K;
                int j = e / 32, chunk = e / 64, l = e % 32;
                int s = base + 4;
                int sc = j < 4 ? u8(data, s + j) & 63 : (u8(data, s + j + 4) & 15) | (u8(data, s + j - 4) >> 6) << 4;
                int m = j < 4 ? u8(data, s + j + 4) & 63 : (u8(data, s + j + 4) >> 4) | (u8(data, s + j) >> 6) << 4;
                int qs = base + 16 + (five ? 32 : 0);
                int byteVal = u8(data, qs + 32 * chunk + l);
                int q = j % 2 == 0 ? byteVal & 15 : byteVal >> 4;
                if (five) q += 16 * ((u8(data, base + 16 + l) >> j) & 1); // bit j of qh[l]: 5th bit of sub-block j
                yield new double[] {half(data, base) * sc * q, half(data, base + 2) * m};
            }
            case Q6_K -> {
                int n = e / 128, r = e % 128, k = r / 32, l = r % 32;
                int lowByte = u8(data, base + 64 * n + 32 * (k % 2) + l);
                int low = k < 2 ? lowByte & 15 : lowByte >> 4;
                int high = (u8(data, base + 128 + 32 * n + l) >> (2 * k)) & 3;
                double d = half(data, base + 208), sc = data[base + 192 + e / 16];
                yield new double[] {d * sc * (low | high << 4), d * sc * 32};
            }
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

    static int u8(byte[] d, int i) { return d[i] & 0xff; }

    static double half(byte[] d, int i) { return Float.float16ToFloat((short) (u8(d, i) | u8(d, i + 1) << 8)); }

    /** Element e of a 32-block's 16 nibble bytes: e < 16 low nibble of byte e, else high nibble of byte e - 16. */
    static int nibble(byte[] d, int qs, int e) { return e < 16 ? u8(d, qs + e) & 15 : u8(d, qs + e - 16) >> 4; }

    /** Bit e of the little-endian 32-bit word at i. */
    static int bit(byte[] d, int i, int e) { return (u8(d, i + e / 8) >> (e % 8)) & 1; }
}
