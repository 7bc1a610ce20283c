package io.transfuse.quantize;

/** Little-endian stores into block byte arrays. */
final class Bytes {
    private Bytes() {}

    /** Stores {@code v} as an IEEE half at {@code o}; returns the stored value as a float (what readers will see). */
    static float f16(byte[] out, int o, float v) {
        short h = Float.floatToFloat16(v);
        out[o] = (byte) h;
        out[o + 1] = (byte) (h >> 8);
        return Float.float16ToFloat(h);
    }
}
