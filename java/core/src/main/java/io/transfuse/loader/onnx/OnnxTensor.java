package io.transfuse.loader.onnx;

import io.transfuse.loader.ModelFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * An ONNX TensorProto (onnx.proto: dims = 1, data_type = 2, float_data = 4, int32_data = 5,
 * int64_data = 7, name = 8, raw_data = 9, double_data = 10, data_location = 14). The values stay in
 * the mapped file: {@code data} is the raw_data bytes (little-endian, as the spec requires) or the
 * packed float_data / int64_data payload. External data (data_location = 1) is not supported.
 *
 * @param dataType  TensorProto.DataType: FLOAT 1, INT32 6, INT64 7, FLOAT16 10, DOUBLE 11, ...
 * @param varintData int32_data/int64_data given as varints (not fixed-size), decoded; else null
 */
public record OnnxTensor(String name, int dataType, long[] dims, MemorySegment data, long[] varintData, String file) {
    public static final int FLOAT = 1, INT32 = 6, INT64 = 7, FLOAT16 = 10, DOUBLE = 11;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public long elementCount() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** The values as floats (FLOAT, FLOAT16 or DOUBLE tensors). */
    public float[] floats() {
        long n = elementCount();
        if (n > Integer.MAX_VALUE) throw error("has too many elements");
        float[] out = new float[(int) n];
        switch (dataType) {
            case FLOAT -> { need(n * 4); MemorySegment.copy(data, F32, 0, out, 0, (int) n); }
            case FLOAT16 -> { need(n * 2); for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(data.getAtIndex(F16, i)); }
            case DOUBLE -> { need(n * 8); for (int i = 0; i < n; i++) out[i] = (float) data.getAtIndex(F64, i); }
            default -> throw error("has data type " + typeName(dataType) + ", expected FLOAT, FLOAT16 or DOUBLE");
        }
        return out;
    }

    /** The values as longs (INT64 or INT32 tensors). */
    public long[] longs() {
        long n = elementCount();
        if (n > Integer.MAX_VALUE) throw error("has too many elements");
        if (varintData != null) {
            if (varintData.length != n) throw error("holds " + varintData.length + " values for " + n + " elements");
            return varintData.clone();
        }
        long[] out = new long[(int) n];
        switch (dataType) {
            case INT64 -> { need(n * 8); for (int i = 0; i < n; i++) out[i] = data.getAtIndex(I64, i); }
            case INT32 -> { need(n * 4); for (int i = 0; i < n; i++) out[i] = data.getAtIndex(I32, i); }
            default -> throw error("has data type " + typeName(dataType) + ", expected INT64 or INT32");
        }
        return out;
    }

    /**
     * onnx.proto's name of TensorProto.DataType {@code id} ("BFLOAT16" rather than 16), also for the types not read
     * here, so that an error names what the file holds; "type N" for ids the spec does not define.
     */
    public static String typeName(int id) {
        String[] names = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL",
            "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
            "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1"};
        return id >= 0 && id < names.length ? names[id] + " (" + id + ")" : "type " + id;
    }

    private void need(long bytes) {
        if (data == null || data.byteSize() != bytes) {
            throw error("holds " + (data == null ? 0 : data.byteSize()) + " bytes of data for " + Arrays.toString(dims)
                    + " (" + bytes + " expected)");
        }
    }

    private ModelFormatException error(String what) {
        return new ModelFormatException(file + ": ONNX tensor '" + name + "' " + what);
    }
}
