package io.transfuse.model.bert;

import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.RandomEncoder.Variant;
import io.transfuse.tensor.DType;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one BERT graph configured as RoBERTa, XLM-R (type_vocab_size 1), DistilBERT (no token types, its
 * own names), ALBERT (factorised embeddings, layers sharing weights, gelu_new) and ELECTRA (projected and
 * unprojected embeddings), on the CPU backend, against {@link VariantReference} on random-weight
 * checkpoints: the first token's state (CLS pooling, not normalised) and the mean of all states, per text,
 * in a packed batch and alone.
 * Tolerance as {@link BertModelTest}: float32 vs double through 2-4 layers, cosine >= 0.99999 and max
 * error 2e-4 relative to the vector's length. A wrong group mapping (ALBERT), a missing projection, a
 * token-type term where there is none or the wrong GELU moves cosines far below that.
 */
public class BertVariantsTest {
    @TempDir Path tmp;

    /** Every variant in a few shapes: name, model (bare, no prefix), matrix type. */
    public static List<Object[]> cases() {
        return List.of(
                new Object[] {"distilbert", new RandomEncoder(Variant.DISTILBERT, 32, 2, 4, 64, 40, 32, 2, "gelu"), DType.F32},
                new Object[] {"albert-shared-1-group", new RandomEncoder(Variant.ALBERT, 32, 3, 4, 64, 40, 16, 1, "gelu_new"), DType.F16},
                new Object[] {"albert-2-groups", new RandomEncoder(Variant.ALBERT, 32, 4, 2, 64, 40, 16, 2, "gelu_new"), DType.F32},
                new Object[] {"electra-projected", new RandomEncoder(Variant.ELECTRA, 48, 2, 3, 96, 40, 16, 2, "gelu"), DType.F32},
                new Object[] {"electra", new RandomEncoder(Variant.ELECTRA, 32, 2, 4, 64, 40, 32, 2, "gelu"), DType.F16},
                new Object[] {"roberta-1-type", new RandomEncoder(Variant.ROBERTA, 32, 2, 2, 64, 50, 32, 2, "gelu"), DType.F32},
                new Object[] {"xlm-roberta", new RandomEncoder(Variant.XLM_ROBERTA, 48, 2, 3, 96, 50, 48, 2, "gelu"), DType.F16});
    }

    static final List<String> TEXTS = List.of("Hello world", "The quick brown fox jumps over the lazy dog.",
            "Café naïve résumé — 你好世界", "a", "", "word ".repeat(60) + "truncated at the position table");

    @Test
    void everyVariantMatchesTheReferenceOnCpu() {
        for (Object[] c : cases()) {
            RandomEncoder m = (RandomEncoder) c[1];
            Path dir = m.write(tmp.resolve((String) c[0]), 7, (DType) c[2]);
            check((String) c[0], m, dir, LoadOptions.defaults().withDevice(Device.CPU), 0.99999, 2e-4);
        }
    }

    /** Compares CLS and mean pooling (unnormalised) of the graph on {@code load}'s device with the reference; returns the worst cosine. */
    public static double check(String name, RandomEncoder m, Path dir, LoadOptions load, double minCos, double maxRelErr) {
        VariantReference ref = new VariantReference(m);
        HfTokenizer tok = HfTokenizer.load(dir.resolve("tokenizer.json"));
        long before = TrackedArena.bytesInUse();
        double worst = 1;
        for (io.transfuse.PoolingMode mode : io.transfuse.PoolingMode.values()) {
            try (EmbeddingModel model = Transfuse.loadEncoder(dir, load, EncoderOptions.defaults().withPooling(mode).withNormalize(false).withBatchSize(4))) {
                float[][] got = model.embed(TEXTS);
                for (int i = 0; i < TEXTS.size(); i++) {
                    Encoding e = tok.encode(TEXTS.get(i), true, model.maxTokens());
                    double[][] x = ref.hiddenStates(e.ids(), e.typeIds());
                    double[] want = new double[m.hidden];
                    int rows = mode == io.transfuse.PoolingMode.CLS ? 1 : x.length;
                    for (int t = 0; t < rows; t++) for (int d = 0; d < m.hidden; d++) want[d] += x[t][d] / rows;
                    double dot = 0, nw = 0, ng = 0, err = 0;
                    for (int d = 0; d < m.hidden; d++) {
                        dot += want[d] * got[i][d];
                        nw += want[d] * want[d];
                        ng += (double) got[i][d] * got[i][d];
                        err = Math.max(err, Math.abs(want[d] - got[i][d]));
                    }
                    double cos = dot / Math.sqrt(nw * ng);
                    worst = Math.min(worst, cos);
                    String where = name + " " + mode + " text " + i + " (" + e.length() + " tokens) on " + load.device();
                    assertTrue(cos >= minCos, where + ": cosine " + cos);
                    assertTrue(err <= maxRelErr * Math.sqrt(nw), where + ": max error " + err + " for length " + Math.sqrt(nw));
                    // Alone, the text gives what it gave packed in a batch with the others.
                    float[] alone = model.embed(TEXTS.get(i));
                    for (int d = 0; d < m.hidden; d++) {
                        assertEquals(got[i][d], alone[d], maxRelErr * Math.sqrt(nw), where + ": alone vs batched, entry " + d);
                    }
                }
            }
        }
        assertEquals(before, TrackedArena.bytesInUse(), name + ": closing the model returns its native memory");
        System.out.printf("%s on %s: lowest cosine to the reference 1 - %.2e%n", name, load.device(), 1 - worst);
        return worst;
    }
}
