package io.transfuse.cuda.encoder;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.mat;
import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.randomLayer;
import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.tensors;
import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.uniform;
import static io.transfuse.cuda.encoder.CudaEncoderEmuTest.vec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BERT's input side on cuda-emu: {@link CudaTokenEmbeddings} (gathers, adds, LayerNorm) alone and
 * followed by a post-LN layer stack, i.e. the whole BERT encoder from token ids, against a plain-Java
 * double-precision reference ({@link EncoderReference}).
 *
 * <p>Tolerance: the embedding output is LN(sum of three fp16-rounded rows, itself rounded once), O(1):
 * a few units of u = 2^-11 relative, budget 0.01 (measured ~2e-3); a wrong row (position restarted
 * per sequence or not, type ignored, offset dropped) moves values by O(1). The pipeline budget is the
 * stack's fp16 budget ({@link CudaEncoderEmuTest#F16_TOLERANCE}).
 */
class CudaTokenEmbeddingsEmuTest {
    static final double EMBEDDING_TOLERANCE = 0.01;
    static EmulatedRuntime rt;

    @BeforeAll
    static void start() { rt = new EmulatedRuntime(); }

    @AfterAll
    static void stop() { if (rt != null) rt.close(); }

    record Tables(float[] word, float[] pos, float[] type, float[] norm, float[] normBias) {}

    static Tables tables(Random r, int vocab, int positions, int types, int dim) {
        return new Tables(uniform(r, vocab * dim, -1, 1), uniform(r, positions * dim, -1, 1), types == 0 ? null : uniform(r, types * dim, -1, 1),
                uniform(r, dim, 0.8, 1.2), uniform(r, dim, -0.2, 0.2));
    }

    static CudaTokenEmbeddings upload(Arena host, Tables tb, int vocab, int positions, int types, int dim, int offset, int maxTokens) {
        return new CudaTokenEmbeddings(rt, "test", mat(host, "word", tb.word(), vocab, dim), mat(host, "pos", tb.pos(), positions, dim),
                types == 0 ? null : mat(host, "type", tb.type(), types, dim), vec(host, "ln", tb.norm()), vec(host, "ln bias", tb.normBias()),
                1e-12f, offset, ElemType.F16, maxTokens);
    }

    /** The definition: LN(word[id] + pos[offset + i] + type[tt]) per token, i its index in its sequence. */
    static double[][] reference(Tables tb, int dim, int offset, EncoderBatch b, int[] ids, int[] types) {
        double[][] x = new double[b.tokens()][dim];
        for (int s = 0; s < b.size(); s++) {
            for (int i = 0; i < b.length(s); i++) {
                int at = b.offset(s) + i;
                for (int j = 0; j < dim; j++) {
                    x[at][j] = tb.word()[ids[at] * dim + j] + tb.pos()[(offset + i) * dim + j]
                            + (tb.type() != null ? tb.type()[types[at] * dim + j] : 0);
                }
                EncoderReference.layerNorm(x[at], tb.norm(), tb.normBias(), 1e-12f);
            }
        }
        return x;
    }

