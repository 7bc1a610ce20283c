package io.transfuse.loader;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class GgufWriterTest {
    @TempDir Path dir;

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * 0.5);
        return a;
    }

    @Test
    void roundTripsMetadataAndTensors() {
        float[] f32 = random(4 * 64, 1), f16 = random(2 * 32, 2), q8 = random(3 * 64, 3);
        q8[5] = 0; // a block with a zero and one with all zeros
        for (int j = 64; j < 96; j++) q8[j] = 0;
        Path file = dir.resolve("m.gguf");
        new GgufWriter()
                .put("general.architecture", "llama")
                .put("u32", 7).put("i64", -3L).put("f32", 1.5f).put("f64", 2.25).put("bool", true)
                .put("strings", new String[] {"a", "▁b", ""}).put("ints", new int[] {1, -2})
                .put("longs", new long[] {5L}).put("floats", new float[] {0.5f, -1f}).put("doubles", new double[] {3.0})
                .put("bools", new boolean[] {true, false})
                .addTensor("a", DType.F32, new long[] {4, 64}, f32)
                .addTensor("b", DType.F16, new long[] {2, 32}, f16)
                .addTensor("c", DType.Q8_0, new long[] {3, 64}, q8)
                .write(file);
        try (TrackedArena arena = new TrackedArena("test")) {
            GgufFile g = GgufFile.open(file, arena);
            assertEquals("llama", g.metadata().get("general.architecture"));
            assertEquals(7L, g.metadata().get("u32"));
            assertEquals(-3L, g.metadata().get("i64"));
            assertEquals(1.5, g.metadata().get("f32"));
            assertEquals(2.25, g.metadata().get("f64"));
            assertEquals(true, g.metadata().get("bool"));
            assertArrayEquals(new String[] {"a", "▁b", ""}, (String[]) g.metadata().get("strings"));
            assertArrayEquals(new long[] {1, -2}, (long[]) g.metadata().get("ints"));
            assertArrayEquals(new long[] {5}, (long[]) g.metadata().get("longs"));
            assertArrayEquals(new double[] {0.5, -1}, (double[]) g.metadata().get("floats"));
            assertArrayEquals(new double[] {3.0}, (double[]) g.metadata().get("doubles"));
            assertArrayEquals(new boolean[] {true, false}, (boolean[]) g.metadata().get("bools"));

            Tensor a = g.tensor("a");
            assertEquals(DType.F32, a.dtype());
            assertArrayEquals(new long[] {4, 64}, a.shape());
            for (int i = 0; i < f32.length; i++) assertEquals(f32[i], a.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i));

            Tensor b = g.tensor("b");
            assertEquals(DType.F16, b.dtype());
            for (int i = 0; i < f16.length; i++) {
                float x = Float.float16ToFloat(b.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                assertEquals(f16[i], x, Math.abs(f16[i]) / 1024 + 1e-7);
            }

            Tensor c = g.tensor("c");
            assertEquals(DType.Q8_0, c.dtype());
            assertEquals(3 * 64 / 32 * 34, c.data().byteSize());
            for (int blk = 0; blk < q8.length / 32; blk++) {
                long base = blk * 34L;
                float d = Float.float16ToFloat(c.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, base));
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(q8[blk * 32 + j]));
                assertEquals(amax / 127, d, amax / 127 / 1000 + 1e-9);
                for (int j = 0; j < 32; j++) {
                    float x = d * c.data().get(ValueLayout.JAVA_BYTE, base + 2 + j);
                    // rounding error half a step, plus the f16 rounding of the scale times 127
                    assertEquals(q8[blk * 32 + j], x, d * 0.5f + amax / 1000 + 1e-7f, "block " + blk + " element " + j);
                }
            }
        }
        assertEquals(1, dir.toFile().list().length, "no temporary file is left behind");
    }

    @Test
    void unwritablePathFailsWithoutLeavingAFile() {
        Path file = dir.resolve("missing-dir").resolve("m.gguf");
        GgufWriter w = new GgufWriter().addTensor("a", DType.F32, new long[] {1}, new float[] {1});
        assertThrows(RuntimeException.class, () -> w.write(file));
        assertFalse(Files.exists(file));
    }

    @Test
    void rejectsRowsThatAreNotWholeBlocks() {
        assertThrows(IllegalArgumentException.class,
                () -> new GgufWriter().addTensor("a", DType.Q8_0, new long[] {2, 16}, new float[32]));
    }
}
