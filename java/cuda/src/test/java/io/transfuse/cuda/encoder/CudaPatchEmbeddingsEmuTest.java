package io.transfuse.cuda.encoder;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.randomLayer;
import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.tensors;
import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.uniform;
import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.vec;
import static io.transfuse.cuda.encoder.CudaTokenEmbeddingsEmuTest.maxDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ViT's input side on cuda-emu: {@link CudaPatchEmbeddings} (host patch cutting, prefix table, one
 * strided-batched GEMM with beta = 1) alone and followed by a pre-LN stack with the final LayerNorm,
 * i.e. the whole ViT encoder from pixels, against a plain-Java double-precision reference that
 * computes the stride-p convolution directly over the image (no patch matrix).
 *
 * <p>Tolerance: a patch embedding is a 48-term dot product of fp16-rounded pixels and weights (each
 * relative u = 2^-11), fp32-accumulated, plus the prefix table rounded once, then rounded to fp16:
 * values ~1-3, error a few u: budget 0.01 (measured below ~3e-3). A transposed patch (x and y swapped),
 * a wrong channel order or a patch landing on the CLS row moves values by O(1). The pipeline budget
 * is the stack's ({@link CudaEncoderEmuTest#F16_TOLERANCE}).
 */
class CudaPatchEmbeddingsEmuTest {
    static final int C = 3, IMAGE = 8, PATCH = 4, DIM = 64, P = 4, K = C * PATCH * PATCH;
    static EmulatedRuntime rt;

    @BeforeAll
    static void start() { rt = new EmulatedRuntime(); }

    @AfterAll
    static void stop() { if (rt != null) rt.close(); }

    record Vit(float[] w, float[] b, float[] cls, float[] pos) {}

    static Vit randomVit(Random r) {
        return new Vit(uniform(r, DIM * K, -Math.sqrt(3.0 / K), Math.sqrt(3.0 / K)), uniform(r, DIM, -0.2, 0.2), uniform(r, DIM, -1, 1),
                uniform(r, (P + 1) * DIM, -0.5, 0.5));
    }

    static CudaPatchEmbeddings upload(Arena host, Vit v, int maxImages) {
        Tensor w = new Tensor("patch weight", DType.F32, new long[] {DIM, C, PATCH, PATCH}, host.allocateFrom(ValueLayout.JAVA_FLOAT, v.w()));
        Tensor pos = new Tensor("pos", DType.F32, new long[] {1, P + 1, DIM}, host.allocateFrom(ValueLayout.JAVA_FLOAT, v.pos()));
        return new CudaPatchEmbeddings(rt, "vit", w, vec(host, "patch bias", v.b()), vec(host, "cls", v.cls()), pos, C, IMAGE, PATCH, ElemType.F16, maxImages);
    }

    /** The definition: the convolution of kernel and stride PATCH over each image, CLS first, plus positions. */
    static double[][] reference(Vit v, float[] images, int count) {
        double[][] x = new double[count * (P + 1)][DIM];
        int grid = IMAGE / PATCH;
        for (int img = 0; img < count; img++) {
            for (int j = 0; j < DIM; j++) x[img * (P + 1)][j] = v.cls()[j] + v.pos()[j];
            for (int py = 0; py < grid; py++) {
                for (int px = 0; px < grid; px++) {
                    int row = img * (P + 1) + 1 + py * grid + px;
                    for (int o = 0; o < DIM; o++) {
                        double acc = v.b()[o];
                        for (int c = 0; c < C; c++)
                            for (int ky = 0; ky < PATCH; ky++)
                                for (int kx = 0; kx < PATCH; kx++)
                                    acc += (double) v.w()[((o * C + c) * PATCH + ky) * PATCH + kx]
                                            * images[((img * C + c) * IMAGE + py * PATCH + ky) * IMAGE + px * PATCH + kx];
                        x[row][o] = acc + v.pos()[(1 + py * grid + px) * DIM + o];
                    }
                }
            }
        }
        return x;
    }

