package io.transfuse.cuda.kernels;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.tensor.DType;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The bindings of the launchers whose signatures changed (glu with separate gate / up, attention prefill with row
 * strides) or are new (transpose), and the rotary_dim 0 KV-cache write, through the cuda-emu runtime: the arguments
 * reach the kernel in the right order (results against plain loops here), and bad arguments are rejected in Java
 * before anything is launched. The kernels themselves are tested in depth by native/test/emu_*.cpp.
 */
class KernelLibraryTest {
    private EmulatedRuntime rt;
    private DeviceArena dev;
    private Arena host;
    private GpuStream s;
    private KernelLibrary kk;

    @BeforeEach
    void setUp() {
        rt = new EmulatedRuntime();
        dev = new DeviceArena(rt, "kernel library test");
        host = Arena.ofConfined();
        s = rt.defaultStream();
        kk = rt.kernels();
    }

    @AfterEach
    void tearDown() {
        host.close();
        dev.close();
        rt.close();
    }

    @Test
    void transposeMovesEveryElement() {
        int rows = 37, cols = 70;
        float[] in = random(rows * cols, 1);
        DeviceBuffer a = upload(in), b = dev.allocate("out", (long) rows * cols * 4);
        kk.transpose(s, b.address(), a.address(), rows, cols, DType.F32);
        float[] out = download(b, rows * cols), want = new float[rows * cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) want[c * rows + r] = in[r * cols + c];
        assertArrayEquals(want, out);
    }

    @Test
    void gluSeparateAndFusedLayouts() {
        int tokens = 3, ffn = 20;
        float[] gate = random(tokens * ffn, 2), up = random(tokens * ffn, 3);
        DeviceBuffer g = upload(gate), u = upload(up), out = dev.allocate("out", (long) tokens * ffn * 4);
        kk.glu(s, out.address(), g.address(), u.address(), tokens, ffn, ffn, Activation.SILU, DType.F32);
        float[] want = new float[tokens * ffn];
        for (int i = 0; i < want.length; i++) want[i] = (float) (gate[i] / (1 + Math.exp(-gate[i])) * up[i]);
        assertArrayEquals(want, download(out, tokens * ffn), 1e-5f);

        // One [tokens][2 ffn] buffer: gate in the first ffn columns, up in the second; bilinear (identity).
        float[] fused = new float[tokens * 2 * ffn];
        for (int t = 0; t < tokens; t++) {
            System.arraycopy(gate, t * ffn, fused, t * 2 * ffn, ffn);
            System.arraycopy(up, t * ffn, fused, t * 2 * ffn + ffn, ffn);
        }
        DeviceBuffer gu = upload(fused);
        kk.glu(s, out.address(), gu.address(), gu.address() + ffn * 4L, tokens, ffn, 2L * ffn, Activation.IDENTITY, DType.F32);
        for (int i = 0; i < want.length; i++) want[i] = gate[i] * up[i];
        assertArrayEquals(want, download(out, tokens * ffn), 1e-6f);

        assertThrows(IllegalArgumentException.class,
                () -> kk.glu(s, out.address(), g.address(), u.address(), tokens, ffn, ffn - 1, Activation.SILU, DType.F32));
        assertThrows(IllegalArgumentException.class,
                () -> kk.glu(s, out.address(), g.address(), 0, tokens, ffn, ffn, Activation.SILU, DType.F32));
    }

