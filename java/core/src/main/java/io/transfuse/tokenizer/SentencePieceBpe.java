package io.transfuse.tokenizer;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * SentencePiece-style BPE as stored in GGUF metadata ({@code tokenizer.ggml.model = "llama"}:
 * Llama 2, TinyLlama, Mistral, Gemma, Phi-3): pieces with scores, where spaces are written U+2581
 * and bytes not covered by any piece fall back to the tokens {@code <0x00>..<0xFF>} (token type 6).
 *
 * <p>Encoding follows llama.cpp: control (3), user-defined (4) and unknown (2) tokens written in the
 * text ("&lt;start_of_turn&gt;", "[INST]", "&lt;|user|&gt;") are taken as those tokens (the longest
 * match at each position); each stretch of text between them gets the dummy-prefix space when
 * {@code tokenizer.ggml.add_space_prefix} is true (the default; Gemma: false) and it opens the text
 * or follows a special token, is split into code points (or byte tokens), and then the adjacent
 * pair whose concatenation is a piece with the highest score (the leftmost among equal scores) is
 * merged until none is, in O(n log n) for n code points ({@link BpeMerge}).
 * {@code encode(text, true)} adds BOS and EOS as {@code tokenizer.ggml.add_bos_token} (default
 * true) and {@code add_eos_token} (default false) say.
 * Decoding: U+2581 becomes a space; control tokens print nothing; with the dummy prefix, the space
 * opening the first piece after BOS or a control token is dropped.
 * Non-goals: SentencePiece unigram models, normalisation rules beyond the dummy prefix, the
 * lstrip/rstrip attributes llama.cpp gives a few special tokens of some models.
 */
public final class SentencePieceBpe implements Tokenizer {
    private static final String SPACE = "\u2581";
    private static final int TYPE_UNKNOWN = 2;
    private static final int TYPE_CONTROL = 3;
    private static final int TYPE_BYTE = 6;

    private final String[] pieces;
    private final int[] scoreRank;
    private final byte[][] bytes;
    private final Map<String, Integer> ids = new HashMap<>();
    private final int[] byteTokens = new int[256];
    private static final int TYPE_USER_DEFINED = 4;

    private final int bos;
    private final int eos;
    private final Options options;
    private final boolean[] control;
    private final SpecialTokenMatcher specials;
    private final java.util.Set<Integer> endOfGeneration;

    /**
     * What a GGUF file says beyond the pieces: whether {@code encode(text, true)} adds BOS / EOS,
     * whether text gets the dummy-prefix space, and end-of-generation ids besides EOS.
     */
    public record Options(boolean addBos, boolean addEos, boolean addSpacePrefix, java.util.List<Integer> endOfGeneration) {
        public static Options defaults() {
            return new Options(true, false, true, java.util.List.of());
        }
    }

    public SentencePieceBpe(String[] pieces, float[] scores, int[] types, int bos, int eos) {
        this(pieces, scores, types, bos, eos, Options.defaults());
    }

