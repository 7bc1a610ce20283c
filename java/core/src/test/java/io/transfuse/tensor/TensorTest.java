package io.transfuse.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tensor views: row ranges, column ranges (strided), reshapes, and the bytes each spans. */
class TensorTest {
    /** A [4][6] F32 tensor whose element (r, c) is 10 r + c. */
    static Tensor grid(Arena a) {
        MemorySegment s = a.allocate(4 * 6 * 4);
        for (int r = 0; r < 4; r++) for (int c = 0; c < 6; c++) s.setAtIndex(ValueLayout.JAVA_FLOAT, r * 6 + c, 10 * r + c);
        return new Tensor("grid", DType.F32, new long[] {4, 6}, s);
    }

    static float at(Tensor t, long r, long c) { return t.data().getAtIndex(ValueLayout.JAVA_FLOAT, r * t.rowStride() + c); }

    @Test
    void rowAndColumnViewsSeeTheRightElements() {
        try (Arena a = Arena.ofConfined()) {
            Tensor g = grid(a);
            Tensor rows = g.rows(1, 2);
            assertEquals(2, rows.rows());
            assertEquals(6, rows.cols());
            assertTrue(rows.isContiguous());
            assertEquals(12, at(rows, 0, 2));
            assertEquals(25, at(rows, 1, 5));
            Tensor cols = g.columns(2, 3);
            assertEquals(4, cols.rows());
            assertEquals(3, cols.cols());
            assertEquals(6, cols.rowStride());
            assertFalse(cols.isContiguous());
            assertEquals(34, at(cols, 3, 2));
            assertEquals(((4 - 1) * 6 + 3) * 4, cols.spanBytes(), "a strided view spans to the end of its last row");
            Tensor both = cols.rows(1, 2);
            assertEquals(12, at(both, 0, 0));
            assertEquals(24, at(both, 1, 2));
        }
    }

    @Test
    void viewsOutOfRangeAndBadReshapesAreErrors() {
        try (Arena a = Arena.ofConfined()) {
            Tensor g = grid(a);
            assertThrows(IndexOutOfBoundsException.class, () -> g.rows(3, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> g.columns(4, 3));
            assertThrows(IllegalArgumentException.class, () -> g.columns(0, 2).reshape(8));
            assertThrows(IllegalArgumentException.class, () -> g.reshape(5, 5));
            assertEquals(24, g.reshape(2, 12).elementCount());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new Tensor("short", DType.F32, new long[] {4, 7}, a.allocate(4 * 6 * 4)));
            assertTrue(e.getMessage().contains("short"), e.getMessage());
        }
    }

    @Test
    void rowsOfAQuantisedTensorAreWholeBlockRows() {
        try (Arena a = Arena.ofConfined()) {
            Tensor q = new Tensor("q8", DType.Q8_0, new long[] {3, 64}, a.allocate(3 * 2 * 34));
            Tensor row = q.row(2);
            assertEquals(2 * 34, row.spanBytes());
            assertEquals(2L * 2 * 34, row.data().address() - q.data().address());
            assertThrows(IllegalArgumentException.class, () -> q.columns(0, 32), "no column views of block-quantised data");
        }
    }

    @Test
    void aTensorWithEmptyRowsKeepsItsRowCount() {
        try (Arena a = Arena.ofConfined()) {
            Tensor t = new Tensor("conv state of width 1", DType.F32, new long[] {5, 0}, a.allocate(1));
            assertEquals(5, t.rows());
            assertEquals(0, t.rows(2, 3).spanBytes());
        }
    }
}
