package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.TextClassifier;
import io.transfuse.TokenClassifier;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.model.bert.BertVariantFixtures;
import io.transfuse.model.bert.VariantHeadFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The task heads of MobileBERT (also its LayerNorm teacher variant), ModernBERT, nomic-bert and JinaBERT v2 with their
 * encoders on the CUDA backend under the host emulator, against core's PyTorch reference logits ({@link VariantHeadFixtures}),
 * batched and alone; and the task APIs on cuda-emu against the CPU.
 *
 * <p>Tolerance: the encoder runs in fp16 with fp32 accumulation (hidden states within ~1 % of their scale, as
 * BertVariantFixturesCudaEmuTest measures); the head runs on the host in double precision over that state. Logits within
 * 3e-2 of max(1, |logit|) (measured worst 2.1 %, ModernBERT's token head; MobileBERT's LayerNorm teacher 1.1 %); the CPU test
 * checks the heads' math to 1e-3.
 */
class VariantHeadFixturesCudaEmuTest {
    static final LoadOptions EMU = LoadOptions.defaults().withDevice(Device.CUDA_EMU);
    static final LoadOptions CPU = LoadOptions.defaults().withDevice(Device.CPU);

    @TempDir Path tmp;

    @Test
    void everyHeadMatchesThePyTorchReferenceOnCudaEmu() {
        long device = DeviceArena.bytesInUse();
        for (String name : VariantHeadFixtures.NAMES) {
            double worst = VariantHeadFixtures.check(name, BertVariantFixtures.unpack(name, tmp.resolve(name)), Device.CUDA_EMU, 3e-2);
            System.out.println("[bertx heads] cuda-emu " + name + ": worst scaled |error| " + worst);
        }
        assertEquals(device, DeviceArena.bytesInUse(), "device memory returns after close");
    }

    @Test
    void taskApisAgreeWithTheCpu() {
        List<String> texts = List.of("the cat was in the house", "he is at the door");
        Path clfDir = BertVariantFixtures.unpack("modernbert-mean-multilabel", tmp.resolve("clf"));
        try (TextClassifier cpu = Transfuse.loadTextClassifier(clfDir, CPU); TextClassifier emu = Transfuse.loadTextClassifier(clfDir, EMU)) {
            for (String t : texts) {
                float[] a = cpu.logits(t), b = emu.logits(t);
                for (int k = 0; k < a.length; k++) assertEquals(a[k], b[k], 3e-2 * Math.max(1, Math.abs(a[k])), t + " logit " + k);
            }
        }
        Path rerankDir = BertVariantFixtures.unpack("jina-rerank", tmp.resolve("rerank"));
        try (Reranker cpu = Transfuse.loadReranker(rerankDir, CPU); Reranker emu = Transfuse.loadReranker(rerankDir, EMU)) {
            float[] a = cpu.scores("where is the cat?", texts), b = emu.scores("where is the cat?", texts);
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 3e-2 * Math.max(1, Math.abs(a[i])), "document " + i);
        }
        Path nerDir = BertVariantFixtures.unpack("mobilebert-ln-ner", tmp.resolve("ner"));
        try (TokenClassifier cpu = Transfuse.loadTokenClassifier(nerDir, CPU); TokenClassifier emu = Transfuse.loadTokenClassifier(nerDir, EMU)) {
            List<TokenClassifier.Word> a = cpu.words(texts.get(0)), b = emu.words(texts.get(0));
            assertEquals(a.size(), b.size());
            for (int i = 0; i < a.size(); i++) assertEquals(a.get(i).score(), b.get(i).score(), 2e-2, "word " + i + " " + a.get(i).text());
        }
    }
}