    public SentencePieceBpe(String[] pieces, float[] scores, int[] types, int bos, int eos, Options options) {
        this.pieces = pieces;
        if (scores.length != pieces.length || types.length != pieces.length) {
            throw new IllegalArgumentException(pieces.length + " pieces but " + scores.length + " scores and " + types.length + " token types");
        }
        this.scoreRank = scoreRanks(scores);
        this.bos = bos;
        this.eos = eos;
        this.options = options;
        this.control = new boolean[pieces.length];
        java.util.List<Integer> specialIds = new java.util.ArrayList<>();
        for (int i = 0; i < pieces.length; i++) {
            if (types[i] == TYPE_CONTROL) control[i] = true;
            if ((types[i] == TYPE_CONTROL || types[i] == TYPE_USER_DEFINED || types[i] == TYPE_UNKNOWN) && !pieces[i].isEmpty()) specialIds.add(i);
        }
        this.specials = new SpecialTokenMatcher(pieces, specialIds);
        java.util.List<Integer> all = new java.util.ArrayList<>(pieces.length);
        for (int i = 0; i < pieces.length; i++) all.add(i);
        this.endOfGeneration = EndOfGeneration.of(eos, options.endOfGeneration(), all, i -> pieces[i]);
        this.bytes = new byte[pieces.length][];
        java.util.Arrays.fill(byteTokens, -1);
        for (int i = 0; i < pieces.length; i++) {
            Integer byteValue = types[i] == TYPE_BYTE ? parseByteToken(pieces[i]) : null;
            if (byteValue != null) {
                byteTokens[byteValue] = i;
                bytes[i] = new byte[] {(byte) (int) byteValue};
            } else if (types[i] == TYPE_CONTROL || types[i] == TYPE_UNKNOWN) {
                bytes[i] = new byte[0]; // never produced from text, prints nothing
            } else {
                ids.putIfAbsent(pieces[i], i);
                bytes[i] = pieces[i].replace(SPACE, " ").getBytes(StandardCharsets.UTF_8);
            }
        }
    }

