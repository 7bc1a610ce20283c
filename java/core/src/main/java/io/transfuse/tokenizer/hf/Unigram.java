package io.transfuse.tokenizer.hf;

import io.transfuse.tokenizer.PrefixTrie;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * SentencePiece's Unigram model (T5, ALBERT, XLM-R, mBART, Marian): each piece has a log probability, and a word
 * becomes the segmentation with the highest total, found by Viterbi over the pieces each position starts.
 * The search follows the Rust tokenizers library's (0.21) {@code Unigram::encode_optimized}, which the tests run as the
 * reference:
 * <ul>
 * <li>a character that no one-character piece covers is an unknown node scored {@code min(score) - 10};</li>
 * <li>a candidate replaces a path ending at the same place only when strictly better, candidates in order of length,
 * so ties keep the shorter last piece;</li>
 * <li>consecutive unknown nodes are fused into one token (the library always fuses for Unigram);</li>
 * <li>a token whose text is not a piece becomes {@code <0xXX>} byte pieces when {@code byte_fallback} is set and the
 * vocabulary has all of them, otherwise the unknown id.</li>
 * </ul>
 * Positions are UTF-16 indices rather than UTF-8 ones: pieces are whole strings, so both walks meet the same pieces
 * in the same order.
 */
final class Unigram implements Model {
    /** SentencePiece's penalty for an unknown character below the least likely piece (kUnkPenalty). */
    static final double UNKNOWN_PENALTY = 10.0;

    private final String[] pieces;
    private final double[] scores;
    private final Map<String, Integer> ids;
    private final PrefixTrie trie;
    private final int unkId;
    private final boolean byteFallback;
    /** Id of "&lt;0xXX&gt;" for each byte, -1 where the vocabulary lacks it. */
    private final int[] byteIds = new int[256];
    private final double unknownScore;

    /** {@code unkId} -1: none (then a text with an unknown character is an error, as in the Rust library). */
    Unigram(List<String> pieces, double[] scores, int unkId, boolean byteFallback) {
        int n = pieces.size();
        if (n == 0) throw new IllegalArgumentException("the vocabulary is empty");
        if (scores.length != n) throw new IllegalArgumentException(n + " pieces but " + scores.length + " scores");
        if (unkId >= n) throw new IllegalArgumentException("unk_id " + unkId + " is outside the vocabulary of " + n + " pieces");
        this.pieces = pieces.toArray(String[]::new);
        this.scores = scores.clone();
        this.unkId = unkId;
        this.byteFallback = byteFallback;
        this.ids = new HashMap<>(n * 2);
        long chars = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int id = 0; id < n; id++) {
            ids.put(this.pieces[id], id); // a repeated piece maps to its last id, as the library's map does
            chars += this.pieces[id].length();
            min = Math.min(min, scores[id]);
        }
        this.unknownScore = min - UNKNOWN_PENALTY;
        this.trie = new PrefixTrie((int) Math.min(chars, 1 << 26));
        for (int id = 0; id < n; id++) if (!this.pieces[id].isEmpty()) trie.put(this.pieces[id], ids.get(this.pieces[id]));
        for (int b = 0; b < 256; b++) byteIds[b] = ids.getOrDefault(String.format("<0x%02X>", b), -1);
    }

    static Unigram fromSpec(Spec spec, List<String> pieces, double[] scores) {
        if (pieces == null) throw spec.error("'vocab' must be a list of [piece, score]");
        if (pieces.isEmpty()) throw spec.error("'vocab' is empty");
        int unk = spec.integer("unk_id", -1);
        if (unk >= pieces.size()) throw spec.error("'unk_id' " + unk + " is outside the vocabulary of " + pieces.size() + " pieces");
        return new Unigram(pieces, scores, unk, spec.bool("byte_fallback", false));
    }

    @Override
    public boolean byteFallback() {
        return byteFallback;
    }

    @Override
    public int[] tokenize(String word) {
        IntList out = new IntList(word.length() / 2);
        tokenize(word, (id, token) -> out.add(id));
        return out.toArray();
    }

    @Override
    public void tokenize(String word, TokenSink out) {
        int n = word.length();
        if (n == 0) return;
        // best[i]: score of the best segmentation of word[0, i); start[i]: where its last token starts (-1: none yet).
        double[] best = new double[n + 1];
        int[] start = new int[n + 1];
        int[] last = new int[n + 1];
        Arrays.fill(start, -1);
        for (int at = 0; at < n; ) {
            double before = best[at];
            int charLength = Character.charCount(word.codePointAt(at));
            boolean coversChar = false;
            int node = PrefixTrie.root();
            for (int i = at; i < n; i++) {
                node = trie.child(node, word.charAt(i));
                if (node < 0) break;
                int id = trie.value(node);
                if (id < 0) continue;
                int end = i + 1;
                double candidate = before + scores[id];
                if (start[end] < 0 || candidate > best[end]) {
                    best[end] = candidate;
                    start[end] = at;
                    last[end] = id;
                }
                if (end - at == charLength) coversChar = true;
            }
            if (!coversChar) {
                if (unkId < 0) throw new IllegalStateException("Unigram: '" + word.substring(at, at + charLength)
                        + "' is not in the vocabulary and the model has no unk_id");
                int end = at + charLength;
                double candidate = before + unknownScore;
                if (start[end] < 0 || candidate > best[end]) {
                    best[end] = candidate;
                    start[end] = at;
                    last[end] = unkId;
                }
            }
            at += charLength;
        }
        // Walk back from the end; runs of unknown nodes become one token of their joined text.
        List<String> texts = new ArrayList<>();
        int unknownEnd = -1;
        for (int end = n; end > 0; ) {
            int from = start[end];
            boolean unknown = unkId >= 0 && last[end] == unkId;
            if (unknown) {
                if (unknownEnd < 0) unknownEnd = end;
            } else {
                if (unknownEnd >= 0) texts.add(word.substring(end, unknownEnd));
                unknownEnd = -1;
                texts.add(word.substring(from, end));
            }
            end = from;
        }
        if (unknownEnd >= 0) texts.add(word.substring(0, unknownEnd));
        for (int k = texts.size() - 1; k >= 0; k--) addToken(texts.get(k), out);
    }

    /**
     * A token's id by its text, as bytes when it is not a piece and byte fallback covers it, else unk (whose token
     * text stays the text it covers).
     */
    private void addToken(String text, TokenSink out) {
        Integer id = ids.get(text);
        if (id != null) {
            out.add(id, text);
            return;
        }
        if (byteFallback) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            boolean all = true;
            for (byte b : bytes) all &= byteIds[b & 0xFF] >= 0;
            if (all) {
                for (byte b : bytes) out.add(byteIds[b & 0xFF], pieces[byteIds[b & 0xFF]]);
                return;
            }
        }
        if (unkId < 0) throw new IllegalStateException("Unigram: '" + text + "' is not in the vocabulary and the model has no unk_id");
        out.add(unkId, text);
    }

    @Override
    public int tokenToId(String token) {
        return ids.getOrDefault(token, -1);
    }

    @Override
    public String idToToken(int id) {
        return id >= 0 && id < pieces.length ? pieces[id] : null;
    }

    @Override
    public int size() {
        return pieces.length;
    }

    /** Score (log probability) of a piece. */
    double score(int id) {
        return scores[id];
    }

    private static final class IntList {
        private int[] a;
        private int size;

        IntList(int capacity) {
            a = new int[Math.max(4, capacity)];
        }

        void add(int v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            a[size++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, size);
        }
    }
}
