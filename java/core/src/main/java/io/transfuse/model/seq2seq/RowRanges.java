package io.transfuse.model.seq2seq;

import java.util.Map;
import java.util.TreeMap;

/**
 * Free ranges of the rows [0, capacity) of a tensor, handed out first fit and given back piece by piece: the rows of
 * the cross-attention keys and values, where the sources of one encoder pass take one contiguous range (one matmul per
 * layer writes them) and each source gives its own part back when its request ends. Adjacent free ranges are merged.
 * Not thread-safe.
 */
final class RowRanges {
    private final int capacity;
    private final TreeMap<Integer, Integer> free = new TreeMap<>(); // start -> length

    RowRanges(int capacity) {
        this.capacity = capacity;
        free.put(0, capacity);
    }

    /** The first free range of {@code n} rows (its start), or -1 when none is that long. */
    int take(int n) {
        for (Map.Entry<Integer, Integer> e : free.entrySet()) {
            if (e.getValue() >= n) {
                int start = e.getKey(), len = e.getValue();
                free.remove(start);
                if (len > n) free.put(start + n, len - n);
                return start;
            }
        }
        return -1;
    }

    /** Whether a range of {@code n} rows is free. */
    boolean fits(int n) {
        for (int len : free.values()) if (len >= n) return true;
        return false;
    }

    /** Gives rows [start, start + n) back. */
    void give(int start, int n) {
        if (n == 0) return;
        if (start < 0 || start + n > capacity) throw new IllegalArgumentException("rows " + start + " +" + n + " outside [0, " + capacity + ")");
        Map.Entry<Integer, Integer> before = free.floorEntry(start);
        if (before != null && before.getKey() + before.getValue() > start) {
            throw new IllegalStateException("rows " + start + " +" + n + " were already free");
        }
        Integer after = free.ceilingKey(start);
        if (after != null && after < start + n) throw new IllegalStateException("rows " + start + " +" + n + " were already free");
        int s = start, len = n;
        if (before != null && before.getKey() + before.getValue() == start) {
            s = before.getKey();
            len += before.getValue();
            free.remove(before.getKey());
        }
        Integer next = free.get(start + n);
        if (next != null) {
            len += next;
            free.remove(start + n);
        }
        free.put(s, len);
    }

    /** Rows in use. */
    int used() {
        int f = 0;
        for (int len : free.values()) f += len;
        return capacity - f;
    }
}