    @Test
    void embeddingsMatchReferenceWithAndWithoutTokenTypes() {
        EncoderConfig c = new EncoderConfig(64, 2, 32, 128, 1e-12f, EncoderConvention.POST_LN, Activation.GELU_ERF);
        EncoderBatch b = EncoderBatch.of(5, 70, 1);
        int vocab = 50, dim = 64;
        for (int types : new int[] {2, 0}) {
            int offset = types == 0 ? 2 : 0;  // RoBERTa-style offset without types, BERT with
            Random r = new Random(40 + types);
            int[] ids = new int[b.tokens()], tt = new int[b.tokens()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = r.nextInt(vocab);
                tt[i] = types == 0 ? 0 : r.nextInt(types);
            }
            long before = DeviceArena.bytesInUse();
            try (Arena host = Arena.ofConfined()) {
                Tables tb = tables(r, vocab, 80, types, dim);
                MemorySegment out = host.allocate((long) b.tokens() * dim * 4);
                try (CudaEncoder enc = new CudaEncoder(rt, "emb", c, List.of(tensors(host, randomLayer(c, r))), null, null, ElemType.F16, 128, 4);
                     CudaTokenEmbeddings emb = upload(host, tb, vocab, 80, types, dim, offset, 128)) {
                    enc.workspace().setBatch(rt.defaultStream(), b);
                    emb.embed(rt.defaultStream(), enc.workspace(), b, ids, types == 0 ? null : tt);
                    enc.download(b, out);
                }
                assertEquals(before, DeviceArena.bytesInUse(), "device bytes after close");
                double worst = maxDiff(out, reference(tb, dim, offset, b, ids, tt), dim);
                System.out.printf("embeddings (%d token types, position offset %d): max |diff| %.5f (budget %.3f)%n", types, offset, worst, EMBEDDING_TOLERANCE);
                assertTrue(worst <= EMBEDDING_TOLERANCE, "embeddings differ by " + worst);
            }
        }
    }

    @Test
    void bertFromTokenIdsMatchesReference() {
        EncoderConfig c = new EncoderConfig(64, 2, 32, 128, 1e-12f, EncoderConvention.POST_LN, Activation.GELU_ERF);
        EncoderBatch b = EncoderBatch.of(9, 3, 20);
        int vocab = 30, dim = 64;
        Random r = new Random(77);
        int[] ids = new int[b.tokens()], tt = new int[b.tokens()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(vocab);
            tt[i] = r.nextInt(2);
        }
        try (Arena host = Arena.ofConfined()) {
            Tables tb = tables(r, vocab, 32, 2, dim);
            EncoderReference.Layer[] layers = {randomLayer(c, r), randomLayer(c, r)};
            MemorySegment out = host.allocate((long) b.tokens() * dim * 4);
            try (CudaEncoder enc = new CudaEncoder(rt, "bert", c, List.of(tensors(host, layers[0]), tensors(host, layers[1])), null, null, ElemType.F16, 64, 4);
                 CudaTokenEmbeddings emb = upload(host, tb, vocab, 32, 2, dim, 0, 64)) {
                enc.workspace().setBatch(rt.defaultStream(), b);
                emb.embed(rt.defaultStream(), enc.workspace(), b, ids, tt);
                enc.forwardOnDevice();
                enc.download(b, out);

                var e = assertThrows(IllegalArgumentException.class, () -> emb.embed(rt.defaultStream(), enc.workspace(), b, new int[b.tokens()], new int[3]));
                assertTrue(e.getMessage().contains("token type ids"), e.getMessage());
                int[] bad = ids.clone();
                bad[4] = vocab;
                e = assertThrows(IllegalArgumentException.class, () -> emb.embed(rt.defaultStream(), enc.workspace(), b, bad, tt));
                assertTrue(e.getMessage().contains("token id 30 at 4"), e.getMessage());
                EncoderBatch longer = EncoderBatch.of(40);
                enc.workspace().setBatch(rt.defaultStream(), longer);
                e = assertThrows(IllegalArgumentException.class, () -> emb.embed(rt.defaultStream(), enc.workspace(), longer, new int[40], null));
                assertTrue(e.getMessage().contains("longer than the 32 positions"), e.getMessage());
            }
            double[][] want = reference(tb, dim, 0, b, ids, tt);
            EncoderReference.forward(want, b.cuSeqlens(), c, layers, null, null, false);
            double worst = maxDiff(out, want, dim);
            System.out.printf("BERT from token ids (embeddings + 2 post-LN layers, fp16): max |diff| %.5f (budget %.3f)%n", worst, CudaEncoderEmuTest.F16_TOLERANCE);
            assertTrue(worst <= CudaEncoderEmuTest.F16_TOLERANCE, "BERT pipeline differs by " + worst);
        }
    }

    static double maxDiff(MemorySegment got, double[][] want, int dim) {
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            for (int j = 0; j < dim; j++) worst = Math.max(worst, Math.abs(got.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * dim + j) - want[i][j]));
        }
        return worst;
    }

}