    /** Reads the tokenizer from GGUF metadata; errors name the file and the missing key. */
    public static SentencePieceBpe fromGguf(GgufFile gguf) {
        String model = gguf.require("tokenizer.ggml.model", String.class);
        if (!model.equals("llama")) {
            throw new ModelFormatException(gguf.path() + ": tokenizer.ggml.model '" + model + "' is not supported (supported: llama)");
        }
        String[] tokens = gguf.require("tokenizer.ggml.tokens", String[].class);
        double[] scoreValues = gguf.optional("tokenizer.ggml.scores", double[].class, new double[tokens.length]);
        long[] typeValues = gguf.optional("tokenizer.ggml.token_type", long[].class, new long[tokens.length]);
        if (scoreValues.length != tokens.length || typeValues.length != tokens.length) {
            throw new ModelFormatException(gguf.path() + ": tokenizer has " + tokens.length + " tokens but "
                    + scoreValues.length + " scores and " + typeValues.length + " token types");
        }
        float[] scores = new float[tokens.length];
        int[] types = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            scores[i] = (float) scoreValues[i];
            types[i] = (int) typeValues[i];
        }
        int bos = (int) (long) gguf.optional("tokenizer.ggml.bos_token_id", Long.class, 1L);
        int eos = (int) (long) gguf.optional("tokenizer.ggml.eos_token_id", Long.class, 2L);
        if (bos >= tokens.length || eos >= tokens.length) {
            throw new ModelFormatException(gguf.path() + ": BOS/EOS ids " + bos + "/" + eos + " are outside the vocabulary of " + tokens.length);
        }
        Options options = new Options(gguf.optional("tokenizer.ggml.add_bos_token", Boolean.class, true),
                gguf.optional("tokenizer.ggml.add_eos_token", Boolean.class, false),
                gguf.optional("tokenizer.ggml.add_space_prefix", Boolean.class, true),
                EndOfGeneration.ggufIds(gguf, tokens.length));
        if (options.addBos() && bos < 0) throw new ModelFormatException(gguf.path() + ": tokenizer.ggml.add_bos_token is true but there is no BOS id");
        if (options.addEos() && eos < 0) throw new ModelFormatException(gguf.path() + ": tokenizer.ggml.add_eos_token is true but there is no EOS id");
        return new SentencePieceBpe(tokens, scores, types, bos, eos, options);
    }

    private static Integer parseByteToken(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            try {
                return Integer.parseInt(piece.substring(3, 5), 16);
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        int[] tokens = new int[text.length() * 4 + 4]; // worst case: every UTF-8 byte a token, plus prefix, BOS, EOS
        int n = 0;
        if (addBos && options.addBos()) tokens[n++] = bos;
        boolean afterSpecial = true; // the text's start counts as following a special token
        BpeMerge.Pairs pairs = BpeMerge.memoized(this::mergeOf);
        for (SpecialTokenMatcher.Fragment f : specials.split(text)) {
            if (f.token() >= 0) {
                tokens[n++] = f.token();
                afterSpecial = true;
                continue;
            }
            String raw = (options.addSpacePrefix() && afterSpecial ? " " : "") + f.text();
            int start = n;
            n = appendPiece(raw.replace(" ", SPACE), tokens, n);
            n = start + BpeMerge.merge(tokens, start, n - start, pairs);
            afterSpecial = false;
        }
        if (addBos && options.addEos()) tokens[n++] = eos;
        return java.util.Arrays.copyOf(tokens, n);
    }

    /** One token per code point, or its UTF-8 bytes as byte tokens when the code point is no piece. */
    private int appendPiece(String text, int[] tokens, int n) {
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            String ch = new String(Character.toChars(cp));
            i += ch.length();
            Integer id = ids.get(ch);
            if (id != null) {
                tokens[n++] = id;
                continue;
            }
            for (byte b : ch.getBytes(StandardCharsets.UTF_8)) {
                int byteToken = byteTokens[b & 0xff];
                if (byteToken < 0) throw new IllegalArgumentException("text contains '" + ch + "', which the vocabulary cannot represent");
                tokens[n++] = byteToken;
            }
        }
        return n;
    }

    /**
     * The merge rule: the piece two adjacent tokens make, ranked by its score (the best merges first, the leftmost
     * among equal scores); pieces with a NaN or -infinity score never win, as in a scan for the best score.
     */
    private long mergeOf(int left, int right) {
        Integer id = ids.get(pieces[left].concat(pieces[right]));
        if (id == null || scoreRank[id] < 0) return BpeMerge.NONE;
        return BpeMerge.candidate(scoreRank[id], id);
    }

    /**
     * Each piece's place among the distinct scores, best first (0), so that equal scores tie and the leftmost pair
     * wins as in a scan for the best score: -1 for scores no scan would pick (NaN, -infinity); -0.0 equals 0.0.
     */
    private static int[] scoreRanks(float[] scores) {
        float[] distinct = new float[scores.length];
        int n = 0;
        for (float s : scores) if (s > Float.NEGATIVE_INFINITY) distinct[n++] = s == 0 ? 0f : s;
        distinct = java.util.Arrays.copyOf(distinct, n);
        java.util.Arrays.sort(distinct);
        int unique = 0;
        for (int i = 0; i < n; i++) if (unique == 0 || distinct[i] != distinct[unique - 1]) distinct[unique++] = distinct[i];
        int[] ranks = new int[scores.length];
        for (int i = 0; i < scores.length; i++) {
            if (!(scores[i] > Float.NEGATIVE_INFINITY)) {
                ranks[i] = -1;
                continue;
            }
            int at = java.util.Arrays.binarySearch(distinct, 0, unique, scores[i] == 0 ? 0f : scores[i]);
            ranks[i] = unique - 1 - at;
        }
        return ranks;
    }

    @Override
    public byte[] decode(int previous, int id) {
        if (id < 0 || id >= pieces.length) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + pieces.length);
        byte[] b = bytes[id];
        boolean afterSpecial = previous == bos || (previous >= 0 && previous < pieces.length && control[previous]);
        if (options.addSpacePrefix() && afterSpecial && b.length > 0 && b[0] == ' ' && !isByteToken(id)) {
            return java.util.Arrays.copyOfRange(b, 1, b.length);
        }
        return b;
    }

    private boolean isByteToken(int id) {
        return bytes[id].length == 1 && byteTokens[bytes[id][0] & 0xff] == id;
    }

    @Override
    public int vocabularySize() { return pieces.length; }

    @Override
    public int bos() { return bos; }

    @Override
    public int eos() { return eos; }

    @Override
    public java.util.Set<Integer> endOfGeneration() { return endOfGeneration; }

    /** The piece of {@code id} as the vocabulary writes it (U+2581 for spaces). */
    @Override
    public String tokenText(int id) { return id >= 0 && id < pieces.length ? pieces[id] : null; }
}
