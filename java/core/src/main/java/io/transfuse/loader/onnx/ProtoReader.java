package io.transfuse.loader.onnx;

import io.transfuse.loader.ModelFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A cursor over protocol-buffers wire format (https://protobuf.dev/programming-guides/encoding/):
 * each field is a varint key {@code (number << 3) | wireType}, then a varint (type 0), 8 bytes (1),
 * a varint length and that many bytes (2: strings, bytes, sub-messages, packed repeated scalars)
 * or 4 bytes (5). Groups (3, 4) are deprecated and rejected. Reads from a memory segment (usually a
 * mapped file) without copying; every read is bounds-checked, and errors name the file and offset.
 */
final class ProtoReader {
    static final int VARINT = 0, I64 = 1, LEN = 2, I32 = 5;

    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final String file;
    private long pos;
    private final long end;
    private int field, wireType;

    ProtoReader(MemorySegment data, long start, long end, String file) {
        this.data = data;
        this.pos = start;
        this.end = end;
        this.file = file;
    }

    /** Advances to the next field; false at the end of this message. */
    boolean next() {
        if (pos >= end) return false;
        long at = pos;
        long key = varint();
        field = (int) (key >>> 3);
        wireType = (int) (key & 7);
        if (field == 0 || key >>> 3 > Integer.MAX_VALUE) throw error(at, "invalid field number " + (key >>> 3));
        if (wireType != VARINT && wireType != I64 && wireType != LEN && wireType != I32) {
            throw error(at, "unsupported wire type " + wireType + " (field " + field + ")");
        }
        return true;
    }

    int field() { return field; }

    int wireType() { return wireType; }

    long position() { return pos; }

    long varint() {
        long result = 0;
        long at = pos;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) throw error(at, "truncated varint");
            byte b = data.get(ValueLayout.JAVA_BYTE, pos++);
            result |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw error(at, "varint longer than 10 bytes");
    }

    /** A varint field's value (checks the wire type). */
    long int64() {
        expect(VARINT);
        return varint();
    }

    float float32() {
        expect(I32);
        need(4);
        float f = Float.intBitsToFloat(data.get(I32_LE, pos));
        pos += 4;
        return f;
    }

    /** Start and end offsets of a length-delimited field's payload; the cursor moves past it. */
    long[] bytes() {
        expect(LEN);
        long at = pos;
        long len = varint();
        if (len < 0 || len > end - pos) throw error(at, "field " + field + " claims " + len + " bytes but only " + (end - pos) + " remain");
        long[] range = {pos, pos + len};
        pos += len;
        return range;
    }

    String string() {
        long[] r = bytes();
        if (r[1] - r[0] > Integer.MAX_VALUE) throw error(r[0], "string too long");
        return new String(data.asSlice(r[0], r[1] - r[0]).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** A reader over a length-delimited sub-message. */
    ProtoReader message() {
        long[] r = bytes();
        return new ProtoReader(data, r[0], r[1], file);
    }

    /** A repeated int64 field, packed (one LEN field) or not (one VARINT per element), appended to list. */
    void int64s(LongList list) {
        if (wireType == VARINT) {
            list.add(varint());
            return;
        }
        long[] r = bytes();
        ProtoReader p = new ProtoReader(data, r[0], r[1], file);
        while (p.pos < p.end) list.add(p.varint());
    }

    void skip() {
        switch (wireType) {
            case VARINT -> varint();
            case I64 -> { need(8); pos += 8; }
            case I32 -> { need(4); pos += 4; }
            case LEN -> bytes();
            default -> throw error(pos, "unsupported wire type " + wireType);
        }
    }

    long fixed64At(long offset) { return data.get(I64_LE, offset); }

    MemorySegment segment() { return data; }

    String file() { return file; }

    ModelFormatException error(long offset, String what) {
        return new ModelFormatException(file + ": malformed ONNX protobuf at byte " + offset + ": " + what);
    }

    private void expect(int type) {
        if (wireType != type) throw error(pos, "field " + field + " has wire type " + wireType + ", expected " + type);
    }

    private void need(long n) {
        if (end - pos < n) throw error(pos, "truncated field " + field + " (needs " + n + " bytes, " + (end - pos) + " remain)");
    }

    /** A growable long array. */
    static final class LongList {
        private long[] a = new long[8];
        private int n;

        void add(long v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        long[] toArray() { return java.util.Arrays.copyOf(a, n); }
    }
}
