package io.transfuse.cuda;

import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.VariantReference;
import io.transfuse.model.bert.Pooling;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;
import io.transfuse.tokenizer.hf.Encoding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static io.transfuse.model.bert.OnnxRuntimeAgreementTest.TEXTS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random-weight BERT-family encoders through {@code Transfuse.loadEncoder(..., cuda-emu)} against
 * core's plain double-precision {@link VariantReference} (per text, unpadded), and against the CPU graph.
 *
 * <p>Tolerance. The device stores weights and activations in fp16 (unit roundoff 2^-11), accumulating
 * in fp32; about 5e-3 absolute on the O(1) hidden states of two post-LN
 * layers. Pooling averages and L2 normalisation divides by |x| ~ sqrt(hidden), so pooled, normalised
 * entries carry about 1e-3. Budgets: cosine >= 0.9999 to the reference and max |error| <= 2.5e-3 per
 * entry, relative to the embedding's length (the normalised embedding's entries; measured at most 7e-4, cosines 1 - 2e-6). A missing token-type or position
 * table, the wrong position offset (RoBERTa), or a padded row leaking into attention moves cosines
 * far below (the CPU tests show a wrong offset alone gives cosine ~0.9).
 */
class BertCudaEmuTest {
    static final LoadOptions EMU = LoadOptions.defaults().withDevice(Device.CUDA_EMU);

    @TempDir Path tmp;

    @Test
    void bertMeanPoolingHeadDim8PaddedMatchesReference() {
        RandomEncoder m = RandomEncoder.bert(32, 2, 4, 64, 40); // head dim 8: padded to 32 on the device
        check(m, m.write(tmp.resolve("bert"), 1, DType.F32), EncoderOptions.defaults().withBatchSize(4), false, true);
    }

    @Test
    void robertaF16ClsPoolingHeadDim32MatchesReference() throws Exception {
        RandomEncoder m = new RandomEncoder(RandomEncoder.Variant.ROBERTA, 64, 2, 2, 128, 50, 64, 1, "gelu").prefixed(); // position offset 2
        Path dir = m.write(tmp.resolve("roberta"), 2, DType.F16);
        new Pooling(Pooling.Mode.CLS, false).write(dir, m.hidden);
        check(m, dir, EncoderOptions.defaults().withBatchSize(3), true, false);
    }

    private static void check(RandomEncoder m, Path dir, EncoderOptions options, boolean cls, boolean normalize) {
        VariantReference ref = new VariantReference(m);
        long device = DeviceArena.bytesInUse(), host = TrackedArena.bytesInUse();
        float[][] cpu;
        try (EmbeddingModel model = Transfuse.loadEncoder(dir, LoadOptions.defaults().withDevice(Device.CPU), options)) {
            cpu = model.embed(TEXTS);
        }
        try (EmbeddingModel model = Transfuse.loadEncoder(dir, EMU, options)) {
            float[][] got = model.embed(TEXTS);
            double worstCos = 1, worstErr = 0;
            for (int i = 0; i < TEXTS.size(); i++) {
                Encoding e = Internals.tokenizer(model).encode(TEXTS.get(i), true, model.maxTokens());
                double[] want = ref.embed(e.ids(), e.typeIds(), cls, normalize);
                double dot = 0, nw = 0, ng = 0, maxErr = 0;
                for (int d = 0; d < want.length; d++) {
                    dot += want[d] * got[i][d];
                    nw += want[d] * want[d];
                    ng += (double) got[i][d] * got[i][d];
                    maxErr = Math.max(maxErr, Math.abs(want[d] - got[i][d]));
                }
                double cos = dot / Math.sqrt(nw * ng);
                maxErr /= Math.sqrt(nw); // relative to the embedding's length (1 when normalised)
                worstCos = Math.min(worstCos, cos);
                worstErr = Math.max(worstErr, maxErr);
                String where = dir.getFileName() + " text " + i + " (" + e.length() + " tokens)";
                assertTrue(cos >= 0.9999, where + ": cosine " + cos);
                assertTrue(maxErr <= 2.5e-3, where + ": max error " + maxErr);
                double toCpu = 0, nc = 0;
                for (int d = 0; d < want.length; d++) {
                    toCpu += (double) cpu[i][d] * got[i][d];
                    nc += (double) cpu[i][d] * cpu[i][d];
                }
                assertTrue(toCpu / Math.sqrt(nc * ng) >= 0.9999, where + ": cosine to the CPU graph " + toCpu / Math.sqrt(nc * ng));
            }
            System.out.printf("%s on cuda-emu: lowest cosine to the reference 1 - %.2e, max error %.2e%n", dir.getFileName(), 1 - worstCos, worstErr);
            // One text alone gives what it gave inside a batch (packing, not padding, on the device).
            for (int i : new int[] {0, 2, 4}) assertArrayEquals(got[i], model.embed(TEXTS.get(i)), 2e-3f, "text " + i + " alone vs batched");
        }
        assertEquals(device, DeviceArena.bytesInUse(), "device memory returns after close");
        assertEquals(host, TrackedArena.bytesInUse(), "native memory returns after close");
    }

    @Test
    void cudaWithoutGpuIsOneLineAndAutoStaysOnCpu() {
        RandomEncoder m = RandomEncoder.bert(32, 1, 4, 64, 40);
        Path dir = m.write(tmp.resolve("nogpu"), 5, DType.F32);
        org.junit.jupiter.api.Assumptions.assumeFalse(io.transfuse.cuda.jcuda.GpuProbe.present(), "a GPU is present");
        TransfuseException e = assertThrows(TransfuseException.class, () -> Transfuse.loadEncoder(dir, LoadOptions.defaults().withDevice(Device.CUDA)));
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        long device = DeviceArena.bytesInUse();
        try (EmbeddingModel model = Transfuse.loadEncoder(dir, LoadOptions.defaults())) {
            assertEquals(device, DeviceArena.bytesInUse(), "auto without a GPU runs on the CPU");
            assertEquals(List.of(32), List.of(model.embed("hi").length));
        }
    }
}
