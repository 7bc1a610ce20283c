package io.transfuse.model.bert;

import io.transfuse.internal.Internals;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tokenizer.hf.Encoding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The BERT graph on the CPU backend against {@link VariantReference} (plain Java, double precision) on
 * small random-weight models written by {@link RandomEncoder}: BERT and RoBERTa layouts, F32 and F16
 * weights, with and without a checkpoint prefix, mean and CLS pooling, batch 1 and mixed-length
 * batches, truncation at the position table; plus loading errors.
 */
class BertModelTest {
    static final List<String> TEXTS = List.of(
            "Hello world",
            "The quick brown fox jumps over the lazy dog.",
            "Café naïve résumé — accents, Ünïcödé and CJK: 你好世界, 日本語のテキスト",
            "a",
            "",
            "Emoji 😀🚀 and punctuation!?... (brackets) [CLS] in text",
            "word ".repeat(100) + "this long text is truncated at the position table",
            "Short one.",
            "Another sentence of medium length, with commas, numbers 12345 and symbols #@%.");

    private static void assertMatchesReference(RandomEncoder m, Path dir, EncoderOptions options, boolean cls, boolean normalize) {
        assertMatchesReference(m, dir, options, cls, normalize, Math.min(m.maxPositions - m.positionOffset, 128));
    }

    private static void assertMatchesReference(RandomEncoder m, Path dir, EncoderOptions options, boolean cls, boolean normalize, int maxTokens) {
        VariantReference ref = new VariantReference(m);
        long before = TrackedArena.bytesInUse();
        try (EmbeddingModel model = Transfuse.loadEncoder(dir, LoadOptions.defaults(), options)) {
            assertEquals(maxTokens, model.maxTokens());
            float[][] got = model.embed(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) {
                Encoding e = Internals.tokenizer(model).encode(TEXTS.get(i), true, model.maxTokens());
                assertTrue(e.length() <= model.maxTokens());
                double[] want = ref.embed(e.ids(), e.typeIds(), cls, normalize);
                double dot = 0, nw = 0, ng = 0, maxErr = 0;
                for (int d = 0; d < want.length; d++) {
                    dot += want[d] * got[i][d];
                    nw += want[d] * want[d];
                    ng += (double) got[i][d] * got[i][d];
                    maxErr = Math.max(maxErr, Math.abs(want[d] - got[i][d]));
                }
                double cos = dot / Math.sqrt(nw * ng);
                String where = dir.getFileName() + " text " + i + " (" + e.length() + " tokens) batch " + options.batchSize();
                // float32 activations through 2 layers vs double: ~1e-6 relative per op
                assertTrue(cos >= 0.99999, where + ": cosine " + cos);
                assertTrue(maxErr <= 2e-4 * Math.sqrt(nw) + 1e-6, where + ": max error " + maxErr);
            }
            // The same texts one at a time give the same embeddings as in a padded batch.
            float[][] single = new float[TEXTS.size()][];
            for (int i = 0; i < TEXTS.size(); i++) single[i] = model.embed(TEXTS.get(i));
            for (int i = 0; i < TEXTS.size(); i++) assertArrayEquals(single[i], got[i], 2e-5f, "text " + i + " alone vs batched");
        }
        assertEquals(before, TrackedArena.bytesInUse(), "closing the model returns its native memory");
    }

    @Test
    void bertF32MeanPooling(@TempDir Path tmp) {
        RandomEncoder m = RandomEncoder.bert(32, 2, 4, 64, 40);
        Path dir = m.write(tmp.resolve("bert"), 1, DType.F32);
        assertMatchesReference(m, dir, EncoderOptions.defaults().withBatchSize(4), false, true);
        assertMatchesReference(m, dir, EncoderOptions.defaults().withBatchSize(1), false, true);
    }

    @Test
    void robertaF16PrefixedClsPooling(@TempDir Path tmp) throws Exception {
        RandomEncoder m = new RandomEncoder(RandomEncoder.Variant.ROBERTA, 48, 2, 3, 96, 50, 48, 1, "gelu").prefixed();
        Path dir = m.write(tmp.resolve("roberta"), 2, DType.F16);
        new Pooling(Pooling.Mode.CLS, false).write(dir, m.hidden); // sentence-transformers config: CLS, no Normalize
        assertEquals(new Pooling(Pooling.Mode.CLS, false), Pooling.read(dir));
        assertMatchesReference(m, dir, EncoderOptions.defaults().withBatchSize(3), true, false);
        // options override the model's pooling
        assertMatchesReference(m, dir, EncoderOptions.defaults().withPooling(io.transfuse.PoolingMode.MEAN).withNormalize(true), false, true);
    }

    @Test
    void bertPrefixedWithLongPositionTable(@TempDir Path tmp) throws Exception {
        // 200 positions: the tokenizer.json's own truncation (128) is the limit
        RandomEncoder m = RandomEncoder.bert(32, 1, 2, 64, 200).prefixed();
        Path dir = m.write(tmp.resolve("bert-prefixed"), 3, DType.F32);
        assertMatchesReference(m, dir, EncoderOptions.defaults().withBatchSize(32), false, true);
        // sentence-transformers' max_seq_length takes precedence over the tokenizer's limit
        Files.writeString(dir.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 150, \"do_lower_case\": false}");
        assertMatchesReference(m, dir, EncoderOptions.defaults().withBatchSize(5), false, true, 150);
        Files.writeString(dir.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 20}");
        assertMatchesReference(m, dir, EncoderOptions.defaults(), false, true, 20);
    }

    @Test
    void loadingErrorsNameTheCulprit(@TempDir Path tmp) throws Exception {
        RandomEncoder m = RandomEncoder.bert(32, 2, 4, 64, 40);
        Path dir = m.write(tmp.resolve("ok"), 4, DType.F32);
        long before = TrackedArena.bytesInUse();

        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("encoder.layer.2.attention.self.query.weight") && e.getMessage().contains("missing"), e.getMessage());

        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2")
                .replace("\"intermediate_size\": 64", "\"intermediate_size\": 65"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("encoder.layer.0.intermediate.dense.weight") && e.getMessage().contains("shape"), e.getMessage());

        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\", \"hidden_size\": 32}");
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("vocab_size"), e.getMessage());

        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\"}");
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("llama"), e.getMessage());

        Path noTok = m.write(tmp.resolve("notok"), 4, DType.F32);
        Files.delete(noTok.resolve("tokenizer.json"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(noTok, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());

        Files.writeString(noTok.resolve("modules.json"), "[{\"idx\":1,\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
        Files.createDirectories(noTok.resolve("1_Pooling"));
        Files.writeString(noTok.resolve("1_Pooling/config.json"), "{\"pooling_mode_max_tokens\": true}");
        e = assertThrows(ModelFormatException.class, () -> Pooling.read(noTok));
        assertTrue(e.getMessage().contains("pooling_mode_max_tokens"), e.getMessage());
        assertEquals(before, TrackedArena.bytesInUse(), "failed loads release their memory");
    }
}
