package io.transfuse.loader;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Bounds-checked little-endian reads from a mapped file; every failure names the file and offset. */
final class ByteCursor {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final String file;
    private long position;
    /** What is being read, for error messages ("tensor info 3", "metadata key 'x'"). */
    private String context = "header";

    ByteCursor(MemorySegment data, String file) {
        this.data = data;
        this.file = file;
    }

    long position() { return position; }

    void context(String what) { this.context = what; }

    ModelFormatException error(String message) {
        return new ModelFormatException(file + ": " + message + " (at byte " + position + ", reading " + context + ")");
    }

    private long take(long n) {
        if (n < 0 || n > data.byteSize() - position) {
            throw error("truncated file: need " + n + " more bytes but only " + (data.byteSize() - position) + " remain");
        }
        long at = position;
        position += n;
        return at;
    }

    byte u8() { return data.get(ValueLayout.JAVA_BYTE, take(1)); }
    short i16() { return data.get(I16, take(2)); }
    int i32() { return data.get(I32, take(4)); }
    long i64() { return data.get(I64, take(8)); }
    float f32() { return data.get(F32, take(4)); }
    double f64() { return data.get(F64, take(8)); }

    /** A count that must be non-negative and at most {@code max} (guards allocations driven by the file). */
    long count(String what, long max) {
        long n = i64();
        if (n < 0 || n > max) {
            throw error("implausible " + what + " " + Long.toUnsignedString(n) + " for a file of " + data.byteSize()
                    + " bytes (truncated or corrupt file)");
        }
        return n;
    }

    long remaining() { return data.byteSize() - position; }

    String string() {
        long length = i64();
        if (length < 0 || length > Integer.MAX_VALUE - 8) throw error("implausible string length " + Long.toUnsignedString(length));
        long at = take(length);
        byte[] bytes = new byte[(int) length];
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, at, bytes, 0, bytes.length);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw error("string is not valid UTF-8");
        }
    }
}
