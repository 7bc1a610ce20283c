package io.transfuse.loader.onnx;

import io.transfuse.loader.ModelFormatException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Unsupported ONNX tensor types are named as onnx.proto names them (they were shown as bare numbers). */
class OnnxTensorTypeNameTest {
    @Test
    void unsupportedTypesAreNamed() {
        OnnxTensor bf16 = new OnnxTensor("w", 16, new long[] {2}, MemorySegment.ofArray(new byte[4]), null, "m.onnx");
        ModelFormatException e = assertThrows(ModelFormatException.class, bf16::floats);
        assertTrue(e.getMessage().contains("m.onnx: ONNX tensor 'w' has data type BFLOAT16 (16), expected FLOAT, FLOAT16 or DOUBLE"), e.getMessage());
        OnnxTensor u8 = new OnnxTensor("ids", 2, new long[] {2}, MemorySegment.ofArray(new byte[2]), null, "m.onnx");
        e = assertThrows(ModelFormatException.class, u8::longs);
        assertTrue(e.getMessage().contains("data type UINT8 (2), expected INT64 or INT32"), e.getMessage());
        assertEquals("type 99", OnnxTensor.typeName(99));
        assertEquals("FLOAT16 (10)", OnnxTensor.typeName(OnnxTensor.FLOAT16));
    }
}
