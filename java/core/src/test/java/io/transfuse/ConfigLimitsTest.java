package io.transfuse;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.RandomGpt2Model;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A config.json with an absurd size (2^31-1 layers, width, positions, heads, vocabulary) is an error naming the file
 * and the field, raised before anything is allocated from it: it was an OutOfMemoryError (layers), or an error
 * naming some derived quantity ("rotary dim must be even and positive, got 268435455") or none of the config.
 */
class ConfigLimitsTest {
    static final long ABSURD = Integer.MAX_VALUE;

    @TempDir Path dir;

    @Test
    void llamaFieldsBeyondAnyModelNameTheFieldAndFile() throws IOException {
        for (String field : new String[] {"num_hidden_layers", "hidden_size", "max_position_embeddings", "intermediate_size",
                "num_attention_heads", "num_key_value_heads", "vocab_size", "head_dim"}) {
            Path m = copyWith(TestModels.storiesHf(), field, ABSURD);
            assertFieldError(() -> Transfuse.load(m, LoadOptions.defaults().withThreads(1)), field);
        }
    }

    @Test
    void otherFamiliesToo() throws IOException {
        Path mamba = dir.resolve("mamba");
        RandomMambaModel.write(mamba, RandomMambaModel.Shape.TINY, DType.F32, 1, s -> { });
        for (String field : new String[] {"num_hidden_layers", "hidden_size", "vocab_size", "expand"}) {
            Path m = copyWith(mamba, field, ABSURD);
            assertFieldError(() -> Transfuse.load(m, LoadOptions.defaults().withThreads(1)), field);
        }
        Path gpt2 = dir.resolve("gpt2");
        RandomGpt2Model.writeHf(gpt2, RandomGpt2Model.Shape.TINY, DType.F32, 1, s -> { });
        for (String field : new String[] {"n_layer", "n_embd", "n_positions", "n_head"}) {
            Path m = copyWith(gpt2, field, ABSURD);
            assertFieldError(() -> Transfuse.load(m, LoadOptions.defaults().withThreads(1)), field);
        }
        Path bert = RandomEncoder.bert(32, 1, 2, 64, 64).write(dir.resolve("bert"), 1, DType.F32);
        for (String field : new String[] {"num_hidden_layers", "max_position_embeddings", "hidden_size"}) {
            Path m = copyWith(bert, field, ABSURD);
            assertFieldError(() -> Transfuse.loadEncoder(m, LoadOptions.defaults().withThreads(1)), field);
        }
    }

    /** GGUF keys are bounded the same way, named in full ({@code llama.block_count}). */
    @Test
    void ggufKeysToo() {
        for (String key : new String[] {"block_count", "embedding_length", "context_length", "attention.head_count"}) {
            Path f = dir.resolve(key + ".gguf");
            io.transfuse.loader.GgufWriter w = new io.transfuse.loader.GgufWriter().put("general.architecture", "llama")
                    .put("llama.block_count", 2).put("llama.embedding_length", 64).put("llama.context_length", 512)
                    .put("llama.attention.head_count", 8).put("llama.feed_forward_length", 172);
            w.put("llama." + key, ABSURD);
            w.write(f);
            try (io.transfuse.memory.TrackedArena arena = new io.transfuse.memory.TrackedArena("test")) {
                io.transfuse.loader.GgufFile gguf = io.transfuse.loader.GgufFile.open(f, arena);
                TransfuseException e = assertThrows(TransfuseException.class, () -> io.transfuse.model.llama.LlamaConfigs.config(gguf, 512));
                assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("'llama." + key + "' = " + ABSURD)
                        && e.getMessage().contains("larger than any model's"), e.getMessage());
            }
        }
    }

    /** A large but plausible value is not refused by the bound (it fails later, on the weights, as before). */
    @Test
    void plausibleValuesPassTheBound() throws IOException {
        Path m = copyWith(TestModels.storiesHf(), "num_hidden_layers", 126);
        TransfuseException e = assertThrows(TransfuseException.class, () -> Transfuse.load(m, LoadOptions.defaults().withThreads(1)));
        assertTrue(e.getMessage().contains("model.layers.5") && e.getMessage().contains("missing"), e.getMessage());
    }

    private static void assertFieldError(org.junit.jupiter.api.function.Executable load, String field) {
        Throwable t = assertThrows(Throwable.class, load, field);
        assertTrue(t instanceof TransfuseException, field + ": " + t);
        String m = t.getMessage();
        assertTrue(m.contains("config.json") && m.contains("'" + field + "' = " + ABSURD) && m.contains("larger than any model's"),
                field + ": " + m);
    }

    /** A copy of the model directory {@code src} whose config.json sets {@code field} to {@code value}. */
    private Path copyWith(Path src, String field, long value) throws IOException {
        Path out = Files.createTempDirectory(dir, field);
        try (var files = Files.list(src)) {
            for (Path f : files.toList()) if (Files.isRegularFile(f)) Files.copy(f, out.resolve(f.getFileName()));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(out.resolve("config.json").toFile());
        c.put(field, value);
        Files.writeString(out.resolve("config.json"), json.writeValueAsString(c));
        return out;
    }

}
