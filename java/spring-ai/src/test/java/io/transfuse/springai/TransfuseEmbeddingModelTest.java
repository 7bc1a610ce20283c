package io.transfuse.springai;

import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.engine.EmbeddingEngine;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.ai.document.Document;
import org.springframework.ai.embedding.EmbeddingModel;
import org.springframework.ai.embedding.EmbeddingOptions;
import org.springframework.ai.embedding.EmbeddingRequest;
import org.springframework.ai.embedding.EmbeddingResponse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransfuseEmbeddingModel through Spring AI's EmbeddingModel API on a tiny random BERT (core's RandomEncoder fixture,
 * with the real MiniLM tokenizer), against Transfuse's own EmbeddingModel.embed on a separately loaded copy.
 */
class TransfuseEmbeddingModelTest {
    static final List<String> TEXTS = List.of("Hello world", "The quick brown fox jumps over the lazy dog.",
            "Café naïve résumé — 你好世界", "a", "word ".repeat(80) + "long text truncated at the position table");

    @TempDir
    static Path dir;
    static io.transfuse.EmbeddingModel reference;
    static float[][] want;

    @BeforeAll
    static void write() {
        RandomEncoder.bert(32, 2, 4, 64, 40).write(dir, 11, DType.F32);
        reference = Transfuse.loadEncoder(dir, LoadOptions.defaults());
        want = reference.embed(TEXTS);
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int d = 0; d < want.length; d++) assertEquals(want[d], got[d], 1e-5f, what + " dim " + d);
    }

    @Test
    void embedEqualsTransfuseEmbed() {
        try (TransfuseEmbeddingModel owned = TransfuseEmbeddingModel.builder().modelPath(dir).build()) {
            EmbeddingModel m = owned;
            List<float[]> all = m.embed(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) assertClose(want[i], all.get(i), "text " + i);
            assertClose(want[0], m.embed(TEXTS.get(0)), "embed(String)");
            assertClose(want[2], m.embed(new Document(TEXTS.get(2))), "embed(Document)");
            assertEquals(32, m.dimensions());

            EmbeddingResponse r = m.call(new EmbeddingRequest(TEXTS, EmbeddingOptions.builder().build()));
            int tokens = 0;
            for (String t : TEXTS) tokens += Math.min(reference.countTokens(t), reference.maxTokens());
            assertEquals(tokens, r.getMetadata().getUsage().getPromptTokens());
            assertEquals(dir.getFileName().toString(), r.getMetadata().getModel());
            for (int i = 0; i < TEXTS.size(); i++) {
                assertEquals(i, r.getResults().get(i).getIndex());
                assertClose(want[i], r.getResults().get(i).getOutput(), "call " + i);
            }
            var e = assertThrows(IllegalArgumentException.class, () -> m.call(new EmbeddingRequest(TEXTS, EmbeddingOptions.builder().dimensions(384).build())));
            assertTrue(e.getMessage().contains("384"), e.getMessage());
        }
    }

    @Test
    void concurrentCallersOnASharedEngine() throws Exception {
        try (io.transfuse.EmbeddingModel encoder = Transfuse.loadEncoder(dir, LoadOptions.defaults());
             EmbeddingEngine engine = EmbeddingEngine.start(encoder, 16, true);
             TransfuseEmbeddingModel m = TransfuseEmbeddingModel.builder().engine(engine).build()) {
            float[][][] got = new float[12][][];
            List<Thread> threads = new ArrayList<>();
            for (int c = 0; c < 12; c++) {
                int k = c;
                threads.add(Thread.ofVirtual().start(() -> {
                    List<float[]> r = m.embed(List.of(TEXTS.get(k % TEXTS.size()), TEXTS.get((k + 2) % TEXTS.size())));
                    got[k] = r.toArray(float[][]::new);
                }));
            }
            for (Thread t : threads) t.join();
            for (int c = 0; c < 12; c++) {
                assertClose(want[c % TEXTS.size()], got[c][0], "caller " + c + " text 0");
                assertClose(want[(c + 2) % TEXTS.size()], got[c][1], "caller " + c + " text 1");
            }
        }
    }
}
