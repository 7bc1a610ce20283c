package io.transfuse.backend.cpu;

import io.transfuse.backend.Activation;
import io.transfuse.backend.RopeLayout;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;

/** Bad arguments are IllegalArgumentExceptions that name the argument; none reaches native code. */
class CpuArgumentsTest {

    private static void rejects(String argument, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(argument), "message should name " + argument + ": " + e.getMessage());
    }

    @Test
    void matmul() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(4L * 3 * 8), x = a.allocate(4L * 3 * 64), w = a.allocate(4L * 8 * 64);
            MemorySegment wq = a.allocate(DType.Q8_0.bytesFor(8 * 64));
            CpuOps.matmul(out, x, w, DType.F32, 3, 64, 8); // fine
            CpuOps.matmul(out, x, wq, DType.Q8_0, 3, 64, 8); // fine
            rejects("out", () -> CpuOps.matmul(out.asSlice(0, 4L * 3 * 8 - 4), x, w, DType.F32, 3, 64, 8));
            rejects("x", () -> CpuOps.matmul(out, x.asSlice(4), w, DType.F32, 3, 64, 8));
            rejects("w", () -> CpuOps.matmul(out, x, w.asSlice(0, 100), DType.F32, 3, 64, 8));
            rejects("w", () -> CpuOps.matmul(out, x, wq.asSlice(1), DType.Q8_0, 3, 64, 8));
            rejects("tokens", () -> CpuOps.matmul(out, x, w, DType.F32, 0, 64, 8));
            rejects("inDim", () -> CpuOps.matmul(out, x, w, DType.F32, 3, -1, 8));
            rejects("outDim", () -> CpuOps.matmul(out, x, w, DType.F32, 3, 64, 0));
            rejects("inDim", () -> CpuOps.matmul(out, x, wq, DType.Q4_0, 3, 48, 8));
            rejects("wType", () -> CpuOps.matmul(out, x, w, DType.I32, 3, 64, 8));
            rejects("wType", () -> CpuOps.matmul(out, x, w, null, 3, 64, 8));
            rejects("out", () -> CpuOps.matmul(null, x, w, DType.F32, 3, 64, 8));
            rejects("x", () -> CpuOps.matmul(out, MemorySegment.ofArray(new float[3 * 64]), w, DType.F32, 3, 64, 8));
            rejects("out", () -> CpuOps.matmul(out.asReadOnly(), x, w, DType.F32, 3, 64, 8));
            rejects("overlap", () -> CpuOps.matmul(x.asSlice(0, 4L * 3 * 8), x, w, DType.F32, 3, 64, 8));
            // panels: 8 output columns take one whole panel of 32
            MemorySegment panels = a.allocate(CpuOps.packedF32Bytes(64, 8));
            assertEquals(4L * 32 * 64, panels.byteSize());
            CpuOps.packF32(panels, w, 64, 8); // fine
            CpuOps.matmul(out, x, panels, DType.F32_PANELS, 3, 64, 8); // fine
            rejects("w", () -> CpuOps.matmul(out, x, w, DType.F32_PANELS, 3, 64, 8)); // unpacked size
            rejects("dst", () -> CpuOps.packF32(panels.asSlice(4), w, 64, 8));
            rejects("w", () -> CpuOps.packF32(panels, w.asSlice(4), 64, 8));
            rejects("inDim", () -> CpuOps.packedF32Bytes(0, 8));
            rejects("type", () -> CpuOps.embedding(out, panels, DType.F32_PANELS, x, 1, 8));
            // AMX tiles: 8 columns and 64 k padded to 32 x 64, 6 bytes each
            MemorySegment tiles = a.allocate(CpuOps.packedF32AmxBytes(64, 8));
            assertEquals(6L * 32 * 64, tiles.byteSize());
            CpuOps.packF32Amx(tiles, w, 64, 8); // fine
            CpuOps.matmul(out, x, tiles, DType.F32_AMX, 3, 64, 8); // fine
            rejects("w", () -> CpuOps.matmul(out, x, panels, DType.F32_AMX, 3, 64, 8)); // smaller layout
            rejects("dst", () -> CpuOps.packF32Amx(tiles.asSlice(4), w, 64, 8));
            rejects("w", () -> CpuOps.packF32Amx(tiles, w.asSlice(4), 64, 8));
            rejects("outDim", () -> CpuOps.packedF32AmxBytes(64, 0));
            rejects("type", () -> CpuOps.embedding(out, tiles, DType.F32_AMX, x, 1, 8));
        }
    }

    @Test
    void closedArena() {
        MemorySegment out, x, w;
        try (Arena a = Arena.ofConfined()) {
            out = a.allocate(64);
            x = a.allocate(64);
            w = a.allocate(64);
        }
        rejects("out", () -> CpuOps.matmul(out, x, w, DType.F32, 1, 4, 4));
    }

    @Test
    void norms() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate(4L * 4 * 8), out = a.allocate(4L * 4 * 8), res = a.allocate(4L * 4 * 8);
            MemorySegment w = a.allocate(32), b = a.allocate(32);
            CpuOps.rmsNorm(out, res, x, w, 4, 8, 1e-5f); // fine
            CpuOps.rmsNorm(x, null, x, w, 4, 8, 1e-5f); // fine: out is x
            CpuOps.layerNorm(res, res, x, w, b, 4, 8, 1e-5f); // fine: out is residual
            CpuOps.layerNorm(out, null, x, w, null, 4, 8, 1e-5f); // fine: no bias
            rejects("rows", () -> CpuOps.rmsNorm(out, null, x, w, 0, 8, 1e-5f));
            rejects("dim", () -> CpuOps.layerNorm(out, null, x, w, b, 4, -8, 1e-5f));
            rejects("eps", () -> CpuOps.rmsNorm(out, null, x, w, 4, 8, Float.NaN));
            rejects("eps", () -> CpuOps.layerNorm(out, null, x, w, b, 4, 8, -1f));
            rejects("out", () -> CpuOps.rmsNorm(out.asSlice(4), null, x, w, 4, 8, 1e-5f));
            rejects("out", () -> CpuOps.layerNorm(out.asReadOnly(), null, x, w, b, 4, 8, 1e-5f));
            rejects("x", () -> CpuOps.rmsNorm(out, null, MemorySegment.ofArray(new float[32]), w, 4, 8, 1e-5f));
            rejects("residual", () -> CpuOps.rmsNorm(out, res.asSlice(8), x, w, 4, 8, 1e-5f));
            rejects("residual", () -> CpuOps.layerNorm(out, res.asReadOnly(), x, w, b, 4, 8, 1e-5f));
            rejects("weight", () -> CpuOps.rmsNorm(out, null, x, w.asSlice(4), 4, 8, 1e-5f));
            rejects("weight", () -> CpuOps.layerNorm(out, null, x, null, b, 4, 8, 1e-5f));
            rejects("bias", () -> CpuOps.layerNorm(out, null, x, w, b.asSlice(4), 4, 8, 1e-5f));
            MemorySegment big = a.allocate(4L * 40);
            rejects("out must be x itself", () -> CpuOps.rmsNorm(big.asSlice(4, 128), null, big.asSlice(0, 128), w, 4, 8, 1e-5f));
            rejects("out must be residual itself", () -> CpuOps.rmsNorm(big.asSlice(4, 128), big.asSlice(0, 128), x, w, 4, 8, 1e-5f));
            rejects("residual must not overlap x", () -> CpuOps.rmsNorm(out, x, x, w, 4, 8, 1e-5f));
            rejects("out must not overlap weight", () -> CpuOps.layerNorm(out, null, x, out.asSlice(0, 32), b, 4, 8, 1e-5f));
        }
    }

    @Test
    void activations() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate(4L * 4 * 8), b = a.allocate(32), g = a.allocate(256), u = a.allocate(256);
            CpuOps.biasAct(x, b, 4, 8, Activation.GELU_TANH); // fine
            CpuOps.biasAct(x, null, 4, 8, Activation.SILU); // fine: no bias
            rejects("rows", () -> CpuOps.biasAct(x, b, 0, 8, Activation.SILU));
            rejects("dim", () -> CpuOps.biasAct(x, b, 4, 0, Activation.SILU));
            rejects("act", () -> CpuOps.biasAct(x, b, 4, 8, null));
            rejects("x", () -> CpuOps.biasAct(x, b, 5, 8, Activation.SILU));
            rejects("x", () -> CpuOps.biasAct(x.asReadOnly(), b, 4, 8, Activation.SILU));
            rejects("bias", () -> CpuOps.biasAct(x, b.asSlice(4), 4, 8, Activation.SILU));
            rejects("x must not overlap bias", () -> CpuOps.biasAct(x, x.asSlice(0, 32), 4, 8, Activation.SILU));

            CpuOps.glu(g, g, u, 64, Activation.GELU_ERF); // fine: out is gate
            rejects("n", () -> CpuOps.glu(g, g, u, -1, Activation.SILU));
            CpuOps.glu(g, g, u, 64, Activation.IDENTITY); // fine: the plain product (an elementwise scale)
            rejects("act", () -> CpuOps.glu(g, g, u, 64, null));
            rejects("up", () -> CpuOps.glu(g, g, u.asSlice(4), 64, Activation.SILU));
            rejects("gate", () -> CpuOps.glu(u, null, u, 64, Activation.SILU));
            rejects("out", () -> CpuOps.glu(x, g, u, 64, Activation.SILU));
            rejects("out must be up itself", () -> CpuOps.glu(u.asSlice(4, 128), g, u.asSlice(0, 128), 32, Activation.SILU));
            rejects("b", () -> CpuOps.add(g, g, x.asSlice(0, 16), 64));
            rejects("out must be a itself", () -> CpuOps.add(g.asSlice(4, 128), g.asSlice(0, 128), u, 32));

            MemorySegment out = a.allocate(4L * 4 * 8), w8 = a.allocate(4L * 8 * 8);
            CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, b, Activation.GELU_ERF); // fine
            CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, null, Activation.SILU); // fine: no bias
            rejects("bias", () -> CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, b.asSlice(4), Activation.IDENTITY));
            rejects("out must not overlap bias", () -> CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, out, Activation.IDENTITY));
            rejects("act", () -> CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, b, null));
            rejects("w", () -> CpuOps.matmulBias(out, x, w8.asSlice(4), DType.F32, 4, 8, 8, b, Activation.IDENTITY));
        }
    }

    /** A paged cache for the argument tests: 2 heads of 4 (kvHeads 1), blocks of 2 slots, 5 blocks; a table
     * of 2 rows x 3 entries. */
    private static final int HEADS = 2, KV = 1, HD = 4, BS = 2, BLOCKS = 5, MAXB = 3;

    private static MemorySegment ints(Arena a, int... v) {
        MemorySegment s = a.allocate(4L * v.length);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_INT, 0, v.length);
        return s;
    }

    @Test
    void ropeKvCache() {
        try (Arena a = Arena.ofConfined()) {
            int tokens = 2;
            MemorySegment q = a.allocate(4L * tokens * HEADS * HD), k = a.allocate(4L * tokens * KV * HD), v = a.allocate(4L * tokens * KV * HD);
            MemorySegment kc = a.allocate(4L * BLOCKS * BS * KV * HD), vc = a.allocate(4L * BLOCKS * BS * KV * HD);
            MemorySegment table = ints(a, 1, 2, 0, 3, 4, 0), pos = ints(a, 3, 0), seq = ints(a, 0, 1), f = a.allocate(8);
            RopeLayout l = RopeLayout.HALF_SPLIT;
            CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB); // fine
            CpuOps.ropeKvCache(null, k, v, kc, vc, DType.F32, table, pos, seq, null, tokens, HEADS, KV, HD, 0, l, 1f, BS, MAXB); // fine
            rejects("tokens", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, 0, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("heads", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, 0, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("kvHeads", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, 0, HD, HD, l, 1f, BS, MAXB));
            rejects("headDim", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, 0, 0, l, 1f, BS, MAXB));
            rejects("headDim", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, 2048, 4, l, 1f, BS, MAXB));
            rejects("rotaryDim", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, 3, l, 1f, BS, MAXB));
            rejects("rotaryDim", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, 6, l, 1f, BS, MAXB));
            rejects("rotaryDim", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, -2, l, 1f, BS, MAXB));
            rejects("layout", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, null, 1f, BS, MAXB));
            rejects("mscale", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, Float.NaN, BS, MAXB));
            rejects("blockSize", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, 0, MAXB));
            rejects("maxBlocksPerSeq", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, 0));
            rejects("q", () -> CpuOps.ropeKvCache(q.asSlice(4), k, v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("k", () -> CpuOps.ropeKvCache(q, k.asSlice(4), v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("v", () -> CpuOps.ropeKvCache(q, k, null, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("kCache", () -> CpuOps.ropeKvCache(q, k, v, kc.asSlice(0, 16), vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("kCache", () -> CpuOps.ropeKvCache(q, k, v, kc.asReadOnly(), vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("vCache", () -> CpuOps.ropeKvCache(q, k, v, kc, vc.asSlice(32), DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("blockTable", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table.asSlice(0, 8), pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("positions", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos.asSlice(4), seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("seqIds", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq.asSlice(4), f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("invFreq", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, null, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("invFreq", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, seq, f.asSlice(4), tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("q must not overlap k", () -> CpuOps.ropeKvCache(q, q.asSlice(0, 32), v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("kCache must not overlap vCache", () -> CpuOps.ropeKvCache(q, k, v, kc, kc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("kCache must not overlap k", () -> CpuOps.ropeKvCache(q, kc.asSlice(0, 32), v, kc, vc, DType.F32, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            // what the tables say: sequences, positions and blocks in range, one writer per slot
            rejects("seqIds[1] = 2", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, ints(a, 0, 2), f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("seqIds[0] = -1", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, pos, ints(a, -1, 0), f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("positions[0] = 6", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, ints(a, 6, 0), seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("positions[1] = -1", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, ints(a, 0, -1), seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("blockTable[0][1] = 5", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, ints(a, 1, 5, 0, 3, 4, 0), pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("blockTable[1][0] = -3", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, ints(a, 1, 2, 0, -3, 4, 0), pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            rejects("positions[1] = 3", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F32, table, ints(a, 3, 3), ints(a, 0, 0), f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
            CpuOps.ropeKvCache(q, k, v, kc, vc, DType.F16, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB); // fine
            rejects("kvType", () -> CpuOps.ropeKvCache(q, k, v, kc, vc, DType.Q8_0, table, pos, seq, f, tokens, HEADS, KV, HD, HD, l, 1f, BS, MAXB));
        }
    }

    @Test
    void attentionPaged() {
        try (Arena a = Arena.ofConfined()) {
            int tokens = 2;
            MemorySegment q = a.allocate(4L * tokens * HEADS * HD), out = a.allocate(4L * tokens * HEADS * HD);
            MemorySegment kc = a.allocate(4L * BLOCKS * BS * KV * HD), vc = a.allocate(4L * BLOCKS * BS * KV * HD);
            // row 1 reads positions 0..2 (blocks 3 and 4); its last entry is never read, so garbage there is fine
            MemorySegment table = ints(a, 1, 2, 0, 3, 4, 99), ctx = ints(a, 5, 3);
            CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f); // fine
            // window 2: row 0 reads positions 3, 4 (entries 1, 2), row 1 positions 1, 2 (entries 0, 1)
            CpuOps.attentionPaged(out, q, kc, vc, DType.F32, ints(a, 77, 2, 0, 3, 4, 99), ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 2, 0f); // fine
            rejects("tokens", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, 0, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("heads", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, 3, 2, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("kvHeads", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, 0, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("headDim", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, 1025, BS, MAXB, 0.5f, 0, 0f));
            rejects("scale", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, Float.POSITIVE_INFINITY, 0, 0f));
            rejects("window", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, -1, 0f));
            rejects("softcap", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, -1f));
            rejects("softcap", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, Float.NaN));
            CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 2, 30f); // fine
            rejects("blockSize", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, -2, MAXB, 0.5f, 0, 0f));
            rejects("out", () -> CpuOps.attentionPaged(out.asSlice(4), q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("q", () -> CpuOps.attentionPaged(out, q.asSlice(4), kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("kCache", () -> CpuOps.attentionPaged(out, q, null, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("vCache", () -> CpuOps.attentionPaged(out, q, kc, vc.asSlice(4), DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("blockTable", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table.asSlice(0, 12), ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("contextLens", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ctx.asSlice(4), tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("contextLens[0] = 7", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ints(a, 7, 3), tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("contextLens[1] = -1", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ints(a, 5, -1), tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("blockTable[1][2] = 99", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, table, ints(a, 5, 6), tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("blockTable[0][0] = -1", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.F32, ints(a, -1, 2, 0, 3, 4, 0), ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("out must not overlap q", () -> CpuOps.attentionPaged(q, q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("out must not overlap kCache", () -> CpuOps.attentionPaged(kc.asSlice(0, 64), q, kc, vc, DType.F32, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            // an F16 cache: blocks of half the bytes; the element type must be F32 or F16
            CpuOps.attentionPaged(out, q, kc, vc, DType.F16, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f); // fine
            long halfBlock = 2L * BS * KV * HD;
            rejects("outside the cache's blocks [0, 3)", () -> CpuOps.attentionPaged(out, q, kc.asSlice(0, 3 * halfBlock),
                    vc.asSlice(0, 3 * halfBlock), DType.F16, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("kvType", () -> CpuOps.attentionPaged(out, q, kc, vc, DType.BF16, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
            rejects("kvType", () -> CpuOps.attentionPaged(out, q, kc, vc, null, table, ctx, tokens, HEADS, KV, HD, BS, MAXB, 0.5f, 0, 0f));
        }
    }

    @Test
    void attentionVarlen() {
        try (Arena a = Arena.ofConfined()) {
            // batch 2 (lengths 3 and 1), heads 2 of 4, kvHeads 1: 4 rows; fused rows of 8 + 4 + 4 floats
            int stride = 16;
            MemorySegment qkv = a.allocate(4L * 4 * stride), out = a.allocate(4L * 5 * 8), cu = ints(a, 0, 3, 4);
            MemorySegment q = qkv, k = qkv.asSlice(32), v = qkv.asSlice(48);
            CpuOps.attentionVarlen(out, q, k, v, cu, 2, 2, 1, 4, stride, stride, 0.5f, true); // fine
            rejects("batch", () -> CpuOps.attentionVarlen(out, q, k, v, cu, 0, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("heads", () -> CpuOps.attentionVarlen(out, q, k, v, cu, 2, 3, 2, 4, stride, stride, 0.5f, true));
            rejects("headDim", () -> CpuOps.attentionVarlen(out, q, k, v, cu, 2, 2, 1, 0, stride, stride, 0.5f, true));
            rejects("scale", () -> CpuOps.attentionVarlen(out, q, k, v, cu, 2, 2, 1, 4, stride, stride, Float.NaN, true));
            rejects("qStride", () -> CpuOps.attentionVarlen(out, q, k, v, cu, 2, 2, 1, 4, 7, stride, 0.5f, true));
            rejects("kvStride", () -> CpuOps.attentionVarlen(out, q, k, v, cu, 2, 2, 1, 4, stride, 3, 0.5f, true));
            rejects("cuSeqlens", () -> CpuOps.attentionVarlen(out, q, k, v, cu.asSlice(4), 2, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("cuSeqlens[0]", () -> CpuOps.attentionVarlen(out, q, k, v, ints(a, 1, 3, 4), 2, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("cuSeqlens[2] = 2", () -> CpuOps.attentionVarlen(out, q, k, v, ints(a, 0, 3, 2), 2, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("q", () -> CpuOps.attentionVarlen(out, q, k, v, ints(a, 0, 3, 5), 2, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("k", () -> CpuOps.attentionVarlen(out, q, qkv.asSlice(56), v, cu, 2, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("v", () -> CpuOps.attentionVarlen(out, q, k, qkv.asSlice(60), cu, 2, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("out", () -> CpuOps.attentionVarlen(out.asSlice(40), q, k, v, cu, 2, 2, 1, 4, stride, stride, 0.5f, true));
            rejects("out must not overlap k", () -> CpuOps.attentionVarlen(qkv.asSlice(0, 128), a.allocate(4L * 4 * stride), k, v,
                    cu, 2, 2, 1, 4, stride, stride, 0.5f, true));
            MemorySegment.copy(new int[] {0, 3, 4}, 0, out, ValueLayout.JAVA_INT, 0, 3); // a valid table inside out
            rejects("out must not overlap cuSeqlens", () -> CpuOps.attentionVarlen(out, q, k, v, out.asSlice(0, 12), 2, 2, 1, 4,
                    stride, stride, 0.5f, true));
        }
    }

    @Test
    void embedding() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment table = a.allocate(DType.Q4_0.bytesFor(10 * 64)), out = a.allocate(4L * 2 * 64);
            MemorySegment ids = a.allocate(8);
            ids.setAtIndex(ValueLayout.JAVA_INT, 0, 3);
            ids.setAtIndex(ValueLayout.JAVA_INT, 1, 9);
            CpuOps.embedding(out, table, DType.Q4_0, ids, 2, 64); // fine
            ids.setAtIndex(ValueLayout.JAVA_INT, 1, 10);
            rejects("ids[1]", () -> CpuOps.embedding(out, table, DType.Q4_0, ids, 2, 64));
            ids.setAtIndex(ValueLayout.JAVA_INT, 1, -1);
            rejects("ids[1]", () -> CpuOps.embedding(out, table, DType.Q4_0, ids, 2, 64));
            rejects("ids", () -> CpuOps.embedding(a.allocate(4L * 3 * 64), table, DType.Q4_0, ids, 3, 64));
            rejects("dim", () -> CpuOps.embedding(out, table, DType.Q4_0, ids, 2, 40));
            rejects("type", () -> CpuOps.embedding(out, table, DType.I32, ids, 2, 64));
            rejects("out", () -> CpuOps.embedding(out, table, DType.F32, ids, 3, 64));
        }
    }
}
