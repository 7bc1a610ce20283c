package io.transfuse.backend.cpu;

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
    void otherOps() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(4096), small = a.allocate(16), other = a.allocate(4096);
            rejects("weight", () -> CpuOps.rmsnorm(buf, buf, small, 2, 64, 1e-5f));
            rejects("x", () -> CpuOps.rmsnorm(buf, small, buf, 2, 64, 1e-5f));
            rejects("eps", () -> CpuOps.rmsnorm(buf, buf, buf, 2, 64, Float.NaN));
            rejects("rotaryDim", () -> CpuOps.rope(buf, 1, 2, 8, 9, 0, buf, RopeLayout.HALF_SPLIT));
            rejects("rotaryDim", () -> CpuOps.rope(buf, 1, 2, 8, 10, 0, buf, RopeLayout.HALF_SPLIT));
            rejects("invFreq", () -> CpuOps.rope(buf, 1, 2, 64, 64, 0, small, RopeLayout.HALF_SPLIT));
            rejects("startPos", () -> CpuOps.rope(buf, 1, 2, 8, 8, -1, buf, RopeLayout.HALF_SPLIT));
            rejects("layout", () -> CpuOps.rope(buf, 1, 2, 8, 8, 0, buf, null));
            rejects("x", () -> CpuOps.rope(small, 1, 2, 8, 8, 0, buf, RopeLayout.ADJACENT_PAIRS));
            // attention: q [1][4][8] = 128 bytes; cache rows up to position 9 of stride 16 floats = 640 bytes
            CpuOps.attention(other.asSlice(0, 128), buf.asSlice(0, 128), buf, buf, 1, 9, 4, 2, 8, 16); // fine
            rejects("k", () -> CpuOps.attention(other, buf, buf.asSlice(0, 600), buf, 1, 9, 4, 2, 8, 16));
            rejects("v", () -> CpuOps.attention(other, buf, buf, small, 1, 9, 4, 2, 8, 16));
            rejects("kvHeads", () -> CpuOps.attention(other, buf, buf, buf, 1, 0, 4, 3, 8, 24));
            rejects("kvStride", () -> CpuOps.attention(other, buf, buf, buf, 1, 0, 4, 2, 8, 15));
            rejects("headDim", () -> CpuOps.attention(other, buf, buf, buf, 1, 0, 1, 1, 2048, 2048));
            rejects("q", () -> CpuOps.attention(other, small, buf, buf, 1, 0, 4, 2, 8, 16));
            rejects("out", () -> CpuOps.attention(buf, buf, other, other, 1, 0, 4, 2, 8, 16));
            rejects("up", () -> CpuOps.siluGlu(buf, buf, small, 64));
            rejects("n", () -> CpuOps.siluGlu(buf, buf, buf, -1));
            rejects("b", () -> CpuOps.add(buf, buf, small, 64));
            rejects("x", () -> CpuOps.softmax(small, 2, 8));
            rejects("rows", () -> CpuOps.softmax(buf, 0, 8));
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
