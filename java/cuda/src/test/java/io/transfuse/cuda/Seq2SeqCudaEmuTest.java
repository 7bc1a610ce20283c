package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.model.seq2seq.Seq2SeqFixture;
import io.transfuse.model.seq2seq.Seq2SeqPagedForkTest;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

/**
 * T5 (ReLU and gated-GELU), BART and Marian on cuda-emu (the relative-bias attention kernel, the CUDA backend's GEMMs,
 * norms, gathers and 1x1 convolution over the host emulator, fp16 activations and caches) against the float64 torch
 * reference of {@link Seq2SeqFixture}: encoder outputs, every greedy step's logits alone, batched and forked, and the
 * greedy output.
 *
 * <p>Tolerance 2% of each vector's largest reference value (logits of 4-11): fp16 rounding (2^-11 relative) of
 * activations, K/V caches and attention weights through 2 encoder and 3 decoder blocks with weights of std 0.3-1 and,
 * for T5, unscaled attention scores; measured 0.15% (t5-tiny), 0.38% (t5-gated-tiny), 0.40% (bart-tiny), 0.94%
 * (marian-tiny). A wrong bucket, position or norm moves logits by 10% or more. The greedy outputs must match exactly.
 */
class Seq2SeqCudaEmuTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"t5-tiny", "t5-gated-tiny", "bart-tiny", "marian-tiny"})
    void cudaEmuMatchesTorchReference(String name) {
        double worst = Seq2SeqFixture.check(Seq2SeqFixture.copyModel(name, dir), name, Device.CUDA_EMU, 0, 0.02);
        System.out.printf("%s on cuda-emu: worst error %.2e of the largest logit to the torch reference%n", name, worst);
    }

    /**
     * Forked and reordered rows over several KV blocks of the paged cache (the paged relative-bias kernel, ropeKv's
     * cache write, copy on write through gatherRows) against each history replayed alone: within 1% of the largest
     * logit (fp16 rounding differs with the batch composition only through the GEMMs' row blocking).
     */
    @ParameterizedTest
    @ValueSource(strings = {"t5-tiny", "bart-tiny"})
    void forkedPagedRowsEqualReplayedHistories(String name) {
        Seq2SeqPagedForkTest.check(Seq2SeqFixture.copyModel(name, dir), name, Device.CUDA_EMU, 0.01);
    }
}
