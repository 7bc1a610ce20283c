package io.transfuse.tokenizer.hf;

import io.transfuse.tokenizer.BpeMerge;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-pair encoding as the Rust tokenizers library runs it. A word starts as one symbol per
 * character (a character missing from the vocabulary becomes its UTF-8 byte tokens
 * {@code <0xNN>} with {@code byte_fallback}, else the unknown token, fused with its unknown
 * neighbours when {@code fuse_unk}); then the adjacent pair with the lowest merge rank is merged
 * until none is left, in O(n log n) for a word of n characters ({@link BpeMerge}: a heap of
 * candidate pairs over a linked list of symbols). Results are cached per word. With {@code ignore_merges} a word
 * that is itself a vocabulary entry is taken whole.
 */
final class Bpe extends VocabModel {
    private static final int CACHE_CAPACITY = 10_000;
    private static final int CACHE_MAX_WORD = 256;
    private final MergeTable merges;
    private final int unk;
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;
    private final String prefix;
    private final String suffix;
    private final int[] byteTokens = new int[256];
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    private Bpe(Spec spec, Map<String, Integer> vocab, List<Object> mergeList) {
        super(vocab);
        if (!spec.child("dropout").isNull() && spec.node().get("dropout").asDouble() != 0) {
            throw spec.error("'dropout' is not supported (it makes encoding random)");
        }
        String unkToken = spec.string("unk_token", null);
        if (unkToken != null) {
            Integer id = vocab.get(unkToken);
            if (id == null) throw spec.error("unk_token '" + unkToken + "' is not in the vocabulary");
            this.unk = id;
        } else {
            this.unk = -1;
        }
        this.fuseUnk = spec.bool("fuse_unk", false);
        this.byteFallback = spec.bool("byte_fallback", false);
        this.ignoreMerges = spec.bool("ignore_merges", false);
        this.prefix = emptyToNull(spec.string("continuing_subword_prefix", null));
        this.suffix = emptyToNull(spec.string("end_of_word_suffix", null));
        for (int b = 0; b < 256; b++) byteTokens[b] = vocab.getOrDefault(String.format("<0x%02X>", b), -1);
        this.merges = readMerges(mergeList == null ? List.of() : mergeList, spec);
    }

    static Bpe fromSpec(Spec spec, Map<String, Integer> vocab, List<Object> merges) {
        return new Bpe(spec, vocab, merges);
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private MergeTable readMerges(List<Object> list, Spec spec) {
        MergeTable table = new MergeTable(list.size() * 2 + 16);
        for (int rank = 0; rank < list.size(); rank++) {
            Object entry = list.get(rank);
            String a, b;
            if (entry instanceof String line) {
                int space = line.indexOf(' ');
                if (space < 0 || line.indexOf(' ', space + 1) >= 0) throw spec.error("merges[" + rank + "] '" + line + "' is not two tokens");
                a = line.substring(0, space);
                b = line.substring(space + 1);
            } else if (entry instanceof String[] pair) {
                a = pair[0];
                b = pair[1];
            } else {
                throw spec.error("merges[" + rank + "] must be \"a b\" or [a, b], got " + entry);
            }
            Integer ia = vocab.get(a), ib = vocab.get(b);
            String merged = a + (prefix != null && b.startsWith(prefix) ? b.substring(prefix.length()) : b);
            Integer im = vocab.get(merged);
            if (ia == null || ib == null || im == null) throw spec.error("merges[" + rank + "] " + "merge '" + a + " " + b + "' uses a token that is not in the vocabulary");
            long key = pair(ia, ib);
            if (table.get(key) < 0) table.put(key, ((long) rank << 32) | im);
        }
        return table;
    }

    private static long pair(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    @Override
    public int[] tokenize(String word) {
        if (word.isEmpty()) return new int[0];
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) return new int[] {id};
        }
        int[] cached = cache.get(word);
        if (cached != null) return cached;
        int[] result = merge(word);
        if (word.length() <= CACHE_MAX_WORD && cache.size() < CACHE_CAPACITY) cache.put(word, result);
        return result;
    }

    private int[] merge(String word) {
        // Initial symbols.
        int n = word.length();
        int[] ids = new int[n * 4 + 1];
        int count = 0;
        int pendingUnk = -1; // fused unknown waiting to be emitted (its id)
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; ) {
            int c = word.codePointAt(i);
            int next = i + Character.charCount(c);
            sb.setLength(0);
            if (i > 0 && prefix != null) sb.append(prefix);
            sb.appendCodePoint(c);
            if (next == n && suffix != null) sb.append(suffix);
            Integer id = vocab.get(sb.toString());
            if (id != null) {
                if (pendingUnk >= 0) { ids[count++] = pendingUnk; pendingUnk = -1; }
                ids[count++] = id;
            } else {
                boolean done = false;
                if (byteFallback) {
                    byte[] bytes = word.substring(i, next).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    boolean all = true;
                    for (byte b : bytes) all &= byteTokens[b & 0xFF] >= 0;
                    if (all) {
                        if (pendingUnk >= 0) { ids[count++] = pendingUnk; pendingUnk = -1; }
                        for (byte b : bytes) ids[count++] = byteTokens[b & 0xFF];
                        done = true;
                    }
                }
                if (!done && unk >= 0) {
                    if (pendingUnk >= 0 && !fuseUnk) ids[count++] = pendingUnk;
                    pendingUnk = unk;
                }
            }
            i = next;
        }
        if (pendingUnk >= 0) ids[count++] = pendingUnk;
        if (count < 2) return Arrays.copyOf(ids, count);

        int merged = BpeMerge.merge(ids, 0, count, (left, right) -> merges.get(pair(left, right)));
        return Arrays.copyOf(ids, merged);
    }

    @Override
    public boolean byteFallback() {
        return byteFallback;
    }

    /** Open-addressing map from a token pair to (rank << 32 | merged id), as {@link BpeMerge#candidate} writes it; -1 when absent. */
    static final class MergeTable {
        private final long[] keys;
        private final long[] values;
        private final int mask;

        MergeTable(int expected) {
            int capacity = Integer.highestOneBit(Math.max(16, expected * 2) - 1) << 1;
            keys = new long[capacity];
            values = new long[capacity];
            Arrays.fill(values, -1);
            mask = capacity - 1;
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            int i = (int) (h ^ (h >>> 32)) & mask;
            while (values[i] >= 0 && keys[i] != key) i = (i + 1) & mask;
            return i;
        }

        long get(long key) {
            return values[slot(key)];
        }

        void put(long key, long value) {
            int i = slot(key);
            keys[i] = key;
            values[i] = value;
        }
    }
}
