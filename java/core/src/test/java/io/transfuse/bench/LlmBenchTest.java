package io.transfuse.bench;

import io.transfuse.loader.RandomLlamaModel;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

class LlmBenchTest {
    @TempDir Path dir;

    @Test
    void reportsConsistentResults() {
        Path file = dir.resolve("tiny.gguf");
        RandomLlamaModel.Shape s = new RandomLlamaModel.Shape(64, 2, 4, 4, 96, 300, 64);
        RandomLlamaModel.writeGguf(file, s, DType.F32, 1, m -> { });
        LlmBench.Result r = LlmBench.run(file, new LlmBench.Options(8, 4, 1, 1, 0, 0.2, 2));
        assertEquals(64, r.dim());
        assertEquals(2, r.layers());
        assertEquals("F32", r.dtype());
        assertEquals(1, r.prefillTokensPerSecond().length);
        assertEquals(1, r.decodeTokensPerSecond().length);
        assertTrue(r.prefill().median() > 0 && r.decode().median() > 0 && r.decodeGBPerSecond().median() > 0);
        assertEquals(r.decode().min(), r.decode().max());
        assertEquals(s.parameters() * 4, r.weightBytes());
        // everything but the embedding, plus one embedding row
        assertEquals(s.parameters() * 4 - 300L * 64 * 4 + 64 * 4, r.decodeBytesPerToken());
        assertEquals(r.decode().median() * r.decodeBytesPerToken() / 1e9, r.decodeGBPerSecond().median(), 1e-9);
        String json = r.toJson();
        for (String f : new String[] {"model", "dim", "layers", "heads", "kv_heads", "hidden", "vocab", "dtype", "threads",
                "prompt_tokens", "gen_tokens", "repetitions", "warmup", "weight_bytes", "decode_bytes_per_token",
                "prefill_tok_s", "decode_tok_s", "prefill_tok_s_stats", "decode_tok_s_stats", "decode_gb_s_stats"}) {
            assertTrue(json.contains("\"" + f + "\": "), f);
        }
        assertTrue(Pattern.compile("\"decode_tok_s_stats\": \\{\"median\": [0-9.]+, \"min\": [0-9.]+, \"max\": [0-9.]+}").matcher(json).find(), json);
        assertThrows(IllegalArgumentException.class, () -> LlmBench.run(file, new LlmBench.Options(60, 10, 1, 1, 0, 0, 0)));
    }

    @Test
    void medianOfEvenAndOddCounts() {
        assertEquals(2, LlmBench.Stat.of(new double[] {3, 1, 2}).median());
        assertEquals(2.5, LlmBench.Stat.of(new double[] {4, 1, 3, 2}).median());
        assertEquals(1, LlmBench.Stat.of(new double[] {4, 1, 3, 2}).min());
    }
}
