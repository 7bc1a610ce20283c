package io.transfuse.backend;

import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The conv2d geometry ({@link Conv2d}: output sizes as PyTorch's Conv2d documents them, each bad field named),
 * the OIHW to OHWI weight permutation, and the CPU backend's argument checks (a wrong shape or type is an
 * IllegalArgumentException before any native call). The numbers themselves: {@link OpConformance} (every
 * backend against ReferenceBackend) and native/test/cpu_conv2d_ops.cpp.
 */
class Conv2dTest {
    @Test
    void outputSizesFollowPyTorchsFormula() {
        // ResNet-50 stem on 224x224: 7x7 stride 2 pad 3 -> 112x112
        Conv2d stem = Conv2d.square(1, 224, 224, 3, 64, 7, 2, 3, 1, 1);
        assertEquals(112, stem.outHeight());
        assertEquals(112, stem.outWidth());
        assertEquals(7 * 7 * 3, stem.patch());
        // floor((10 + 2 - 2*2 - 1) / 3) + 1 = 3; width: floor((7 + 0 - 1*(2-1) - 1) / 1) + 1 = 6
        Conv2d odd = new Conv2d(2, 10, 7, 4, 6, 3, 2, 3, 1, 1, 0, 2, 1, 2);
        assertEquals(3, odd.outHeight());
        assertEquals(6, odd.outWidth());
        assertEquals(2L * 3 * 6, odd.outPixels());
        assertEquals(3 * 2 * 2, odd.patch());
        assertArrayEquals(new int[] {2, 10, 7, 4, 6, 3, 2, 3, 1, 1, 0, 2, 1, 2}, odd.geometry());
    }

    @Test
    void badGeometryNamesTheField() {
        assertMessage("groups 3 must divide inChannels 4", () -> Conv2d.square(1, 8, 8, 4, 6, 3, 1, 1, 1, 3));
        assertMessage("strideH must be >= 1, got 0", () -> new Conv2d(1, 8, 8, 4, 4, 3, 3, 0, 1, 1, 1, 1, 1, 1));
        assertMessage("padding must be >= 0", () -> Conv2d.square(1, 8, 8, 4, 4, 3, 1, -1, 1, 1));
        assertMessage("larger than the 2x2 image", () -> Conv2d.square(1, 2, 2, 1, 1, 5, 1, 0, 1, 1));
        assertMessage("batch must be >= 1", () -> Conv2d.square(0, 2, 2, 1, 1, 1, 1, 0, 1, 1));
    }

    @Test
    void weightsArePermutedFromOihwToOhwi() {
        try (TrackedArena arena = new TrackedArena("conv weights")) {
            int out = 2, in = 3, kh = 2, kw = 2;
            MemorySegment s = arena.allocateFloats((long) out * in * kh * kw);
            for (int i = 0; i < out * in * kh * kw; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
            Tensor ohwi = Conv2dWeights.ohwi(new Tensor("conv.weight", DType.F32, new long[] {out, in, kh, kw}, s), arena);
            assertEquals(out, ohwi.rows());
            assertEquals((long) kh * kw * in, ohwi.cols());
            for (int o = 0; o < out; o++)
                for (int c = 0; c < in; c++)
                    for (int y = 0; y < kh; y++)
                        for (int x = 0; x < kw; x++) {
                            float want = ((o * in + c) * kh + y) * kw + x;  // OIHW index = the value stored
                            assertEquals(want, ohwi.data().getAtIndex(ValueLayout.JAVA_FLOAT, ((long) (o * kh + y) * kw + x) * in + c));
                        }
            assertMessage("must be rank 4", () -> Conv2dWeights.ohwi(new Tensor("w", DType.F32, new long[] {2, 12}, s), arena));
        }
    }

    @Test
    void cpuBackendChecksShapesAndTypesFirst() {
        Conv2d c = Conv2d.square(1, 5, 5, 3, 4, 3, 1, 1, 1, 1);
        try (CpuBackend b = CpuBackend.create(1)) {
            Tensor x = b.allocate("x", DType.F32, c.inPixels(), c.inChannels());
            Tensor w = b.allocate("w", DType.F32, c.outChannels(), c.patch());
            Tensor out = b.allocate("out", DType.F32, c.outPixels(), c.outChannels());
            Tensor shortW = b.allocate("w", DType.F32, c.outChannels(), c.patch() - 1);
            Tensor wrongX = b.allocate("x", DType.F32, c.inPixels() + 1, c.inChannels());
            Tensor bias = b.allocate("bias", DType.F32, c.outChannels() + 1);
            Tensor f16 = b.allocate("out", DType.F16, c.outPixels(), c.outChannels());
            assertMessage("conv2d: weight", () -> b.conv2d(out, x, shortW, null, c, false));
            assertMessage("conv2d: x", () -> b.conv2d(out, wrongX, w, null, c, false));
            assertMessage("conv2d: bias", () -> b.conv2d(out, x, w, bias, c, true));
            assertMessage("one element type", () -> b.conv2d(f16, x, w, null, c, false));
            assertMessage("geometry) is null", () -> b.conv2d(out, x, w, null, null, false));
            b.conv2d(out, x, w, null, c, true);  // the right shapes run
        }
    }

    private static void assertMessage(String part, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' should contain '" + part + "'");
    }
}
