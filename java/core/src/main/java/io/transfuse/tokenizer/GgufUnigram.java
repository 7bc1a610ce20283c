package io.transfuse.tokenizer;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.tokenizer.hf.PrecompiledCharsMap;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * SentencePiece Unigram as GGUF stores it ({@code tokenizer.ggml.model = "t5"}: T5, Flan-T5, mT5 converted by
 * llama.cpp), encoded the way llama.cpp's UGM tokenizer does, which differs from the Hugging Face tokenizer.json path
 * ({@link io.transfuse.tokenizer.hf.HfTokenizer}) in where it normalises and what it matches:
 * <ul>
 * <li>control, user-defined and unknown tokens written in the text are taken as those tokens first;</li>
 * <li>each stretch between them is normalised by SentencePiece's own walk: at each position the longest
 * user-defined token is kept as it is, else the longest rule of {@code tokenizer.ggml.precompiled_charsmap} is
 * replaced, else one character is copied; spaces become U+2581, runs of them one when
 * {@code tokenizer.ggml.remove_extra_whitespaces} is set (and then leading and trailing ones go), and one U+2581
 * opens the text when {@code tokenizer.ggml.add_space_prefix} is set (the default);</li>
 * <li>the Viterbi search covers the whole normalised stretch (no word splitting) over the normal, user-defined
 * (scored 0) and unused pieces; a character no one-character piece covers is an unknown node scored
 * {@code min(normal scores) - 10}, and runs of unknown nodes become one unknown token.</li>
 * </ul>
 * {@code encode(text, true)} adds BOS and EOS as {@code tokenizer.ggml.add_bos_token} (default false) and
 * {@code add_eos_token} (default true, T5's "&lt;/s&gt;") say. Decoding: U+2581 becomes a space, control tokens print
 * nothing, an unknown token prints U+2585 as llama.cpp does, and the space opening the first piece after a control
 * token (T5's decoder starts from &lt;pad&gt;) or BOS is dropped.
 */
public final class GgufUnigram implements Tokenizer {
    private static final String SPACE = "\u2581";
    private static final int TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3, TYPE_USER_DEFINED = 4, TYPE_UNUSED = 5;
    private static final float UNKNOWN_PENALTY = 10f;

    private final String[] pieces;
    private final float[] scores;
    private final int[] types;
    private final PrefixTrie pieceTrie;
    /** User-defined tokens over the UTF-8 bytes of the text (one char per byte), for the normaliser. */
    private final PrefixTrie userDefinedBytes;
    private final PrecompiledCharsMap charsMap;
    private final SpecialTokenMatcher specials;
    private final double unknownScore;
    private final int unk, bos, eos;
    private final boolean addBos, addEos, addSpacePrefix, removeExtraWhitespaces;
    private final java.util.Set<Integer> endOfGeneration;

    public record Options(boolean addBos, boolean addEos, boolean addSpacePrefix, boolean removeExtraWhitespaces, List<Integer> endOfGeneration) {}

    public GgufUnigram(String[] pieces, float[] scores, int[] types, byte[] charsMap, int unk, int bos, int eos, Options options, String where) {
        if (scores.length != pieces.length || types.length != pieces.length) {
            throw new IllegalArgumentException(where + ": " + pieces.length + " tokens but " + scores.length + " scores and " + types.length + " token types");
        }
        if (unk < 0 || unk >= pieces.length) throw new IllegalArgumentException(where + ": the unknown token id " + unk + " is outside the vocabulary of " + pieces.length);
        this.pieces = pieces;
        this.scores = scores;
        this.types = types;
        this.unk = unk;
        this.bos = bos;
        this.eos = eos;
        this.addBos = options.addBos();
        this.addEos = options.addEos();
        this.addSpacePrefix = options.addSpacePrefix();
        this.removeExtraWhitespaces = options.removeExtraWhitespaces();
        this.charsMap = charsMap == null || charsMap.length == 0 ? null : PrecompiledCharsMap.parse(charsMap, where + ": tokenizer.ggml.precompiled_charsmap");
        long chars = 0;
        for (String p : pieces) chars += p.length();
        this.pieceTrie = new PrefixTrie((int) Math.min(chars, 1 << 26));
        this.userDefinedBytes = new PrefixTrie(64);
        float min = Float.MAX_VALUE;
        List<Integer> specialIds = new ArrayList<>();
        for (int id = 0; id < pieces.length; id++) {
            int t = types[id];
            if (t == TYPE_NORMAL) min = Math.min(min, scores[id]);
            if ((t == TYPE_NORMAL || t == TYPE_USER_DEFINED || t == TYPE_UNUSED) && !pieces[id].isEmpty()) pieceTrie.put(pieces[id], id);
            if (t == TYPE_USER_DEFINED && !pieces[id].isEmpty()) {
                userDefinedBytes.put(new String(pieces[id].getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1), id);
            }
            if ((t == TYPE_CONTROL || t == TYPE_USER_DEFINED || t == TYPE_UNKNOWN) && !pieces[id].isEmpty()) specialIds.add(id);
        }
        this.unknownScore = min - UNKNOWN_PENALTY; // float arithmetic, as llama.cpp keeps it
        this.specials = new SpecialTokenMatcher(pieces, specialIds);
        List<Integer> all = new ArrayList<>(pieces.length);
        for (int i = 0; i < pieces.length; i++) all.add(i);
        this.endOfGeneration = EndOfGeneration.of(eos, options.endOfGeneration(), all, i -> pieces[i]);
    }

    /** Reads the tokenizer from GGUF metadata; errors name the file and the key. */
    public static GgufUnigram fromGguf(GgufFile gguf) {
        String where = gguf.path().toString();
        String[] tokens = gguf.require("tokenizer.ggml.tokens", String[].class);
        double[] scoreValues = gguf.require("tokenizer.ggml.scores", double[].class);
        long[] typeValues = gguf.optional("tokenizer.ggml.token_type", long[].class, null);
        if (typeValues == null) {
            typeValues = new long[tokens.length];
            Arrays.fill(typeValues, TYPE_NORMAL);
        }
        if (scoreValues.length != tokens.length || typeValues.length != tokens.length) {
            throw new ModelFormatException(where + ": tokenizer has " + tokens.length + " tokens but " + scoreValues.length + " scores and "
                    + typeValues.length + " token types");
        }
        float[] scores = new float[tokens.length];
        int[] types = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            scores[i] = (float) scoreValues[i];
            types[i] = (int) typeValues[i];
        }
        long[] map = gguf.optional("tokenizer.ggml.precompiled_charsmap", long[].class, new long[0]);
        byte[] charsMap = new byte[map.length];
        for (int i = 0; i < map.length; i++) charsMap[i] = (byte) map[i];
        int unk = (int) (long) gguf.optional("tokenizer.ggml.unknown_token_id", Long.class, 2L);
        int bos = (int) (long) gguf.optional("tokenizer.ggml.bos_token_id", Long.class, -1L);
        int eos = (int) (long) gguf.optional("tokenizer.ggml.eos_token_id", Long.class, 1L);
        if (unk < 0 || unk >= tokens.length || bos >= tokens.length || eos >= tokens.length) {
            throw new ModelFormatException(where + ": UNK/BOS/EOS ids " + unk + "/" + bos + "/" + eos + " are outside the vocabulary of " + tokens.length);
        }
        Options options = new Options(gguf.optional("tokenizer.ggml.add_bos_token", Boolean.class, false),
                gguf.optional("tokenizer.ggml.add_eos_token", Boolean.class, true),
                gguf.optional("tokenizer.ggml.add_space_prefix", Boolean.class, true),
                gguf.optional("tokenizer.ggml.remove_extra_whitespaces", Boolean.class, false),
                EndOfGeneration.ggufIds(gguf, tokens.length));
        if (options.addBos() && bos < 0) throw new ModelFormatException(where + ": tokenizer.ggml.add_bos_token is true but there is no BOS id");
        if (options.addEos() && eos < 0) throw new ModelFormatException(where + ": tokenizer.ggml.add_eos_token is true but there is no EOS id");
        try {
            return new GgufUnigram(tokens, scores, types, charsMap, unk, bos, eos, options, where);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(e.getMessage(), e);
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecial) {
        IntList out = new IntList();
        if (addSpecial && addBos) out.add(bos);
        for (SpecialTokenMatcher.Fragment f : specials.split(text)) {
            if (f.token() >= 0) out.add(f.token());
            else viterbi(normalize(f.text()), out);
        }
        if (addSpecial && addEos) out.add(eos);
        return out.toArray();
    }

    /** SentencePiece's normalisation of one stretch of text, spaces written U+2581 (see the class comment). */
    String normalize(String text) {
        byte[] in = text.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + 16);
        byte[] space = SPACE.getBytes(StandardCharsets.UTF_8);
        boolean prepended = false, inWord = false;
        for (int at = 0; at < in.length; ) {
            byte[] piece;
            int consumed;
            int userDefined = longestUserDefined(in, at);
            long rule = userDefined > 0 || charsMap == null ? -1 : charsMap.longestPrefix(in, at, in.length);
            if (userDefined > 0) {
                piece = Arrays.copyOfRange(in, at, at + userDefined);
                consumed = userDefined;
            } else if (rule >= 0) {
                piece = charsMap.replacement((int) rule).getBytes(StandardCharsets.UTF_8);
                consumed = (int) (rule >>> 32);
            } else {
                consumed = utf8Length(in[at]);
                piece = Arrays.copyOfRange(in, at, Math.min(in.length, at + consumed));
            }
            for (byte b : piece) {
                if (b != ' ') {
                    if (!inWord) {
                        inWord = true;
                        if ((addSpacePrefix && !prepended) || removeExtraWhitespaces) {
                            out.writeBytes(space);
                            prepended = true;
                        }
                    }
                    out.write(b);
                } else {
                    inWord = false;
                    if (!removeExtraWhitespaces) out.writeBytes(space);
                }
            }
            at += consumed;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private int longestUserDefined(byte[] in, int at) {
        int node = PrefixTrie.root(), best = 0;
        for (int i = at; i < in.length; i++) {
            node = userDefinedBytes.child(node, (char) (in[i] & 0xFF));
            if (node < 0) break;
            if (userDefinedBytes.value(node) >= 0) best = i + 1 - at;
        }
        return best;
    }

    private static int utf8Length(byte lead) {
        int b = lead & 0xFF;
        return b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    }

    /** The best segmentation of a normalised stretch; consecutive unknown nodes give one unknown token. */
    private void viterbi(String text, IntList out) {
        int n = text.length();
        if (n == 0) return;
        double[] best = new double[n + 1];
        int[] start = new int[n + 1];
        int[] last = new int[n + 1];
        Arrays.fill(best, -Float.MAX_VALUE);
        best[0] = 0;
        for (int at = 0; at < n; ) {
            int charLength = Character.charCount(text.codePointAt(at));
            boolean coversChar = false;
            int node = PrefixTrie.root();
            for (int i = at; i < n; i++) {
                node = pieceTrie.child(node, text.charAt(i));
                if (node < 0) break;
                int id = pieceTrie.value(node);
                if (id < 0) continue;
                int end = i + 1;
                if (end - at == charLength) coversChar = true;
                double candidate = best[at] + (types[id] == TYPE_USER_DEFINED ? 0.0 : (double) scores[id]);
                if (candidate > best[end]) {
                    best[end] = candidate;
                    start[end] = at;
                    last[end] = id;
                }
            }
            if (!coversChar) {
                int end = at + charLength;
                double candidate = best[at] + unknownScore;
                if (candidate > best[end]) {
                    best[end] = candidate;
                    start[end] = at;
                    last[end] = unk;
                }
            }
            at += charLength;
        }
        int from = out.size;
        boolean previousUnknown = false;
        for (int end = n; end > 0; end = start[end]) {
            boolean unknown = last[end] == unk;
            if (!(previousUnknown && unknown)) out.add(last[end]);
            previousUnknown = unknown;
        }
        out.reverseFrom(from);
    }

    @Override
    public byte[] decode(int previous, int id) {
        if (id < 0 || id >= pieces.length) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + pieces.length);
        int t = types[id];
        if (t == TYPE_CONTROL) return new byte[0];
        if (t == TYPE_UNKNOWN) return "\u2585".getBytes(StandardCharsets.UTF_8);
        String text = pieces[id].replace(SPACE, " ");
        boolean afterSpecial = previous < 0 || previous == bos || (previous < pieces.length && types[previous] == TYPE_CONTROL);
        if (addSpacePrefix && afterSpecial && text.startsWith(" ")) text = text.substring(1);
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public int vocabularySize() { return pieces.length; }

    @Override
    public int bos() { return bos; }

    @Override
    public int eos() { return eos; }

    @Override
    public java.util.Set<Integer> endOfGeneration() { return endOfGeneration; }

    @Override
    public String tokenText(int id) { return id >= 0 && id < pieces.length ? pieces[id] : null; }

    private static final class IntList {
        int[] a = new int[64];
        int size;

        void add(int v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            a[size++] = v;
        }

        void reverseFrom(int from) {
            for (int i = from, j = size - 1; i < j; i++, j--) {
                int t = a[i];
                a[i] = a[j];
                a[j] = t;
            }
        }

        int[] toArray() {
            return Arrays.copyOf(a, size);
        }
    }
}