    @Test
    void attentionPrefillChecksStridesAndAlignment() {
        int heads = 2, kvHeads = 1, d = 32, tokens = 4;
        long qkvStride = (long) (heads + 2 * kvHeads) * d;
        DeviceBuffer qkv = dev.allocate("qkv", tokens * qkvStride * 2), o = dev.allocate("o", (long) tokens * heads * d * 2);
        DeviceBuffer cu = dev.allocate("cu", 8);
        MemorySegment cuHost = host.allocate(8);
        cuHost.setAtIndex(ValueLayout.JAVA_INT, 1, tokens);
        rt.copyHostToDevice(s, cuHost, cu.address(), 8);
        long q = qkv.address(), k = q + (long) heads * d * 2, v = k + (long) kvHeads * d * 2;
        // The fused layout runs (inputs are zero: every output row is the mean of zero values).
        kk.attentionPrefill(s, q, k, v, o.address(), cu.address(), cu.address(), 1, tokens, heads, kvHeads, d, qkvStride,
                qkvStride, 0.125f, true, DType.F16);
        assertThrows(IllegalArgumentException.class, () -> kk.attentionPrefill(s, q, k, v, o.address(), cu.address(),
                cu.address(), 1, tokens, heads, kvHeads, d, (long) heads * d - 8, qkvStride, 0.125f, true, DType.F16));
        assertThrows(IllegalArgumentException.class, () -> kk.attentionPrefill(s, q, k, v, o.address(), cu.address(),
                cu.address(), 1, tokens, heads, kvHeads, d, qkvStride, qkvStride + 4, 0.125f, true, DType.F16));
        assertThrows(IllegalArgumentException.class, () -> kk.attentionPrefill(s, q, k + 2, v, o.address(), cu.address(),
                cu.address(), 1, tokens, heads, kvHeads, d, qkvStride, qkvStride, 0.125f, true, DType.F16));
        // window and soft-cap: checked in Java before the launch
        kk.attentionPrefill(s, q, k, v, o.address(), cu.address(), cu.address(), 1, tokens, heads, kvHeads, d, qkvStride,
                qkvStride, 0.125f, true, 2, 30f, DType.F16);
        assertThrows(IllegalArgumentException.class, () -> kk.attentionPrefill(s, q, k, v, o.address(), cu.address(),
                cu.address(), 1, tokens, heads, kvHeads, d, qkvStride, qkvStride, 0.125f, true, -1, 0f, DType.F16));
        assertThrows(IllegalArgumentException.class, () -> kk.attentionPrefill(s, q, k, v, o.address(), cu.address(),
                cu.address(), 1, tokens, heads, kvHeads, d, qkvStride, qkvStride, 0.125f, true, 0, Float.NaN, DType.F16));
        assertThrows(IllegalArgumentException.class, () -> kk.attentionPrefill(s, q, k, v, o.address(), cu.address(),
                cu.address(), 1, tokens, heads, kvHeads, d, qkvStride, qkvStride, 0.125f, true, 0, -2f, DType.F16));
    }

    @Test
    void transposeRejectsOverlapAndBadShapes() {
        DeviceBuffer a = dev.allocate("a", 64 * 4);
        assertThrows(IllegalArgumentException.class, () -> kk.transpose(s, a.address() + 16, a.address(), 4, 4, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> kk.transpose(s, a.address(), a.address(), 0, 4, DType.F32));
    }

    @Test
    void ropeKvCacheWithoutRotationTakesNoFrequencyTable() {
        int kvHeads = 1, headDim = 8;
        float[] k = random(headDim, 4), v = random(headDim, 5);
        DeviceBuffer kb = upload(k), vb = upload(v), kc = dev.allocate("kc", headDim * 4L), vc = dev.allocate("vc", headDim * 4L);
        DeviceBuffer zeros = dev.allocate("table, position, sequence", 16); // all three int32 [1] = 0
        kk.ropeKvCache(s, 0, kb.address(), vb.address(), kc.address(), vc.address(), zeros.address(), zeros.address() + 4,
                zeros.address() + 8, 0, 1, 1, kvHeads, headDim, 0, 0, 1f, 1, 1, DType.F32);
        assertArrayEquals(k, download(kc, headDim));
        assertArrayEquals(v, download(vc, headDim));
        assertThrows(IllegalArgumentException.class, () -> kk.ropeKvCache(s, 0, kb.address(), vb.address(), kc.address(),
                vc.address(), zeros.address(), zeros.address(), zeros.address(), 0, 1, 1, kvHeads, headDim, headDim, 0, 1f, 1, 1,
                DType.F32));
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = r.nextFloat() * 4 - 2;
        return x;
    }

    private DeviceBuffer upload(float[] x) {
        MemorySegment h = host.allocateFrom(ValueLayout.JAVA_FLOAT, x);
        DeviceBuffer b = dev.allocate("upload", h.byteSize());
        rt.copyHostToDevice(s, h, b.address(), h.byteSize());
        return b;
    }

    private float[] download(DeviceBuffer b, int n) {
        MemorySegment h = host.allocate((long) n * 4);
        rt.copyDeviceToHost(s, b.address(), h, (long) n * 4);
        return h.toArray(ValueLayout.JAVA_FLOAT);
    }
}
