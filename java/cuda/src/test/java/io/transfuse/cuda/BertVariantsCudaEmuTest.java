package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.TextClassifier;
import io.transfuse.TokenClassifier;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.model.bert.BertVariantsTest;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.model.bert.RandomEncoder.Variant;
import io.transfuse.model.bert.VariantReference;
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
 * The BERT variants (DistilBERT, ALBERT with shared layers, ELECTRA with projected embeddings, RoBERTa,
 * XLM-R) and their task heads through the CUDA backend on the host emulator, against core's plain
 * double-precision {@link VariantReference}.
 *
 * <p>Tolerance. The device keeps weights and activations in fp16 (unit roundoff 2^-11) with fp32
 * accumulation: about 5e-3 absolute on the O(1) hidden states after 2-4 post-LN layers. Budgets: cosine
 * >= 0.9999 to the reference, max error <= 3e-3 of the pooled vector's length; head logits (O(1)) within
 * 3e-2. A missing projection, the wrong layer group or a token-type term DistilBERT lacks gives cosines
 * near 0.9 or below (see BertVariantsTest).
 */
class BertVariantsCudaEmuTest {
    static final LoadOptions EMU = LoadOptions.defaults().withDevice(Device.CUDA_EMU);

    @TempDir Path tmp;

    @Test
    void everyVariantMatchesTheReferenceOnCudaEmu() {
        long device = DeviceArena.bytesInUse();
        for (Object[] c : BertVariantsTest.cases()) {
            RandomEncoder m = (RandomEncoder) c[1];
            Path dir = m.write(tmp.resolve((String) c[0]), 7, (DType) c[2]);
            BertVariantsTest.check((String) c[0], m, dir, EMU, 0.9999, 3e-3);
        }
        assertEquals(device, DeviceArena.bytesInUse(), "device memory returns after close");
    }

    @Test
    void headsMatchTheReferenceOnCudaEmu() {
        List<String> texts = List.of("Hello world", "Angela Merkel visited Paris.", "a");
        double worst = 0;
        for (Variant v : new Variant[] {Variant.DISTILBERT, Variant.ALBERT, Variant.ELECTRA, Variant.XLM_ROBERTA}) {
            RandomEncoder m = small(v).withHead("SequenceClassification", "NEGATIVE", "POSITIVE");
            Path dir = m.write(tmp.resolve("cls-" + v), 3, DType.F32);
            VariantReference ref = new VariantReference(m);
            HfTokenizer tok = HfTokenizer.load(dir.resolve("tokenizer.json"));
            try (TextClassifier clf = Transfuse.loadTextClassifier(dir, EMU)) {
                for (String t : texts) {
                    Encoding e = tok.encode(t, true, 0);
                    double[] want = ref.sequenceLogits(ref.hiddenStates(e.ids(), e.typeIds()));
                    float[] got = clf.logits(t);
                    for (int k = 0; k < want.length; k++) {
                        worst = Math.max(worst, Math.abs(want[k] - got[k]));
                        assertEquals(want[k], got[k], 3e-2, v + " '" + t + "' logit " + k);
                    }
                }
            }
        }
        RandomEncoder ner = small(Variant.BERT).withHead("TokenClassification", "O", "B-PER", "I-PER");
        Path nerDir = ner.write(tmp.resolve("ner"), 4, DType.F32);
        try (TokenClassifier cpu = Transfuse.loadTokenClassifier(nerDir, LoadOptions.defaults().withDevice(Device.CPU));
             TokenClassifier emu = Transfuse.loadTokenClassifier(nerDir, EMU)) {
            for (String t : texts) {
                List<TokenClassifier.Word> a = cpu.words(t), b = emu.words(t);
                assertEquals(a.size(), b.size());
                for (int i = 0; i < a.size(); i++) {
                    assertEquals(a.get(i).start(), b.get(i).start());
                    assertEquals(a.get(i).score(), b.get(i).score(), 2e-2, "'" + t + "' word " + i);
                    if (Math.abs(a.get(i).score() - 0.5) > 0.05) assertEquals(a.get(i).label(), b.get(i).label(), "'" + t + "' word " + i);
                }
            }
        }
        RandomEncoder rr = small(Variant.BERT).withHead("SequenceClassification", "LABEL_0");
        Path rrDir = rr.write(tmp.resolve("rerank"), 5, DType.F32);
        VariantReference ref = new VariantReference(rr);
        HfTokenizer tok = HfTokenizer.load(rrDir.resolve("tokenizer.json"));
        try (Reranker r = Transfuse.loadReranker(rrDir, EMU)) {
            float[] s = r.scores("fox?", texts);
            for (int i = 0; i < texts.size(); i++) {
                Encoding e = tok.encodePair("fox?", texts.get(i), 0);
                assertEquals(ref.sequenceLogits(ref.hiddenStates(e.ids(), e.typeIds()))[0], s[i], 3e-2, "rerank doc " + i);
            }
        }
        System.out.printf("heads on cuda-emu: worst logit error %.2e%n", worst);
        assertTrue(worst < 3e-2);
    }

    private static RandomEncoder small(Variant v) {
        return switch (v) {
            case ALBERT -> new RandomEncoder(v, 32, 3, 2, 64, 40, 16, 1, "gelu_new");
            case ELECTRA -> new RandomEncoder(v, 64, 2, 2, 128, 40, 32, 2, "gelu");
            case XLM_ROBERTA, ROBERTA -> new RandomEncoder(v, 32, 2, 2, 64, 50, 32, 2, "gelu");
            default -> new RandomEncoder(v, 32, 2, 4, 64, 40, 32, 2, "gelu");
        };
    }
}
