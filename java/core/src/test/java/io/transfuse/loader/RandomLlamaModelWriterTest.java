package io.transfuse.loader;

import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class RandomLlamaModelWriterTest {
    @TempDir Path dir;
    static final RandomLlamaModel.Shape TINY = new RandomLlamaModel.Shape(64, 2, 4, 2, 96, 400, 32);

    @Test
    void writesALoadableModelWithATokenizer() {
        Path file = dir.resolve("tiny.gguf");
        RandomLlamaModel.writeGguf(file, TINY, DType.Q8_0, 7, m -> { });
        try (TrackedArena arena = new TrackedArena("t")) {
            GgufFile g = GgufFile.open(file, arena);
            assertEquals(64L, g.metadata().get("llama.embedding_length"));
            assertEquals(2L, g.metadata().get("llama.attention.head_count_kv"));
            String[] tokens = (String[]) g.metadata().get("tokenizer.ggml.tokens");
            assertEquals(400, tokens.length);
            assertEquals(400, new HashSet<>(List.of(tokens)).size(), "tokens are unique");
            assertEquals("<0x41>", tokens[3 + 0x41]);
            assertEquals(DType.Q8_0, g.tensor("blk.0.attn_q.weight").dtype());
            assertEquals(DType.F32, g.tensor("blk.0.attn_norm.weight").dtype());
            assertEquals(1f, g.tensor("output_norm.weight").data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 5));
        }
        try (LanguageModel lm = Transfuse.load(file); Session s = lm.newSession()) {
            float[] logits = new float[400];
            s.feed(new int[] {1, 300, 301}, logits);
            for (float x : logits) assertTrue(Float.isFinite(x));
            StringBuilder text = new StringBuilder();
            lm.generate("Once upon a time", GenerateOptions.defaults().withMaxTokens(5), text::append);
        }
    }

    @Test
    void isDeterministicInTheSeed() {
        assertArrayEquals(RandomLlamaModel.weights(3, "x", 100), RandomLlamaModel.weights(3, "x", 100));
        assertFalse(java.util.Arrays.equals(RandomLlamaModel.weights(3, "x", 100), RandomLlamaModel.weights(4, "x", 100)));
        float[] w = RandomLlamaModel.weights(1, "y", 100_000);
        double sq = 0;
        for (float x : w) sq += x * x;
        assertEquals(0.02, Math.sqrt(sq / w.length), 0.001);
    }

    @Test
    void rejectsInvalidShapes() {
        assertThrows(IllegalArgumentException.class, () -> new RandomLlamaModel.Shape(65, 1, 4, 4, 96, 400, 32));
        assertThrows(IllegalArgumentException.class, () -> new RandomLlamaModel.Shape(64, 1, 4, 3, 96, 400, 32));
        assertThrows(IllegalArgumentException.class, () -> new RandomLlamaModel.Shape(64, 1, 4, 4, 96, 100, 32));
        assertThrows(IllegalArgumentException.class, () -> RandomLlamaModel.checkDtype(new RandomLlamaModel.Shape(48, 1, 4, 4, 96, 400, 32), DType.Q8_0));
    }
}
