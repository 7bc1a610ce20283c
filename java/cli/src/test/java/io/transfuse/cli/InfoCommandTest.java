package io.transfuse.cli;

import io.transfuse.GgufCopies;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code transfuse info} on the bundled stories260K model, as GGUF and as a Hugging Face
 * directory, against the shape its model card states (models/stories260K/README.md: dim 64,
 * 5 layers, 8 heads, 4 KV heads, FFN 172, vocab 512, context 512, tied head, all F32), from
 * which the parameter count is worked out here independently of the files.
 */
class InfoCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    // Llama shapes: embeddings, per layer (q, k, v, o, three FFN matrices, two norms), final norm, and the
    // head: tied to the embeddings in training, but both files store it as a tensor of its own (output.weight,
    // lm_head.weight), and info counts what the file holds, as llama.cpp does.
    private static final long DIM = 64, KV_DIM = 64 / 8 * 4, FFN = 172, VOCAB = 512, LAYERS = 5;
    private static final long PARAMETERS = VOCAB * DIM
            + LAYERS * (DIM * DIM + 2 * KV_DIM * DIM + DIM * DIM + 3 * FFN * DIM + 2 * DIM) + DIM + VOCAB * DIM;

    @TempDir
    Path dir;

    private static Path root() {
        return Path.of(System.getProperty("transfuse.root", "../..")).resolve("models/stories260K");
    }

    private static JsonNode info(String... args) throws Exception {
        String[] all = new String[args.length + 2];
        all[0] = "info";
        all[1] = "--json";
        System.arraycopy(args, 0, all, 2, args.length);
        MainTest.Run r = MainTest.run(all);
        assertEquals(0, r.code(), r.err());
        return JSON.readTree(r.out());
    }

    @Test
    void ggufFileFromItsHeader() throws Exception {
        Path gguf = root().resolve("stories260K-f32.gguf");
        JsonNode i = info(gguf.toString());
        assertEquals("GGUF", i.get("format").asText());
        assertEquals("llama", i.get("architecture").asText());
        assertEquals(Files.size(gguf), i.get("file_bytes").asLong());
        assertEquals(PARAMETERS, i.get("parameters").asLong());
        assertEquals(1, i.get("tensor_types").size(), i.toString());
        assertEquals(PARAMETERS * 4, i.get("tensor_types").get("F32").get("bytes").asLong());
        assertEquals(LAYERS * 9 + 3, i.get("tensor_types").get("F32").get("count").asLong());
        assertEquals(512, i.get("context_length").asLong());
        assertEquals(LAYERS, i.get("layers").asLong());
        assertEquals(10000.0, i.get("rope").get("theta").asDouble());
        assertEquals("none", i.get("rope").get("scaling").asText());
        assertEquals("SentencePiece BPE (llama)", i.get("tokenizer").get("kind").asText());
        assertEquals(VOCAB, i.get("tokenizer").get("tokens").asLong());
        assertFalse(i.get("chat_template").get("present").asBoolean());

        Path chat = GgufCopies.withMetadata(gguf, dir.resolve("chat.gguf"), Map.of("tokenizer.chat_template", "{{ messages }}",
                "llama.rope.scaling.type", "linear", "llama.rope.scaling.factor", 4.0f));
        JsonNode c = info(chat.toString());
        assertTrue(c.get("chat_template").get("present").asBoolean());
        assertEquals("linear", c.get("rope").get("scaling").asText());
        assertEquals(4.0, c.get("rope").get("scaling_factor").asDouble());

        // The text form names the same things.
        MainTest.Run text = MainTest.run("info", chat.toString());
        assertEquals(0, text.code(), text.err());
        for (String s : new String[] {"architecture: llama", "parameters: " + String.format(java.util.Locale.ROOT, "%,d", PARAMETERS),
                "F32", "context length: 512", "kind: SentencePiece BPE (llama)", "present: true", "scaling: linear"}) {
            assertTrue(text.out().contains(s), s + " in\n" + text.out());
        }
    }

    @Test
    void huggingFaceDirectoryFromConfigAndSafetensorsHeaders() throws Exception {
        JsonNode i = info(root().resolve("hf").toString());
        assertEquals("Hugging Face directory", i.get("format").asText());
        assertEquals("llama", i.get("architecture").asText());
        assertEquals(PARAMETERS, i.get("parameters").asLong());
        assertEquals(512, i.get("context_length").asLong());
        assertEquals(4, i.get("kv_heads").asLong());
        assertEquals(10000.0, i.get("rope").get("theta").asDouble());
        assertTrue(i.get("tokenizer").get("kind").asText().contains("BPE"), i.toString());
        assertFalse(i.get("chat_template").get("present").asBoolean());
    }

    @Test
    void aMissingModelIsOneLine() {
        MainTest.Run r = MainTest.run("info", dir.resolve("nope.gguf").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("transfuse: ") && r.err().contains("nope.gguf"), r.err());
    }
}
