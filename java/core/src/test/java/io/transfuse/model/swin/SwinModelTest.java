package io.transfuse.model.swin;

import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.memory.TrackedArena;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Swin graph on the CPU backend against torchvision's independent Swin ({@link SwinFixture}: swin_t- and
 * swin_v2_t-shaped models with 3 stages, W-MSA and SW-MSA blocks, patch merging, random F16 weights; torchvision ran
 * in float64 on the same F16 values and the same preprocessed pixels).
 *
 * <p>Tolerance: the graph computes in F32 (unit roundoff 6e-8) through 6 blocks and 2 mergings of matmuls of
 * length <= 512 on O(1) activations; measured max |logit error| is reported by the test and is ~1e-5. Budget
 * 1e-3 absolute on logits of magnitude up to ~2.3, the top-5 in torchvision's order and probabilities within
 * 1e-4. A wrong shift, mask, bias index, merge order or a missing norm moves logits by O(0.1-1).
 */
class SwinModelTest {
    @Test
    void cpuMatchesTorchvision() { check("swin-tiny"); }

    /** Swin-V2: cosine attention, continuous position bias, post-norms, reduce-then-norm merging. */
    @Test
    void v2CpuMatchesTorchvision() { check("swinv2-tiny"); }

    private void check(String name) {
        double[] want = SwinFixture.logits(name);
        long before = TrackedArena.bytesInUse();
        try (ImageClassifier clf = Transfuse.loadClassifier(SwinFixture.model(name), LoadOptions.defaults().withThreads(2))) {
            float[] got = clf.logits(javax.imageio.ImageIO.read(SwinFixture.image().toFile()));
            assertEquals(want.length, got.length);
            double worst = 0;
            for (int i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
            System.out.printf("%s on cpu: max logit difference %.2e to torchvision%n", name, worst);
            assertTrue(worst < 1e-3, "worst logit difference " + worst);
            List<ImageClassifier.Prediction> top = clf.classify(SwinFixture.image(), 5);
            int[] order = SwinFixture.top5(name);
            double max = want[order[0]], sum = 0;
            for (double v : want) sum += Math.exp(v - max);
            for (int k = 0; k < 5; k++) {
                assertEquals(order[k], top.get(k).index(), "rank " + k);
                assertEquals("class " + order[k], top.get(k).label());
                assertEquals(Math.exp(want[order[k]] - max) / sum, top.get(k).probability(), 1e-4);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertEquals(before, TrackedArena.bytesInUse(), "native memory returns after close");
    }
}
