package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.Device;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.backend.Backends;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.EncoderFamily;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The task-head fixtures of {@code src/test/resources/bertx} (make_bertx_fixtures.py's HEADS: MobileBERT, ModernBERT,
 * nomic-bert and JinaBERT encoders with fresh random weights under their task models' prefixes, plus the heads of their
 * *ForSequenceClassification / *ForTokenClassification classes, and the float64 logits a plain PyTorch reference computes for
 * a few token sequences), checked through the graph and {@link BertHead} as the task APIs run them.
 */
public final class VariantHeadFixtures {
    /** The head fixture directories (unpacked as {@link BertVariantFixtures#unpack} does). */
    public static final List<String> NAMES = List.of("mobilebert-classify", "mobilebert-ln-ner", "modernbert-mean-multilabel",
            "modernbert-rerank", "modernbert-ner", "nomic-classify", "jina-rerank", "jina-ner");

    private VariantHeadFixtures() {}

    /** The reference: token ids, type ids and logits (sequence heads: [sequence][label]; token heads: [sequence][token][label]). */
    record Reference(int[][] ids, int[][] types, JsonNode logits) {
        static Reference read(String name) {
            try (InputStream in = VariantHeadFixtures.class.getResourceAsStream("/bertx/" + name + "/reference.json")) {
                if (in == null) throw new IllegalStateException("fixture /bertx/" + name + "/reference.json is missing");
                JsonNode r = new ObjectMapper().readTree(in);
                int n = r.path("ids").size();
                int[][] ids = new int[n][], types = new int[n][];
                for (int s = 0; s < n; s++) {
                    ids[s] = ints(r.path("ids").get(s));
                    types[s] = ints(r.path("type_ids").get(s));
                }
                return new Reference(ids, types, r.path("logits"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static int[] ints(JsonNode a) {
            int[] v = new int[a.size()];
            for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
            return v;
        }
    }

    /**
     * Runs fixture {@code name} (unpacked in {@code dir}) on {@code device} over the reference sequences, packed together and
     * one at a time, and checks every logit: |got - want| &lt;= {@code atol} max(1, |want|). Returns the worst scaled error.
     */
    public static double check(String name, Path dir, Device device, double atol) {
        Reference ref = Reference.read(name);
        double worst = 0;
        try (TrackedArena arena = new TrackedArena("head fixture " + name)) {
            ModelSource source = ModelSource.open(dir, arena);
            BertFamily family = new BertFamily();
            BertHead head = family.head(source);
            EncoderFamily.Parts parts = family.load(source, Backends.open(device, LoadOptions.defaults().withDevice(device)),
                    LoadOptions.defaults().withDevice(device), EncoderOptions.defaults().withBatchSize(ref.ids().length));
            try (var graph = parts.graph()) {
                float[] all = graph.forward(ref.ids(), ref.types()).clone();
                int row = 0;
                for (int s = 0; s < ref.ids().length; s++) {
                    int len = ref.ids()[s].length;
                    float[] alone = graph.forward(new int[][] {ref.ids()[s]}, new int[][] {ref.types()[s]});
                    JsonNode want = ref.logits().get(s);
                    String what = name + " sequence " + s;
                    if (head.kind() == BertHead.Kind.SEQUENCE) {
                        worst = Math.max(worst, compare(what + " (batched)", head.logits(all, row, len), want, atol));
                        worst = Math.max(worst, compare(what + " (alone)", head.logits(alone, 0, len), want, atol));
                    } else {
                        assertEquals(len, want.size(), what + ": one logit row per token");
                        for (int t = 0; t < len; t++) {
                            worst = Math.max(worst, compare(what + " token " + t + " (batched)", head.logits(all, row + t), want.get(t), atol));
                            worst = Math.max(worst, compare(what + " token " + t + " (alone)", head.logits(alone, t), want.get(t), atol));
                        }
                    }
                    row += len;
                }
            }
        }
        return worst;
    }

    private static double compare(String what, float[] got, JsonNode want, double atol) {
        assertEquals(want.size(), got.length, what + ": logits per label");
        double worst = 0;
        for (int k = 0; k < got.length; k++) {
            double w = want.get(k).asDouble(), err = Math.abs(got[k] - w) / Math.max(1, Math.abs(w));
            assertTrue(err <= atol, what + " logit " + k + ": got " + got[k] + ", PyTorch " + w + " (scaled error " + err + ", budget " + atol + ")");
            worst = Math.max(worst, err);
        }
        return worst;
    }
}
