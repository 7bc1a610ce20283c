package io.transfuse.backend.cpu;

import io.transfuse.backend.WindowGrid;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad window-attention calls stop in Java with the argument named, before any native code runs. */
class WindowAttentionChecksTest {
    private static void fails(Runnable call, String expected) {
        var e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void badCallsAreRefusedInJava() {
        fails(() -> new WindowGrid(14, 14, 4, 0), "token grid 14x14 is not a whole number of 4x4 windows");
        fails(() -> new WindowGrid(14, 14, 7, 7), "window shift 7 must be in [0, 7)");
        try (CpuBackend b = CpuBackend.create(1)) {
            WindowGrid g = new WindowGrid(14, 14, 7, 3);
            Tensor qkv = b.allocate("qkv", DType.F32, 196, 192), out = b.allocate("out", DType.F32, 196, 64);
            Tensor q = qkv.columns(0, 64), k = qkv.columns(64, 64), v = qkv.columns(128, 64);
            Tensor bias = b.allocate("bias", DType.F32, 169, 2);
            fails(() -> b.windowAttention(out, q, k, v, b.allocate("bias", DType.F32, 168, 2), null, g, 2, 0.1f), "bias");
            fails(() -> b.windowAttention(out, q, k, v, bias, null, new WindowGrid(7, 7, 7, 0), 2, 0.1f), "must be [49][64]");
            fails(() -> b.windowAttention(out, q, k, v, bias, null, g, 3, 0.1f), "is not 3 heads wide");
            fails(() -> b.windowAttention(out, q, qkv.columns(64, 64).rows(0, 196), b.allocate("v", DType.F32, 196, 64), bias, null, g, 2, 0.1f),
                    "one row stride");
            fails(() -> b.windowAttention(out, q, k, v, bias, b.allocate("scales", DType.F32, 3), g, 2, 0.1f), "logitScale");
            // a window of 169 tokens is past the CPU kernel's stack tiles
            WindowGrid big = new WindowGrid(13, 13, 13, 0);
            Tensor qkv13 = b.allocate("qkv", DType.F32, 169, 96), out13 = b.allocate("out", DType.F32, 169, 32);
            fails(() -> b.windowAttention(out13, qkv13.columns(0, 32), qkv13.columns(32, 32), qkv13.columns(64, 32),
                    b.allocate("bias", DType.F32, 625, 1), null, big, 1, 0.1f), "at most 144");
        }
    }
}
