package io.transfuse.model.seq2seq;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.SafetensorsFile;
import io.transfuse.loader.SafetensorsWriter;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad models and bad calls name the fault in one line: missing tensors, inconsistent configs, unsupported variants. */
class Seq2SeqBadInputTest {
    @TempDir
    Path dir;

    private static final LoadOptions CPU = LoadOptions.defaults().withDevice(Device.CPU);

    private Path edited(String name, Consumer<ObjectNode> config) throws IOException {
        Path m = Seq2SeqFixture.copyModel(name, dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(m.resolve("config.json").toFile());
        config.accept(c);
        json.writeValue(m.resolve("config.json").toFile(), c);
        return m;
    }

    private static void fails(Path model, String... expected) {
        Exception e = assertThrows(RuntimeException.class, () -> Seq2SeqRunner.load(model, CPU, Seq2SeqFixture.LIMITS).close());
        String msg = e.getMessage();
        assertFalse(msg.contains("\n"), "one line: " + msg);
        for (String x : expected) assertTrue(msg.contains(x), "'" + msg + "' should name " + x);
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path m = Seq2SeqFixture.copyModel("t5-tiny", dir);
        String dropped = "decoder.block.1.layer.1.EncDecAttention.k.weight";
        try (TrackedArena a = new TrackedArena("rewrite")) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, Tensor> e : SafetensorsFile.open(m.resolve("model.safetensors"), a).tensors().entrySet()) {
                if (!e.getKey().equals(dropped)) w.addTensor(e.getKey(), e.getValue().dtype(), e.getValue().shape(), Dequantize.toFloats(e.getValue()));
            }
            Path out = dir.resolve("rewritten.safetensors");
            w.write(out, s -> {});
            Files.move(out, m.resolve("model.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        fails(m, "t5-tiny", "'" + dropped + "' is missing");
    }

    @Test
    void configInconsistentWithTensorsIsNamed() throws IOException {
        fails(edited("bart-tiny", c -> c.put("d_model", 48)), "model.shared.weight", "[96, 32]", "[96, 48]");
    }

    @Test
    void gatedFfnUnderAPlainConfigIsNamed() throws IOException {
        fails(edited("t5-gated-tiny", c -> c.put("feed_forward_proj", "relu")), "wi_0.weight", "feed_forward_proj");
    }

    @Test
    void unsupportedVariantsAreNamed() throws IOException {
        fails(edited("t5-tiny", c -> c.put("feed_forward_proj", "gated-relu")), "config.json", "gated-relu");
        fails(edited("bart-tiny", c -> c.put("normalize_before", true)), "config.json", "normalize_before");
        fails(edited("marian-tiny", c -> c.put("activation_function", "quick_gelu")), "config.json", "quick_gelu");
        fails(edited("bart-tiny", c -> c.put("model_type", "mbart")), "config.json", "'mbart'");
        fails(edited("t5-tiny", c -> c.put("decoder_start_token_id", 500)), "config.json", "decoder_start_token_id 500");
        fails(edited("bart-tiny", c -> c.put("decoder_attention_heads", 2)), "config.json", "decoder_attention_heads");
    }

    @Test
    void badCallsAreNamed() {
        try (Seq2SeqRunner m = Seq2SeqRunner.load(Seq2SeqFixture.copyModel("bart-tiny", dir), CPU, Seq2SeqFixture.LIMITS)) {
            Seq2SeqGraph g = m.graph();
            assertThrows(IllegalStateException.class, () -> g.startRows(new int[] {0}, 4));
            String msg = assertThrows(IllegalArgumentException.class, () -> g.encode(List.of(new int[] {3, 96}))).getMessage();
            assertTrue(msg.contains("96") && msg.contains("vocabulary"), msg);
            msg = assertThrows(IllegalArgumentException.class, () -> g.encode(List.of(new int[65]))).getMessage();
            assertTrue(msg.contains("64"), msg); // max_position_embeddings
            g.encode(List.of(new int[] {3, 4, 2}));
            msg = assertThrows(IllegalArgumentException.class, () -> g.startRows(new int[] {1}, 4)).getMessage();
            assertTrue(msg.contains("source 1"), msg);
            g.startRows(new int[] {0}, 2);
            msg = assertThrows(IllegalArgumentException.class, () -> g.step(new int[] {1}, new int[] {0}, new int[] {2})).getMessage();
            assertTrue(msg.contains("row 1"), msg);
            g.step(new int[] {0}, new int[] {0}, new int[] {2});
            g.step(new int[] {0}, new int[] {0}, new int[] {5});
            msg = assertThrows(IllegalArgumentException.class, () -> g.step(new int[] {0}, new int[] {0}, new int[] {5})).getMessage();
            assertTrue(msg.contains("already holds 2 tokens"), msg);
        }
    }
}
