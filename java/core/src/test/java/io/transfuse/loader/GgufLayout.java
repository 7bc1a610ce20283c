package io.transfuse.loader;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Test helper: walks a GGUF file's header and records where each tensor info's fields are, so
 * tests can corrupt exactly one field. Written from the GGUF spec, separately from GgufFile.
 */
final class GgufLayout {
    /** Byte positions of one tensor info's fields. */
    record Fields(long nDims, long firstDim, long type, long offset) {}

    final Map<String, Fields> tensors = new LinkedHashMap<>();
    long headerEnd;

    GgufLayout(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        b.position(8);
        long tensorCount = b.getLong();
        long kvCount = b.getLong();
        for (long i = 0; i < kvCount; i++) {
            skipString(b);
            skipValue(b, b.getInt());
        }
        for (long i = 0; i < tensorCount; i++) {
            String name = string(b);
            long nDimsAt = b.position();
            int nDims = b.getInt();
            long firstDim = b.position();
            b.position(b.position() + 8 * nDims);
            long typeAt = b.position();
            b.getInt();
            long offsetAt = b.position();
            b.getLong();
            tensors.put(name, new Fields(nDimsAt, firstDim, typeAt, offsetAt));
        }
        headerEnd = b.position();
    }

    static void putInt(byte[] file, long at, int value) {
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt((int) at, value);
    }

    static void putLong(byte[] file, long at, long value) {
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putLong((int) at, value);
    }

    static long getLong(byte[] file, long at) {
        return ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong((int) at);
    }

    private static String string(ByteBuffer b) {
        int n = (int) b.getLong();
        byte[] s = new byte[n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static void skipString(ByteBuffer b) {
        long n = b.getLong();
        b.position((int) (b.position() + n));
    }

    private static void skipValue(ByteBuffer b, int type) {
        switch (type) {
            case 0, 1, 7 -> b.position(b.position() + 1);
            case 2, 3 -> b.position(b.position() + 2);
            case 4, 5, 6 -> b.position(b.position() + 4);
            case 10, 11, 12 -> b.position(b.position() + 8);
            case 8 -> skipString(b);
            case 9 -> {
                int elementType = b.getInt();
                long n = b.getLong();
                for (long i = 0; i < n; i++) skipValue(b, elementType);
            }
            default -> throw new IllegalStateException("value type " + type);
        }
    }
}
