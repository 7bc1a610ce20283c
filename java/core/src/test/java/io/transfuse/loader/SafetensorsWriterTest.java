package io.transfuse.loader;

import io.transfuse.LanguageModel;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsWriterTest {
    @TempDir Path dir;

    @Test
    void roundTripsTensors() {
        float[] a = {1, -2.5f, 3, 0.125f, 5, 6}, b = {0.1f, 0.2f};
        Path file = dir.resolve("m.safetensors");
        new SafetensorsWriter().addTensor("x.weight", DType.F32, new long[] {2, 3}, a)
                .addTensor("y", DType.F16, new long[] {2}, b).write(file, m -> { });
        try (TrackedArena arena = new TrackedArena("t")) {
            SafetensorsFile f = SafetensorsFile.open(file, arena);
            Tensor x = f.tensor("x.weight");
            assertEquals(DType.F32, x.dtype());
            assertArrayEquals(new long[] {2, 3}, x.shape());
            for (int i = 0; i < a.length; i++) assertEquals(a[i], x.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i));
            Tensor y = f.tensor("y");
            assertEquals(DType.F16, y.dtype());
            assertEquals(0.1f, Float.float16ToFloat(y.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, 0)), 1e-4);
        }
        assertEquals(1, dir.toFile().list().length);
    }

    @Test
    void halfSplitPermutationMatchesHf() {
        // one head of size 6, one column: rows 0..5 in adjacent-pair order -> [0,2,4,1,3,5]
        float[] w = {0, 1, 2, 3, 4, 5};
        assertArrayEquals(new float[] {0, 2, 4, 1, 3, 5}, RotaryRows.adjacentToHalfSplit(w, 1, 6, 1));
        float[] two = {0, 1, 2, 3, 10, 11, 12, 13};
        assertArrayEquals(new float[] {0, 2, 1, 3, 10, 12, 11, 13}, RotaryRows.adjacentToHalfSplit(two, 2, 4, 1));
    }

    @Test
    void ggufAndHfFormsOfTheSameModelGiveTheSameLogits() {
        RandomLlamaModel.Shape s = new RandomLlamaModel.Shape(64, 2, 4, 2, 96, 300, 32);
        Path gguf = dir.resolve("m.gguf"), hf = dir.resolve("hf");
        RandomLlamaModel.writeGguf(gguf, s, DType.F32, 5, m -> { });
        RandomLlamaModel.writeHf(hf, s, DType.F32, 5, m -> { });
        int[] tokens = {1, 260, 261, 290, 5, 17};
        float[] a = new float[300], b = new float[300];
        try (LanguageModel g = Transfuse.load(gguf); Session sg = g.newSession();
             LanguageModel h = Transfuse.load(hf); Session sh = h.newSession()) {
            for (int i = 0; i < tokens.length; i++) {
                sg.feed(new int[] {tokens[i]}, a);
                sh.feed(new int[] {tokens[i]}, b);
                for (int v = 0; v < a.length; v++) assertEquals(a[v], b[v], 1e-5, "position " + i + " logit " + v);
            }
        }
    }
}
