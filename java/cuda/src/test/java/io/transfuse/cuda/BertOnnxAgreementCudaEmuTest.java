package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.OnnxRuntimeAgreementTest;
import io.transfuse.model.bert.Pooling;
import io.transfuse.model.bert.RealEncoders;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static io.transfuse.model.bert.OnnxRuntimeAgreementTest.TEXTS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real models on cuda-emu: all-MiniLM-L6-v2 (mean pooling) and bge-small-en-v1.5 (CLS pooling), loaded
 * from their .onnx exports with {@code --device cuda-emu} (the CUDA encoder's kernels on the host
 * emulator, fp16 storage, fp32 accumulation), agree with ONNX Runtime on the same file to cosine
 * >= 0.9999 for every text of {@link OnnxRuntimeAgreementTest#TEXTS} (accents, CJK, emoji,
 * punctuation, empty, truncated long inputs), embedded in mixed-length batches of 4 texts. The
 * reference is core's (ONNX Runtime's last_hidden_state per text, pooled and normalised in the test).
 * Device and native memory return to where they were after close.
 */
class BertOnnxAgreementCudaEmuTest {
    @Test
    void miniLmOnCudaEmuAgreesWithOnnxRuntime() throws Exception {
        check(RealEncoders.miniLm(), Pooling.Mode.MEAN);
    }

    @Test
    void bgeSmallOnCudaEmuAgreesWithOnnxRuntime() throws Exception {
        check(RealEncoders.bgeSmall(), Pooling.Mode.CLS);
    }

    private static void check(Path onnx, Pooling.Mode mode) throws Exception {
        long device = DeviceArena.bytesInUse(), host = TrackedArena.bytesInUse();
        LoadOptions emu = LoadOptions.defaults().withDevice(Device.CUDA_EMU);
        try (EmbeddingModel m = Transfuse.loadEncoder(onnx, emu, EncoderOptions.defaults().withPooling(io.transfuse.PoolingMode.valueOf(mode.name())).withBatchSize(4))) {
            List<float[]> reference = OnnxRuntimeAgreementTest.onnxRuntime(onnx, m, mode);
            long start = System.nanoTime();
            float[][] got = m.embed(TEXTS);
            long ms = (System.nanoTime() - start) / 1_000_000;
            double min = 1;
            for (int i = 0; i < TEXTS.size(); i++) {
                double cos = OnnxRuntimeAgreementTest.cosine(reference.get(i), got[i]);
                min = Math.min(min, cos);
                assertTrue(cos >= 0.9999, onnx + " on cuda-emu: text " + i + " cosine " + cos);
            }
            System.out.printf("%s on cuda-emu: %d texts in %d ms, lowest cosine to ONNX Runtime 1 - %.2e%n", onnx, TEXTS.size(), ms, 1 - min);
        }
        assertEquals(device, DeviceArena.bytesInUse(), "device memory returns after close");
        assertEquals(host, TrackedArena.bytesInUse(), "native memory returns after close");
    }
}