    @Test
    void vitFromPixelsMatchesReference() {
        EncoderConfig c = new EncoderConfig(DIM, 2, 32, 128, 1e-12f, EncoderConvention.PRE_LN, Activation.GELU_ERF);
        Random r = new Random(91);
        int count = 3;
        float[] images = uniform(r, count * C * IMAGE * IMAGE, -1, 1);
        long before = DeviceArena.bytesInUse();
        try (Arena host = Arena.ofConfined()) {
            Vit v = randomVit(r);
            EncoderReference.Layer[] layers = {randomLayer(c, r), randomLayer(c, r)};
            float[] nw = uniform(r, DIM, 0.8, 1.2), nb = uniform(r, DIM, -0.2, 0.2);
            MemorySegment pixels = host.allocateFrom(ValueLayout.JAVA_FLOAT, images);
            MemorySegment embedded = host.allocate((long) count * (P + 1) * DIM * 4), out = host.allocate(embedded.byteSize());
            try (CudaEncoder enc = new CudaEncoder(rt, "vit", c, List.of(tensors(host, layers[0]), tensors(host, layers[1])),
                    vec(host, "norm", nw), vec(host, "norm bias", nb), ElemType.F16, 64, 4);
                 CudaPatchEmbeddings emb = upload(host, v, 4)) {
                assertEquals(P + 1, emb.sequenceLength());
                EncoderBatch b = emb.embed(rt.defaultStream(), enc.workspace(), pixels, count);
                assertEquals(count, b.size());
                enc.download(b, embedded);
                enc.forwardOnDevice();
                enc.download(b, out);

                var e = assertThrows(IllegalArgumentException.class, () -> emb.embed(rt.defaultStream(), enc.workspace(), pixels, 5));
                assertTrue(e.getMessage().contains("5 images"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> emb.embed(rt.defaultStream(), enc.workspace(), pixels.asSlice(0, 100), 1));
                assertTrue(e.getMessage().contains("need 768 bytes"), e.getMessage());
            }
            assertEquals(before, DeviceArena.bytesInUse(), "device bytes after close");

            double[][] want = reference(v, images, count);
            double worstEmbedding = maxDiff(embedded, want, DIM);
            EncoderReference.forward(want, EncoderBatch.of(P + 1, P + 1, P + 1).cuSeqlens(), c, layers, nw, nb, false);
            double worst = maxDiff(out, want, DIM);
            System.out.printf("ViT from pixels (fp16): patch embeddings max |diff| %.5f (budget 0.010); + 2 pre-LN layers + final norm %.5f (budget %.3f)%n",
                    worstEmbedding, worst, CudaEncoderEmuTest.F16_TOLERANCE);
            assertTrue(worstEmbedding <= 0.01, "patch embeddings differ by " + worstEmbedding);
            assertTrue(worst <= CudaEncoderEmuTest.F16_TOLERANCE, "ViT pipeline differs by " + worst);
        }
    }

    @Test
    void badShapesAreNamed() {
        try (Arena host = Arena.ofConfined()) {
            Vit v = randomVit(new Random(5));
            Tensor w = new Tensor("patch weight", DType.F32, new long[] {DIM, C, PATCH, PATCH}, host.allocateFrom(ValueLayout.JAVA_FLOAT, v.w()));
            Tensor shortPos = new Tensor("pos", DType.F32, new long[] {P, DIM}, host.allocateFrom(ValueLayout.JAVA_FLOAT, v.pos()));
            var e = assertThrows(IllegalArgumentException.class, () -> new CudaPatchEmbeddings(rt, "vit", w, vec(host, "b", v.b()),
                    vec(host, "cls", v.cls()), shortPos, C, IMAGE, PATCH, ElemType.F16, 2));
            assertTrue(e.getMessage().contains("position embeddings 'pos'") && e.getMessage().contains("[5][64]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new CudaPatchEmbeddings(rt, "vit", w, vec(host, "b", v.b()),
                    vec(host, "cls", v.cls()), shortPos, C, 10, PATCH, ElemType.F16, 2));
            assertTrue(e.getMessage().contains("multiple of the patch size"), e.getMessage());
        }
    }
}
