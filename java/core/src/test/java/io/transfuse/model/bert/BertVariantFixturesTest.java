package io.transfuse.model.bert;

import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MobileBERT (trigram embeddings, bottlenecks, stacked FFNs, NoNorm, ReLU; and a variant with bottleneck attention, plain
 * embeddings, GELU and one FFN), ModernBERT (RoPE with two bases, local windows on two of four layers, GeGLU, pre-LN, final
 * norm), nomic-bert (partial rotary, SwiGLU, post-LN, token types) and JinaBERT v2 (ALiBi with 6 heads, GeGLU) on the CPU
 * backend against the PyTorch reference of {@link BertVariantFixtures}.
 *
 * <p>Tolerance: float32 against float64 through 2-4 layers: 2e-4 of the state's largest value (at least 1) per value and
 * cosine &gt;= 0.999999 per token. A window one key too wide or narrow, the wrong RoPE base, pairing or rotary width,
 * the ALiBi slopes of another head count, a missing trigram neighbour or a NoNorm without its residual moves errors past 1e-2.
 */
class BertVariantFixturesTest {
    static final LoadOptions CPU = LoadOptions.defaults().withDevice(Device.CPU);

    @TempDir Path tmp;

    @Test
    void everyFixtureMatchesThePyTorchReferenceBatchedAndAlone() {
        long before = TrackedArena.bytesInUse();
        for (String name : BertVariantFixtures.NAMES) {
            double worst = BertVariantFixtures.check(name, BertVariantFixtures.unpack(name, tmp.resolve(name)), Device.CPU, 2e-4, 0.999999);
            System.out.println("[bertx] cpu " + name + ": worst |error| " + worst);
        }
        assertEquals(before, TrackedArena.bytesInUse(), "host memory returns after close");
    }

    @Test
    void embedRunsOnEveryFixtureAndABatchAgreesWithEachTextAlone() {
        for (String name : BertVariantFixtures.NAMES) {
            Path dir = BertVariantFixtures.unpack(name, tmp.resolve("embed-" + name));
            try (EmbeddingModel m = Transfuse.loadEncoder(dir, CPU, EncoderOptions.defaults().withBatchSize(3))) {
                List<String> texts = BertVariantFixtures.TEXTS;
                float[][] batch = m.embed(texts);
                for (int i = 0; i < texts.size(); i++) {
                    float[] alone = m.embed(texts.get(i));
                    double norm = 0;
                    for (int d = 0; d < alone.length; d++) {
                        assertEquals(alone[d], batch[i][d], 1e-5, name + " text " + i + " dim " + d);
                        norm += (double) alone[d] * alone[d];
                    }
                    assertEquals(1.0, norm, 1e-4, name + " text " + i + ": embeddings are normalised by default");
                }
                assertTrue(m.describe().contains("on cpu"), m.describe());
            }
        }
    }

    @Test
    void badInputNamesTheFault() throws Exception {
        Path mobile = BertVariantFixtures.unpack("mobilebert", tmp.resolve("bad-mobile"));
        Path config = mobile.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"no_norm\"", "\"batch_norm\""));
        var e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(mobile, CPU).close());
        assertTrue(e.getMessage().contains("normalization_type 'batch_norm' is not supported") && e.getMessage().contains("config.json"), e.getMessage());

        Path nomic = BertVariantFixtures.unpack("nomic", tmp.resolve("bad-nomic"));
        Path nc = nomic.resolve("config.json");
        Files.writeString(nc, Files.readString(nc).replace("\"prenorm\": false", "\"prenorm\": true"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(nomic, CPU).close());
        assertTrue(e.getMessage().contains("prenorm true is not supported"), e.getMessage());

        // A checkpoint without one of its tensors: ModernBERT's fused Wqkv of layer 1 under another name.
        Path modern = BertVariantFixtures.unpack("modernbert", tmp.resolve("bad-modern"));
        Path st = modern.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        String all = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1).replace("layers.1.attn.Wqkv.weight", "layers.1.attn.Wqkv.wrong_");
        Files.write(st, all.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(modern, CPU).close());
        assertTrue(e.getMessage().contains("tensor 'layers.1.attn.Wqkv.weight' is missing") && e.getMessage().contains("bad-modern"), e.getMessage());

        Path jina = BertVariantFixtures.unpack("jina", tmp.resolve("bad-jina"));
        Path jc = jina.resolve("config.json");
        Files.writeString(jc, Files.readString(jc).replace("\"geglu\"", "\"reglu\""));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(jina, CPU).close());
        assertTrue(e.getMessage().contains("feed_forward_type 'reglu' is not supported"), e.getMessage());
    }
}
