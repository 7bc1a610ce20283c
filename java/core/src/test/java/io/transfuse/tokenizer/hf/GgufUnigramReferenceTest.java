package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.GgufUnigram;
import io.transfuse.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GGUF Unigram vocabularies ({@code tokenizer.ggml.model = "t5"}, {@link GgufUnigram}) against llama.cpp itself: the
 * T5-layout fixture's pieces, scores and charsmap written as llama.cpp's converter writes a T5 vocabulary (pad and
 * eos control, unk unknown, the extra ids user-defined, the charsmap as a UINT8 array), once with T5's own
 * normaliser settings (dummy prefix, extra whitespace removed) and once keeping every space. The expected ids in
 * t5-gguf-llamacpp-ids.json.gz were made by llama.cpp (node-llama-cpp 3.22.1, {@code model.tokenize(text, true)}:
 * special tokens parsed, none added) from the files {@link #main} writes:
 * <pre>
 * mvn -o -pl java/core -am test -Dtest=GgufUnigramReferenceTest#writeFixtureInputs -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dtransfuse.ggufT5Out=$PWD/build/gguf-t5
 * TRANSFUSE_NODE_HOME=build/bench/node node ci/llama-tokenize.mjs build/gguf-t5 \
 *     | gzip -9 -n &gt; java/core/src/test/resources/tokenizers/t5-gguf-llamacpp-ids.json.gz
 * </pre>
 */
class GgufUnigramReferenceTest {
    static final String[] VARIANTS = {"t5", "t5-keep-spaces"};

    @TempDir
    Path dir;

    /** The texts: the shared ones, the Unigram ones and a 4000-word text. */
    static List<String> texts() {
        List<String> texts = new ArrayList<>(UnigramReferenceTest.texts());
        texts.add(Fixtures.longText(4000, 20261205));
        texts.add("<extra_id_0> fill <extra_id_1>in</s> the <pad>blank<unk>s <extra_id_99>");
        return texts;
    }

    /** A vocabulary-only GGUF file of architecture t5 with the fixture's vocabulary, as llama.cpp's converter lays it out. */
    static void writeVocab(Path file, boolean removeExtraWhitespaces) throws IOException {
        ObjectNode root = Fixtures.json("spm-t5-unigram-tokenizer.json.gz");
        ArrayNode vocab = (ArrayNode) root.get("model").get("vocab");
        int n = vocab.size();
        String[] tokens = new String[n];
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = vocab.get(i).get(0).asText();
            scores[i] = (float) vocab.get(i).get(1).asDouble();
            types[i] = tokens[i].startsWith("<extra_id_") ? 4 : 1;
        }
        types[0] = 3; // <pad>
        types[1] = 3; // </s>
        types[2] = 2; // <unk>
        byte[] charsMap = Base64.getDecoder().decode(root.get("normalizer").get("precompiled_charsmap").asText());
        GgufWriter w = new GgufWriter().put("general.architecture", "t5").put("general.name", "t5 vocabulary test")
                .put("t5.context_length", 512).put("t5.embedding_length", 64).put("t5.feed_forward_length", 128)
                .put("t5.block_count", 1).put("t5.attention.head_count", 2).put("t5.attention.key_length", 32)
                .put("t5.attention.value_length", 32).put("t5.attention.layer_norm_rms_epsilon", 1e-6f)
                .put("t5.attention.relative_buckets_count", 32).put("t5.decoder_start_token_id", 0)
                .put("tokenizer.ggml.model", "t5").put("tokenizer.ggml.tokens", tokens).put("tokenizer.ggml.scores", scores)
                .put("tokenizer.ggml.token_type", types).put("tokenizer.ggml.add_space_prefix", true)
                .put("tokenizer.ggml.remove_extra_whitespaces", removeExtraWhitespaces)
                .put("tokenizer.ggml.padding_token_id", 0).put("tokenizer.ggml.eos_token_id", 1).put("tokenizer.ggml.unknown_token_id", 2)
                .put("tokenizer.ggml.add_bos_token", false).put("tokenizer.ggml.add_eos_token", true)
                .putRaw(uint8Array("tokenizer.ggml.precompiled_charsmap", charsMap));
        w.write(file);
    }

    /** One GGUF metadata entry: key, type ARRAY, element type UINT8, count, bytes. */
    private static byte[] uint8Array(String key, byte[] values) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + k.length + 4 + 4 + 8 + values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(k.length).put(k).putInt(9).putInt(0).putLong(values.length).put(values);
        return b.array();
    }

    /** Writes the GGUF files and texts.json that ci/llama-tokenize.mjs reads (the fixture's generator). */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        Files.createDirectories(out);
        writeVocab(out.resolve("t5.gguf"), true);
        writeVocab(out.resolve("t5-keep-spaces.gguf"), false);
        Fixtures.MAPPER.writeValue(out.resolve("texts.json").toFile(), texts());
    }

    /** The generator's first step, run only when asked (see the class comment). */
    @Test
    @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "transfuse.ggufT5Out", matches = ".+")
    void writeFixtureInputs() throws IOException {
        main(new String[] {System.getProperty("transfuse.ggufT5Out")});
    }

    @Test
    void idsEqualLlamaCpp() throws IOException {
        JsonNode expected;
        try (InputStream in = new GZIPInputStream(GgufUnigramReferenceTest.class.getResourceAsStream("/tokenizers/t5-gguf-llamacpp-ids.json.gz"))) {
            expected = Fixtures.MAPPER.readTree(in);
        }
        List<String> texts = texts();
        assertEquals(texts, Fixtures.MAPPER.convertValue(expected.get("texts"), List.class), "the fixture was made from these texts");
        try (TrackedArena arena = new TrackedArena("gguf-unigram-test")) {
            for (String variant : VARIANTS) {
                Path file = dir.resolve(variant + ".gguf");
                writeVocab(file, variant.equals("t5"));
                Tokenizer t = GgufTokenizers.load(GgufFile.open(file, arena));
                assertInstanceOf(GgufUnigram.class, t);
                JsonNode ids = expected.get(variant);
                int unknown = 0;
                for (int i = 0; i < texts.size(); i++) {
                    int[] want = Fixtures.MAPPER.convertValue(ids.get(i), int[].class);
                    int[] got = t.encode(texts.get(i), false);
                    assertEquals(java.util.Arrays.toString(want), java.util.Arrays.toString(got),
                            variant + " text " + i + " " + HfTokenizerReferenceTest.escape(texts.get(i).substring(0, Math.min(200, texts.get(i).length()))));
                    for (int id : got) if (id == 2) unknown++;
                }
                assertTrue(unknown > 20, variant + ": unknown tokens " + unknown);
                // encode(text, true) adds </s> as T5 does; decoding after <pad> (the decoder's start) drops the dummy prefix.
                int[] withEos = t.encode("Hello world", true);
                assertEquals(1, withEos[withEos.length - 1]);
                assertEquals("Hello world", decode(t, 0, java.util.Arrays.copyOf(withEos, withEos.length - 1)));
            }
        }
    }

    private static String decode(Tokenizer t, int previous, int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            out.writeBytes(t.decode(previous, id));
            previous = id;
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
